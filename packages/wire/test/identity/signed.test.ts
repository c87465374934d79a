// Tests of spec/02-identity.md §4: the signed-object construction, the context registry, envelope
// limits, the order of verification, and tamper resistance (any single-byte flip is rejected).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeMessage } from '../../src/codec/proto.js';
import { nobleCrypto } from '../../src/crypto/noble.js';
import { nodeCrypto } from '../../src/crypto/node.js';
import { DecodeError, ErrorCode, ParleyError } from '../../src/errors.js';
import { parley } from '../../src/gen/parley.js';
import {
  decodeCertificate,
  decodeSigned,
  issueCertificate,
  MAX_CERTIFICATE_BYTES,
  MAX_SIGNED_BODY_BYTES,
  SIGNATURE_CONTEXTS,
  SignatureContext,
  signatureContextInfo,
  signedMessage,
  signingKeyFromSeed,
  signObject,
  verifyAndDecode,
  verifySigned,
} from '../../src/identity/index.js';
import { caught, expectCode, makeNetwork, NOW } from './fixtures.js';

const suite = nodeCrypto;
const alice = signingKeyFromSeed(suite, new Uint8Array(32).fill(0xa1));
const mallory = signingKeyFromSeed(suite, new Uint8Array(32).fill(0xee));
const CERT = SignatureContext.SIGNATURE_CONTEXT_CERTIFICATE;
const PRESENCE = SignatureContext.SIGNATURE_CONTEXT_PRESENCE_RECORD;
const body = new Uint8Array([0x0a, 0x03, 0x61, 0x62, 0x63]);
const enc = new TextEncoder();

function envelope(fields: parley.v1.Signed.$Properties): Uint8Array {
  return encodeMessage(parley.v1.Signed, fields);
}

