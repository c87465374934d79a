// Tests of spec/02-identity.md §3: key ids, network fingerprints, key derivation, strict verification.
import { describe, expect, it } from 'vitest';
import { nobleCrypto } from '../../src/crypto/noble.js';
import { nodeCrypto } from '../../src/crypto/node.js';
import { seededRandom } from '../../src/crypto/random.js';
import { ApiMisuse, ErrorCode } from '../../src/errors.js';
import {
  createRootKey,
  fingerprintHex,
  generateSigningKey,
  KEY_ID_BYTES,
  keyId,
  networkFingerprint,
  SignatureContext,
  signingKeyFromSeed,
  signObject,
  verifySigned,
} from '../../src/identity/index.js';
import { caught, expectCode } from './fixtures.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('keys and key ids (spec/02-identity.md §3)', () => {
  it('[ID-KEY-1] a key id is the full 32-byte SHA-256 of the raw public key, on both suites', () => {
    const key = signingKeyFromSeed(nodeCrypto, new Uint8Array(32).fill(1));
    const id = keyId(nodeCrypto, key.publicKey);
    expect(id.length).toBe(KEY_ID_BYTES);
    expect(hex(id)).toBe(hex(nobleCrypto.sha256(key.publicKey)));
    expect(hex(keyId(nobleCrypto, key.publicKey))).toBe(hex(id));
    expect(hex(key.keyId)).toBe(hex(id));
  });

  it('[ID-KEY-1] refuses a public key that is not 32 bytes (API misuse)', () => {
    expect(caught(() => keyId(nodeCrypto, new Uint8Array(31)))).toBeInstanceOf(ApiMisuse);
  });

  it('[ID-KEY-3] a network fingerprint is the key id of the root public key', () => {
    const root = createRootKey(nodeCrypto, seededRandom('fingerprint'));
    expect(hex(root.networkFingerprint)).toBe(hex(keyId(nodeCrypto, root.publicKey)));
    expect(hex(networkFingerprint(nobleCrypto, root.publicKey))).toBe(hex(root.networkFingerprint));
  });

  it('[ID-KEY-4] a fingerprint is displayed as 64 lower-case hex digits', () => {
    const root = createRootKey(nodeCrypto, new Uint8Array(32).fill(0xab));
    const shown = fingerprintHex(root.networkFingerprint);
    expect(shown).toMatch(/^[0-9a-f]{64}$/);
    expect(shown).toBe(hex(root.networkFingerprint));
  });

  it('[ID-KEY-6] a key comes from 32 bytes of the injected random source, identically on both suites', () => {
    const a = generateSigningKey(nodeCrypto, seededRandom('key derivation'));
    const b = generateSigningKey(nobleCrypto, seededRandom('key derivation'));
    expect(hex(a.seed)).toBe(hex(seededRandom('key derivation').randomBytes(32)));
    expect(hex(a.publicKey)).toBe(hex(b.publicKey));
    expect(hex(a.keyId)).toBe(hex(b.keyId));
    expect(caught(() => signingKeyFromSeed(nodeCrypto, new Uint8Array(31)))).toBeInstanceOf(ApiMisuse);
  });

  it('[ID-KEY-6] the signing key keeps its own copy of the seed', () => {
    const seed = new Uint8Array(32).fill(5);
    const key = signingKeyFromSeed(nodeCrypto, seed);
    seed.fill(0);
    expect(key.seed[0]).toBe(5);
  });

  for (const suite of [nodeCrypto, nobleCrypto]) {
    it(`[ID-KEY-5] a signature with S + L (non-canonical) is BAD_SIGNATURE (${suite.name})`, () => {
      const key = signingKeyFromSeed(suite, new Uint8Array(32).fill(3));
      const signed = signObject(suite, key, SignatureContext.SIGNATURE_CONTEXT_PRESENCE_RECORD, new Uint8Array([1]));
      // The signature is the last 64 bytes before signer_key_id and context: locate it by its tag.
      const at = signed.indexOf(0x12, 3); // field 2, wire type 2
      expect(signed[at + 1]).toBe(64);
      const sig = signed.subarray(at + 2, at + 2 + 64);
      // S is little-endian in sig[32..64); add L = 2^252 + 27742317777372353535851937790883648493.
      let l = 2n ** 252n + 27742317777372353535851937790883648493n;
      let carry = 0n;
      for (let i = 32; i < 64; i++) {
        const v = BigInt(sig[i]!) + (l & 0xffn) + carry;
        sig[i] = Number(v & 0xffn);
        carry = v >> 8n;
        l >>= 8n;
      }
      expect(carry).toBe(0n);
      expectCode(
        () => verifySigned(suite, signed, SignatureContext.SIGNATURE_CONTEXT_PRESENCE_RECORD, key.publicKey),
        ErrorCode.BAD_SIGNATURE,
      );
    });
  }
});
