/**
 * Fuzz targets of spec/10-e2e.md: the E2eBundle a recipient decodes from an offline message or a peer
 * session (E2E-BUNDLE-1, E2E-MSG-1), the RatchetHeader a receiver decodes before decrypting
 * (E2E-RATCHET-6), and decryption itself: bytes decoded as an E2eMessage and decrypted by a device's
 * session store restored from one fixed state each time (E2E-RATCHET-7). Each must return a value or throw
 * a ParleyError; the decrypt target also fails when a refused message changed the store or the prekeys.
 */
import fc from 'fast-check';
import { bytesEqual } from '../src/codec/bytes.js';
import { encodeMessage } from '../src/codec/proto.js';
import { nodeCrypto } from '../src/crypto/index.js';
import { seededRandom } from '../src/crypto/random.js';
import {
  decodeE2eBundle,
  decodeE2eMessage,
  decodeRatchetHeader,
  E2E_BUNDLE_RULES,
  E2eSessions,
  encodeE2eMessage,
  RATCHET_HEADER_RULES,
} from '../src/e2e/index.js';
import { isParleyError } from '../src/errors.js';
import { parley } from '../src/gen/parley.js';
import { e2eWorld, MemoryPrekeys, peerOf } from '../test/e2e/fixtures.js';
import { NOW } from '../test/identity/fixtures.js';
import { messageArbitrary } from '../test/login/rules.js';
import { decoderTarget, type FuzzTarget } from './target.js';

/**
 * Bob's side of a conversation with Alice, fixed once: his stored sessions and prekeys, and valid messages
 * from Alice to mutate — a PrekeyMessage of a session he has, one of a session he has not seen (it creates
 * one and uses a one-time prekey), and RatchetMessages after a DH-ratchet step (any one of them may come
 * first: each input runs from the same state).
 */
function conversation() {
  const suite = nodeCrypto;
  const w = e2eWorld(suite, 'fuzz e2e-decrypt');
  const alice = w.device('alice');
  const bob = w.device('bob');
  const send = (from: E2eSessions, text: string) => {
    const [m] = from.encryptFor([peerOf(bob)], new TextEncoder().encode(text));
    return encodeE2eMessage(m!.message);
  };
  alice.sessions.initiate(bob.bundle(1), NOW);
  const first = send(alice.sessions, 'first');
  const second = send(alice.sessions, 'second'); // the X3DH header again: bob finds his session by it
  bob.sessions.decrypt(alice.certificate, decodeE2eMessage(first), NOW);
  const [reply] = bob.sessions.encryptFor([peerOf(alice)], new TextEncoder().encode('reply'));
  alice.sessions.decrypt(bob.certificate, reply!.message, NOW);
  const ratchet = [send(alice.sessions, 'r1'), send(alice.sessions, 'r2'), send(alice.sessions, 'r3')];
  const other = new E2eSessions(suite, alice.random, alice.local, alice.prekeys);
  other.initiate(bob.bundle(2), NOW);
  const fresh = send(other, 'a second session');
  return {
    bob,
    sender: alice.certificate,
    peer: peerOf(alice),
    stored: bob.sessions.save(peerOf(alice)),
    prekeys: { signed: new Map(bob.prekeys.signed), oneTime: new Map(bob.prekeys.oneTime) },
    valid: [second, fresh, ...ratchet],
  };
}
let fixed: ReturnType<typeof conversation> | undefined;
const fixture = () => {
  fixed ??= conversation();
  return fixed;
};

/** The valid messages the e2e-decrypt target mutates (each decrypts from the fixed state). */
export const e2eDecryptValidInputs = (): Uint8Array[] => fixture().valid.map((v) => Uint8Array.from(v));

/** Decrypts `bytes` as Bob, from his fixed state; a refusal must leave his sessions and prekeys as they were. */
export function decryptFixed(bytes: Uint8Array): Uint8Array {
  const f = fixture();
  const prekeys = new MemoryPrekeys();
  for (const [id, k] of f.prekeys.signed) prekeys.signed.set(id, k);
  for (const [id, k] of f.prekeys.oneTime) prekeys.oneTime.set(id, k);
  const store = new E2eSessions(nodeCrypto, seededRandom('fuzz e2e-decrypt run'), f.bob.local, prekeys);
  store.load(f.peer, f.stored);
  try {
    return store.decrypt(f.sender, decodeE2eMessage(bytes), NOW);
  } catch (e) {
    if (isParleyError(e)) {
      const now = store.save(f.peer);
      const same = now.length === f.stored.length && now.every((s, i) => bytesEqual(s, f.stored[i]!));
      if (!same || prekeys.oneTime.size !== f.prekeys.oneTime.size) {
        throw new Error('e2e-decrypt: a refused message changed the session store or the prekeys (E2E-RATCHET-7)');
      }
    }
    throw e;
  }
}

export const e2eTargets: readonly FuzzTarget<unknown>[] = [
  decoderTarget({
    name: 'e2e-bundle',
    description: 'decodeE2eBundle (E2E-BUNDLE-1, E2E-MSG-1): device messages, prekey and ratchet messages',
    valid: messageArbitrary(E2E_BUNDLE_RULES).map((v) => encodeMessage(parley.v1.E2eBundle, v as never)),
    decode: decodeE2eBundle,
  }),
  decoderTarget({
    name: 'e2e-header',
    description: 'decodeRatchetHeader (E2E-RATCHET-6)',
    valid: messageArbitrary(RATCHET_HEADER_RULES).map((v) => encodeMessage(parley.v1.RatchetHeader, v as never)),
    decode: decodeRatchetHeader,
  }),
  decoderTarget({
    name: 'e2e-decrypt',
    description:
      'E2eSessions.decrypt of decoded bytes on a fixed stored session (E2E-MSG-1, E2E-RATCHET-7): a refusal changes nothing',
    // a copy each time: the mutator may change its input in place
    valid: fc.nat().map((i) => {
      const v = fixture().valid;
      return Uint8Array.from(v[i % v.length]!);
    }),
    decode: decryptFixed,
  }),
];
