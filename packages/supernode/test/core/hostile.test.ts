/**
 * SupernodeCore under arbitrary input (spec/07-supernode.md; 00-conventions.md §4, GEN-ERR-4): every
 * request body of the chapter, with arbitrary field values and with valid objects bit-flipped, from an
 * attached node and from another supernode. The core answers with a reply, or refuses with a ParleyError
 * carrying a wire code (which the runner turns into ErrorReply or Close); it never throws anything else,
 * and what it refuses leaves the directory and the offline store as they were.
 */
import type { Packet, PacketBody } from '@parley/wire';
import { derivePlacementKey, ErrorCode, isParleyError, isWireCode, Role } from '@parley/wire';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SupernodeCore } from '../../src/core/core.js';
import { NetworkState } from '../../src/core/network-state.js';
import { NO_CHANNEL, newSession, type Session } from '../../src/core/session.js';
import { certified, HOUR, messageOf, presenceOf, suite, T0, testNetwork } from '../fixtures.js';

const net = testNetwork('core hostile');
const selfId = certified(net, Role.ROLE_SUPERNODE, 'self.test', 0x71);
const otherId = certified(net, Role.ROLE_SUPERNODE, 'other.test', 0x72);
const alice = certified(net, Role.ROLE_USER, 'alice', 1);

class FixedClock {
  now = () => T0;
  setTimer = () => ({ cancel: () => {} });
}

function makeCore(peerAnswer: (body: PacketBody) => Packet | Error): SupernodeCore {
  const state = new NetworkState(suite);
  state.setLoginCertificates([net.loginCertificate]);
  const entry = (id: Uint8Array, host: number) => ({
    keyId: id,
    placementKey: derivePlacementKey(suite, net.login, id),
    endpoints: [{ protocol: 2, address: Uint8Array.of(30, 0, 0, host), port: 7500 }],
    software: 's',
    loadPercent: 0,
    hosted: true,
    notAfterMs: T0 + HOUR,
  });
  state.setList({
    epoch: 1,
    issuedAtMs: T0,
    expiresAtMs: T0 + HOUR,
    entries: [entry(selfId.keyId, 1), entry(otherId.keyId, 2)],
  });
  return new SupernodeCore({
    clock: new FixedClock(),
    suite,
    trustAnchors: [net.root.publicKey],
    state,
    selfKeyId: selfId.keyId,
    peers: {
      request: async (_keyId, body) => {
        const a = peerAnswer(body);
        if (a instanceof Error) throw a;
        return a;
      },
    },
  });
}

function sessionOf(kind: 'node' | 'supernode'): Session {
  const identity = kind === 'node' ? alice : otherId;
  const leaf = {
    certificate: {
      subject: kind === 'node' ? 'alice' : 'other.test',
      deviceId: identity.deviceId,
      role: kind === 'node' ? Role.ROLE_USER : Role.ROLE_SUPERNODE,
    },
  };
  return newSession(leaf as never, { host: '30.0.0.9', port: 40000 }, NO_CHANNEL);
}

const bytes = (max: number) => fc.uint8Array({ maxLength: max });
const valid = {
  presence: presenceOf(alice, selfId.keyId, { issuedAt: T0 }),
  message: messageOf(alice, 'bob', { createdAt: T0 }),
};
/** A valid object with one bit flipped, or arbitrary bytes. */
const mutated = (good: Uint8Array) =>
  fc.oneof(
    fc.nat({ max: good.length * 8 - 1 }).map((bit) => {
      const b = Uint8Array.from(good);
      b[bit >> 3]! ^= 1 << (bit & 7);
      return b;
    }),
    bytes(600),
    fc.constant(good),
  );
const presenceEnvelope = fc.record({
  certificate: mutated(valid.presence.certificate),
  record: mutated(valid.presence.record),
});
const offlineEnvelope = fc.record({
  certificate: mutated(valid.message.certificate),
  message: mutated(valid.message.message),
});
const name = fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('alice', 'bob', 'ALICE', '', 'a'));
const ref = fc.record({ sender: name, messageId: bytes(20) });

const body: fc.Arbitrary<PacketBody> = fc.oneof(
  fc.record({ standby: fc.boolean(), listEpoch: fc.nat() }).map((value) => ({ case: 'attach', value }) as PacketBody),
  fc
    .option(presenceEnvelope, { nil: undefined })
    .map((presence) => ({ case: 'publishPresence', value: { presence } }) as PacketBody),
  name.map((username) => ({ case: 'lookupPresence', value: { username } }) as PacketBody),
  fc
    .option(offlineEnvelope, { nil: undefined })
    .map((message) => ({ case: 'storeMessage', value: { message } }) as PacketBody),
  fc
    .record({ maxMessages: fc.nat({ max: 1000 }), recipient: name })
    .map((value) => ({ case: 'fetchMessages', value }) as PacketBody),
  fc
    .record({ messages: fc.array(ref, { maxLength: 70 }), recipient: name })
    .map((value) => ({ case: 'ackMessages', value }) as PacketBody),
  fc
    .array(presenceEnvelope, { maxLength: 40 })
    .map((records) => ({ case: 'replicatePresence', value: { records } }) as PacketBody),
  fc
    .array(offlineEnvelope, { maxLength: 40 })
    .map((messages) => ({ case: 'replicateMessages', value: { messages } }) as PacketBody),
  fc.constantFrom<PacketBody>(
    { case: 'getPolicy', value: { knownVersion: 0 } },
    { case: 'publishPresenceReply', value: { sequence: 1, replicas: 1 } },
    { case: 'pong', value: { sequence: 1, data: new Uint8Array(0) } },
  ),
);

