/**
 * Strict Ed25519 verification (spec/04-crypto.md §6, CRYPTO-ED25519-*): the byte-level rules of
 * src/crypto/ed25519-strict.ts, and crafted signatures on the edges where Ed25519 verifiers are known
 * to disagree (non-canonical encodings, S >= L, small-order and mixed-order keys; see "Taming the
 * many EdDSAs", Chalkias, Garillot, Nikolaenko, SSR 2020). Both suites must give the same answer on
 * every one of them, and the answer the chapter prescribes.
 */
import { createPublicKey, verify as opensslVerify } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToNumberLE, numberToBytesLE } from '@noble/curves/utils.js';
import { sha512 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  isCanonicalPointEncoding,
  isReducedScalar,
  isSmallOrderEncoding,
  smallOrderEncodings,
} from '../../src/crypto/ed25519-strict.js';
import { nobleCrypto, nodeCrypto } from '../../src/crypto/index.js';
import { hex, toHex } from './wycheproof.js';

const Point = ed25519.Point;
const Fn = Point.Fn;
const L = Fn.ORDER;
const p = (1n << 255n) - 19n;
const suites = [nodeCrypto, nobleCrypto];

/** What each suite says, which must be one answer. */
function verifyBoth(pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  const answers = suites.map((s) => s.ed25519Verify(pub, msg, sig));
  expect(answers[0]).toBe(answers[1]);
  return answers[0]!;
}

