/**
 * Per-address token buckets with bounded memory (spec/06-login-server.md §7.2, LOGIN-RATE-8..11), and
 * the address key that aggregates an IPv6 /64 into one bucket. Pure: every call takes `nowMs`; nothing
 * reads a clock or sets a timer.
 *
 * A bucket holds at most `capacity` tokens and gains `refillPerMinute` tokens per minute. Arithmetic is
 * exact: levels are kept in integer units of 1/60,000 token, so one millisecond adds exactly
 * `refillPerMinute` units, and no rounding can grant a token early or refuse one late. Over any interval
 * of `d` ms a key is granted at most `capacity + d * refillPerMinute / 60000` tokens, as long as its
 * bucket stays in the table (an evicted bucket that was not full is forgotten: the price of bounded
 * memory, LOGIN-RATE-11).
 */
import { ApiMisuse } from '@parley/wire';
import type { AddressLimits } from './config.js';
import { validateSection } from './config.js';

/** One token, in the units of a bucket's level: a minute of refill at one token per minute. */
const UNITS_PER_TOKEN = 60_000;

export type TakeResult = { readonly ok: true } | { readonly ok: false; readonly retryAfterMs: number };

export interface TokenBucketCounters {
  /** Takes granted / refused. */
  granted: number;
  refused: number;
  /** Buckets evicted when full (forgetting them changes no decision). */
  evictedFull: number;
  /** Buckets evicted while not full, least recently used first: their keys start over with a full bucket. */
  evictedActive: number;
  /** Sweeps of the whole table for full buckets (at most one per maxKeys/4 new keys). */
  sweeps: number;
}

interface Bucket {
  /** Units held at `atMs`, 0..capacity * UNITS_PER_TOKEN. */
  level: number;
  atMs: number;
}

const GRANTED: TakeResult = Object.freeze({ ok: true });

/**
 * A table of token buckets keyed by address key (see `addressKey`), at most `maxKeys` of them. A key
 * never seen has a full bucket. The table is a Map in least-recently-used order: every take moves its
 * key to the end.
 */
export class TokenBucketTable {
  readonly capacity: number;
  readonly refillPerMinute: number;
  readonly maxKeys: number;
  readonly counters: TokenBucketCounters = { granted: 0, refused: 0, evictedFull: 0, evictedActive: 0, sweeps: 0 };
  readonly #capacityUnits: number;
  readonly #buckets = new Map<string, Bucket>();
  readonly #sweepEvery: number;
  #newKeysSinceSweep: number;

  constructor(config: Pick<AddressLimits, 'capacity' | 'refillPerMinute' | 'maxKeys'>) {
    const { capacity, refillPerMinute, maxKeys } = config;
    validateSection('address', { ipv4PrefixBits: 32, ipv6PrefixBits: 64, capacity, refillPerMinute, maxKeys });
    this.capacity = capacity;
    this.refillPerMinute = refillPerMinute;
    this.maxKeys = maxKeys;
    this.#capacityUnits = capacity * UNITS_PER_TOKEN;
    this.#sweepEvery = Math.max(1, Math.ceil(maxKeys / 4));
    this.#newKeysSinceSweep = this.#sweepEvery;
  }

  /** Buckets held now (never more than maxKeys). */
  get size(): number {
    return this.#buckets.size;
  }

