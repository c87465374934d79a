/**
 * The `CryptoSuite` interface: every primitive Parley uses, behind one small interface so that the
 * same protocol code runs on node:crypto (fast, Node only) and on @noble (portable, browsers).
 * Normative text: spec/04-crypto.md (CRYPTO-*).
 *
 * Rules every implementation follows:
 * - Inputs are validated at this edge (lengths); a wrong length is `ApiMisuse`.
 * - Failures caused by data from a peer are typed: a failed AEAD open is `DecryptError(DECRYPT_FAILED)`,
 *   an X25519 result of all zeros (a low-order peer key) is `DecryptError(INVALID_KEY)`.
 * - Outputs are fresh `Uint8Array`s the caller owns (never views into internal buffers).
 * - Both implementations give identical bytes for identical inputs (the contract suite checks this).
 * - No randomness inside: key generation takes the secret bytes from the caller's `Random`.
 */
export interface CryptoSuite {
  /** A short name for reports, e.g. `node` or `noble`. */
  readonly name: string;

  sha256(data: Uint8Array): Uint8Array;
  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array;
  /** RFC 5869 HKDF-SHA-256. `length` from 1 to 255 * 32, else ApiMisuse ([CRYPTO-HKDF-2]). */
  hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array;

  /** The X25519 public key of a 32-byte private key (RFC 7748 §6.1). */
  x25519PublicKey(privateKey: Uint8Array): Uint8Array;
  /**
   * X25519(privateKey, publicKey) of RFC 7748 §5 (twist and non-canonical public keys are computed,
   * [CRYPTO-X25519-1]). Throws DecryptError(INVALID_KEY) when the result is all zeros ([CRYPTO-X25519-2]).
   */
  x25519(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array;

  /** The Ed25519 public key of a 32-byte secret seed (RFC 8032 §5.1.5). */
  ed25519PublicKey(seed: Uint8Array): Uint8Array;
  ed25519Sign(seed: Uint8Array, message: Uint8Array): Uint8Array;
  /**
   * Strict RFC 8032 verification as spec/04-crypto.md §6 defines it: wrong lengths, non-canonical
   * A or R, S >= L, and small-order A or R are rejected, then the cofactorless equation decides
   * ([CRYPTO-ED25519-2..6]). Returns false for any bad input; never throws.
   */
  ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;

  /** ChaCha20-Poly1305 (RFC 8439): returns ciphertext || 16-byte tag. */
  aeadSeal(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /**
   * Opens ciphertext || tag; throws DecryptError(DECRYPT_FAILED), one error without detail, on any
   * failure, including an input shorter than the tag ([CRYPTO-AEAD-3], [CRYPTO-AEAD-4]).
   */
  aeadOpen(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, ciphertext: Uint8Array): Uint8Array;
}

/** Randomness comes in through this interface; tests inject a seeded one. */
export interface Random {
  randomBytes(length: number): Uint8Array;
}
