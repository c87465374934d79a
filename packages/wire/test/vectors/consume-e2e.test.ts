/**
 * Consumes spec/vectors/e2e.json as an implementer in another language would: SK, AD, the root and chain
 * keys, each message key, nonce and AEAD are recomputed from the text of spec/10-e2e.md with node:crypto
 * (independent.ts), and the E2eMessage bytes rebuilt by a canonical encoder written from e2e.proto. Then the
 * reference implementation, on both crypto suites, given the published private keys as its randomness,
 * must play both sides of the conversation and produce exactly the file's bytes.
 */
import { describe, expect, it } from 'vitest';
import {
  bundleKeys,
  decodeE2eMessage,
  encodeE2eMessage,
  type RatchetMessage,
  RatchetSession,
  senderIdentity,
} from '../../src/e2e/index.js';
import { decodeCertificate } from '../../src/identity/certificate.js';
import { decodeSigned } from '../../src/identity/signed.js';
import { suites } from './implementation.js';
import { aeadOpen, concat, hkdf, hmac, loadVector, tohex, unhex, utf8, x25519, x25519Public } from './independent.js';
import { encoder, type Schema } from './proto-encoder.js';

// biome-ignore lint/suspicious/noExplicitAny: untyped JSON
type J = any;
const v: J = loadVector('e2e');

const SCHEMA: Schema = {
  RatchetHeader: [
    [1, 'dh', 'bytes'],
    [2, 'pn', 'uint32'],
    [3, 'n', 'uint32'],
  ],
  RatchetMessage: [
    [1, 'header', 'bytes'],
    [2, 'ciphertext', 'bytes'],
  ],
  PrekeyMessage: [
    [1, 'senderSignedPrekey', 'bytes'],
    [2, 'ephemeralKey', 'bytes'],
    [3, 'signedPrekeyId', 'uint32'],
    [4, 'oneTimePrekeyId', 'uint32'],
    [5, 'message', 'RatchetMessage'],
  ],
  E2eMessage: [
    [1, 'prekey', 'PrekeyMessage'],
    [2, 'ratchet', 'RatchetMessage'],
  ],
};
const encode = encoder(SCHEMA);

const zero32 = new Uint8Array(32);
const lp = (s: string) => concat(Uint8Array.of(utf8(s).length), utf8(s));
/** KDF_RK (E2E-RATCHET-1) and the first message key of a chain (E2E-RATCHET-3, E2E-RATCHET-4). */
const kdfRk = (rk: Uint8Array, dh: Uint8Array) => {
  const out = hkdf(dh, rk, utf8('parley/1 ratchet'), 64);
  return { rk: out.subarray(0, 32), ck: out.subarray(32, 64) };
};
/** The key of message `n` of chain `ck` (KDF_CK n times, E2E-RATCHET-3), and the AEAD open with it. */
const open = (ck: Uint8Array, n: number, ad: Uint8Array, header: Uint8Array, ciphertext: Uint8Array) => {
  let chain = ck;
  for (let i = 0; i < n; i++) chain = hmac(chain, Uint8Array.of(2));
  const mk = hmac(chain, Uint8Array.of(1));
  const kn = hkdf(mk, zero32, utf8('parley/1 message'), 44);
  return aeadOpen(kn.subarray(0, 32), kn.subarray(32, 44), concat(ad, header), ciphertext);
};

