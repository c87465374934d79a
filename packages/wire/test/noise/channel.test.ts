/**
 * The Parley channel handshake (spec/03-channels.md §2-4): two certified identities complete it; each
 * invalid peer is rejected with its own code; tampered and out-of-order messages close the channel.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nobleCrypto, nodeCrypto, seededRandom } from '../../src/crypto/index.js';
import type { CryptoSuite } from '../../src/crypto/suite.js';
import { ApiMisuse, ErrorCode, ParleyError } from '../../src/errors.js';
import { Role } from '../../src/identity/certificate.js';
import { buildHandshakePayload, type PeerIdentity, type VerifyPolicy } from '../../src/identity/handshake-payload.js';
import { generateSigningKey } from '../../src/identity/keys.js';
import {
  type ChannelConfig,
  type EstablishedChannel,
  handleMessage,
  negotiateVersion,
  PROLOGUE,
  PROLOGUE_TEXT,
  type Step,
  startInitiator,
  startResponder,
} from '../../src/noise/channel.js';
import { keyPairFromPrivateKey } from '../../src/noise/handshake-state.js';
import { certifiedPayloadCodec } from '../../src/noise/identity-payload.js';
import { XX_PROTOCOL_NAME, XXHandshake } from '../../src/noise/xx.js';
import {
  config,
  createNetwork,
  HOUR,
  type IdentityOptions,
  issueIdentity,
  type Network,
  NOW,
  openCodec,
  policy,
  type Run,
  runHandshake,
} from './pki.js';

const suite = nodeCrypto;
const net = createNetwork(suite);

interface PairOptions {
  alice?: IdentityOptions;
  bob?: IdentityOptions;
  alicePolicy?: Partial<VerifyPolicy>;
  bobPolicy?: Partial<VerifyPolicy>;
  aliceVersions?: number[];
  bobVersions?: number[];
  suite?: CryptoSuite;
  network?: Network;
  seed?: string;
}

/** Alice initiates, Bob responds. */
function start(o: PairOptions = {}) {
  const s = o.suite ?? suite;
  const n = o.network ?? net;
  const alice = issueIdentity(s, n, 'alice', o.alice);
  const bob = issueIdentity(s, n, 'bob', o.bob);
  const aliceConfig: ChannelConfig<PeerIdentity> = config(
    s,
    seededRandom(`${o.seed ?? 'x'} alice`),
    certifiedPayloadCodec(s, { identity: alice, policy: policy(n, o.alicePolicy), software: 'alice/1' }),
    { protocolVersions: o.aliceVersions ?? [1] },
  );
  const bobConfig: ChannelConfig<PeerIdentity> = config(
    s,
    seededRandom(`${o.seed ?? 'x'} bob`),
    certifiedPayloadCodec(s, { identity: bob, policy: policy(n, o.bobPolicy), software: 'bob/1' }),
    { protocolVersions: o.bobVersions ?? [1] },
  );
  return { initiator: startInitiator(aliceConfig), responder: startResponder(bobConfig) };
}

function established<P>(step: Step<P>): EstablishedChannel<P> {
  if (step.state.kind !== 'Established') throw new Error(`not established: ${step.state.kind}`);
  return step.state.channel;
}

function closedWith<P>(step: Step<P>): ParleyError {
  if (step.state.kind !== 'Closed') throw new Error(`not closed: ${step.state.kind}`);
  expect(step.actions).toEqual([{ kind: 'Closed', error: step.state.error }]);
  return step.state.error;
}

