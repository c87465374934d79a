/**
 * Randomness for Parley: the system CSPRNG for real use, and a deterministic DRBG for tests and
 * test vectors. Normative text: spec/04-crypto.md §9 (CRYPTO-RAND-*); the DRBG's keystream is
 * ChaCha20 as in RFC 8439 §2.4, through @noble so that it gives the same bytes on every platform.
 */
import { chacha20 } from '@noble/ciphers/chacha.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { ApiMisuse } from '../errors.js';
import type { Random } from './suite.js';

/** Web Crypto's `getRandomValues` fills at most 65,536 bytes per call (a QuotaExceededError beyond). */
const GET_RANDOM_VALUES_MAX = 65_536;

function requireCount(length: number): void {
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new ApiMisuse(`random length must be a non-negative integer, got ${length}`);
  }
}

/**
 * [CRYPTO-RAND-1] The operating system's CSPRNG through Web Crypto (`globalThis.crypto`, present in
 * Node >= 19 and every browser), so the same code serves both.
 */
export const systemRandom: Random = Object.freeze({
  randomBytes(length: number): Uint8Array {
    requireCount(length);
    const webCrypto = (globalThis as { crypto?: { getRandomValues<T extends ArrayBufferView>(a: T): T } }).crypto;
    if (webCrypto === undefined) throw new ApiMisuse('no Web Crypto getRandomValues on this platform');
    const out = new Uint8Array(length);
    for (let at = 0; at < length; at += GET_RANDOM_VALUES_MAX) {
      webCrypto.getRandomValues(out.subarray(at, Math.min(length, at + GET_RANDOM_VALUES_MAX)));
    }
    return out;
  },
});

/** ChaCha20's block counter is 32 bits (RFC 8439 §2.3): 2^32 blocks of 64 bytes per seed. */
const DRBG_MAX_BYTES = 2 ** 32 * 64;
const DRBG_NONCE = new Uint8Array(12);

/**
 * [CRYPTO-RAND-4] A deterministic random generator for tests and test vectors ONLY: the ChaCha20
 * keystream (key = SHA-256 of the seed, string seeds UTF-8 encoded; nonce = 12 zero bytes; block
 * counter from 0), read sequentially. The bytes depend only on the seed and the total read so far,
 * never on how reads are split. Never use it for keys that protect anything ([CRYPTO-RAND-3]).
 */
export function seededRandom(seed: Uint8Array | string): Random {
  const key = sha256(typeof seed === 'string' ? new TextEncoder().encode(seed) : seed);
  let position = 0; // bytes of keystream consumed so far
  return {
    randomBytes(length: number): Uint8Array {
      requireCount(length);
      if (position + length > DRBG_MAX_BYTES) throw new ApiMisuse('seededRandom exhausted (256 GiB)');
      const block = Math.floor(position / 64);
      const skip = position % 64;
      // Keystream = ChaCha20 of zeros, starting at the block that holds `position`.
      const stream = chacha20(key, DRBG_NONCE, new Uint8Array(skip + length), undefined, block);
      position += length;
      return skip === 0 ? stream : stream.slice(skip);
    },
  };
}
