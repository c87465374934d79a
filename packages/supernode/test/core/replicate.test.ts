/**
 * ReplicateMessages and StoreMessage at the core (spec/07-supernode.md §8, STORE-REPL-*): a replica
 * verifies a handed-over message with its sender's certificate judged at the message's created_at, so a
 * message outlives the (short) certificate that signed it; a message stored by a node is judged now.
 */
import { derivePlacementKey, type EffectivePolicy, ErrorCode, POLICY_DEFAULTS, Role } from '@parley/wire';
import { describe, expect, it } from 'vitest';
import { SupernodeCore } from '../../src/core/core.js';
import { NetworkState } from '../../src/core/network-state.js';
import { NO_CHANNEL, newSession } from '../../src/core/session.js';
import { certified, HOUR, messageOf, suite, T0, testNetwork } from '../fixtures.js';

const DAY = 24 * HOUR;
const net = testNetwork('core replicate');
const self = certified(net, Role.ROLE_SUPERNODE, 'self.test', 0x61);
const peer = certified(net, Role.ROLE_SUPERNODE, 'peer.test', 0x62);

function core(): SupernodeCore {
  const state = new NetworkState(suite);
  state.setLoginCertificates([net.loginCertificate]);
  state.setList({
    epoch: 1,
    issuedAtMs: T0,
    expiresAtMs: T0 + HOUR,
    entries: [self, peer].map((s, i) => ({
      keyId: s.keyId,
      placementKey: derivePlacementKey(suite, net.login, s.keyId),
      endpoints: [{ protocol: 2, address: Uint8Array.of(30, 0, 0, i + 1), port: 7500 }],
      software: 's',
      loadPercent: 0,
      hosted: true,
      notAfterMs: T0 + HOUR,
    })),
  });
  return new SupernodeCore({
    clock: { now: () => T0, setTimer: () => ({ cancel: () => {} }) },
    suite,
    trustAnchors: [net.root.publicKey],
    state,
    selfKeyId: self.keyId,
    peers: { request: () => Promise.reject(new Error('no peers here')) },
  });
}

const fromPeer = () =>
  newSession(
    { certificate: { subject: 'peer.test', deviceId: peer.deviceId, role: Role.ROLE_SUPERNODE } } as never,
    { host: '30.0.0.2', port: 40000 },
    NO_CHANNEL,
  );

describe('message replication [STORE-REPL]', () => {
  it('[STORE-REPL-4] a replica accepts a handed-over message whose sender certificate was valid when it was created', async () => {
    const old = certified(net, Role.ROLE_USER, 'carol', 3, { notBefore: T0 - 3 * DAY, notAfter: T0 - DAY });
    const m = messageOf(old, 'dave', { createdAt: T0 - 2 * DAY, lifetimeMs: 30 * DAY });
    const c = core();
    const r = await c.handle(fromPeer(), {
      requestId: 1,
      body: { case: 'replicateMessages', value: { messages: [m] } },
    });
    expect(r).toMatchObject({
      kind: 'reply',
      packet: { body: { case: 'replicateMessagesReply', value: { accepted: 1 } } },
    });
    expect(await c.offline.pending('dave', T0)).toBe(1);
    // the same message as a new store is judged now: the certificate has expired
    await expect(
      c.handle(fromPeer(), { requestId: 2, body: { case: 'storeMessage', value: { message: m } } }),
    ).rejects.toMatchObject({ code: ErrorCode.CERT_EXPIRED });
    // created before the certificate was valid: refused
    const early = messageOf(old, 'dave', { createdAt: T0 - 4 * DAY, lifetimeMs: 30 * DAY });
    const r2 = await c.handle(fromPeer(), {
      requestId: 3,
      body: { case: 'replicateMessages', value: { messages: [early] } },
    });
    expect(r2).toMatchObject({ packet: { body: { value: { accepted: 0 } } } });
    // expired by now: refused although it verifies at created_at
    const gone = messageOf(old, 'dave', { createdAt: T0 - 2 * DAY, lifetimeMs: DAY });
    const r3 = await c.handle(fromPeer(), {
      requestId: 4,
      body: { case: 'replicateMessages', value: { messages: [gone] } },
    });
    expect(r3).toMatchObject({ packet: { body: { value: { accepted: 0 } } } });
    expect(await c.offline.pending('dave', T0)).toBe(1);
  });
});

describe('the policy reaches the offline store [STORE-QUOTA-5]', () => {
  it("[STORE-QUOTA-5] the defaults hold until a policy comes; setPolicy is applied at once to the core's store", () => {
    const state = new NetworkState(suite);
    state.setLoginCertificates([net.loginCertificate]);
    const c = new SupernodeCore({
      clock: { now: () => T0, setTimer: () => ({ cancel: () => {} }) },
      suite,
      trustAnchors: [net.root.publicKey],
      state,
      selfKeyId: self.keyId,
      peers: { request: () => Promise.reject(new Error('no peers here')) },
    });
    expect(c.offline.limits).toMatchObject({
      maxMessagesPerRecipient: POLICY_DEFAULTS.directory.offlineMessagesPerRecipient,
      maxBytesPerRecipient: POLICY_DEFAULTS.directory.offlineBytesPerRecipient,
      maxMessagesPerSender: POLICY_DEFAULTS.directory.offlineMessagesPerSender,
    });
    const policy = structuredClone({ version: 2, issuedAtMs: T0, ...POLICY_DEFAULTS }) as EffectivePolicy;
    policy.directory.offlineMessagesPerRecipient = 5;
    policy.directory.offlineBytesPerRecipient = 50_000;
    policy.directory.offlineMessagesPerSender = 2;
    state.setPolicy(policy);
    expect(c.offline.limits).toMatchObject({
      maxMessagesPerRecipient: 5,
      maxBytesPerRecipient: 50_000,
      maxMessagesPerSender: 2,
    });
  });
});
