/**
 * End-to-end encryption (spec/10-e2e.md): X3DH from verified bundles, the Double Ratchet with bounded
 * skipped keys, transactional decryption, multi-session selection, storage round trips, and identical
 * bytes from both crypto suites.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesEqual } from '../../src/codec/bytes.js';
import { nobleCrypto, nodeCrypto } from '../../src/crypto/index.js';
import {
  createPrekeys,
  decodeE2eBundle,
  decodeE2eMessage,
  type E2eMessage,
  E2eSessions,
  encodeE2eBundle,
  encodeE2eMessage,
  encodeRatchetHeader,
  MAX_SKIP,
  MAX_SKIPPED_KEYS_TOTAL,
  RatchetSession,
  SKIPPED_KEY_STEPS,
} from '../../src/e2e/index.js';
import { bundleKeys } from '../../src/e2e/x3dh.js';
import { ApiMisuse, DecodeError, ErrorCode, isParleyError } from '../../src/errors.js';
import { parley } from '../../src/gen/parley.js';
import { caught } from '../identity/fixtures.js';
import { e2eWorld, type TestDevice } from './fixtures.js';

const suite = nodeCrypto;
const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

/** Sends `s` from a to b through the wire encoding (what a carrier would carry). */
function send(a: TestDevice, b: TestDevice, s: string): Uint8Array {
  const [m] = a.sessions.encryptFor([{ username: b.local.username, deviceId: b.local.deviceId }], text(s));
  return encodeE2eMessage(m!.message);
}
function receive(b: TestDevice, from: TestDevice, wire: Uint8Array): string {
  return str(b.sessions.decrypt(from.certificate, decodeE2eMessage(wire)));
}
function pair(label = 'pair', otk: number | undefined = 1) {
  const w = e2eWorld(suite, label);
  const alice = w.device('alice');
  const bob = w.device('bob');
  alice.sessions.initiate(bob.bundle(otk));
  return { w, alice, bob };
}
const peer = (d: TestDevice) => ({ username: d.local.username, deviceId: d.local.deviceId });

describe('X3DH', () => {
  it('[E2E-X3DH-1] [E2E-X3DH-2] [E2E-X3DH-3] [E2E-X3DH-4] [E2E-RATCHET-2] [E2E-RATCHET-3] [E2E-STORE-2] a first message from a bundle: PrekeyMessages until a reply confirms the session', () => {
    const { alice, bob } = pair();
    const m1 = send(alice, bob, 'hello bob');
    expect(decodeE2eMessage(m1).prekey).toBeTruthy();
    const m2 = send(alice, bob, 'are you there');
    expect(decodeE2eMessage(m2).prekey).toBeTruthy();
    expect(receive(bob, alice, m1)).toBe('hello bob');
    // a repeated X3DH header lands on the session it created ([E2E-STORE-2])
    expect(receive(bob, alice, m2)).toBe('are you there');
    expect(bob.sessions.sessions(peer(alice)).length).toBe(1);
    const r = send(bob, alice, 'hi alice');
    expect(decodeE2eMessage(r).ratchet).toBeTruthy();
    expect(receive(alice, bob, r)).toBe('hi alice');
    const m3 = send(alice, bob, 'confirmed');
    expect(decodeE2eMessage(m3).ratchet).toBeTruthy();
    expect(receive(bob, alice, m3)).toBe('confirmed');
  });

  it('[E2E-X3DH-6] a one-time prekey is deleted once used; a message naming one no longer held is NOT_FOUND', () => {
    const { w, alice, bob } = pair('otk');
    expect(receive(bob, alice, send(alice, bob, 'one'))).toBe('one');
    expect(bob.prekeys.oneTime.has(1)).toBe(false);
    const carol = w.device('carol');
    carol.sessions.initiate(bob.bundle(1)); // a stale bundle naming the used key
    const e = caught(() => receive(bob, carol, send(carol, bob, 'late')));
    expect(e.code).toBe(ErrorCode.NOT_FOUND);
    // without a one-time prekey (none left): three DHs, still works
    const dave = w.device('dave');
    dave.sessions.initiate(bob.bundle(undefined));
    expect(receive(bob, dave, send(dave, bob, 'no otk'))).toBe('no otk');
  });

  it('[E2E-X3DH-1] a bundle whose signed prekey does not verify under its certificate is refused', () => {
    const w = e2eWorld(suite, 'bundle');
    const bob = w.device('bob');
    const mallory = w.device('mallory');
    // bob's certificate with mallory's signed prekey: not signed by bob's key
    // the envelope names mallory's key as the signer: not the certificate's (ID-SIG-6)
    expect(caught(() => bundleKeys(suite, bob.certificate, mallory.upload.signedPrekey)).code).toBe(
      ErrorCode.CERT_UNKNOWN_ISSUER,
    );
    const spk = Uint8Array.from(bob.upload.signedPrekey);
    spk[spk.length - 3]! ^= 1;
    expect(isParleyError(caught(() => bundleKeys(suite, bob.certificate, spk)))).toBe(true);
    expect(
      caught(() =>
        bundleKeys(suite, bob.certificate, bob.upload.signedPrekey, { id: 2, publicKey: new Uint8Array(31) }),
      ).code,
    ).toBe(ErrorCode.MALFORMED);
  });

  it("[E2E-X3DH-4] [E2E-X3DH-5] [E2E-MSG-2] a PrekeyMessage whose signed prekey is not the carrier certificate's is refused; a message from another sender does not decrypt", () => {
    const { w, alice, bob } = pair('sender');
    const m = send(alice, bob, 'x');
    const mallory = w.device('mallory');
    // the carrier says mallory sent it: alice's signed prekey does not verify under mallory's certificate
    expect(caught(() => bob.sessions.decrypt(mallory.certificate, decodeE2eMessage(m))).code).toBe(
      ErrorCode.CERT_UNKNOWN_ISSUER,
    );
    expect(bob.sessions.has(peer(mallory))).toBe(false);
    expect(receive(bob, alice, m)).toBe('x');
  });
});

