/**
 * The datagram replay window: spec/03-channels.md §9 (CHAN-REPLAY-*), a sliding window of 2,048
 * counters in the manner of RFC 6479 and WireGuard, but exact: counter c is acceptable iff it is above
 * every counter seen so far, or within 2,047 below the highest and not yet seen.
 *
 * The bitmap is a ring of 2,048 bits indexed by c mod 2,048; advancing the window clears the bits
 * of the counters it skips over, a 32-bit word at a time. Use it in two steps, authentication in
 * between ([CHAN-REPLAY-3]): `check(c)` before decrypting (cheap rejection), `update(c)` only after
 * the datagram has authenticated, so that a forged counter can never move the window.
 */
import { ErrorCode, ProtocolViolation } from '../errors.js';

/** [CHAN-REPLAY-1] The window size, in counters. */
export const REPLAY_WINDOW_SIZE = 2048;

const SIZE_N = BigInt(REPLAY_WINDOW_SIZE);
const MASK = REPLAY_WINDOW_SIZE - 1;

export class ReplayWindow {
  readonly #bits = new Uint32Array(REPLAY_WINDOW_SIZE / 32);
  /** The highest authenticated counter, or -1 before the first. */
  #highest = -1n;

  /** The highest counter accepted so far (-1n before the first). */
  get highest(): bigint {
    return this.#highest;
  }

  /**
   * Throws TOO_OLD when `counter` is 2,048 or more below the highest ([CHAN-REPLAY-2]) and REPLAYED
   * when it has been accepted before ([CHAN-REPLAY-2]). Does not change the window.
   */
  check(counter: bigint): void {
    if (counter > this.#highest) return;
    if (this.#highest - counter >= SIZE_N) {
      throw new ProtocolViolation(ErrorCode.TOO_OLD, `counter ${counter} behind window (highest ${this.#highest})`);
    }
    const i = Number(counter & BigInt(MASK));
    if ((this.#bits[i >>> 5]! >>> (i & 31)) & 1) {
      throw new ProtocolViolation(ErrorCode.REPLAYED, `counter ${counter}`);
    }
  }

  /** Marks `counter` as seen, advancing the window when it is the new highest. Call after `check`. */
  update(counter: bigint): void {
    if (counter > this.#highest) {
      const advance = counter - this.#highest;
      if (advance >= SIZE_N) {
        this.#bits.fill(0);
      } else {
        // Clear the bits of highest+1 .. counter (the counters newly inside the window).
        this.#clear(Number((this.#highest + 1n) & BigInt(MASK)), Number(advance));
      }
      this.#highest = counter;
    }
    const i = Number(counter & BigInt(MASK));
    this.#bits[i >>> 5]! |= 1 << (i & 31);
  }

  /** `check` then `update`, for callers that authenticate first by other means. */
  accept(counter: bigint): void {
    this.check(counter);
    this.update(counter);
  }

  #clear(from: number, count: number): void {
    const bits = this.#bits;
    let p = from;
    while (count > 0) {
      const bit = p & 31;
      const n = Math.min(32 - bit, count);
      const mask = n === 32 ? 0xffffffff : ((1 << n) - 1) << bit;
      bits[p >>> 5]! &= ~mask;
      count -= n;
      p = (p + n) & MASK;
    }
  }
}
