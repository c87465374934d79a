/**
 * What the keys of a session protect (spec/10-e2e.md §4-5, §10): the associated data binds both devices,
 * a carrier cannot re-attribute a message, low-order keys end an attempt with INVALID_KEY and change
 * nothing, a session's state later cannot open what it already opened (forward secrecy), and a copy of an
 * older state cannot open what follows the next DH-ratchet steps (recovery).
 */
import { describe, expect, it } from 'vitest';
import { bytesEqual } from '../../src/codec/bytes.js';
import { decodeMessage, encodeMessage } from '../../src/codec/proto.js';
import { nodeCrypto } from '../../src/crypto/index.js';
import {
  bundleKeys,
  decodeE2eMessage,
  E2eSessions,
  encodeE2eMessage,
  encodeRatchetHeader,
  type RatchetMessage,
  RatchetSession,
} from '../../src/e2e/index.js';
import { ErrorCode } from '../../src/errors.js';
import { parley } from '../../src/gen/parley.js';
import { signSignedPrekey } from '../../src/login/objects.js';
import { caught, makeMember, NOW } from '../identity/fixtures.js';
import { e2eWorld, peerOf, type TestDevice } from './fixtures.js';

const suite = nodeCrypto;
const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

function send(a: TestDevice, b: TestDevice, s: string): Uint8Array {
  const [m] = a.sessions.encryptFor([peerOf(b)], text(s));
  return encodeE2eMessage(m!.message);
}
function receive(b: TestDevice, from: TestDevice, wire: Uint8Array): string {
  return str(b.sessions.decrypt(from.certificate, decodeE2eMessage(wire)));
}
function talking(label: string) {
  const w = e2eWorld(suite, label);
  const alice = w.device('alice');
  const bob = w.device('bob');
  alice.sessions.initiate(bob.bundle(1));
  expect(receive(bob, alice, send(alice, bob, 'setup'))).toBe('setup');
  expect(receive(alice, bob, send(bob, alice, 'reply'))).toBe('reply');
  return { w, alice, bob };
}
const ratchetOf = (wire: Uint8Array) => decodeE2eMessage(wire).ratchet as RatchetMessage;
/** A copy of a stored state with its associated data replaced. */
function withAd(state: Uint8Array, ad: Uint8Array): RatchetSession {
  const p = decodeMessage<parley.v1.RatchetSessionState>(parley.v1.RatchetSessionState as never, state, 'state');
  p.ad = ad;
  return RatchetSession.deserialize(suite, encodeMessage(parley.v1.RatchetSessionState, p));
}

describe('what binds a session', () => {
  it('[E2E-X3DH-5] [E2E-RATCHET-4] a session whose associated data differs in any byte (label, keys, names, device ids) opens nothing', () => {
    const { alice, bob } = talking('ad');
    const state = bob.sessions.sessions(peerOf(alice))[0]!.serialize();
    const wire = send(alice, bob, 'bound to both');
    const ad = bob.sessions.sessions(peerOf(alice))[0]!.meta.ad;
    for (let i = 0; i < ad.length; i++) {
      const other = Uint8Array.from(ad);
      other[i]! ^= 0x01;
      expect(caught(() => withAd(state, other).decrypt(ratchetOf(wire), bob.random)).code).toBe(
        ErrorCode.DECRYPT_FAILED,
      );
    }
    expect(caught(() => withAd(state, ad.subarray(1)).decrypt(ratchetOf(wire), bob.random)).code).toBe(
      ErrorCode.DECRYPT_FAILED,
    );
    expect(str(withAd(state, ad).decrypt(ratchetOf(wire), bob.random))).toBe('bound to both');
  });

  it('[E2E-MSG-2] a ratchet message its carrier attributes to another device (even of the same user) does not decrypt, and changes nothing', () => {
    const { w, alice, bob } = talking('carrier');
    const other = makeMember(w.net, { subject: 'alice' }, 4242);
    const wire = send(alice, bob, 'from alice 1');
    const before = bob.sessions.save(peerOf(alice));
    const elsewhere = { ...alice.certificate, deviceId: other.fields.deviceId };
    expect(caught(() => bob.sessions.decrypt(elsewhere, decodeE2eMessage(wire))).code).toBe(ErrorCode.DECRYPT_FAILED);
    expect(bob.sessions.save(peerOf(alice)).every((s, i) => bytesEqual(s, before[i]!))).toBe(true);
    expect(receive(bob, alice, wire)).toBe('from alice 1');
  });
});

