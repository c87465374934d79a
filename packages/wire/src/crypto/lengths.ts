/**
 * Fixed sizes of the Parley v1 cipher suite and the guard that enforces them at the `CryptoSuite`
 * edge. Normative text: spec/04-crypto.md §3.1 and §4 (CRYPTO-API-*, CRYPTO-HKDF-2); sizes from RFC 7748 §5,
 * RFC 8032 §5.1, RFC 8439 §2.8 and RFC 5869 §2.3.
 */
import { ApiMisuse } from '../errors.js';

export const X25519_KEY_LENGTH = 32;
export const ED25519_SEED_LENGTH = 32;
export const ED25519_PUBLIC_KEY_LENGTH = 32;
export const ED25519_SIGNATURE_LENGTH = 64;
export const AEAD_KEY_LENGTH = 32;
export const AEAD_NONCE_LENGTH = 12;
export const AEAD_TAG_LENGTH = 16;
export const SHA256_LENGTH = 32;
/** RFC 5869 §2.3: L <= 255 * HashLen. */
export const HKDF_MAX_LENGTH = 255 * SHA256_LENGTH;

/** [CRYPTO-API-1] A wrong length from the local caller is `ApiMisuse`, never a silent truncation. */
export function requireLength(bytes: Uint8Array, length: number, what: string): void {
  if (!(bytes instanceof Uint8Array)) throw new ApiMisuse(`${what} must be a Uint8Array`);
  if (bytes.length !== length) throw new ApiMisuse(`${what} must be ${length} bytes, got ${bytes.length}`);
}

/** [CRYPTO-API-1] Variable-length inputs must still be byte arrays. */
export function requireBytes(bytes: Uint8Array, what: string): void {
  if (!(bytes instanceof Uint8Array)) throw new ApiMisuse(`${what} must be a Uint8Array`);
}

/** [CRYPTO-HKDF-2] 1 <= length <= 255 * 32. */
export function requireHkdfLength(length: number): void {
  if (!Number.isSafeInteger(length) || length < 1 || length > HKDF_MAX_LENGTH) {
    throw new ApiMisuse(`HKDF output length must be an integer in 1..${HKDF_MAX_LENGTH}, got ${length}`);
  }
}