describe('signed objects (spec/02-identity.md §4)', () => {
  it('[ID-SIG-1] verification returns exactly the bytes that were signed', () => {
    const signed = signObject(suite, alice, PRESENCE, body);
    expect(Array.from(verifySigned(suite, signed, PRESENCE, alice.publicKey))).toEqual(Array.from(body));
  });

  it('[ID-SIG-1] a body that a re-encoding would change still verifies: the bytes are signed, not a value', () => {
    // An unknown field placed before field 1: protobufjs would re-encode it after the known fields.
    const net = makeNetwork(suite, 'sig-1');
    const issued = decodeSigned(net.loginCert);
    const reordered = new Uint8Array([0x78, 0x01, ...issued.body]); // field 15, varint 1
    const signed = signObject(suite, net.root, CERT, reordered);
    const verified = verifySigned(suite, signed, CERT, net.root.publicKey);
    expect(Array.from(verified)).toEqual(Array.from(reordered));
    expect(decodeCertificate(verified).subject).toBe('login.parley.example');
  });

  it('[ID-SIG-2] the signature covers UTF-8(context name) || 0x00 || body, nothing else', () => {
    const signed = decodeSigned(signObject(suite, alice, PRESENCE, body));
    const message = new Uint8Array([...enc.encode('parley/v1 presence-record'), 0x00, ...body]);
    expect(Array.from(signedMessage(PRESENCE, body))).toEqual(Array.from(message));
    expect(suite.ed25519Verify(alice.publicKey, message, signed.signature)).toBe(true);
    expect(nobleCrypto.ed25519Verify(alice.publicKey, message, signed.signature)).toBe(true);
    expect(suite.ed25519Verify(alice.publicKey, body, signed.signature)).toBe(false);
  });

  it('[ID-SIG-3] the registry matches the spec table: unique numbers and names, ASCII, no 0x00', () => {
    const expected: Array<[number, string, number]> = [
      [1, 'parley/v1 certificate', 512],
      [2, 'parley/v1 static-key-binding', 32],
      [3, 'parley/v1 presence-record', 1_024],
      [4, 'parley/v1 supernode-list', 60_000],
      [5, 'parley/v1 network-policy', 8_192],
      [6, 'parley/v1 revocation-list', 60_000],
      [7, 'parley/v1 prekey-bundle', 256],
      [8, 'parley/v1 election-report', 65_535],
      [9, 'parley/v1 attestation', 512],
      [10, 'parley/v1 certificate-request', 32],
      [11, 'parley/v1 offline-message', 17_408],
      [12, 'parley/v1 placement', 32],
    ];
    expect([...SIGNATURE_CONTEXTS.values()].map((c) => [c.id, c.name, c.maxBodyBytes])).toEqual(expected);
    const names = new Set<string>();
    for (const c of SIGNATURE_CONTEXTS.values()) {
      expect(c.name).toMatch(/^[\x21-\x7e ]+$/);
      expect(names.has(c.name)).toBe(false);
      names.add(c.name);
      expect(Array.from(c.prefix)).toEqual([...enc.encode(c.name), 0]);
      expect(c.maxBodyBytes).toBeLessThanOrEqual(MAX_SIGNED_BODY_BYTES);
    }
    // Every enum value but UNSPECIFIED has a row.
    const values = Object.values(parley.v1.SignatureContext).filter((v) => typeof v === 'number' && v !== 0);
    expect(values.sort()).toEqual([...SIGNATURE_CONTEXTS.keys()].sort());
    expect(caught(() => signatureContextInfo(SignatureContext.SIGNATURE_CONTEXT_UNSPECIFIED)).code).toBe(
      ErrorCode.API_MISUSE,
    );
  });

  it('[ID-SIG-4] the signer puts the registry number of its context in the envelope', () => {
    for (const c of SIGNATURE_CONTEXTS.values()) {
      if (c.id === SignatureContext.SIGNATURE_CONTEXT_STATIC_KEY_BINDING) continue; // never a Signed
      const b = new Uint8Array(Math.min(c.maxBodyBytes, 8)).fill(1);
      expect(decodeSigned(signObject(suite, alice, c.id, b)).context).toBe(c.id);
    }
  });

  describe('[ID-SIG-5] envelope limits', () => {
    const good = decodeSigned(signObject(suite, alice, PRESENCE, body));
    const base = { body: good.body, signature: good.signature, signerKeyId: good.signerKeyId, context: PRESENCE };
    const cases: Array<[string, parley.v1.Signed.$Properties, ErrorCode]> = [
      ['absent body', { ...base, body: new Uint8Array(0) }, ErrorCode.MISSING_FIELD],
      ['absent signature', { ...base, signature: new Uint8Array(0) }, ErrorCode.MISSING_FIELD],
      ['63-byte signature', { ...base, signature: good.signature.subarray(0, 63) }, ErrorCode.MALFORMED],
      ['65-byte signature', { ...base, signature: new Uint8Array(65) }, ErrorCode.FIELD_LIMIT],
      ['absent signer_key_id', { ...base, signerKeyId: new Uint8Array(0) }, ErrorCode.MISSING_FIELD],
      ['31-byte signer_key_id', { ...base, signerKeyId: good.signerKeyId.subarray(1) }, ErrorCode.MALFORMED],
      ['33-byte signer_key_id', { ...base, signerKeyId: new Uint8Array(33) }, ErrorCode.FIELD_LIMIT],
      ['body above 65,535 bytes', { ...base, body: new Uint8Array(65_536) }, ErrorCode.FIELD_LIMIT],
    ];
    for (const [what, fields, code] of cases) {
      it(`[ID-SIG-5] rejects ${what} with ${ErrorCode[code]}`, () => {
        expectCode(() => verifySigned(suite, envelope(fields), PRESENCE, alice.publicKey), code, DecodeError);
      });
    }
    it('[ID-SIG-5] rejects a body above its context maximum (certificate: 512 bytes) with FIELD_LIMIT', () => {
      const big = envelope({ ...base, body: new Uint8Array(MAX_CERTIFICATE_BYTES + 1), context: CERT });
      expectCode(() => verifySigned(suite, big, CERT, alice.publicKey), ErrorCode.FIELD_LIMIT, DecodeError);
      expect(caught(() => signObject(suite, alice, CERT, new Uint8Array(513))).code).toBe(ErrorCode.API_MISUSE);
    });
    it('[ID-SIG-5] a body of exactly the context maximum is accepted', () => {
      const b = new Uint8Array(MAX_CERTIFICATE_BYTES).fill(1);
      expect(verifySigned(suite, signObject(suite, alice, CERT, b), CERT, alice.publicKey).length).toBe(512);
    });
  });

  it('[ID-SIG-7] a signature made for one object type is rejected for another with WRONG_CONTEXT', () => {
    const presence = signObject(suite, alice, PRESENCE, body);
    expectCode(() => verifySigned(suite, presence, CERT, alice.publicKey), ErrorCode.WRONG_CONTEXT);
    const noContext = envelope({ ...decodeSigned(presence), context: 0 });
    expectCode(() => verifySigned(suite, noContext, PRESENCE, alice.publicKey), ErrorCode.WRONG_CONTEXT);
  });

  it('[ID-SIG-8] a signer other than the expected key is CERT_UNKNOWN_ISSUER', () => {
    const signed = signObject(suite, mallory, PRESENCE, body);
    expectCode(() => verifySigned(suite, signed, PRESENCE, alice.publicKey), ErrorCode.CERT_UNKNOWN_ISSUER);
  });

  it('[ID-SIG-8] naming the expected key in the envelope does not make another key valid: BAD_SIGNATURE', () => {
    const forged = envelope({ ...decodeSigned(signObject(suite, mallory, PRESENCE, body)), signerKeyId: alice.keyId });
    expectCode(() => verifySigned(suite, forged, PRESENCE, alice.publicKey), ErrorCode.BAD_SIGNATURE);
  });

  it('[ID-SIG-9] rewriting the context number does not help: the expected name is signed, BAD_SIGNATURE', () => {
    const rewritten = envelope({ ...decodeSigned(signObject(suite, alice, PRESENCE, body)), context: CERT });
    expectCode(() => verifySigned(suite, rewritten, CERT, alice.publicKey), ErrorCode.BAD_SIGNATURE);
  });

  it('[ID-SIG-6] applies the steps in order: decode, limits, context, signer, signature', () => {
    const good = decodeSigned(signObject(suite, mallory, PRESENCE, body));
    // limits before context
    const shortSig = envelope({ ...good, signature: new Uint8Array(10), context: CERT });
    expectCode(() => verifySigned(suite, shortSig, PRESENCE, alice.publicKey), ErrorCode.MALFORMED);
    // context before signer
    expectCode(() => verifySigned(suite, envelope(good), CERT, alice.publicKey), ErrorCode.WRONG_CONTEXT);
    // signer before signature
    const badSig = envelope({ ...good, signature: new Uint8Array(64) });
    expectCode(() => verifySigned(suite, badSig, PRESENCE, alice.publicKey), ErrorCode.CERT_UNKNOWN_ISSUER);
    // decode first
    expectCode(
      () => verifySigned(suite, new Uint8Array([0x0a, 0x05, 1]), PRESENCE, alice.publicKey),
      ErrorCode.TRUNCATED,
    );
  });

  it('[ID-SIG-10] [ID-SIG-6] the body is never decoded when the signature fails', () => {
    const tampered = decodeSigned(signObject(suite, alice, PRESENCE, body));
    const bad = envelope({ ...tampered, body: new Uint8Array([9, 9, 9]) });
    let decoded = 0;
    expectCode(
      () =>
        verifyAndDecode(suite, bad, PRESENCE, alice.publicKey, (b) => {
          decoded++;
          return b;
        }),
      ErrorCode.BAD_SIGNATURE,
    );
    expect(decoded).toBe(0);
    expect(
      verifyAndDecode(suite, signObject(suite, alice, PRESENCE, body), PRESENCE, alice.publicKey, (b) => b.length),
    ).toBe(body.length);
  });

  it('[ID-SIG-1] [ID-SIG-6] every single-byte flip of a signed certificate is rejected with a ParleyError', () => {
    const net = makeNetwork(suite, 'flip');
    const signed = net.loginCert;
    for (let i = 0; i < signed.length; i++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const copy = new Uint8Array(signed);
        copy[i]! ^= mask;
        const e = caught(() => verifyAndDecode(suite, copy, CERT, net.root.publicKey, (b) => decodeCertificate(b)));
        expect(e).toBeInstanceOf(ParleyError);
      }
    }
  });

  it('[ID-SIG-6] property: random byte flips anywhere in a signed object never verify', () => {
    const net = makeNetwork(suite, 'flip-property');
    const signed = issueCertificate(suite, net.login, {
      subject: 'bob',
      subjectKey: alice.publicKey,
      deviceId: new Uint8Array(16),
      role: parley.v1.Role.ROLE_USER,
      serial: 7,
      notBefore: NOW,
      notAfter: NOW + 1000,
    });
    fc.assert(
      fc.property(fc.nat({ max: signed.length - 1 }), fc.integer({ min: 1, max: 255 }), (i, x) => {
        const copy = new Uint8Array(signed);
        copy[i]! ^= x;
        expect(caught(() => verifySigned(suite, copy, CERT, net.login.publicKey))).toBeInstanceOf(ParleyError);
      }),
    );
  });

  it('[ID-SIG-5] property: random bytes into decodeSigned and verifySigned give a value or a ParleyError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        for (const f of [() => decodeSigned(bytes), () => verifySigned(suite, bytes, PRESENCE, alice.publicKey)]) {
          try {
            f();
          } catch (e) {
            expect(e).toBeInstanceOf(ParleyError);
          }
        }
      }),
    );
  });
});
