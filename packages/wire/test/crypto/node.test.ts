// The CryptoSuite contract (contract.ts) run against nodeCrypto: node:crypto / OpenSSL.
// Normative text: spec/04-crypto.md.
import { nodeCrypto } from '../../src/crypto/index.js';
import { cryptoSuiteContract } from './contract.js';

cryptoSuiteContract(nodeCrypto);

import { describe, expect, it } from 'vitest';
import { nobleCrypto } from '../../src/crypto/index.js';

// nodeCrypto remembers imported KeyObjects per key array; the memo must never outlive the bytes.
describe('nodeCrypto key memo', () => {
  it('[CRYPTO-API-2] a key array overwritten in place gives the new key, never the remembered one', () => {
    const key = new Uint8Array(32).fill(0x11);
    const peer = nobleCrypto.x25519PublicKey(new Uint8Array(32).fill(0x22));
    const first = nodeCrypto.x25519(key, peer);
    expect(nodeCrypto.x25519(key, peer)).toEqual(first);
    key.fill(0x33); // reused (or wiped and refilled) by the caller
    expect(nodeCrypto.x25519(key, peer)).toEqual(nobleCrypto.x25519(key, peer));
    expect(nodeCrypto.x25519PublicKey(key)).toEqual(nobleCrypto.x25519PublicKey(key));
    const seed = new Uint8Array(32).fill(0x44);
    const msg = new Uint8Array([1, 2, 3]);
    const pub = nodeCrypto.ed25519PublicKey(seed);
    const sig = nodeCrypto.ed25519Sign(seed, msg);
    seed[0] = 0x45;
    expect(nodeCrypto.ed25519Sign(seed, msg)).toEqual(nobleCrypto.ed25519Sign(seed, msg));
    expect(nodeCrypto.ed25519Verify(pub, msg, sig)).toBe(true);
    pub[3]! ^= 1;
    expect(nodeCrypto.ed25519Verify(pub, msg, sig)).toBe(nobleCrypto.ed25519Verify(pub, msg, sig));
  });
  it('[CRYPTO-API-2] the same bytes used as an X25519 key and as an Ed25519 seed give each its own key', () => {
    const bytes = new Uint8Array(32).fill(0x55);
    expect(nodeCrypto.x25519PublicKey(bytes)).toEqual(nobleCrypto.x25519PublicKey(bytes));
    expect(nodeCrypto.ed25519PublicKey(bytes)).toEqual(nobleCrypto.ed25519PublicKey(bytes));
    expect(nodeCrypto.x25519PublicKey(bytes)).toEqual(nobleCrypto.x25519PublicKey(bytes));
  });
});