  /**
   * Takes `cost` tokens from `key`'s bucket [LOGIN-RATE-8]: granted when the bucket holds them, else
   * refused with the wait until it will (nothing is taken then). `cost` is an integer in 1..capacity.
   */
  take(key: string, nowMs: number, cost = 1): TakeResult {
    if (!Number.isInteger(cost) || cost < 1 || cost > this.capacity) {
      throw new ApiMisuse(`token bucket: cost ${cost} is not an integer in 1..${this.capacity}`);
    }
    const now = Math.floor(nowMs);
    const costUnits = cost * UNITS_PER_TOKEN;
    const bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      // A new key has a full bucket, so the take is granted; make room first [LOGIN-RATE-10].
      if (this.#buckets.size >= this.maxKeys) this.#evictOne(now);
      this.#newKeysSinceSweep++;
      this.#buckets.set(key, { level: this.#capacityUnits - costUnits, atMs: now });
      this.counters.granted++;
      return GRANTED;
    }
    this.#refill(bucket, now);
    // Most recently used goes last.
    this.#buckets.delete(key);
    this.#buckets.set(key, bucket);
    if (bucket.level >= costUnits) {
      bucket.level -= costUnits;
      this.counters.granted++;
      return GRANTED;
    }
    this.counters.refused++;
    return { ok: false, retryAfterMs: this.#msToGain(costUnits - bucket.level) };
  }

  /** Tokens `key` holds at `nowMs` (capacity for a key the table does not hold); changes nothing. */
  tokens(key: string, nowMs: number): number {
    const bucket = this.#buckets.get(key);
    if (bucket === undefined) return this.capacity;
    return this.#levelAt(bucket, Math.floor(nowMs)) / UNITS_PER_TOKEN;
  }

  /** Removes every bucket that is full at `nowMs` (forgetting it changes nothing); returns how many. */
  prune(nowMs: number): number {
    const now = Math.floor(nowMs);
    let removed = 0;
    for (const [key, bucket] of this.#buckets) {
      if (this.#isFull(bucket, now)) {
        this.#buckets.delete(key);
        removed++;
      }
    }
    return removed;
  }

  /**
   * [LOGIN-RATE-11] Evicts one bucket: the least recently used if it is full; else, at most once per
   * maxKeys/4 new keys, every full bucket (so the sweeps cost O(1) amortised per new key); else the least
   * recently used, full or not.
   */
  #evictOne(now: number): void {
    const first = this.#buckets.entries().next();
    if (first.done) return;
    const [lruKey, lru] = first.value;
    if (this.#isFull(lru, now)) {
      this.#buckets.delete(lruKey);
      this.counters.evictedFull++;
      return;
    }
    if (this.#newKeysSinceSweep >= this.#sweepEvery) {
      this.#newKeysSinceSweep = 0;
      this.counters.sweeps++;
      const removed = this.prune(now);
      this.counters.evictedFull += removed;
      if (removed > 0) return;
    }
    this.#buckets.delete(lruKey);
    this.counters.evictedActive++;
  }

  #levelAt(bucket: Bucket, now: number): number {
    if (now <= bucket.atMs) return bucket.level; // a clock that went back refills nothing
    const deficit = this.#capacityUnits - bucket.level;
    const elapsed = now - bucket.atMs;
    // Compare before multiplying out of the exact range: a long-idle bucket is simply full.
    if (elapsed >= Math.ceil(deficit / this.refillPerMinute)) return this.#capacityUnits;
    return bucket.level + elapsed * this.refillPerMinute;
  }

  #isFull(bucket: Bucket, now: number): boolean {
    return this.#levelAt(bucket, now) >= this.#capacityUnits;
  }

  #refill(bucket: Bucket, now: number): void {
    bucket.level = this.#levelAt(bucket, now);
    if (now > bucket.atMs) bucket.atMs = now;
  }

  /** The whole milliseconds until `units` more have been refilled. */
  #msToGain(units: number): number {
    let ms = Math.ceil(units / this.refillPerMinute);
    if (ms * this.refillPerMinute < units) ms++; // guard the division's rounding: never announce too early
    return ms;
  }
}

/** Prefix lengths for `addressKey`. */
export interface AddressKeyOptions {
  /** 32 (default): one bucket per IPv4 address. */
  readonly ipv4PrefixBits?: number;
  /** 64 (default): one bucket per IPv6 /64, the smallest block one host is normally given. */
  readonly ipv6PrefixBits?: number;
}

