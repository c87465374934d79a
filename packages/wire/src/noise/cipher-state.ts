/**
 * Noise `CipherState` (The Noise Protocol Framework, revision 34, §5.1), for the cipher functions
 * ChaChaPoly (§12.3). Normative use in Parley: spec/03-channels.md §4-5 (CHAN-NOISE-*, CHAN-TRANSPORT-*).
 *
 * The 64-bit nonce `n` is held as two unsigned 32-bit halves so that the hot path never touches a
 * bigint, and the 12-byte AEAD nonce (4 zero bytes || n little-endian, §12.3) lives in one buffer that
 * is rewritten in place for every message.
 */
import type { CryptoSuite } from '../crypto/suite.js';
import { ApiMisuse, ErrorCode, ProtocolViolation } from '../errors.js';

/** Length of a ChaChaPoly key (Noise §12.3). */
export const KEY_LENGTH = 32;
/** Length of the Poly1305 authentication tag appended to every ciphertext. */
export const TAG_LENGTH = 16;

const EMPTY = new Uint8Array(0);
const MAX_U32 = 0xffffffff;

export class CipherState {
  #k: Uint8Array | null = null;
  #nLo = 0;
  #nHi = 0;
  readonly #nonce = new Uint8Array(12);
  readonly #suite: CryptoSuite;

  constructor(suite: CryptoSuite, key?: Uint8Array) {
    this.#suite = suite;
    if (key) this.initializeKey(key);
  }

  /** InitializeKey(key): sets k = key and n = 0. */
  initializeKey(key: Uint8Array): void {
    if (key.length !== KEY_LENGTH) throw new ApiMisuse(`cipher key must be ${KEY_LENGTH} bytes`);
    this.#k = key.slice();
    this.#nLo = 0;
    this.#nHi = 0;
  }

  /** HasKey(): true when k is non-empty. */
  hasKey(): boolean {
    return this.#k !== null;
  }

  /**
   * SetNonce(nonce). Exposed for tests and for the transport's start-nonce hook
   * ([CHAN-TRANSPORT-5] is tested without sending 2^64 messages).
   */
  setNonce(nonce: bigint): void {
    if (nonce < 0n || nonce > 0xffff_ffff_ffff_ffffn) throw new ApiMisuse('nonce out of range');
    this.#nLo = Number(nonce & 0xffff_ffffn);
    this.#nHi = Number(nonce >> 32n);
  }

  /** The current nonce n (the one the next message will use). */
  get nonce(): bigint {
    return (BigInt(this.#nHi) << 32n) | BigInt(this.#nLo);
  }

  /**
   * EncryptWithAd(ad, plaintext): with a key, ENCRYPT(k, n++, ad, plaintext); without one, the
   * plaintext itself. Returns a fresh array (the suite's output) when a key is set.
   */
  encryptWithAd(ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    const k = this.#k;
    if (k === null) return plaintext;
    const ciphertext = this.#suite.aeadSeal(k, this.#currentNonce(), ad, plaintext);
    this.#increment();
    return ciphertext;
  }

  /**
   * DecryptWithAd(ad, ciphertext): with a key, DECRYPT(k, n++, ad, ciphertext); without one, the
   * ciphertext itself. On an authentication failure the suite throws DecryptError(DECRYPT_FAILED) and
   * n is not incremented (Noise §5.1).
   */
  decryptWithAd(ad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
    const k = this.#k;
    if (k === null) return ciphertext;
    const plaintext = this.#suite.aeadOpen(k, this.#currentNonce(), ad, ciphertext);
    this.#increment();
    return plaintext;
  }

  /**
   * Rekey(): k = the first 32 bytes of ENCRYPT(k, 2^64-1, zerolen, zeros) (Noise §4.2, §11.3). The
   * nonce n is left unchanged, so the hard stop of [CHAN-TRANSPORT-5] still counts every message.
   */
  rekey(): void {
    const k = this.#k;
    if (k === null) throw new ApiMisuse('Rekey() without a key');
    const maxNonce = new Uint8Array(12);
    maxNonce.fill(0xff, 4);
    const next = this.#suite.aeadSeal(k, maxNonce, EMPTY, new Uint8Array(KEY_LENGTH)).subarray(0, KEY_LENGTH);
    k.fill(0);
    this.#k = next;
  }

  /** Overwrites the key; the CipherState is unusable afterwards (HasKey() is false). */
  destroy(): void {
    this.#k?.fill(0);
    this.#k = null;
  }

  /**
   * Writes n into the AEAD nonce buffer. Nonce 2^64-1 is reserved by Noise (§5.1) and never used for
   * a message: reaching it is NONCE_EXHAUSTED ([CHAN-TRANSPORT-5]).
   */
  #currentNonce(): Uint8Array {
    const lo = this.#nLo;
    const hi = this.#nHi;
    if (lo === MAX_U32 && hi === MAX_U32) {
      throw new ProtocolViolation(ErrorCode.NONCE_EXHAUSTED, 'nonce 2^64-1 reached');
    }
    const b = this.#nonce;
    b[4] = lo;
    b[5] = lo >>> 8;
    b[6] = lo >>> 16;
    b[7] = lo >>> 24;
    b[8] = hi;
    b[9] = hi >>> 8;
    b[10] = hi >>> 16;
    b[11] = hi >>> 24;
    return b;
  }

  #increment(): void {
    if (this.#nLo === MAX_U32) {
      this.#nLo = 0;
      this.#nHi++;
    } else {
      this.#nLo++;
    }
  }
}
