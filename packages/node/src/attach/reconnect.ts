/**
 * [NODE-ATTACH-1] When a node loses its home supernode and has no standby to promote, it reconnects after
 * exponential backoff with full jitter — a uniform draw below min(5 min, 1 s x 2^(n-1)) for the n-th
 * consecutive attempt, or the supernode's retry hint plus its jitter (06 LOGIN-RATE-18/19, the same rule as
 * the login client's, `retryDelayMs`) — and starts again from 1 s once an attachment has lasted
 * `stable-attachment` (60 s). The jitter is what keeps a network whose supernodes all come back at once
 * (the August 2007 Skype outage) from arriving at once: the spread is tested in test/attach/.
 */
import { retryDelayMs } from '@parley/login-server/client';

/** [NODE-ATTACH-1] An attachment this old resets the backoff. */
export const STABLE_ATTACHMENT_MS = 60_000;

export interface RetryHint {
  readonly retryAfterMs: number;
  readonly retryJitterMs: number;
}

export class ReconnectSchedule {
  readonly #random: { float(): number };
  #failures = 0;
  #attachedAt: number | undefined;

  constructor(random: { float(): number }) {
    this.#random = random;
  }

  /** Consecutive failed attempts so far. */
  get failures(): number {
    return this.#failures;
  }

  /** The wait before the next attempt, after a failure (with the ErrorReply's hint, when it had one). */
  failed(hint?: RetryHint): number {
    this.#attachedAt = undefined;
    this.#failures++;
    return retryDelayMs(hint ?? { retryAfterMs: 0, retryJitterMs: 0 }, this.#failures, this.#random);
  }

  /** An attempt succeeded at `now`. */
  attached(now: number): void {
    this.#attachedAt = now;
  }

  /** The attachment was lost at `now`: the wait before the first attempt (reset when it had been stable). */
  lost(now: number): number {
    if (this.#attachedAt !== undefined && now - this.#attachedAt >= STABLE_ATTACHMENT_MS) this.#failures = 0;
    return this.failed();
  }
}
