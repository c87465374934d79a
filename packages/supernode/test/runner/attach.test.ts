/**
 * Attachment over the simulator (spec/07-supernode.md §3, §10): the handshake's identity rules, Attach,
 * standby, one attachment per device, capacity and Redirect, keep-alive supervision, per-peer limits.
 */
import { ChannelClosedError, StreamChannel } from '@parley/channel';
import {
  anonymousPayloadCodec,
  ErrorCode,
  type PeerIdentity,
  Role,
  SUPPORTED_PROTOCOL_VERSIONS,
  startInitiator,
} from '@parley/wire';
import { describe, expect, it } from 'vitest';
import { certified, HOUR, suite, T0, World } from '../fixtures.js';

describe('handshake identity [SN-ATTACH-1]', () => {
  it('[SN-ATTACH-1] an anonymous initiator fails the handshake; a ROLE_USER one is admitted', async () => {
    const w = new World({ seed: 'anon' });
    const sn = await w.addSupernode();
    w.publishList();
    const t = w.host();
    const closed: unknown[] = [];
    const channel = StreamChannel.connect<PeerIdentity>(t, sn.address, {
      start: startInitiator({
        suite,
        random: t.random,
        protocolVersions: SUPPORTED_PROTOCOL_VERSIONS,
        payload: anonymousPayloadCodec(suite, {
          software: 'anon/1',
          policy: () => ({
            trustAnchors: [w.net.root.publicKey],
            nowMs: t.clock.now(),
            acceptedRoles: [Role.ROLE_SUPERNODE],
          }),
        }),
      }),
      events: { onPacket: () => {}, onClosed: (r) => closed.push(r) },
    });
    await w.run(new Promise<void>((resolve) => t.clock.setTimer(2_000, resolve)));
    // the initiator's side completes with message 3; the responder refuses its payload and ends the channel
    expect(channel.closed).toBe(true);
    expect(closed).toHaveLength(1);
    expect(sn.supernode.sessions()).toHaveLength(0);
    expect(sn.supernode.stats.requests).toBe(0);

    const alice = await w.connect(sn, w.user('alice'));
    expect(alice.peer.keyId).toEqual(sn.identity.keyId);
    await w.run(alice.attach());
    expect(sn.supernode.sessions().map((s) => [s.kind, s.username])).toEqual([['node', 'alice']]);
  });

  it('[SN-ATTACH-1] a revoked, expired or LOGIN certificate is refused in the handshake', async () => {
    const w = new World({ seed: 'revoked' });
    const sn = await w.addSupernode();
    const bob = w.user('bob');
    sn.supernode.state.setRevocations(2, [{ serial: bob.serial, notAfterMs: T0 + HOUR }], [w.net.loginCertificate]);
    const old = certified(w.net, Role.ROLE_USER, 'carol', 1, { notBefore: T0 - 3 * HOUR, notAfter: T0 - 2 * HOUR });
    const login = { chain: [w.net.loginCertificate], seed: w.net.login.seed };
    for (const identity of [bob, old, login]) {
      // the initiator completes its side of the handshake; the responder refuses the payload and ends it
      const c = await w.connect(sn, identity);
      await w.run(new Promise<void>((r) => w.sim.schedule(1_000, r)));
      expect(c.closed).toBe(true);
      await expect(w.run(c.attach())).rejects.toBeInstanceOf(ChannelClosedError);
    }
    expect(sn.supernode.sessions()).toHaveLength(0);
    expect(sn.supernode.stats.requests).toBe(0);
  });

  it('[SN-ATTACH-8] a node that expects another key id closes the channel', async () => {
    const w = new World({ seed: 'expect' });
    const a = await w.addSupernode();
    const b = await w.addSupernode();
    await expect(w.connect(a, w.user('dave'), { expectKeyId: b.identity.keyId })).rejects.toMatchObject({
      code: ErrorCode.CERT_INVALID,
    });
  });

  it("[SN-ATTACH-9] a channel is closed with CERT_EXPIRED when the initiator's certificate expires (plus the clock skew)", async () => {
    const w = new World({ seed: 'expiry' });
    const sn = await w.addSupernode();
    w.publishList();
    const short = certified(w.net, Role.ROLE_USER, 'june', 1, { notBefore: T0 - HOUR, notAfter: T0 + 10 * 60_000 });
    const c = await w.connect(sn, short);
    await w.run(c.attach());
    await w.run(new Promise<void>((r) => w.sim.schedule(14 * 60_000, r)), 15 * 60_000);
    expect(c.closed).toBe(false);
    await w.run(new Promise<void>((r) => w.sim.schedule(2 * 60_000, r)));
    expect(c.closed).toBe(true);
    expect(c.channel.closeReason?.code).toBe(ErrorCode.CERT_EXPIRED);
    expect(sn.supernode.core.attachments.size).toBe(0);
  });

  it('[SN-LOGIN-5] a newer revocation list closes the channels of certificates it names', async () => {
    const w = new World({ seed: 'revoke later' });
    const sn = await w.addSupernode();
    w.publishList();
    const erin = w.user('erin');
    const c = await w.connect(sn, erin);
    await w.run(c.attach());
    sn.supernode.state.setRevocations(3, [{ serial: erin.serial, notAfterMs: T0 + HOUR }], [w.net.loginCertificate]);
    await w.run(new Promise<void>((r) => w.sim.schedule(1_000, r)));
    expect(c.closed).toBe(true);
    expect(c.channel.closeReason?.code).toBe(ErrorCode.CERT_REVOKED);
    expect(sn.supernode.core.attachments.size).toBe(0);
  });
});

