/**
 * Noise `SymmetricState` (The Noise Protocol Framework, revision 34, §5.2) with HASH = SHA-256 and
 * HKDF as defined in §4.3, which equals RFC 5869 HKDF-SHA-256 with salt = chaining key and empty info.
 * Normative use in Parley: spec/03-channels.md §3 (CHAN-NOISE-*).
 */
import type { CryptoSuite } from '../crypto/suite.js';
import { CipherState, KEY_LENGTH } from './cipher-state.js';

/** HASHLEN for SHA-256. */
export const HASH_LENGTH = 32;

const EMPTY = new Uint8Array(0);
const textEncoder = new TextEncoder();

export class SymmetricState {
  /** The chaining key ck. */
  #ck: Uint8Array;
  /** The handshake hash h. */
  #h: Uint8Array;
  readonly cipherState: CipherState;
  readonly #suite: CryptoSuite;

  /** InitializeSymmetric(protocol_name). */
  constructor(suite: CryptoSuite, protocolName: string | Uint8Array) {
    this.#suite = suite;
    const name = typeof protocolName === 'string' ? textEncoder.encode(protocolName) : protocolName;
    // Noise §5.2: a name of at most HASHLEN bytes is zero-padded, a longer one is hashed.
    if (name.length <= HASH_LENGTH) {
      this.#h = new Uint8Array(HASH_LENGTH);
      this.#h.set(name);
    } else {
      this.#h = suite.sha256(name);
    }
    this.#ck = this.#h.slice();
    this.cipherState = new CipherState(suite);
  }

  /** MixKey(input_key_material): ck, temp_k = HKDF(ck, ikm, 2); InitializeKey(temp_k). */
  mixKey(inputKeyMaterial: Uint8Array): void {
    const out = this.#suite.hkdfSha256(inputKeyMaterial, this.#ck, EMPTY, 2 * HASH_LENGTH);
    this.#ck = out.subarray(0, HASH_LENGTH);
    this.cipherState.initializeKey(out.subarray(HASH_LENGTH, HASH_LENGTH + KEY_LENGTH));
  }

  /** MixHash(data): h = HASH(h || data). */
  mixHash(data: Uint8Array): void {
    const buf = new Uint8Array(HASH_LENGTH + data.length);
    buf.set(this.#h);
    buf.set(data, HASH_LENGTH);
    this.#h = this.#suite.sha256(buf);
  }

  /** MixKeyAndHash(input_key_material): ck, temp_h, temp_k = HKDF(ck, ikm, 3); MixHash(temp_h); InitializeKey(temp_k). */
  mixKeyAndHash(inputKeyMaterial: Uint8Array): void {
    const out = this.#suite.hkdfSha256(inputKeyMaterial, this.#ck, EMPTY, 3 * HASH_LENGTH);
    this.#ck = out.subarray(0, HASH_LENGTH);
    this.mixHash(out.subarray(HASH_LENGTH, 2 * HASH_LENGTH));
    this.cipherState.initializeKey(out.subarray(2 * HASH_LENGTH, 2 * HASH_LENGTH + KEY_LENGTH));
  }

  /** GetHandshakeHash(): h (a copy; channel binding, [CHAN-NOISE-7]). */
  getHandshakeHash(): Uint8Array {
    return this.#h.slice();
  }

  /**
   * The chaining key. Not part of the Noise API: Parley derives its datagram keys from it once the
   * handshake is complete ([CHAN-DGRAM-1]); nothing else reads it.
   */
  get chainingKey(): Uint8Array {
    return this.#ck;
  }

  /** EncryptAndHash(plaintext): ciphertext = EncryptWithAd(h, plaintext); MixHash(ciphertext). */
  encryptAndHash(plaintext: Uint8Array): Uint8Array {
    const ciphertext = this.cipherState.encryptWithAd(this.#h, plaintext);
    this.mixHash(ciphertext);
    return ciphertext;
  }

  /** DecryptAndHash(ciphertext): plaintext = DecryptWithAd(h, ciphertext); MixHash(ciphertext). */
  decryptAndHash(ciphertext: Uint8Array): Uint8Array {
    const plaintext = this.cipherState.decryptWithAd(this.#h, ciphertext);
    this.mixHash(ciphertext);
    return plaintext;
  }

  /**
   * Split(): temp_k1, temp_k2 = HKDF(ck, zerolen, 2); returns (c1, c2), c1 for initiator-to-responder
   * messages and c2 for responder-to-initiator messages.
   */
  split(): [CipherState, CipherState] {
    const out = this.#suite.hkdfSha256(EMPTY, this.#ck, EMPTY, 2 * HASH_LENGTH);
    const c1 = new CipherState(this.#suite, out.subarray(0, KEY_LENGTH));
    const c2 = new CipherState(this.#suite, out.subarray(HASH_LENGTH, HASH_LENGTH + KEY_LENGTH));
    out.fill(0);
    return [c1, c2];
  }

  /** Overwrites ck and the handshake cipher key once the handshake is over or abandoned ([CHAN-NOISE-8]). */
  destroy(): void {
    this.#ck.fill(0);
    this.cipherState.destroy();
  }
}
