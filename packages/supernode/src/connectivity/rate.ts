/**
 * Token buckets for the rate limits of spec/08-connectivity.md (NAT-OBS-5, NAT-CLASS-4, NAT-CLASS-6,
 * NAT-PUNCH-5, RELAY-QUOTA-2): one bucket, and a table of them by key with bounded memory. Pure: every
 * call takes `now`; nothing reads a clock or sets a timer.
 */

/** A rate: at most `burst` tokens, refilled at `rate` tokens per `periodMs`. */
export interface Rate {
  readonly burst: number;
  readonly rate: number;
  readonly periodMs: number;
}

/** A token bucket: `tokens` held at `at` (ms). A new bucket is full. */
export interface Bucket {
  tokens: number;
  at: number;
}

export const fullBucket = (r: Rate, now: number): Bucket => ({ tokens: r.burst, at: now });

/** The tokens `b` holds at `now`. */
export const bucketLevel = (b: Bucket, now: number, r: Rate): number =>
  Math.min(r.burst, b.tokens + ((now - b.at) * r.rate) / r.periodMs);

/** Takes `cost` tokens from `b` at `now`: 0 when taken, else the ms until it holds them (nothing taken). */
export function takeTokens(b: Bucket, now: number, r: Rate, cost = 1): number {
  const tokens = bucketLevel(b, now, r);
  b.at = now;
  b.tokens = tokens < cost ? tokens : tokens - cost;
  return tokens < cost ? ((cost - tokens) * r.periodMs) / r.rate : 0;
}

/**
 * Buckets by key, in two generations of one refill period (the time an empty bucket takes to fill): a
 * bucket untouched for a whole period is full, the same as no bucket, so the older generation is dropped
 * at each turn. A generation holds at most the keys seen in one period.
 */
export class BucketTable {
  #current = new Map<string, Bucket>();
  #old = new Map<string, Bucket>();
  #turnAt: number;
  readonly #periodMs: number;

  constructor(
    readonly rate: Rate,
    now: number,
  ) {
    this.#turnAt = now;
    this.#periodMs = Math.ceil((rate.burst * rate.periodMs) / rate.rate);
  }

  /** Buckets held (both generations; a key is in one of them). */
  get size(): number {
    return this.#current.size + this.#old.size;
  }

  /** The bucket of `key`, undefined when it has none (it is full). */
  get(key: string, now: number): Bucket | undefined {
    if (now - this.#turnAt >= this.#periodMs) {
      const old = this.#old;
      old.clear();
      if (now - this.#turnAt >= 2 * this.#periodMs) this.#current.clear();
      this.#old = this.#current;
      this.#current = old;
      this.#turnAt = now;
    }
    let b = this.#current.get(key);
    if (b === undefined) {
      b = this.#old.get(key);
      if (b !== undefined) {
        this.#old.delete(key);
        this.#current.set(key, b);
      }
    }
    return b;
  }

  /** Takes `cost` tokens from `key`'s bucket: 0 when taken, else the ms until it holds them. */
  take(key: string, now: number, cost = 1): number {
    let b = this.get(key, now);
    if (b === undefined) {
      b = fullBucket(this.rate, now);
      this.#current.set(key, b);
    }
    return takeTokens(b, now, this.rate, cost);
  }
}