describe('low-order keys [CRYPTO-X25519-2]', () => {
  it('[E2E-X3DH-1] [E2E-X3DH-2] an initiator whose bundle has a low-order signed prekey gets INVALID_KEY and no session', () => {
    const w = e2eWorld(suite, 'low order bundle');
    const alice = w.device('alice');
    const bob = w.device('bob');
    const spk = signSignedPrekey(suite, bob.seed, {
      id: 9,
      publicKey: new Uint8Array(32), // u = 0: every X25519 with it is all zeros
      identityDhKey: bob.local.identityDh.publicKey,
      deviceId: bob.local.deviceId,
      createdAtMs: NOW,
    });
    const bundle = bundleKeys(suite, bob.certificate, spk);
    expect(caught(() => alice.sessions.initiate(bundle)).code).toBe(ErrorCode.INVALID_KEY);
    expect(alice.sessions.has(peerOf(bob))).toBe(false);
  });

  it('[E2E-X3DH-2] [E2E-RATCHET-7] a PrekeyMessage with a low-order ephemeral key is INVALID_KEY: no session, the one-time prekey kept', () => {
    const w = e2eWorld(suite, 'low order ephemeral');
    const alice = w.device('alice');
    const bob = w.device('bob');
    alice.sessions.initiate(bob.bundle(1));
    const m = decodeE2eMessage(send(alice, bob, 'x'));
    const bad = parley.v1.E2eMessage.create({ prekey: { ...m.prekey!, ephemeralKey: new Uint8Array(32) } });
    expect(caught(() => bob.sessions.decrypt(alice.certificate, bad)).code).toBe(ErrorCode.INVALID_KEY);
    expect(bob.sessions.has(peerOf(alice))).toBe(false);
    expect(bob.prekeys.oneTime.has(1)).toBe(true);
    expect(str(bob.sessions.decrypt(alice.certificate, m))).toBe('x');
  });

  it('[E2E-RATCHET-2] [E2E-RATCHET-7] a header naming a low-order ratchet key is INVALID_KEY and leaves the session as it was', () => {
    const { alice, bob } = talking('low order header');
    const session = bob.sessions.sessions(peerOf(alice))[0]!;
    const before = session.serialize();
    const header = encodeRatchetHeader({ dh: new Uint8Array(32), pn: 0, n: 0 });
    const e = caught(() => session.decrypt({ header, ciphertext: new Uint8Array(32) } as RatchetMessage, bob.random));
    expect(e.code).toBe(ErrorCode.INVALID_KEY);
    expect(bytesEqual(session.serialize(), before)).toBe(true);
    expect(receive(bob, alice, send(alice, bob, 'still fine'))).toBe('still fine');
  });
});

describe('forward secrecy and recovery', () => {
  it('[E2E-RATCHET-8] a state taken after messages were read opens none of them (their keys are gone)', () => {
    const { alice, bob } = talking('forward');
    const read: Uint8Array[] = [];
    for (let i = 0; i < 6; i++) {
      const wire = i % 2 === 0 ? send(alice, bob, `a${i}`) : send(bob, alice, `b${i}`);
      if (i % 2 === 0) expect(receive(bob, alice, wire)).toBe(`a${i}`);
      else expect(receive(alice, bob, wire)).toBe(`b${i}`);
      read.push(wire);
    }
    // an attacker takes both devices' whole state now
    const taken = (d: TestDevice, p: TestDevice) => {
      const store = new E2eSessions(suite, d.random, d.local, d.prekeys);
      store.load(peerOf(p), d.sessions.save(peerOf(p)));
      return store;
    };
    const bobCopy = taken(bob, alice);
    const aliceCopy = taken(alice, bob);
    read.forEach((wire, i) => {
      const [copy, sender] = i % 2 === 0 ? [bobCopy, alice] : [aliceCopy, bob];
      expect(caught(() => copy.decrypt(sender.certificate, decodeE2eMessage(wire))).code).toBe(
        ErrorCode.DECRYPT_FAILED,
      );
    });
  });

  it('[E2E-RATCHET-2] a copy of an older state opens nothing sent after the next DH-ratchet steps', () => {
    const { alice, bob } = talking('recovery');
    const stolen = bob.sessions.sessions(peerOf(alice))[0]!.serialize();
    // the stolen state holds bob's current ratchet private key: it opens what alice sends next...
    const sameChain = send(alice, bob, 'same chain');
    expect(str(RatchetSession.deserialize(suite, stolen).decrypt(ratchetOf(sameChain), bob.random))).toBe('same chain');
    expect(receive(bob, alice, sameChain)).toBe('same chain');
    // ...but after a round trip (fresh ratchet keys on both sides, unknown to the thief) nothing more
    expect(receive(alice, bob, send(bob, alice, 'step'))).toBe('step');
    const after = send(alice, bob, 'healed');
    expect(caught(() => RatchetSession.deserialize(suite, stolen).decrypt(ratchetOf(after), bob.random)).code).toBe(
      ErrorCode.DECRYPT_FAILED,
    );
    expect(receive(bob, alice, after)).toBe('healed');
  });
});