describe('Attach [SN-ATTACH]', () => {
  it('[SN-ATTACH-3] [SN-ATTACH-4] Attached names the keep-alive interval, the observed endpoint and the list epoch', async () => {
    const w = new World({ seed: 'attach' });
    const sn = await w.addSupernode();
    w.publishList();
    w.publishList();
    const t = w.host();
    const c = await w.connect(sn, w.user('alice'), { transport: t });
    const r = await w.run(c.attach());
    if (r.kind !== 'attached') throw new Error('expected attached');
    expect(r.value.keepaliveIntervalMs).toBe(25_000);
    expect(r.value.listEpoch).toBe(2);
    const local = c.channel.established && sn.supernode.sessions()[0]!.observed;
    expect(local).toBeDefined();
    expect(Array.from(r.value.observed!.address).join('.')).toBe(local!.host);
    expect(r.value.observed!.port).toBe(local!.port);
    expect(r.value.observed!.protocol).toBe(2);
    expect(sn.supernode.core.attachments.active).toBe(1);
  });

  it('[SN-ATTACH-3] a request without request_id closes the channel with UNEXPECTED_MESSAGE', async () => {
    const w = new World({ seed: 'no request id' });
    const sn = await w.addSupernode();
    w.publishList();
    const c = await w.connect(sn, w.user('ida'));
    c.channel.send({ requestId: 0, body: { case: 'attach', value: { standby: false, listEpoch: 0 } } });
    await w.run(new Promise<void>((r) => w.sim.schedule(500, r)));
    expect(c.closed).toBe(true);
    expect(c.channel.closeReason?.code).toBe(ErrorCode.UNEXPECTED_MESSAGE);
    expect(sn.supernode.core.attachments.size).toBe(0);
  });

  it('[NAT-BODY-1] a request of chapter 08 without request_id closes the channel; RelayFrame, a notice, does not', async () => {
    const w = new World({ seed: 'no request id 08' });
    const sn = await w.addSupernode();
    w.publishList();
    const frame = await w.connect(sn, w.user('ida'));
    // A RelayFrame naming no allocation of this channel is discarded; the channel stays open.
    frame.channel.send({
      requestId: 0,
      body: { case: 'relayFrame', value: { allocationId: new Uint8Array(8), datagram: new Uint8Array(29).fill(1) } },
    });
    const request = await w.connect(sn, w.user('jo'));
    request.channel.send({ requestId: 0, body: { case: 'observeRequest', value: {} } });
    await w.run(new Promise<void>((r) => w.sim.schedule(500, r)));
    expect(frame.closed).toBe(false);
    expect(request.closed).toBe(true);
    expect(request.channel.closeReason?.code).toBe(ErrorCode.UNEXPECTED_MESSAGE);
  });

  it('[SN-ATTACH-2] Attach on a supernode channel is refused with NOT_AUTHORIZED; the channel stays open', async () => {
    const w = new World({ seed: 'sn attach' });
    const a = await w.addSupernode();
    const other = await w.addSupernode();
    const c = await w.connect(a, other.identity);
    await expect(w.run(c.attach())).rejects.toMatchObject({ code: ErrorCode.NOT_AUTHORIZED });
    expect(c.closed).toBe(false);
  });

  it('[SN-ATTACH-5] a second attachment of the same device replaces the first, which is closed with CONFLICT', async () => {
    const w = new World({ seed: 'replace' });
    const sn = await w.addSupernode();
    w.publishList();
    const alice = w.user('alice', 1);
    const first = await w.connect(sn, alice);
    await w.run(first.attach());
    const second = await w.connect(sn, alice);
    await w.run(second.attach());
    await w.run(new Promise<void>((r) => w.sim.schedule(500, r)));
    expect(first.closed).toBe(true);
    expect(first.channel.closeReason?.code).toBe(ErrorCode.CONFLICT);
    expect(second.closed).toBe(false);
    expect(sn.supernode.core.attachments.size).toBe(1);
    // another device of the same user is a second attachment
    const phone = await w.connect(sn, w.user('alice', 2));
    await w.run(phone.attach());
    expect(sn.supernode.core.attachments.size).toBe(2);
    expect(sn.supernode.core.attachments.devices('alice')).toHaveLength(2);
  });

  it('[SN-ATTACH-6] a standby attachment is promoted by a second Attach on its channel', async () => {
    const w = new World({ seed: 'standby' });
    const sn = await w.addSupernode();
    w.publishList();
    const c = await w.connect(sn, w.user('frank'));
    expect((await w.run(c.attach({ standby: true }))).kind).toBe('attached');
    expect(sn.supernode.core.attachments.size).toBe(1);
    expect(sn.supernode.core.attachments.active).toBe(0);
    await w.run(c.attach());
    expect(sn.supernode.core.attachments.active).toBe(1);
    expect(sn.supernode.core.attachments.size).toBe(1);
  });
});

