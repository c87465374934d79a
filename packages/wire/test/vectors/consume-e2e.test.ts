/**
 * Consumes spec/vectors/e2e.json as an implementer in another language would: SK, AD, the root and chain
 * keys, each message key, nonce and AEAD are recomputed from the text of spec/10-e2e.md with node:crypto
 * (independent.ts), and the E2eMessage bytes rebuilt by a canonical encoder written from e2e.proto. Then the
 * reference implementation, on both crypto suites, must decrypt the messages as the file says.
 */
import { describe, expect, it } from 'vitest';
import { decodeE2eMessage, RatchetSession, senderIdentity } from '../../src/e2e/index.js';
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
const open = (ck: Uint8Array, ad: Uint8Array, header: Uint8Array, ciphertext: Uint8Array) => {
  const mk = hmac(ck, Uint8Array.of(1));
  const kn = hkdf(mk, zero32, utf8('parley/1 message'), 44);
  return aeadOpen(kn.subarray(0, 32), kn.subarray(32, 44), concat(ad, header), ciphertext);
};

describe('e2e.json [E2E-X3DH-2] [E2E-X3DH-5] [E2E-RATCHET-1] [E2E-RATCHET-2] [E2E-RATCHET-3] [E2E-RATCHET-4]', () => {
  const a = v.alice;
  const b = v.bob;
  const ikA = unhex(a.identityDhPrivate);
  const ikB = unhex(b.identityDhPrivate);
  const spkB = unhex(b.signedPrekeyPrivate);
  const opkB = unhex(b.oneTimePrekeyPrivate);
  const ekA = unhex(a.ephemeralPrivate);

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

  it('both messages decrypt under keys derived from the text, and their bytes are the canonical encoding', () => {
    const sk = unhex(v.sk);
    const ad = unhex(v.ad);
    const [m1, m2] = v.messages;
    // Alice: her first ratchet key against Bob's signed prekey.
    const dhA1 = unhex(m1.senderRatchetPrivate);
    const a1 = kdfRk(sk, x25519(dhA1, x25519Public(spkB)));
    const h1 = encode('RatchetHeader', { dh: tohex(x25519Public(dhA1)), pn: 0, n: 0 });
    expect(tohex(h1)).toBe(m1.header);
    expect(new TextDecoder().decode(open(a1.ck, ad, h1, unhex(m1.ciphertext)))).toBe(m1.plaintext);
    const e1 = encode('E2eMessage', {
      prekey: {
        senderSignedPrekey: a.signedPrekey,
        ephemeralKey: tohex(x25519Public(ekA)),
        signedPrekeyId: b.signedPrekeyId,
        oneTimePrekeyId: b.oneTimePrekeyId,
        message: { header: m1.header, ciphertext: m1.ciphertext },
      },
    });
    expect(tohex(e1)).toBe(m1.e2eMessage);
    // Bob: the receiving step (the same chain as Alice's), then his own ratchet key.
    const b1 = kdfRk(sk, x25519(spkB, x25519Public(dhA1)));
    expect(tohex(b1.ck)).toBe(tohex(a1.ck));
    const dhB1 = unhex(m2.senderRatchetPrivate);
    const b2 = kdfRk(b1.rk, x25519(dhB1, x25519Public(dhA1)));
    const h2 = encode('RatchetHeader', { dh: tohex(x25519Public(dhB1)), pn: 0, n: 0 });
    expect(tohex(h2)).toBe(m2.header);
    expect(new TextDecoder().decode(open(b2.ck, ad, h2, unhex(m2.ciphertext)))).toBe(m2.plaintext);
    expect(tohex(encode('E2eMessage', { ratchet: { header: m2.header, ciphertext: m2.ciphertext } }))).toBe(
      m2.e2eMessage,
    );
  });

  it.each(suites)('the implementation (%s) decrypts the first message as Bob', (_name, suite) => {
    const cert = (hex: string) => decodeCertificate(decodeSigned(unhex(hex)).body);
    const bob = {
      username: 'bob',
      deviceId: unhex(b.deviceId),
      identityDh: { privateKey: ikB, publicKey: x25519Public(ikB) },
      signedPrekey: unhex(b.signedPrekey),
    };
    const secrets = {
      signedPrekey: (id: number) => (id === b.signedPrekeyId ? spkB : undefined),
      oneTimePrekey: (id: number) => (id === b.oneTimePrekeyId ? opkB : undefined),
    };
    const m1 = decodeE2eMessage(unhex(v.messages[0].e2eMessage));
    const sender = senderIdentity(suite, cert(v.certificates.alice), unhex(a.signedPrekey));
    const random = { randomBytes: (n: number) => new Uint8Array(n).fill(7) };
    const r = RatchetSession.respond(suite, random, bob, secrets, sender, m1.prekey as never);
    expect(new TextDecoder().decode(r.plaintext)).toBe(v.messages[0].plaintext);
  });
});