/** OpenSSL alone, without Parley's prechecks: shows which rule the prechecks add. */
function opensslAlone(pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  const der = new Uint8Array([...hex('302a300506032b6570032100'), ...pub]);
  try {
    return opensslVerify(null, msg, createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' }), sig);
  } catch {
    return false;
  }
}

function challenge(r: Uint8Array, a: Uint8Array, msg: Uint8Array): bigint {
  return Fn.create(bytesToNumberLE(sha512(new Uint8Array([...r, ...a, ...msg]))));
}

function signature(r: Uint8Array, s: bigint): Uint8Array {
  return new Uint8Array([...r, ...numberToBytesLE(s, 32)]);
}

/** The eight points of E[8]: multiples of a point of order 8. */
function torsion(): InstanceType<typeof Point>[] {
  const t8 = Point.fromBytes(hex('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a'));
  const out = [Point.ZERO];
  for (let i = 1; i < 8; i++) out.push(out[i - 1]!.add(t8));
  return out;
}

describe('strict Ed25519 verification [CRYPTO-ED25519-*]', () => {
  it('[CRYPTO-ED25519-5] the small-order list is exactly the eight points of E[8], canonically encoded', () => {
    const fromCurve = torsion().map((P) => toHex(P.toBytes()));
    expect(new Set(fromCurve).size).toBe(8);
    expect(new Set(smallOrderEncodings().map(toHex))).toEqual(new Set(fromCurve));
    for (const e of smallOrderEncodings()) {
      expect(Point.fromBytes(e, false).isSmallOrder()).toBe(true);
      expect(isCanonicalPointEncoding(e)).toBe(true);
    }
  });

  it('[CRYPTO-ED25519-3] canonical encodings: y < p, and no sign bit on x = 0', () => {
    const le = (n: bigint, sign = 0) => {
      const b = numberToBytesLE(n, 32);
      b[31]! |= sign << 7;
      return b;
    };
    expect(isCanonicalPointEncoding(le(p - 1n))).toBe(true);
    expect(isCanonicalPointEncoding(le(p))).toBe(false);
    expect(isCanonicalPointEncoding(le(p + 18n))).toBe(false);
    expect(isCanonicalPointEncoding(le(p + 18n, 1))).toBe(false);
    expect(isCanonicalPointEncoding(le(1n, 1))).toBe(false); // -0 with y = 1
    expect(isCanonicalPointEncoding(le(p - 1n, 1))).toBe(false); // -0 with y = -1
    expect(isCanonicalPointEncoding(le(0n, 1))).toBe(true); // y = 0 has x = -sqrt(-1), not 0
    // Agrees with @noble's RFC 8032 decoder on every y near the edges that is on the curve.
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 40n }), fc.boolean(), fc.boolean(), (d, high, sign) => {
        const y = high ? p - 20n + d : d; // around p, and the low values whose y + p still fits
        for (const e of [le(y, sign ? 1 : 0), le(y + p < 1n << 255n ? y + p : y, sign ? 1 : 0)]) {
          let decodes = true;
          try {
            Point.fromBytes(e, false);
          } catch {
            decodes = false;
          }
          if (decodes) expect(isCanonicalPointEncoding(e)).toBe(true);
          else if (!isCanonicalPointEncoding(e)) expect(decodes).toBe(false);
        }
      }),
    );
  });

  it('[CRYPTO-ED25519-4] S must be below L: S = L - 1 passes the check, S = L and S + L do not, and the malleated signature is rejected', () => {
    const sig = new Uint8Array(64);
    sig.set(numberToBytesLE(L - 1n, 32), 32);
    expect(isReducedScalar(sig)).toBe(true);
    sig.set(numberToBytesLE(L, 32), 32);
    expect(isReducedScalar(sig)).toBe(false);
    const seed = new Uint8Array(32).fill(7);
    const msg = new TextEncoder().encode('malleable?');
    const pub = nodeCrypto.ed25519PublicKey(seed);
    const good = nodeCrypto.ed25519Sign(seed, msg);
    const s = bytesToNumberLE(good.subarray(32));
    const malleated = signature(good.subarray(0, 32), s + L); // the same point equation, S + L
    expect(verifyBoth(pub, msg, good)).toBe(true);
    expect(verifyBoth(pub, msg, malleated)).toBe(false);
  });

  it('[CRYPTO-ED25519-5] a small-order public key is rejected even where the equation holds (OpenSSL alone would accept)', () => {
    // A = identity, R = identity, S = 0: [0]B - [k]A = identity = R for every message.
    const identity = hex('0100000000000000000000000000000000000000000000000000000000000000');
    const msg = new TextEncoder().encode('any message at all');
    const sig = signature(identity, 0n);
    expect(opensslAlone(identity, msg, sig)).toBe(true);
    expect(verifyBoth(identity, msg, sig)).toBe(false);
    // Every small-order A, with a signature that satisfies the cofactorless equation.
    let forgeries = 0;
    for (const T of torsion()) {
      const A = T.toBytes();
      for (let i = 0; i < 8; i++) {
        const m = new Uint8Array([i]);
        for (const R of torsion()) {
          const k = challenge(R.toBytes(), A, m);
          if (!T.multiplyUnsafe(k).negate().equals(R)) continue;
          const forged = signature(R.toBytes(), 0n);
          expect(opensslAlone(A, m, forged)).toBe(true);
          expect(verifyBoth(A, m, forged)).toBe(false);
          forgeries++;
        }
      }
    }
    expect(forgeries).toBeGreaterThanOrEqual(8);
  });

  it('[CRYPTO-ED25519-5] a small-order R is rejected', () => {
    // A honest key; R small order: [S]B - [k]A = R needs S = k*a and R = identity.
    const a = 123456789n;
    const A = Point.BASE.multiply(a).toBytes();
    const R = hex('0100000000000000000000000000000000000000000000000000000000000000');
    const msg = new Uint8Array([1, 2, 3]);
    const S = Fn.mul(challenge(R, A, msg), a);
    const sig = signature(R, S);
    expect(opensslAlone(A, msg, sig)).toBe(true);
    expect(verifyBoth(A, msg, sig)).toBe(false);
  });

  it('[CRYPTO-ED25519-6] mixed-order keys: the cofactorless equation decides, so both suites agree where cofactored verifiers would not', () => {
    const T = torsion()[1]!; // order 8
    const a = 987654321987654321n;
    const Apoint = Point.BASE.multiply(a).add(T); // A = aB + T: not small order, not in the prime-order subgroup
    const A = Apoint.toBytes();
    let rejected = 0;
    let accepted = 0;
    for (let i = 0; i < 64; i++) {
      const msg = new Uint8Array([i, 0xee]);
      const r = BigInt(1000 + i);
      // (1) R = rB: the cofactored equation holds, the cofactorless one only when [k]T = 0.
      const R1 = Point.BASE.multiply(r).toBytes();
      const k1 = challenge(R1, A, msg);
      const sig1 = signature(R1, Fn.add(r, Fn.mul(k1, a)));
      const expected1 = T.multiplyUnsafe(k1).is0();
      expect(ed25519.verify(sig1, msg, A, { zip215: false })).toBe(true); // @noble's cofactored check
      expect(opensslAlone(A, msg, sig1)).toBe(expected1);
      expect(verifyBoth(A, msg, sig1)).toBe(expected1);
      if (!expected1) rejected++;
      // (2) R = rB - [j]T, kept when k = j (mod 8): the cofactorless equation holds.
      for (let j = 0n; j < 8n; j++) {
        const R2 = Point.BASE.multiply(r)
          .subtract(T.multiplyUnsafe(j === 0n ? 8n : j))
          .toBytes();
        const k2 = challenge(R2, A, msg);
        if (k2 % 8n !== j % 8n) continue;
        if (Point.fromBytes(R2).isSmallOrder()) continue;
        expect(verifyBoth(A, msg, signature(R2, Fn.add(r, Fn.mul(k2, a))))).toBe(true);
        accepted++;
      }
    }
    expect(rejected).toBeGreaterThan(0);
    expect(accepted).toBeGreaterThan(0);
  });

  it('[CRYPTO-ED25519-3] a non-canonical or off-curve public key is rejected by both suites', () => {
    const msg = new Uint8Array(0);
    const seed = new Uint8Array(32).fill(1);
    const sig = nodeCrypto.ed25519Sign(seed, msg);
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 18n }), fc.boolean(), (y, sign) => {
        const e = numberToBytesLE(y + p, 32); // y + p < 2^255: a second encoding of y
        if (sign) e[31]! |= 0x80;
        expect(verifyBoth(e, msg, sig)).toBe(false);
      }),
    );
    // y = 2 is not on the curve (no x): OpenSSL and @noble both fail to decode it.
    expect(verifyBoth(numberToBytesLE(2n, 32), msg, sig)).toBe(false);
    expect(isSmallOrderEncoding(numberToBytesLE(2n, 32))).toBe(false);
  });
});