describe('capacity [SN-BUSY]', () => {
  it('[SN-BUSY-1] [SN-BUSY-2] at capacity, Attach is answered with a Redirect naming the least-loaded other supernodes', async () => {
    const w = new World({ seed: 'busy' });
    const full = await w.addSupernode({ limits: { capacity: 2 } });
    for (let i = 0; i < 10; i++) await w.addSupernode();
    // loads: the full one 100, the others 90, 80, ..., 0
    w.publishList(w.supernodes, (s) => (s === full ? 100 : 100 - 10 * w.supernodes.indexOf(s)));
    for (const name of ['a', 'b']) {
      const c = await w.connect(full, w.user(name));
      expect((await w.run(c.attach())).kind).toBe('attached');
    }
    const late = await w.connect(full, w.user('c'));
    const r = await w.run(late.attach());
    if (r.kind !== 'redirect') throw new Error('expected a redirect');
    expect(r.value.listEpoch).toBe(w.epoch);
    expect(r.value.supernodeKeyIds).toHaveLength(8);
    const expected = [...w.supernodes.slice(1)]
      .reverse()
      .slice(0, 8)
      .map((s) => s.identity.keyId);
    expect(r.value.supernodeKeyIds).toEqual(expected);
    expect(r.value.supernodeKeyIds.some((k) => Buffer.from(k).equals(Buffer.from(full.identity.keyId)))).toBe(false);
    // never a silent drop: the channel stays open, and the held attachments stay
    expect(late.closed).toBe(false);
    expect(full.supernode.core.attachments.size).toBe(2);
    // the same device attaching again replaces its own attachment even when full
    const again = await w.connect(full, w.user('a'));
    await expect(w.run(again.attach())).resolves.toMatchObject({ kind: 'attached' });
    expect(full.supernode.core.attachments.size).toBe(2);
  });

  it('[SN-BUSY-3] at capacity with no other supernode on the list: BUSY with a retry hint', async () => {
    const w = new World({ seed: 'busy alone' });
    const sn = await w.addSupernode({ limits: { capacity: 1 } });
    w.publishList();
    await w.run((await w.connect(sn, w.user('a'))).attach());
    const late = await w.connect(sn, w.user('b'));
    await expect(w.run(late.attach())).rejects.toMatchObject({ code: ErrorCode.BUSY, retryAfterMs: 30_000 });
    expect(late.closed).toBe(false);
  });
});

