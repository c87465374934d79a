/**
 * `nobleCrypto`: the Parley v1 cipher suite on @noble/* — portable (browsers, Deno, Bun, Node), pure
 * JavaScript, no node: imports in this file.
 *
 * Implements: RFC 7748 (X25519), RFC 8032 (Ed25519, strict verification as Parley defines it),
 * RFC 8439 (ChaCha20-Poly1305), FIPS 180-4 (SHA-256), RFC 2104 (HMAC), RFC 5869 (HKDF).
 * Normative text: spec/04-crypto.md (CRYPTO-*). Must give the same bytes as `nodeCrypto` on every
 * input ([CRYPTO-SUITE-2]).
 */
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { bytesToNumberLE } from '@noble/curves/utils.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { DecryptError, ErrorCode } from '../errors.js';
import { passesStrictPrechecks } from './ed25519-strict.js';
import {
  AEAD_KEY_LENGTH,
  AEAD_NONCE_LENGTH,
  AEAD_TAG_LENGTH,
  ED25519_SEED_LENGTH,
  requireBytes,
  requireHkdfLength,
  requireLength,
  X25519_KEY_LENGTH,
} from './lengths.js';
import type { CryptoSuite } from './suite.js';

const Point = ed25519.Point;
const Fn = Point.Fn;

function x25519Public(privateKey: Uint8Array): Uint8Array {
  requireLength(privateKey, X25519_KEY_LENGTH, 'X25519 private key');
  return x25519.getPublicKey(privateKey);
}

function x25519Shared(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  requireLength(privateKey, X25519_KEY_LENGTH, 'X25519 private key');
  requireLength(publicKey, X25519_KEY_LENGTH, 'X25519 public key');
  let shared: Uint8Array;
  try {
    // @noble rejects the low-order u-coordinates before the ladder, which are exactly the inputs
    // whose result would be all zeros; it throws for nothing else once the lengths are right.
    shared = x25519.getSharedSecret(privateKey, publicKey);
  } catch (cause) {
    // [CRYPTO-X25519-2]
    throw new DecryptError(ErrorCode.INVALID_KEY, 'X25519 result is all zeros (low-order public key)', { cause });
  }
  let acc = 0;
  for (let i = 0; i < shared.length; i++) acc |= shared[i]!;
  if (acc === 0) throw new DecryptError(ErrorCode.INVALID_KEY, 'X25519 result is all zeros'); // [CRYPTO-X25519-2]
  return shared;
}

function ed25519Public(seed: Uint8Array): Uint8Array {
  requireLength(seed, ED25519_SEED_LENGTH, 'Ed25519 seed');
  return ed25519.getPublicKey(seed);
}

function ed25519Sign(seed: Uint8Array, message: Uint8Array): Uint8Array {
  requireLength(seed, ED25519_SEED_LENGTH, 'Ed25519 seed');
  requireBytes(message, 'message');
  return ed25519.sign(message, seed); // [CRYPTO-ED25519-1] deterministic RFC 8032 §5.1.6
}

/**
 * [CRYPTO-ED25519-2..6] Strict verification, computed here rather than with `ed25519.verify`
 * (which checks the cofactored equation) so that it matches OpenSSL's cofactorless check bit for bit.
 */
function ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (!(message instanceof Uint8Array)) return false;
  if (!passesStrictPrechecks(publicKey, signature)) return false;
  try {
    const A = Point.fromBytes(publicKey, false); // [CRYPTO-ED25519-3] must decode to a curve point
    const r = signature.subarray(0, 32);
    const s = bytesToNumberLE(signature.subarray(32, 64)); // < L by the prechecks
    const h = sha512.create().update(r).update(publicKey).update(message).digest();
    const k = Fn.create(bytesToNumberLE(h));
    // [CRYPTO-ED25519-6] R' = [S]B - [k]A, accepted iff encode(R') equals the R bytes.
    const rCheck = Point.BASE.multiplyUnsafe(s).subtract(A.multiplyUnsafe(k)).toBytes();
    let diff = 0;
    for (let i = 0; i < 32; i++) diff |= rCheck[i]! ^ r[i]!;
    return diff === 0;
  } catch {
    return false; // not a point on the curve
  }
}

function aeadSeal(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
  requireLength(key, AEAD_KEY_LENGTH, 'AEAD key');
  requireLength(nonce, AEAD_NONCE_LENGTH, 'AEAD nonce');
  requireBytes(ad, 'AEAD associated data');
  requireBytes(plaintext, 'AEAD plaintext');
  return chacha20poly1305(key, nonce, ad).encrypt(plaintext);
}

function aeadOpen(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  requireLength(key, AEAD_KEY_LENGTH, 'AEAD key');
  requireLength(nonce, AEAD_NONCE_LENGTH, 'AEAD nonce');
  requireBytes(ad, 'AEAD associated data');
  requireBytes(ciphertext, 'AEAD ciphertext');
  // [CRYPTO-AEAD-4] too short to hold a tag is the same failure as a wrong tag.
  if (ciphertext.length < AEAD_TAG_LENGTH) throw new DecryptError(ErrorCode.DECRYPT_FAILED);
  try {
    return chacha20poly1305(key, nonce, ad).decrypt(ciphertext);
  } catch {
    throw new DecryptError(ErrorCode.DECRYPT_FAILED); // [CRYPTO-AEAD-4] one error, no detail
  }
}

function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  requireBytes(ikm, 'HKDF ikm');
  requireBytes(salt, 'HKDF salt');
  requireBytes(info, 'HKDF info');
  requireHkdfLength(length);
  return hkdf(sha256, ikm, salt, info, length);
}

function hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
  requireBytes(key, 'HMAC key');
  requireBytes(data, 'HMAC data');
  return hmac(sha256, key, data);
}

function sha256Digest(data: Uint8Array): Uint8Array {
  requireBytes(data, 'SHA-256 input');
  return sha256(data);
}

/** The Parley v1 suite on @noble: portable, the default where node:crypto is absent. */
export const nobleCrypto: CryptoSuite = Object.freeze({
  name: 'noble',
  sha256: sha256Digest,
  hmacSha256,
  hkdfSha256,
  x25519PublicKey: x25519Public,
  x25519: x25519Shared,
  ed25519PublicKey: ed25519Public,
  ed25519Sign,
  ed25519Verify,
  aeadSeal,
  aeadOpen,
});
