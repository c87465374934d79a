/**
 * [CRYPTO-SUITE-2] nodeCrypto and nobleCrypto give identical bytes — and identical errors and
 * verification decisions — for the same inputs, on random inputs for every method of the suite.
 * Normative text: spec/04-crypto.md §3.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nobleCrypto, nodeCrypto } from '../../src/crypto/index.js';
import type { CryptoSuite } from '../../src/crypto/suite.js';
import { ParleyError } from '../../src/errors.js';
import { toHex } from './wycheproof.js';

type Outcome = { ok: string } | { error: string; code: number };

/** The result of one call, as something two suites can be compared on. */
function outcome(fn: () => Uint8Array | boolean): Outcome {
  try {
    const r = fn();
    return { ok: typeof r === 'boolean' ? String(r) : toHex(r) };
  } catch (e) {
    if (!(e instanceof ParleyError)) throw e;
    return { error: e.name, code: e.code };
  }
}

function same(call: (s: CryptoSuite) => Uint8Array | boolean): Outcome {
  const a = outcome(() => call(nodeCrypto));
  const b = outcome(() => call(nobleCrypto));
  expect(a).toEqual(b);
  return a;
}

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const anyBytes = (max: number) => fc.uint8Array({ maxLength: max });

describe('[CRYPTO-SUITE-2] node and noble give identical bytes', () => {
  it('[CRYPTO-SUITE-2][CRYPTO-HASH-1] sha256', () => {
    fc.assert(fc.property(anyBytes(2000), (d) => void same((s) => s.sha256(d))));
  });

  it('[CRYPTO-SUITE-2][CRYPTO-HMAC-1] hmacSha256, keys shorter and longer than the 64-byte block', () => {
    fc.assert(fc.property(anyBytes(150), anyBytes(500), (k, d) => void same((s) => s.hmacSha256(k, d))));
  });

  it('[CRYPTO-SUITE-2][CRYPTO-HKDF-1] hkdfSha256, info on both sides of 1,024 bytes, lengths 1..8160 and beyond', () => {
    fc.assert(
      fc.property(
        anyBytes(80),
        anyBytes(80),
        anyBytes(1300),
        fc.oneof(fc.integer({ min: 1, max: 300 }), fc.integer({ min: -2, max: 8200 })),
        (ikm, salt, info, len) => void same((s) => s.hkdfSha256(ikm, salt, info, len)),
      ),
    );
  });

  it('[CRYPTO-SUITE-2][CRYPTO-X25519-1] x25519PublicKey', () => {
    fc.assert(
      fc.property(bytes(32), (k) => void same((s) => s.x25519PublicKey(k))),
      { numRuns: 50 },
    );
  });

  it('[CRYPTO-SUITE-2][CRYPTO-X25519-1][CRYPTO-X25519-2] x25519 with any 32-byte public key (twist, non-canonical, low order)', () => {
    const p = (1n << 255n) - 19n;
    const le = (n: bigint) => Uint8Array.from({ length: 32 }, (_, i) => Number((n >> BigInt(8 * i)) & 0xffn));
    const edge = fc.constantFrom(0n, 1n, 2n, 9n, p - 1n, p, p + 1n, p + 9n, (1n << 255n) - 1n).map(le);
    fc.assert(
      fc.property(bytes(32), fc.oneof(bytes(32), edge), fc.boolean(), (priv, pub, top) => {
        const u = pub.slice();
        if (top) u[31]! |= 0x80;
        same((s) => s.x25519(priv, u));
      }),
      { numRuns: 100 },
    );
  });

  it('[CRYPTO-SUITE-2][CRYPTO-ED25519-1] ed25519PublicKey and ed25519Sign', () => {
    fc.assert(
      fc.property(bytes(32), anyBytes(300), (seed, msg) => {
        same((s) => s.ed25519PublicKey(seed));
        same((s) => s.ed25519Sign(seed, msg));
      }),
      { numRuns: 40 },
    );
  });

  it('[CRYPTO-SUITE-2][CRYPTO-ED25519-6] ed25519Verify decides the same on valid, mutated and random signatures', () => {
    fc.assert(
      fc.property(bytes(32), anyBytes(100), fc.nat(), fc.nat({ max: 3 }), bytes(64), (seed, msg, bit, mode, junk) => {
        const pub = nodeCrypto.ed25519PublicKey(seed);
        const sig = nodeCrypto.ed25519Sign(seed, msg);
        const mutated = sig.slice();
        if (mode === 1) mutated[(bit >> 3) % 64]! ^= 1 << (bit & 7);
        const s =
          mode === 2 ? junk : mode === 3 ? new Uint8Array([...sig.subarray(0, 32), ...junk.subarray(32)]) : mutated;
        same((x) => x.ed25519Verify(pub, msg, s));
        same((x) => x.ed25519Verify(junk.subarray(0, 32), msg, s));
      }),
      { numRuns: 60 },
    );
  });

  it('[CRYPTO-SUITE-2][CRYPTO-AEAD-1][CRYPTO-AEAD-3] aeadSeal, and aeadOpen on intact and damaged ciphertexts', () => {
    fc.assert(
      fc.property(
        bytes(32),
        bytes(12),
        anyBytes(40),
        anyBytes(1500),
        fc.option(fc.nat()),
        (key, nonce, ad, pt, bit) => {
          const sealed = same((s) => s.aeadSeal(key, nonce, ad, pt));
          const ct = nodeCrypto.aeadSeal(key, nonce, ad, pt);
          if (bit !== null) ct[(bit >> 3) % ct.length]! ^= 1 << (bit & 7);
          const opened = same((s) => s.aeadOpen(key, nonce, ad, ct));
          if (bit === null) expect(opened).toEqual({ ok: toHex(pt) });
          expect('ok' in sealed).toBe(true);
        },
      ),
    );
  });

  it('[CRYPTO-SUITE-2][CRYPTO-AEAD-1] a 64 KiB frame seals to the same bytes', () => {
    const key = new Uint8Array(32).fill(0x42);
    const nonce = new Uint8Array(12).fill(1);
    const pt = Uint8Array.from({ length: 65_535 }, (_, i) => (i * 31) & 0xff);
    const sealed = same((s) => s.aeadSeal(key, nonce, new Uint8Array(0), pt));
    expect('ok' in sealed && sealed.ok.length).toBe(2 * (65_535 + 16));
  });
});