describe('the Double Ratchet', () => {
  it('[E2E-RATCHET-5] [E2E-RATCHET-8] out of order, lost and replayed: each delivered message decrypts exactly once (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ fromAlice: fc.boolean(), deliver: fc.boolean() }), { minLength: 1, maxLength: 40 }),
        fc.nat(),
        (plan, shuffleSeed) => {
          const { alice, bob } = pair(`prop ${shuffleSeed % 7}`);
          // the first message goes through so both sides have a session
          expect(receive(bob, alice, send(alice, bob, 'start'))).toBe('start');
          const inFlight: { to: TestDevice; from: TestDevice; wire: Uint8Array; body: string }[] = [];
          plan.forEach((p, i) => {
            const [from, to] = p.fromAlice ? [alice, bob] : [bob, alice];
            const body = `m${i}`;
            const wire = send(from, to, body);
            if (p.deliver) inFlight.push({ to, from, wire, body });
          });
          // deliver in a shuffled order
          let x = shuffleSeed;
          for (let i = inFlight.length - 1; i > 0; i--) {
            x = (x * 1103515245 + 12345) & 0x7fffffff;
            const j = x % (i + 1);
            [inFlight[i], inFlight[j]] = [inFlight[j]!, inFlight[i]!];
          }
          for (const m of inFlight) expect(receive(m.to, m.from, m.wire)).toBe(m.body);
          // every one again: a replay is refused
          for (const m of inFlight)
            expect(caught(() => receive(m.to, m.from, m.wire)).code).toBe(ErrorCode.DECRYPT_FAILED);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('[E2E-RATCHET-7] [E2E-RATCHET-4] any flipped bit of header or ciphertext is refused and changes nothing', () => {
    const { alice, bob } = pair('tamper');
    expect(receive(bob, alice, send(alice, bob, 'setup'))).toBe('setup');
    expect(receive(alice, bob, send(bob, alice, 'reply'))).toBe('reply');
    const session = bob.sessions.sessions(peer(alice))[0]!;
    const wire = send(alice, bob, 'the message');
    const before = session.serialize();
    const m = decodeE2eMessage(wire);
    const r = m.ratchet!;
    for (let i = 0; i < r.header!.length + r.ciphertext!.length; i++) {
      const header = Uint8Array.from(r.header!);
      const ciphertext = Uint8Array.from(r.ciphertext!);
      if (i < header.length) header[i]! ^= 0x01;
      else ciphertext[i - header.length]! ^= 0x80;
      const e = caught(() => session.decrypt({ header, ciphertext } as never, bob.random));
      expect(isParleyError(e)).toBe(true);
      expect(bytesEqual(session.serialize(), before)).toBe(true);
    }
    expect(receive(bob, alice, wire)).toBe('the message');
  });

  it(`[E2E-SKIP-1] a gap of ${MAX_SKIP} keys is bridged; one more is RESOURCE_LIMIT and changes nothing`, () => {
    const { alice, bob } = pair('skip');
    expect(receive(bob, alice, send(alice, bob, 'setup'))).toBe('setup');
    const wires: Uint8Array[] = [];
    for (let i = 0; i <= MAX_SKIP + 1; i++) wires.push(send(alice, bob, `n${i}`));
    const session = bob.sessions.sessions(peer(alice))[0]!;
    const before = session.serialize();
    // message MAX_SKIP + 1 of the chain needs MAX_SKIP + 1 skipped keys
    expect(caught(() => receive(bob, alice, wires[MAX_SKIP + 1]!)).code).toBe(ErrorCode.RESOURCE_LIMIT);
    expect(bytesEqual(session.serialize(), before)).toBe(true);
    expect(receive(bob, alice, wires[MAX_SKIP]!)).toBe(`n${MAX_SKIP}`);
    expect(session.skippedKeys).toBe(MAX_SKIP);
    expect(receive(bob, alice, wires[3]!)).toBe('n3');
    expect(session.skippedKeys).toBe(MAX_SKIP - 1);
  });

  it(`[E2E-SKIP-2] skipped keys are dropped ${SKIPPED_KEY_STEPS} DH-ratchet steps after they were stored`, () => {
    const { alice, bob } = pair('steps');
    expect(receive(bob, alice, send(alice, bob, 'setup'))).toBe('setup');
    const lost = send(alice, bob, 'lost for a while');
    expect(receive(bob, alice, send(alice, bob, 'after'))).toBe('after');
    expect(bob.sessions.sessions(peer(alice))[0]!.skippedKeys).toBe(1);
    // ping-pong: each round trip is a DH-ratchet step on each side
    for (let i = 0; i < SKIPPED_KEY_STEPS; i++) {
      expect(receive(alice, bob, send(bob, alice, `b${i}`))).toBe(`b${i}`);
      expect(receive(bob, alice, send(alice, bob, `a${i}`))).toBe(`a${i}`);
    }
    expect(bob.sessions.sessions(peer(alice))[0]!.skippedKeys).toBe(0);
    expect(caught(() => receive(bob, alice, lost)).code).toBe(ErrorCode.DECRYPT_FAILED);
  });

  it('[E2E-KEYS-1] [E2E-RATCHET-1] [E2E-RATCHET-4] both crypto suites give identical bytes for the same randomness', () => {
    const run = (s: typeof nodeCrypto) => {
      const w = e2eWorld(s, 'suites');
      const alice = w.device('alice');
      const bob = w.device('bob');
      alice.sessions.initiate(bob.bundle(1));
      const out: Uint8Array[] = [];
      out.push(send(alice, bob, 'one'));
      receive(bob, alice, out[0]!);
      out.push(send(bob, alice, 'two'));
      receive(alice, bob, out[1]!);
      out.push(send(alice, bob, 'three'));
      return out.map((b) => Buffer.from(b).toString('hex'));
    };
    expect(run(nobleCrypto)).toEqual(run(nodeCrypto));
  });

  it('a session survives serialisation mid-conversation, skipped keys included', () => {
    const { alice, bob } = pair('store');
    expect(receive(bob, alice, send(alice, bob, 'setup'))).toBe('setup');
    expect(receive(alice, bob, send(bob, alice, 'reply'))).toBe('reply');
    const skippedWire = send(alice, bob, 'skipped');
    const later = send(alice, bob, 'later');
    expect(receive(bob, alice, later)).toBe('later');
    const s = bob.sessions.sessions(peer(alice))[0]!;
    const copy = RatchetSession.deserialize(suite, s.serialize());
    expect(bytesEqual(copy.serialize(), s.serialize())).toBe(true);
    expect(str(copy.decrypt(decodeE2eMessage(skippedWire).ratchet! as never, bob.random))).toBe('skipped');
    const reply = copy.encrypt(text('from the copy'), bob.random);
    expect(receive(alice, bob, encodeE2eMessage(reply))).toBe('from the copy');
    const bad = s.serialize().slice();
    expect(() => RatchetSession.deserialize(suite, bad.subarray(0, bad.length - 5))).toThrow(DecodeError);
  });
});

describe('keys, headers and bounds', () => {
  it('[E2E-KEYS-2] prekey ids start at 1: createPrekeys refuses 0, and a PrekeyMessage naming signed prekey 0 is MISSING_FIELD', () => {
    const w = e2eWorld(suite, 'ids');
    const bob = w.device('bob');
    const alice = w.device('alice');
    expect(() =>
      createPrekeys(suite, bob.random, {
        seed: new Uint8Array(32),
        deviceId: bob.local.deviceId,
        identityDhKey: bob.local.identityDh.publicKey,
        signedPrekeyId: 0,
        firstOneTimeId: 1,
        count: 1,
        nowMs: 0,
      }),
    ).toThrow(ApiMisuse);
    alice.sessions.initiate(bob.bundle(1));
    const m = decodeE2eMessage(send(alice, bob, 'x'));
    const zero = parley.v1.E2eMessage.create({ prekey: { ...m.prekey!, signedPrekeyId: 0 } });
    expect(caught(() => decodeE2eMessage(encodeE2eMessage(zero))).code).toBe(ErrorCode.MISSING_FIELD);
  });

  it('[E2E-RATCHET-6] a header whose ratchet key is not 32 bytes is MALFORMED; no header is MISSING_FIELD', () => {
    const { alice, bob } = pair('headers');
    expect(receive(bob, alice, send(alice, bob, 'setup'))).toBe('setup');
    const session = bob.sessions.sessions(peer(alice))[0]!;
    const before = session.serialize();
    const header = encodeRatchetHeader({ dh: new Uint8Array(31), pn: 0, n: 0 });
    const ct = new Uint8Array(20);
    expect(caught(() => session.decrypt({ header, ciphertext: ct } as never, bob.random)).code).toBe(
      ErrorCode.MALFORMED,
    );
    const none = parley.v1.E2eMessage.create({ ratchet: { header: new Uint8Array(0), ciphertext: ct } });
    expect(caught(() => decodeE2eMessage(encodeE2eMessage(none))).code).toBe(ErrorCode.MISSING_FIELD);
    expect(bytesEqual(session.serialize(), before)).toBe(true);
  });

  it('[E2E-SKIP-3] a session holds at most 2,000 skipped keys: storing more drops the oldest', () => {
    const { alice, bob } = pair('total');
    expect(receive(bob, alice, send(alice, bob, 'setup'))).toBe('setup');
    const oldest: Uint8Array[] = [];
    // three chains of alice, each with MAX_SKIP messages bob never gets, then one he gets
    for (let round = 0; round < 3; round++) {
      expect(receive(alice, bob, send(bob, alice, `r${round}`))).toBe(`r${round}`);
      const gap = round < 2 ? MAX_SKIP : 5;
      for (let i = 0; i < gap; i++) {
        const w = send(alice, bob, `lost ${round}.${i}`);
        if (round === 0 && i < 5) oldest.push(w);
      }
      expect(receive(bob, alice, send(alice, bob, `got ${round}`))).toBe(`got ${round}`);
    }
    const session = bob.sessions.sessions(peer(alice))[0]!;
    expect(session.skippedKeys).toBe(MAX_SKIPPED_KEYS_TOTAL);
    // the 5 oldest gave way
    for (const w of oldest) expect(caught(() => receive(bob, alice, w)).code).toBe(ErrorCode.DECRYPT_FAILED);
  });
});

describe('sessions of a device', () => {
  it("[E2E-STORE-3] two devices that start at the same moment end on one session (the lower device's)", () => {
    const w = e2eWorld(suite, 'glare');
    const alice = w.device('alice');
    const bob = w.device('bob');
    alice.sessions.initiate(bob.bundle(1));
    bob.sessions.initiate(alice.bundle(1));
    const a1 = send(alice, bob, 'from alice');
    const b1 = send(bob, alice, 'from bob');
    expect(receive(bob, alice, a1)).toBe('from alice');
    expect(receive(alice, bob, b1)).toBe('from bob');
    // both now send on the session alice (the lower) started
    const a2 = send(alice, bob, 'again a');
    const b2 = send(bob, alice, 'again b');
    const base = (d: TestDevice, p: TestDevice) =>
      Buffer.from(d.sessions.sessions(peer(p))[0]!.meta.baseKey).toString('hex');
    expect(base(alice, bob)).toBe(base(bob, alice));
    expect(alice.sessions.sessions(peer(bob))[0]!.meta.initiator).toBe(true);
    expect(receive(bob, alice, a2)).toBe('again a');
    expect(receive(alice, bob, b2)).toBe('again b');
    expect(base(alice, bob)).toBe(base(bob, alice));
  });

  it('[E2E-STORE-1] a new session from a peer becomes active; at most 4 sessions are kept per device', () => {
    const w = e2eWorld(suite, 'many');
    const bob = w.device('bob', 10);
    const alice = w.device('alice');
    for (let i = 1; i <= 6; i++) {
      const fresh = new E2eSessions(suite, alice.random, alice.local, alice.prekeys);
      fresh.initiate(bob.bundle(i));
      const [m] = fresh.encryptFor([peer(bob)], text(`s${i}`));
      expect(str(bob.sessions.decrypt(alice.certificate, m!.message))).toBe(`s${i}`);
    }
    expect(bob.sessions.sessions(peer(alice)).length).toBe(4);
  });
});

describe('bundles and decoders', () => {
  it('[E2E-BUNDLE-1] a bundle carries 1..16 device messages with distinct 16-byte ids', () => {
    const { alice, bob } = pair('bundle codec');
    const m = decodeE2eMessage(send(alice, bob, 'x'));
    const one = { recipientDeviceId: bob.local.deviceId, message: m };
    expect(decodeE2eBundle(encodeE2eBundle([one])).length).toBe(1);
    expect(caught(() => decodeE2eBundle(encodeE2eBundle([one, one]))).code).toBe(ErrorCode.MALFORMED);
    expect(caught(() => decodeE2eBundle(encodeE2eBundle([]))).code).toBe(ErrorCode.MISSING_FIELD);
    const many = Array.from({ length: 17 }, (_, i) => ({ recipientDeviceId: new Uint8Array(16).fill(i), message: m }));
    expect(caught(() => decodeE2eBundle(encodeE2eBundle(many))).code).toBe(ErrorCode.FIELD_LIMIT);
    expect(
      caught(() => decodeE2eBundle(encodeE2eBundle([{ ...one, recipientDeviceId: new Uint8Array(15) }]))).code,
    ).toBe(ErrorCode.MALFORMED);
  });

  it('[E2E-MSG-1] random and mutated bytes: the decoders and decrypt throw only ParleyError (property)', () => {
    const { alice, bob } = pair('fuzz');
    const good = send(alice, bob, 'valid');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), fc.nat(255), (random, at, v) => {
        const mutated = Uint8Array.from(good);
        mutated[at % mutated.length] = v;
        for (const input of [random, mutated]) {
          for (const f of [
            () => decodeE2eBundle(input),
            () => bob.sessions.decrypt(alice.certificate, decodeE2eMessage(input) as E2eMessage),
          ]) {
            try {
              f();
            } catch (e) {
              expect(isParleyError(e)).toBe(true);
            }
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