/**
 * [LOGIN-RATE-9] The bucket key of a source address, as a socket reports it: an IPv4 address
 * ('192.0.2.1'), or an IPv6 address in any RFC 4291 text form, optionally in brackets or with a zone
 * ('fe80::1%eth0'). IPv6 is aggregated to its /64 (so a host cannot rotate through the 2^64 addresses of
 * its subnet to get fresh buckets) and IPv4 to /32, unless `options` says otherwise; an IPv4-mapped IPv6
 * address ('::ffff:192.0.2.1', what a dual-stack socket reports) is keyed as the IPv4 address it maps.
 * Keys: '192.0.2.1' (or '192.0.2.0/24' with a shorter prefix) and '2001:db8:0:1::/64' (RFC 5952 form).
 * Throws ApiMisuse when `address` is not an IP address.
 */
export function addressKey(address: string, options: AddressKeyOptions = {}): string {
  const v4Bits = options.ipv4PrefixBits ?? 32;
  const v6Bits = options.ipv6PrefixBits ?? 64;
  if (!Number.isInteger(v4Bits) || v4Bits < 0 || v4Bits > 32) throw new ApiMisuse(`ipv4PrefixBits ${v4Bits}`);
  if (!Number.isInteger(v6Bits) || v6Bits < 0 || v6Bits > 128) throw new ApiMisuse(`ipv6PrefixBits ${v6Bits}`);
  let text = address.trim();
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1);
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  if (!text.includes(':')) {
    const v4 = parseIpv4(text);
    if (v4 === undefined) throw new ApiMisuse(`not an IP address: ${JSON.stringify(address)}`);
    return ipv4Key(v4, v4Bits);
  }
  const groups = parseIpv6(text);
  if (groups === undefined) throw new ApiMisuse(`not an IP address: ${JSON.stringify(address)}`);
  // ::ffff:a.b.c.d, the IPv4-mapped form (RFC 4291 §2.5.5.2).
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const hi = groups[6]!;
    const lo = groups[7]!;
    return ipv4Key([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff], v4Bits);
  }
  return ipv6Key(groups, v6Bits);
}

function parseIpv4(text: string): number[] | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const bytes: number[] = [];
  for (const part of parts) {
    if (!/^[0-9]{1,3}$/.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    bytes.push(n);
  }
  return bytes;
}

/** The eight 16-bit groups of an IPv6 address in RFC 4291 §2.2 text form, or undefined. */
function parseIpv6(text: string): number[] | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parseGroups = (part: string, allowV4Tail: boolean): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    const items = part.split(':');
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      if (allowV4Tail && i === items.length - 1 && item.includes('.')) {
        const v4 = parseIpv4(item);
        if (v4 === undefined) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(item)) return undefined;
        out.push(Number.parseInt(item, 16));
      }
    }
    return out;
  };
  if (halves.length === 1) {
    const groups = parseGroups(text, true);
    return groups !== undefined && groups.length === 8 ? groups : undefined;
  }
  const head = parseGroups(halves[0]!, false);
  const tail = parseGroups(halves[1]!, true);
  if (head === undefined || tail === undefined || head.length + tail.length > 7) return undefined;
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

function ipv4Key(bytes: readonly number[], bits: number): string {
  const masked = bytes.map((b, i) => b & maskByte(bits - 8 * i, 8));
  const text = masked.join('.');
  return bits === 32 ? text : `${text}/${bits}`;
}

function ipv6Key(groups: readonly number[], bits: number): string {
  const masked = groups.map((g, i) => g & maskByte(bits - 16 * i, 16));
  const text = formatIpv6(masked);
  return bits === 128 ? text : `${text}/${bits}`;
}

/** The mask of a `width`-bit field of which the first `bits` (clamped to 0..width) are kept. */
function maskByte(bits: number, width: number): number {
  const keep = Math.max(0, Math.min(width, bits));
  return keep === 0 ? 0 : ((1 << width) - 1) ^ ((1 << (width - keep)) - 1);
}

/** RFC 5952 §4: lower case, no leading zeros, the longest run of two or more zero groups as '::'. */
function formatIpv6(groups: readonly number[]): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}
