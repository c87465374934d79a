/**
 * The byte-level rules of strict Ed25519 verification that both suites apply before the curve
 * arithmetic, so that node:crypto (OpenSSL) and @noble accept exactly the same signatures.
 * Normative text: spec/04-crypto.md §6 (CRYPTO-ED25519-*); RFC 8032 §5.1.3 (decoding) and §5.1.7
 * (verification). Pure and portable: no node: imports.
 */

/**
 * The canonical encodings of the eight points of order dividing 8 (the torsion subgroup E[8]).
 * [CRYPTO-ED25519-5] rejects a public key or an R equal to one of them. Non-canonical encodings of
 * these points never get here: [CRYPTO-ED25519-3] rejects them first. The contract suite checks
 * with @noble that this list is exactly E[8].
 */
const SMALL_ORDER_ENCODINGS: readonly string[] = [
  '0100000000000000000000000000000000000000000000000000000000000000', // identity, order 1
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // (0, -1), order 2
  '0000000000000000000000000000000000000000000000000000000000000000', // (+sqrt(-1), 0), order 4
  '0000000000000000000000000000000000000000000000000000000000000080', // (-sqrt(-1), 0), order 4
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a', // order 8
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa', // order 8
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05', // order 8
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85', // order 8
];
const SMALL_ORDER = SMALL_ORDER_ENCODINGS.map(hexToBytes);

/** L = 2^252 + 27742317777372353535851937790883648493, little-endian (RFC 8032 §5.1). */
const GROUP_ORDER_LE = hexToBytes('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010');

/** For tests: the list behind [CRYPTO-ED25519-5]. */
export function smallOrderEncodings(): Uint8Array[] {
  return SMALL_ORDER.map((e) => e.slice());
}

/**
 * [CRYPTO-ED25519-3] A point encoding is canonical when its y (the low 255 bits) is below
 * p = 2^255 - 19, and the sign bit is clear whenever x = 0 (y = 1 or y = p - 1).
 */
export function isCanonicalPointEncoding(e: Uint8Array, offset = 0): boolean {
  const top = e[offset + 31]! & 0x7f;
  const sign = e[offset + 31]! >> 7;
  // y >= p only when y is one of p..2^255-1: bytes ed..ff, then 30 x ff, then 7f.
  let allOnes = top === 0x7f;
  for (let i = 1; allOnes && i < 31; i++) if (e[offset + i] !== 0xff) allOnes = false;
  if (allOnes && e[offset]! >= 0xed) return false;
  if (sign === 1) {
    // x = 0 exactly when y = 1 or y = p - 1 (= ec ff .. ff 7f); -0 is not a canonical x.
    let restZero = top === 0;
    for (let i = 1; restZero && i < 31; i++) if (e[offset + i] !== 0) restZero = false;
    if (restZero && e[offset] === 0x01) return false;
    if (allOnes && e[offset] === 0xec) return false;
  }
  return true;
}

/** [CRYPTO-ED25519-5] True when the (canonical) encoding is one of the eight small-order points. */
export function isSmallOrderEncoding(e: Uint8Array, offset = 0): boolean {
  outer: for (const s of SMALL_ORDER) {
    for (let i = 0; i < 32; i++) if (e[offset + i] !== s[i]) continue outer;
    return true;
  }
  return false;
}

/** [CRYPTO-ED25519-4] S (the second half of the signature) must be below L. */
export function isReducedScalar(sig: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) {
    const s = sig[32 + i]!;
    const l = GROUP_ORDER_LE[i]!;
    if (s < l) return true;
    if (s > l) return false;
  }
  return false; // S = L
}

/**
 * Every check of strict verification that needs no curve arithmetic ([CRYPTO-ED25519-2..5]):
 * lengths, S < L, canonical A and R, neither A nor R of small order. What remains for the suite is
 * decoding A (on the curve), and the cofactorless equation by encoding comparison
 * ([CRYPTO-ED25519-6]).
 */
export function passesStrictPrechecks(publicKey: Uint8Array, signature: Uint8Array): boolean {
  if (!(publicKey instanceof Uint8Array) || !(signature instanceof Uint8Array)) return false;
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  if (!isReducedScalar(signature)) return false;
  if (!isCanonicalPointEncoding(publicKey) || isSmallOrderEncoding(publicKey)) return false;
  if (!isCanonicalPointEncoding(signature, 0) || isSmallOrderEncoding(signature, 0)) return false;
  return true;
}

function hexToBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}