describe('keep-alive [SN-KEEP]', () => {
  it('[SN-KEEP-1] [SN-KEEP-2] a node that pings stays attached; a silent one is detached after three intervals', async () => {
    const w = new World({ seed: 'keepalive' });
    const sn = await w.addSupernode();
    w.publishList();
    const live = await w.connect(sn, w.user('live'));
    await w.run(live.attach());
    const silent = await w.connect(sn, w.user('silent'), { noKeepalive: true });
    await w.run(silent.attach());
    const attachedAt = w.sim.now;
    await w.run(new Promise<void>((r) => w.sim.schedule(74_000, r)));
    expect(silent.closed).toBe(false);
    await w.run(new Promise<void>((r) => w.sim.schedule(2_000, r)));
    expect(silent.closed).toBe(true);
    expect(silent.channel.closeReason?.code).toBe(ErrorCode.TIMEOUT);
    expect(w.sim.now - attachedAt).toBeGreaterThanOrEqual(75_000);
    await w.run(new Promise<void>((r) => w.sim.schedule(10 * 60_000, r)));
    expect(live.closed).toBe(false);
    expect(live.pings).toBeGreaterThanOrEqual(20);
    expect(sn.supernode.core.attachments.size).toBe(1);
    expect(sn.supernode.core.attachments.get('silent', new Uint8Array(16).fill(1))).toBeUndefined();
    expect(sn.supernode.core.attachments.get('live', new Uint8Array(16).fill(1))).toBeDefined();
  });
});

describe('per-peer limits [SN-RES]', () => {
  it('[SN-RES-1] [SN-RES-2] connections beyond the global or per-address limit are reset before the handshake', async () => {
    const w = new World({ seed: 'res' });
    const sn = await w.addSupernode({ limits: { maxConnections: 3, maxConnectionsPerAddress: 2 } });
    w.publishList();
    const t = w.host();
    await w.connect(sn, w.user('a'), { transport: t });
    await w.connect(sn, w.user('b'), { transport: t });
    await expect(w.connect(sn, w.user('c'), { transport: t })).rejects.toBeDefined();
    await w.connect(sn, w.user('d'));
    await expect(w.connect(sn, w.user('e'))).rejects.toBeDefined();
    expect(sn.supernode.stats.refusedConnections).toBe(2);
    expect(sn.supernode.stats.connections).toBe(3);
  });

  it('[SN-RES-3] requests beyond the pending bound of a channel are refused with RESOURCE_LIMIT', async () => {
    const w = new World({ seed: 'pending' });
    const sn = await w.addSupernode({ limits: { maxPendingPerChannel: 2 } });
    w.publishList();
    // a core that never answers lookups keeps requests pending
    const core = sn.supernode.core;
    const handle = core.handle.bind(core);
    core.handle = (session, packet) =>
      packet.body.case === 'lookupPresence' ? new Promise(() => {}) : handle(session, packet);
    const c = await w.connect(sn, w.user('greg'));
    await w.run(c.attach());
    const body = { case: 'lookupPresence', value: { username: 'x' } } as const;
    const pending = [c.channel.request(body), c.channel.request(body)];
    for (const p of pending) p.catch(() => {});
    const third = await w.run(c.channel.request(body));
    expect(third.body).toMatchObject({ case: 'error', value: { code: ErrorCode.RESOURCE_LIMIT } });
    expect(c.closed).toBe(false);
    c.close();
    await expect(Promise.all(pending)).rejects.toBeInstanceOf(ChannelClosedError);
  });

  it('[SN-RES-4] requests beyond the packet rate of a channel are refused with RATE_LIMITED; the channel stays open', async () => {
    const w = new World({ seed: 'rate' });
    const sn = await w.addSupernode({ limits: { maxPacketsPerSecond: 10, maxPendingPerChannel: 100 } });
    w.publishList();
    const c = await w.connect(sn, w.user('hank'));
    await w.run(c.attach());
    const replies = await w.run(
      Promise.all(
        Array.from({ length: 40 }, () => c.channel.request({ case: 'lookupPresence', value: { username: 'nobody' } })),
      ),
    );
    const limited = replies.filter((r) => r.body.case === 'error' && r.body.value.code === ErrorCode.RATE_LIMITED);
    expect(limited.length).toBeGreaterThanOrEqual(25);
    expect(replies.filter((r) => r.body.case === 'lookupPresenceReply').length).toBeGreaterThanOrEqual(5);
    expect(c.closed).toBe(false);
  });
});