describe('Parley channel handshake', () => {
  it('[CHAN-NOISE-1] [CHAN-NOISE-2] [CHAN-NOISE-3] [CHAN-HS-2] [CHAN-HS-3] [CHAN-HS-4] two certified identities complete the handshake', () => {
    expect(XX_PROTOCOL_NAME).toBe('Noise_XX_25519_ChaChaPoly_SHA256');
    expect(PROLOGUE_TEXT).toBe('parley/1 stream');
    const run = runHandshake(start());
    const a = established(run.initiator);
    const b = established(run.responder);
    expect(run.messages.map((m) => m.length).slice(0, 1)).toEqual([32]);
    expect(run.messages).toHaveLength(3);
    expect(a.peer.certificate.subject).toBe('bob');
    expect(b.peer.certificate.subject).toBe('alice');
    expect(a.peerSoftware).toBe('bob/1');
    expect(b.peerSoftware).toBe('alice/1');
    expect(a.role).toBe('initiator');
    expect(b.role).toBe('responder');
    expect(a.handshakeHash).toEqual(b.handshakeHash);
    expect(run.initiator.actions.map((x) => x.kind)).toEqual(['Send', 'Established']);
    expect(run.responder.actions.map((x) => x.kind)).toEqual(['Established']);
  });

  it('[CHAN-TRANSPORT-3] [CHAN-TRANSPORT-1] the established transports interoperate in both directions', () => {
    const run = runHandshake(start());
    const a = established(run.initiator);
    const b = established(run.responder);
    const hello = new TextEncoder().encode('hello bob');
    expect(b.transport.decrypt(a.transport.encrypt(hello))).toEqual(hello);
    const reply = new TextEncoder().encode('hello alice');
    expect(a.transport.decrypt(b.transport.encrypt(reply))).toEqual(reply);
  });

  it('[CHAN-NOISE-1] both CryptoSuites produce identical handshake bytes from the same seeds', () => {
    const runs = [nodeCrypto, nobleCrypto].map((s) => {
      const n = createNetwork(s, 'same network');
      const run = runHandshake(start({ suite: s, network: n, seed: 'same' }));
      const a = established(run.initiator);
      return { messages: run.messages, hash: a.handshakeHash, first: a.transport.encrypt(new Uint8Array([1, 2, 3])) };
    });
    expect(runs[0]).toEqual(runs[1]);
  });

  it('[CHAN-NOISE-4] ephemeral keys are fresh for each handshake', () => {
    const r1 = runHandshake(start({ seed: 'one' }));
    const r2 = runHandshake(start({ seed: 'two' }));
    expect(r1.messages[0]).not.toEqual(r2.messages[0]);
    expect(established(r1.initiator).handshakeHash).not.toEqual(established(r2.initiator).handshakeHash);
  });

  describe('invalid peers are rejected with their code', () => {
    const cases: [string, PairOptions, 'initiator' | 'responder', ErrorCode][] = [
      [
        'responder certificate expired',
        { bob: { notAfter: NOW - 2 * HOUR, notBefore: NOW - 3 * HOUR } },
        'initiator',
        ErrorCode.CERT_EXPIRED,
      ],
      [
        'responder certificate not yet valid',
        { bob: { notBefore: NOW + HOUR } },
        'initiator',
        ErrorCode.CERT_NOT_YET_VALID,
      ],
      [
        'responder has a role not accepted',
        { alicePolicy: { acceptedRoles: [Role.ROLE_SUPERNODE] } },
        'initiator',
        ErrorCode.CERT_WRONG_ROLE,
      ],
      [
        'initiator certificate expired',
        { alice: { notAfter: NOW - 2 * HOUR, notBefore: NOW - 3 * HOUR } },
        'responder',
        ErrorCode.CERT_EXPIRED,
      ],
      [
        'initiator certificate not yet valid',
        { alice: { notBefore: NOW + HOUR } },
        'responder',
        ErrorCode.CERT_NOT_YET_VALID,
      ],
      [
        'initiator has a role not accepted',
        { bobPolicy: { acceptedRoles: [Role.ROLE_SUPERNODE] } },
        'responder',
        ErrorCode.CERT_WRONG_ROLE,
      ],
      [
        'responder certificate wrongly signed',
        { bob: { corruptSignature: true } },
        'initiator',
        ErrorCode.BAD_SIGNATURE,
      ],
      [
        'initiator certificate wrongly signed',
        { alice: { corruptSignature: true } },
        'responder',
        ErrorCode.BAD_SIGNATURE,
      ],
      [
        'responder certificate issued by a key outside its chain',
        { bob: { issuer: generateSigningKey(suite, seededRandom('rogue')) } },
        'initiator',
        ErrorCode.CERT_UNKNOWN_ISSUER,
      ],
      [
        'initiator certificate issued by a key outside its chain',
        { alice: { issuer: generateSigningKey(suite, seededRandom('rogue')) } },
        'responder',
        ErrorCode.CERT_UNKNOWN_ISSUER,
      ],
      [
        'responder of another network',
        { alicePolicy: { trustAnchors: [generateSigningKey(suite, seededRandom('other root')).publicKey] } },
        'initiator',
        ErrorCode.NETWORK_MISMATCH,
      ],
    ];
    for (const [name, o, side, code] of cases) {
      it(`[CHAN-HS-4] [CHAN-HS-6] ${name}: ${ErrorCode[code]}`, () => {
        const run = runHandshake(start(o));
        const error = closedWith(side === 'initiator' ? run.initiator : run.responder);
        expect(error.code).toBe(code);
        if (side === 'initiator') {
          // [CHAN-HS-5] the initiator never sends message 3 to a peer it did not verify
          expect(run.messages).toHaveLength(2);
          expect(run.initiator.actions.some((a) => a.kind === 'Send')).toBe(false);
        } else {
          expect(run.initiator.state.kind).toBe('Established'); // it learns of the failure when the connection closes
        }
      });
    }

    for (const side of ['initiator', 'responder'] as const) {
      it(`[CHAN-HS-4] [CHAN-HS-5] ${side === 'initiator' ? 'a responder' : 'an initiator'} whose binding signature covers another static key: BINDING_INVALID`, () => {
        const liar = issueIdentity(suite, net, 'mallory');
        const lying = {
          build: (_key: Uint8Array, versions: readonly number[]) =>
            buildHandshakePayload(suite, liar, new Uint8Array(32).fill(9), {
              protocolVersions: [...versions],
              software: 'm',
            }),
          verify: certifiedPayloadCodec(suite, { identity: liar, policy: policy(net), software: 'm' }).verify,
        };
        const honest = certifiedPayloadCodec(suite, {
          identity: issueIdentity(suite, net, 'honest'),
          policy: policy(net),
          software: 'h',
        });
        const [ic, rc] = side === 'initiator' ? [honest, lying] : [lying, honest];
        const run = runHandshake({
          initiator: startInitiator(config(suite, seededRandom('i'), ic)),
          responder: startResponder(config(suite, seededRandom('r'), rc)),
        });
        expect(closedWith(side === 'initiator' ? run.initiator : run.responder).code).toBe(ErrorCode.BINDING_INVALID);
      });
    }

    it('[CHAN-HS-4] a payload that is not a HandshakePayload is a decode error', () => {
      const garbage = { build: () => new Uint8Array([0xff, 0xff, 0xff]), verify: openCodec().verify };
      const run = runHandshake<unknown>({
        initiator: startInitiator(
          config(
            suite,
            seededRandom('i'),
            certifiedPayloadCodec(suite, {
              identity: issueIdentity(suite, net, 'a'),
              policy: policy(net),
              software: '',
            }),
          ),
        ),
        responder: startResponder(config(suite, seededRandom('r'), garbage)),
      });
      expect(closedWith(run.initiator).kind).toBe('decode');
    });
  });

  describe('version negotiation', () => {
    it('[CHAN-VER-1] [CHAN-VER-2] both sides select the highest common version', () => {
      expect(negotiateVersion([1, 2, 3], [2, 3, 5])).toBe(3);
      expect(negotiateVersion([1], [1])).toBe(1);
      const run = runHandshake(start({ aliceVersions: [1, 2, 3], bobVersions: [5, 3, 2] }));
      expect(established(run.initiator).protocolVersion).toBe(3);
      expect(established(run.responder).protocolVersion).toBe(3);
    });

    it('[CHAN-VER-3] [GEN-VER-1] no version in common: VERSION_UNSUPPORTED, and the initiator sends no message 3', () => {
      const run = runHandshake(start({ aliceVersions: [1, 2], bobVersions: [3] }));
      const error = closedWith(run.initiator);
      expect(error.code).toBe(ErrorCode.VERSION_UNSUPPORTED);
      expect(error.kind).toBe('incompatible');
      expect(run.messages).toHaveLength(2);
    });

    it('[CHAN-VER-3] the responder also rejects an initiator with no common version', () => {
      // The initiator only checks what it was told; a lying initiator still fails at the responder.
      const i = config(suite, seededRandom('i'), openCodec([3]), { protocolVersions: [3] });
      const r = config(suite, seededRandom('r'), openCodec([3]), { protocolVersions: [1] });
      const run = runHandshake({ initiator: startInitiator(i), responder: startResponder(r) });
      expect(closedWith(run.responder).code).toBe(ErrorCode.VERSION_UNSUPPORTED);
    });
  });

  describe('tampered and misordered messages', () => {
    function tamperEveryByte(messageIndex: number, side: 'initiator' | 'responder') {
      const clean = runHandshake(start({ seed: 'tamper' }));
      const length = clean.messages[messageIndex]!.length;
      const codes = new Set<string>();
      // Every byte of the keys, encrypted static key and the first payload bytes, every 13th byte of
      // the rest of the payload, and every byte of the final tag.
      const positions = [...Array(length).keys()].filter((i) => i < 112 || i % 13 === 0 || i >= length - 16);
      for (const i of positions) {
        const run = runHandshake(start({ seed: 'tamper' }), (n, m) => {
          if (n !== messageIndex) return m;
          const t = m.slice();
          t[i]! ^= 0x01;
          return t;
        });
        const error = closedWith(side === 'initiator' ? run.initiator : run.responder);
        codes.add(ErrorCode[error.code]!);
        expect(side === 'initiator' ? run.responder.state.kind : run.initiator.state.kind).not.toBe('Closed');
      }
      return codes;
    }

    it('[CHAN-HS-6] [CHAN-NOISE-3] any flipped bit in message 2 closes the initiator with DECRYPT_FAILED', () => {
      expect([...tamperEveryByte(1, 'initiator')]).toEqual(['DECRYPT_FAILED']);
    });

    it('[CHAN-HS-6] [CHAN-NOISE-3] any flipped bit in message 3 closes the responder with DECRYPT_FAILED', () => {
      expect([...tamperEveryByte(2, 'responder')]).toEqual(['DECRYPT_FAILED']);
    });

    it('[CHAN-HS-6] [CHAN-NOISE-2] a flipped bit in message 1 is caught by the initiator at message 2 (the transcript differs)', () => {
      expect([...tamperEveryByte(0, 'initiator')]).toEqual(['DECRYPT_FAILED']);
    });

    it('[CHAN-NOISE-2] peers with different prologues cannot complete the handshake', () => {
      const kp = (n: number) => keyPairFromPrivateKey(suite, new Uint8Array(32).fill(n));
      const i = XXHandshake.initiator(suite, PROLOGUE, kp(1), kp(2));
      const r = XXHandshake.responder(suite, new TextEncoder().encode('parley/2 stream'), kp(3), kp(4));
      r.readMessage1(i.writeMessage1(new Uint8Array(0)));
      const m2 = r.writeMessage2(new Uint8Array(0));
      expect(() => i.readMessage2(m2)).toThrow(expect.objectContaining({ code: ErrorCode.DECRYPT_FAILED }));
    });

    it('[CHAN-NOISE-3] a message 2 from another handshake is rejected: DECRYPT_FAILED', () => {
      const a = runHandshake(start({ seed: 'p1' }));
      const b = start({ seed: 'p2' });
      const r = handleMessage(b.responder.state, a.messages[0]!);
      expect(r.state.kind).toBe('ExpectMessage3');
      const i = handleMessage(b.initiator.state, a.messages[1]!);
      expect(closedWith(i).code).toBe(ErrorCode.DECRYPT_FAILED);
    });

    it('[CHAN-HS-7] [CHAN-HS-1] a responder given anything but a 32-byte message 1 rejects it: UNEXPECTED_MESSAGE', () => {
      const clean = runHandshake(start({ seed: 'order' }));
      for (const wrong of [clean.messages[1]!, clean.messages[2]!, new Uint8Array(33), new Uint8Array(31)]) {
        const s = start({ seed: 'order' });
        expect(closedWith(handleMessage(s.responder.state, wrong)).code).toBe(ErrorCode.UNEXPECTED_MESSAGE);
      }
    });

    it('[CHAN-HS-7] an initiator given message 1 (or anything shorter than message 2) rejects it: UNEXPECTED_MESSAGE', () => {
      const clean = runHandshake(start({ seed: 'order' }));
      const s = start({ seed: 'order' });
      expect(closedWith(handleMessage(s.initiator.state, clean.messages[0]!)).code).toBe(ErrorCode.UNEXPECTED_MESSAGE);
      const t = start({ seed: 'order' });
      expect(closedWith(handleMessage(t.initiator.state, new Uint8Array(95))).code).toBe(ErrorCode.UNEXPECTED_MESSAGE);
    });

    it('[CHAN-HS-7] a responder expecting message 3 given message 1 again rejects it: UNEXPECTED_MESSAGE', () => {
      const s = start({ seed: 'order' });
      const m1 = s.initiator.actions[0]!;
      if (m1.kind !== 'Send') throw new Error('no message 1');
      const r = handleMessage(s.responder.state, m1.message);
      expect(closedWith(handleMessage(r.state, m1.message)).code).toBe(ErrorCode.UNEXPECTED_MESSAGE);
      const r2 = handleMessage(start({ seed: 'order' }).responder.state, m1.message);
      expect(closedWith(handleMessage(r2.state, new Uint8Array(63))).code).toBe(ErrorCode.UNEXPECTED_MESSAGE);
    });

    it('[CHAN-NOISE-6] a low-order ephemeral key in message 1 is rejected: INVALID_KEY', () => {
      const s = start();
      expect(closedWith(handleMessage(s.responder.state, new Uint8Array(32))).code).toBe(ErrorCode.INVALID_KEY);
    });

    it('[CHAN-TRANSPORT-1] a handshake message longer than 65,535 bytes: FRAME_TOO_LARGE', () => {
      const s = start();
      expect(closedWith(handleMessage(s.initiator.state, new Uint8Array(65_536))).code).toBe(ErrorCode.FRAME_TOO_LARGE);
    });
  });

  describe('the state machine itself', () => {
    it('[CHAN-HS-6] [CHAN-HS-7] property: any bytes in any handshake state end in a state or a typed Closed, never a throw', () => {
      const clean = runHandshake(start({ seed: 'fuzz' }));
      const m1 = clean.messages[0]!;
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 2 }), fc.uint8Array({ maxLength: 400 }), (which, junk) => {
          const s = start({ seed: 'fuzz' });
          const state =
            which === 0
              ? s.responder.state
              : which === 1
                ? s.initiator.state
                : handleMessage(s.responder.state, m1).state;
          const step = handleMessage(state, junk);
          if (step.state.kind === 'Closed') {
            expect(step.state.error).toBeInstanceOf(ParleyError);
            expect(step.state.error.kind).not.toBe('misuse');
          } else {
            // Only a 32-byte message 1 can be accepted by chance: any 32 bytes are an ephemeral key.
            expect(which === 0 && junk.length === 32).toBe(true);
          }
        }),
        { numRuns: 150 },
      );
    });

    it('[CHAN-HS-6] a handled state cannot be handled again; Established and Closed take no handshake input', () => {
      const s = start();
      const m1 = s.initiator.actions[0]!;
      if (m1.kind !== 'Send') throw new Error('no message 1');
      handleMessage(s.responder.state, m1.message);
      expect(() => handleMessage(s.responder.state, m1.message)).toThrow(ApiMisuse);
      const run = runHandshake(start());
      expect(() => handleMessage(run.initiator.state, new Uint8Array(64))).toThrow(ApiMisuse);
      const failed = handleMessage(start().responder.state, new Uint8Array(5));
      expect(() => handleMessage(failed.state, new Uint8Array(32))).toThrow(ApiMisuse);
    });

    it('[CHAN-HS-6] a failed handshake yields no channel and no keys', () => {
      const run = runHandshake(start({ bob: { notBefore: NOW + HOUR } }));
      expect(run.initiator.state.kind).toBe('Closed');
      expect(run.initiator.actions.every((a) => a.kind === 'Closed')).toBe(true);
      expect('channel' in run.initiator.state).toBe(false);
    });

    it('[CHAN-NOISE-5] a long-lived static key may be reused across channels and is what the peer sees', () => {
      const staticKey = {
        privateKey: new Uint8Array(32).fill(3),
        publicKey: suite.x25519PublicKey(new Uint8Array(32).fill(3)),
      };
      const runs: Run<string>[] = [1, 2].map((n) =>
        runHandshake({
          initiator: startInitiator(config(suite, seededRandom(`s${n}`), openCodec(), { staticKey })),
          responder: startResponder(config(suite, seededRandom(`t${n}`), openCodec())),
        }),
      );
      for (const run of runs) expect(established(run.responder).remoteStaticKey).toEqual(staticKey.publicKey);
    });

    it('[CHAN-NOISE-7] the handshake hash is the same on both sides and unique per handshake (channel binding)', () => {
      const r1 = runHandshake(start({ seed: 'cb1' }));
      const r2 = runHandshake(start({ seed: 'cb2' }));
      expect(established(r1.initiator).handshakeHash).toEqual(established(r1.responder).handshakeHash);
      expect(established(r1.initiator).handshakeHash).not.toEqual(established(r2.initiator).handshakeHash);
    });
  });
});