describe('e2e.json [E2E-X3DH-2] [E2E-X3DH-5] [E2E-RATCHET-1] [E2E-RATCHET-2] [E2E-RATCHET-3] [E2E-RATCHET-4] [E2E-RATCHET-5]', () => {
  const a = v.alice;
  const b = v.bob;
  const ikA = unhex(a.identityDhPrivate);
  const ikB = unhex(b.identityDhPrivate);
  const spkB = unhex(b.signedPrekeyPrivate);
  const opkB = unhex(b.oneTimePrekeyPrivate);
  const ekA = unhex(a.ephemeralPrivate);
  const m: J[] = v.messages;
  const text = (x: Uint8Array) => new TextDecoder().decode(x);

  it('SK and AD follow from the published keys', () => {
    const sk = hkdf(
      concat(
        new Uint8Array(32).fill(0xff),
        x25519(ikA, x25519Public(spkB)),
        x25519(ekA, x25519Public(ikB)),
        x25519(ekA, x25519Public(spkB)),
        x25519(ekA, x25519Public(opkB)),
      ),
      zero32,
      utf8('parley/1 x3dh'),
      32,
    );
    expect(tohex(sk)).toBe(v.sk);
    const ad = concat(
      utf8('parley/1 e2e ad'),
      x25519Public(ikA),
      x25519Public(ikB),
      lp('alice'),
      unhex(a.deviceId),
      lp('bob'),
      unhex(b.deviceId),
    );
    expect(tohex(ad)).toBe(v.ad);
  });

  it('every message decrypts under keys derived from the text, and its bytes are the canonical encoding', () => {
    const sk = unhex(v.sk);
    const ad = unhex(v.ad);
    expect(m.map((x) => x.from)).toEqual(['alice', 'bob', 'alice', 'alice', 'bob']);
    expect(v.delivery).toEqual([0, 1, 3, 2, 4]);
    const dhA1 = unhex(m[0].senderRatchetPrivate);
    const dhB1 = unhex(m[1].senderRatchetPrivate);
    const dhA2 = unhex(m[2].senderRatchetPrivate);
    expect(m[3].senderRatchetPrivate).toBe(m[2].senderRatchetPrivate);
    const dhB2 = unhex(m[4].senderRatchetPrivate);
    // The root chain, from either side's keys (E2E-RATCHET-1, E2E-RATCHET-2): each step's chain key is
    // the same whether the sender or the receiver computes it.
    const s1 = kdfRk(sk, x25519(dhA1, x25519Public(spkB))); // Alice's first sending chain
    expect(tohex(kdfRk(sk, x25519(spkB, x25519Public(dhA1))).ck)).toBe(tohex(s1.ck));
    const s2 = kdfRk(s1.rk, x25519(dhB1, x25519Public(dhA1))); // Bob's first sending chain
    expect(tohex(kdfRk(s1.rk, x25519(dhA1, x25519Public(dhB1))).ck)).toBe(tohex(s2.ck));
    const s3 = kdfRk(s2.rk, x25519(dhA2, x25519Public(dhB1))); // Alice's second
    expect(tohex(kdfRk(s2.rk, x25519(dhB1, x25519Public(dhA2))).ck)).toBe(tohex(s3.ck));
    const s4 = kdfRk(s3.rk, x25519(dhB2, x25519Public(dhA2))); // Bob's second
    const chains = [
      [s1.ck, dhA1, 0, 0],
      [s2.ck, dhB1, 0, 0],
      [s3.ck, dhA2, 1, 0],
      [s3.ck, dhA2, 1, 1],
      [s4.ck, dhB2, 1, 0],
    ] as const;
    chains.forEach(([ck, dh, pn, n], i) => {
      const header = encode('RatchetHeader', { dh: tohex(x25519Public(dh)), pn, n });
      expect([m[i].pn, m[i].n]).toEqual([pn, n]);
      expect(tohex(header)).toBe(m[i].header);
      const opened = open(ck, n, ad, header, unhex(m[i].ciphertext));
      expect(opened).toBeDefined();
      expect(text(opened!)).toBe(m[i].plaintext);
      const ratchet = { header: m[i].header, ciphertext: m[i].ciphertext };
      const e2e =
        i === 0
          ? {
              prekey: {
                senderSignedPrekey: a.signedPrekey,
                ephemeralKey: tohex(x25519Public(ekA)),
                signedPrekeyId: b.signedPrekeyId,
                oneTimePrekeyId: b.oneTimePrekeyId,
                message: ratchet,
              },
            }
          : { ratchet };
      expect(tohex(encode('E2eMessage', e2e))).toBe(m[i].e2eMessage);
    });
  });

  it.each(suites)(
    'the implementation (%s) plays both sides from the published keys and gives the same bytes',
    (_name, suite) => {
      const cert = (hex: string) => decodeCertificate(decodeSigned(unhex(hex)).body);
      /** Randomness that hands out the published private keys in the order the implementation draws them. */
      const draws = (...keys: string[]) => {
        const queue = keys.map(unhex);
        return {
          randomBytes: (n: number) => {
            const k = queue.shift();
            if (k === undefined || k.length !== n) throw new Error('an unexpected draw');
            return k;
          },
        };
      };
      const ra = draws(a.ephemeralPrivate, m[0].senderRatchetPrivate, m[2].senderRatchetPrivate, '11'.repeat(32));
      const rb = draws(m[1].senderRatchetPrivate, m[4].senderRatchetPrivate);
      const alice = {
        username: 'alice',
        deviceId: unhex(a.deviceId),
        identityDh: { privateKey: ikA, publicKey: x25519Public(ikA) },
        signedPrekey: unhex(a.signedPrekey),
      };
      const bob = {
        username: 'bob',
        deviceId: unhex(b.deviceId),
        identityDh: { privateKey: ikB, publicKey: x25519Public(ikB) },
        signedPrekey: unhex(b.signedPrekey),
      };
      const bundle = bundleKeys(suite, cert(v.certificates.bob), unhex(b.signedPrekey), {
        id: b.oneTimePrekeyId,
        publicKey: x25519Public(opkB),
      });
      const sessionA = RatchetSession.initiate(suite, ra, alice, bundle);
      const wire = (x: ReturnType<typeof sessionA.encrypt>) => tohex(encodeE2eMessage(x));
      const plain = (s: string) => new TextEncoder().encode(s);
      expect(wire(sessionA.encrypt(plain(m[0].plaintext), ra))).toBe(m[0].e2eMessage);

      const secrets = {
        signedPrekey: (id: number) => (id === b.signedPrekeyId ? spkB : undefined),
        oneTimePrekey: (id: number) => (id === b.oneTimePrekeyId ? opkB : undefined),
      };
      const sender = senderIdentity(suite, cert(v.certificates.alice), unhex(a.signedPrekey));
      const m1 = decodeE2eMessage(unhex(m[0].e2eMessage));
      const r = RatchetSession.respond(suite, rb, bob, secrets, sender, m1.prekey as never);
      expect(text(r.plaintext)).toBe(m[0].plaintext);
      const sessionB = r.session;
      expect(wire(sessionB.encrypt(plain(m[1].plaintext), rb))).toBe(m[1].e2eMessage);

      const ratchetOf = (i: number) => decodeE2eMessage(unhex(m[i].e2eMessage)).ratchet as RatchetMessage;
      expect(text(sessionA.decrypt(ratchetOf(1), ra))).toBe(m[1].plaintext);
      expect(wire(sessionA.encrypt(plain(m[2].plaintext), ra))).toBe(m[2].e2eMessage);
      expect(wire(sessionA.encrypt(plain(m[3].plaintext), ra))).toBe(m[3].e2eMessage);
      // in the order of `delivery`: the second message of the chain first, then the first from a skipped key
      for (const i of [3, 2]) expect(text(sessionB.decrypt(ratchetOf(i), rb))).toBe(m[i].plaintext);
      expect(wire(sessionB.encrypt(plain(m[4].plaintext), rb))).toBe(m[4].e2eMessage);
      expect(text(sessionA.decrypt(ratchetOf(4), ra))).toBe(m[4].plaintext);
    },
  );
});
