/**
 * The system's randomness (src/transport.ts `Random`) from Web Crypto's getRandomValues (a CSPRNG).
 */
import type { Random } from '../transport.js';

/** getRandomValues fills at most 65,536 bytes per call (Web Crypto's QuotaExceededError). */
const MAX_FILL = 65_536;

export class SystemRandom implements Random {
  /** Bytes for float(), drawn in blocks so one float is not one system call. */
  private pool: Uint8Array = new Uint8Array(0);
  private at = 0;

  randomBytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i += MAX_FILL) crypto.getRandomValues(out.subarray(i, Math.min(length, i + MAX_FILL)));
    return out;
  }

  /** 53 random bits over 2^53: uniform on the doubles k·2^-53 in [0, 1). */
  float(): number {
    if (this.at + 7 > this.pool.length) {
      this.pool = this.randomBytes(4096);
      this.at = 0;
    }
    const b = this.pool;
    const i = this.at;
    this.at += 7;
    const high = ((b[i]! & 0x1f) << 16) | (b[i + 1]! << 8) | b[i + 2]!; // 21 bits
    const low = ((b[i + 3]! << 24) | (b[i + 4]! << 16) | (b[i + 5]! << 8) | b[i + 6]!) >>> 0; // 32 bits
    return (high * 2 ** 32 + low) / 2 ** 53;
  }
}

export const systemRandom: Random = new SystemRandom();