/** What a peer supernode answers a forwarded request with: a proper reply, an ErrorReply, garbage, or a failure. */
const peerBehaviour = fc.constantFrom('reply', 'refuse', 'wrong', 'fail');

function answer(kind: string) {
  return (b: PacketBody): Packet | Error => {
    if (kind === 'fail') return new Error('network down');
    if (kind === 'refuse')
      return { requestId: 1, body: { case: 'error', value: { code: ErrorCode.QUOTA_EXCEEDED, detail: '' } } };
    if (kind === 'wrong')
      return { requestId: 1, body: { case: 'pong', value: { sequence: 0, data: new Uint8Array(0) } } };
    switch (b.case) {
      case 'publishPresence':
        return { requestId: 1, body: { case: 'publishPresenceReply', value: { sequence: 1, replicas: 1 } } };
      case 'storeMessage':
        return { requestId: 1, body: { case: 'storeMessageReply', value: { replicas: 1 } } };
      case 'fetchMessages':
        return {
          requestId: 1,
          body: {
            case: 'fetchMessagesReply',
            value: { messages: [{ certificate: new Uint8Array(3), message: new Uint8Array(5) }], more: true },
          },
        };
      case 'ackMessages':
        return { requestId: 1, body: { case: 'ackMessagesReply', value: { deleted: 7 } } };
      case 'lookupPresence':
        return {
          requestId: 1,
          body: {
            case: 'lookupPresenceReply',
            value: { records: [{ certificate: new Uint8Array(1), record: new Uint8Array(1) }] },
          },
        };
      default:
        return { requestId: 1, body: { case: 'error', value: { code: ErrorCode.NOT_FOUND, detail: '' } } };
    }
  };
}

describe('arbitrary requests [SN-ATTACH] [SN-OVER] [DIR-PUB] [STORE-REPL]', () => {
  it('[SN-OVER-7] [DIR-PUB-3] [STORE-REPL-4] every handler answers or refuses with a wire code, and never throws anything else', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(body, fc.constantFrom<'node' | 'supernode'>('node', 'supernode')), {
          minLength: 1,
          maxLength: 8,
        }),
        peerBehaviour,
        async (requests, peer) => {
          const core = makeCore(answer(peer));
          const node = sessionOf('node');
          const sn = sessionOf('supernode');
          await core.handle(node, { requestId: 1, body: { case: 'attach', value: { standby: false, listEpoch: 0 } } });
          for (const [b, from] of requests) {
            try {
              const action = await core.handle(from === 'node' ? node : sn, { requestId: 9, body: b });
              expect(['reply', 'close']).toContain(action.kind);
            } catch (e) {
              if (!isParleyError(e) || !isWireCode(e.code)) throw e;
            }
          }
          core.close();
        },
      ),
      { numRuns: 300 },
    );
  });

  it('[DIR-PUB-3] [STORE-REPL-4] a refused publish or store leaves the directory and the offline store as they were', async () => {
    await fc.assert(
      fc.asyncProperty(presenceEnvelope, offlineEnvelope, async (p, m) => {
        const core = makeCore(answer('reply'));
        const sn = sessionOf('supernode');
        let published = false;
        let stored = false;
        try {
          await core.handle(sn, { requestId: 1, body: { case: 'publishPresence', value: { presence: p } } });
          published = true;
        } catch (e) {
          if (!isParleyError(e)) throw e;
        }
        try {
          await core.handle(sn, { requestId: 2, body: { case: 'storeMessage', value: { message: m } } });
          stored = true;
        } catch (e) {
          if (!isParleyError(e)) throw e;
        }
        expect(core.directory.size).toBe(published ? 1 : 0);
        expect((await core.offline.stats()).messages).toBe(stored ? 1 : 0);
        core.close();
      }),
      { numRuns: 300 },
    );
    // and the valid objects are accepted (so that the property above is not vacuous)
    const core = makeCore(answer('reply'));
    const sn = sessionOf('supernode');
    await core.handle(sn, { requestId: 1, body: { case: 'publishPresence', value: { presence: valid.presence } } });
    await core.handle(sn, { requestId: 2, body: { case: 'storeMessage', value: { message: valid.message } } });
    expect(core.directory.holds('alice')).toBe(true);
    expect(await core.offline.pending('bob', T0)).toBe(1);
  });
});
