/**
 * Per-address token buckets and address keys (spec/06-login-server.md §6.2, LOGIN-RATE-8..11):
 * examples, then properties: the grant bound over every interval, exact retry hints, bounded memory,
 * lossless eviction of full buckets, and amortised sweeps.
 */
import { ErrorCode, isParleyError } from '@parley/wire';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addressKey, DEFAULT_LIMITS, LimitsConfigError, TokenBucketTable } from '../../src/limits/index.js';

describe('token bucket: examples', () => {
  it('[LOGIN-RATE-8] grants a full bucket, then refuses with the exact wait for the next token', () => {
    const t = new TokenBucketTable({ capacity: 3, refillPerMinute: 6, maxKeys: 10 }); // a token per 10 s
    for (let i = 0; i < 3; i++) expect(t.take('192.0.2.1', 1_000)).toEqual({ ok: true });
    expect(t.take('192.0.2.1', 1_000)).toEqual({ ok: false, retryAfterMs: 10_000 });
    expect(t.take('192.0.2.1', 10_999)).toEqual({ ok: false, retryAfterMs: 1 });
    expect(t.take('192.0.2.1', 11_000)).toEqual({ ok: true });
    // Another key has its own full bucket.
    expect(t.take('192.0.2.2', 11_000)).toEqual({ ok: true });
    expect(t.tokens('192.0.2.2', 11_000)).toBe(2);
    expect(t.counters).toMatchObject({ granted: 5, refused: 2 });
  });

  it('[LOGIN-RATE-8] is exact at the boundary: a token per minute is not there after 59,999 ms', () => {
    const t = new TokenBucketTable({ capacity: 1, refillPerMinute: 1, maxKeys: 10 });
    expect(t.take('k', 0)).toEqual({ ok: true });
    expect(t.take('k', 59_999)).toEqual({ ok: false, retryAfterMs: 1 });
    expect(t.take('k', 60_000)).toEqual({ ok: true });
    // 7 per minute: the next token after 8,571.43 ms, so 8,572 ms.
    const u = new TokenBucketTable({ capacity: 1, refillPerMinute: 7, maxKeys: 10 });
    u.take('k', 0);
    expect(u.take('k', 0)).toEqual({ ok: false, retryAfterMs: 8_572 });
    expect(u.take('k', 8_571)).toEqual({ ok: false, retryAfterMs: 1 });
    expect(u.take('k', 8_572)).toEqual({ ok: true });
  });

  it('[LOGIN-RATE-8] a take costing several tokens waits for all of them; a refusal takes nothing', () => {
    const t = new TokenBucketTable({ capacity: 5, refillPerMinute: 60, maxKeys: 10 }); // a token per second
    expect(t.take('k', 0, 4)).toEqual({ ok: true });
    expect(t.take('k', 0, 3)).toEqual({ ok: false, retryAfterMs: 2_000 });
    expect(t.tokens('k', 0)).toBe(1);
    expect(t.take('k', 2_000, 3)).toEqual({ ok: true });
  });

  it('[LOGIN-RATE-8] never refills beyond capacity; a clock that goes back refills nothing', () => {
    const t = new TokenBucketTable({ capacity: 2, refillPerMinute: 60, maxKeys: 10 });
    t.take('k', 5_000);
    t.take('k', 5_000);
    expect(t.tokens('k', 1_000_000)).toBe(2);
    expect(t.tokens('k', 0)).toBe(0);
    expect(t.take('k', 0)).toEqual({ ok: false, retryAfterMs: 1_000 });
  });

  it('[LOGIN-RATE-8] rejects a cost outside 1..capacity and a nonsense configuration', () => {
    const t = new TokenBucketTable({ capacity: 2, refillPerMinute: 60, maxKeys: 10 });
    for (const cost of [0, -1, 1.5, 3, Number.NaN]) {
      expect(() => t.take('k', 0, cost)).toThrow(expect.objectContaining({ code: ErrorCode.API_MISUSE }));
    }
    for (const bad of [{ capacity: 0 }, { refillPerMinute: 0.5 }, { maxKeys: 0 }, { capacity: -3 }]) {
      let caught: unknown;
      try {
        new TokenBucketTable({ capacity: 2, refillPerMinute: 60, maxKeys: 10, ...bad });
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(LimitsConfigError);
    }
  });

  it('[LOGIN-RATE-11] evicts a full bucket before an active one, and the LRU active one only when none is full', () => {
    const t = new TokenBucketTable({ capacity: 2, refillPerMinute: 60, maxKeys: 3 });
    t.take('a', 0, 2); // drained
    t.take('b', 0); // refilled after 1 s
    t.take('c', 0, 2);
    t.take('a', 100); // refused, but touched: a is now most recent
    // At 1.5 s only b is full; the LRU order is b, c, a. Adding d evicts b.
    t.take('d', 1_500);
    expect(t.size).toBe(3);
    expect(t.counters.evictedFull).toBe(1);
    expect(t.tokens('a', 1_500)).toBeLessThan(2);
    expect(t.tokens('c', 1_500)).toBeLessThan(2);
    // Now nothing is full at 1.5 s: the least recently used (c) goes.
    t.take('e', 1_500);
    expect(t.counters.evictedActive).toBe(1);
    expect(t.tokens('c', 1_500)).toBe(2); // forgotten: a full bucket again
    expect(t.tokens('a', 1_500)).toBeLessThan(2); // kept
  });

  it('[LOGIN-RATE-11] a sweep finds a full bucket that is not the least recently used', () => {
    const t = new TokenBucketTable({ capacity: 10, refillPerMinute: 60, maxKeys: 3 });
    t.take('x', 0, 10); // LRU, drained: full again only at 10 s
    t.take('y', 0, 1); // full again at 1 s
    t.take('z', 0, 10);
    t.take('w', 2_000); // x is LRU and not full; the sweep finds y
    expect(t.counters).toMatchObject({ evictedFull: 1, evictedActive: 0, sweeps: 1 });
    expect(t.tokens('x', 2_000)).toBe(2);
  });

  it('[LOGIN-RATE-10] prune removes exactly the full buckets', () => {
    const t = new TokenBucketTable({ capacity: 2, refillPerMinute: 60, maxKeys: 100 });
    t.take('a', 0);
    t.take('b', 0, 2);
    expect(t.prune(1_000)).toBe(1);
    expect(t.size).toBe(1);
    expect(t.tokens('b', 1_000)).toBe(1);
  });

  it('DEFAULT_LIMITS.address is accepted', () => {
    const { capacity, refillPerMinute, maxKeys } = DEFAULT_LIMITS.address;
    expect(new TokenBucketTable({ capacity, refillPerMinute, maxKeys }).capacity).toBe(20);
  });
});

type Take = { readonly key: number; readonly dt: number; readonly cost: number };

const arbConfig = fc.record({
  capacity: fc.integer({ min: 1, max: 20 }),
  refillPerMinute: fc.oneof(fc.integer({ min: 1, max: 120 }), fc.integer({ min: 1, max: 6_000_000 })),
});

const arbTakes = (keys: number, maxDt: number): fc.Arbitrary<Take[]> =>
  fc.array(
    fc.record({ key: fc.nat({ max: keys - 1 }), dt: fc.nat({ max: maxDt }), cost: fc.integer({ min: 1, max: 20 }) }),
    { maxLength: 150 },
  );

describe('token bucket: properties', () => {
  it('[LOGIN-RATE-8] over any interval a key is granted at most capacity + rate x elapsed tokens', () => {
    fc.assert(
      fc.property(arbConfig, arbTakes(3, 5_000), (config, takes) => {
        const table = new TokenBucketTable({ ...config, maxKeys: 3 });
        const grants: { at: number; cost: number }[][] = [[], [], []];
        let now = 0;
        for (const tk of takes) {
          now += tk.dt;
          const cost = Math.min(tk.cost, config.capacity);
          if (table.take(`k${tk.key}`, now, cost).ok) grants[tk.key]!.push({ at: now, cost });
        }
        expect(table.counters.evictedActive).toBe(0);
        // Exact, in 1/60,000 token: granted * 60000 <= capacity * 60000 + elapsed_ms * refillPerMinute.
        for (const g of grants) {
          for (let i = 0; i < g.length; i++) {
            let sum = 0;
            for (let j = i; j < g.length; j++) {
              sum += g[j]!.cost;
              const elapsed = g[j]!.at - g[i]!.at;
              expect(sum * 60_000).toBeLessThanOrEqual(config.capacity * 60_000 + elapsed * config.refillPerMinute);
            }
          }
        }
      }),
    );
  });

  it('[LOGIN-RATE-8] a refusal names the exact wait: one ms earlier is still too early', () => {
    fc.assert(
      fc.property(arbConfig, arbTakes(2, 3_000), (config, takes) => {
        const table = new TokenBucketTable({ ...config, maxKeys: 2 });
        let now = 0;
        for (const tk of takes) {
          now += tk.dt;
          const cost = Math.min(tk.cost, config.capacity);
          const key = `k${tk.key}`;
          const r = table.take(key, now, cost);
          if (!r.ok) {
            expect(r.retryAfterMs).toBeGreaterThanOrEqual(1);
            expect(r.retryAfterMs).toBeLessThanOrEqual(Math.ceil((cost * 60_000) / config.refillPerMinute));
            expect(table.tokens(key, now + r.retryAfterMs)).toBeGreaterThanOrEqual(cost);
            expect(table.tokens(key, now + r.retryAfterMs - 1)).toBeLessThan(cost);
          }
        }
      }),
    );
  });

  it('[LOGIN-RATE-10] never holds more than maxKeys buckets, however many keys arrive', () => {
    fc.assert(
      fc.property(arbConfig, fc.integer({ min: 1, max: 16 }), arbTakes(64, 2_000), (config, maxKeys, takes) => {
        const table = new TokenBucketTable({ ...config, maxKeys });
        let now = 0;
        for (const tk of takes) {
          now += tk.dt;
          table.take(`k${tk.key}`, now, Math.min(tk.cost, config.capacity));
          expect(table.size).toBeLessThanOrEqual(maxKeys);
        }
      }),
    );
  });

  it('[LOGIN-RATE-11] evicting only full buckets changes no decision: same answers as an unbounded table', () => {
    fc.assert(
      fc.property(arbConfig, fc.integer({ min: 1, max: 8 }), arbTakes(16, 20_000), (config, maxKeys, takes) => {
        const bounded = new TokenBucketTable({ ...config, maxKeys });
        const unbounded = new TokenBucketTable({ ...config, maxKeys: 1_000 });
        let now = 0;
        for (const tk of takes) {
          now += tk.dt;
          const cost = Math.min(tk.cost, config.capacity);
          const a = bounded.take(`k${tk.key}`, now, cost);
          const b = unbounded.take(`k${tk.key}`, now, cost);
          if (bounded.counters.evictedActive > 0) return; // a bucket was forgotten: answers may differ now
          expect(a).toEqual(b);
        }
      }),
    );
  });

  it('[LOGIN-RATE-10][LOGIN-RATE-11] with evictions, a key gets at most one extra capacity per active eviction', () => {
    fc.assert(
      fc.property(arbConfig, fc.integer({ min: 1, max: 4 }), arbTakes(8, 3_000), (config, maxKeys, takes) => {
        const table = new TokenBucketTable({ ...config, maxKeys });
        const grants: { at: number; cost: number; evictions: number }[][] = Array.from({ length: 8 }, () => []);
        let now = 0;
        for (const tk of takes) {
          now += tk.dt;
          const cost = Math.min(tk.cost, config.capacity);
          if (table.take(`k${tk.key}`, now, cost).ok) {
            grants[tk.key]!.push({ at: now, cost, evictions: table.counters.evictedActive });
          }
        }
        for (const g of grants) {
          for (let i = 0; i < g.length; i++) {
            let sum = 0;
            for (let j = i; j < g.length; j++) {
              sum += g[j]!.cost;
              const extra = g[j]!.evictions - g[i]!.evictions; // active evictions inside the interval
              const elapsed = g[j]!.at - g[i]!.at;
              expect(sum * 60_000).toBeLessThanOrEqual(
                (1 + extra) * config.capacity * 60_000 + elapsed * config.refillPerMinute,
              );
            }
          }
        }
      }),
    );
  });

  it('[LOGIN-RATE-11] sweeps are amortised: at most one per maxKeys/4 new keys', () => {
    const maxKeys = 1_000;
    const table = new TokenBucketTable({ capacity: 5, refillPerMinute: 1, maxKeys });
    // A flood of distinct addresses, each draining its bucket: nothing is ever full, every eviction is LRU.
    const flood = 100_000;
    for (let i = 0; i < flood; i++) table.take(`2001:db8:${i.toString(16)}::/64`, i, 5);
    expect(table.size).toBe(maxKeys);
    expect(table.counters.evictedActive).toBe(flood - maxKeys);
    expect(table.counters.sweeps).toBeLessThanOrEqual(Math.ceil(flood / (maxKeys / 4)) + 1);
  });
});

describe('address keys', () => {
  it('[LOGIN-RATE-9] IPv4: one key per address by default, a shorter prefix on request', () => {
    expect(addressKey('192.0.2.1')).toBe('192.0.2.1');
    expect(addressKey(' 192.0.2.1 ')).toBe('192.0.2.1');
    expect(addressKey('192.0.2.77', { ipv4PrefixBits: 24 })).toBe('192.0.2.0/24');
    expect(addressKey('192.0.2.77', { ipv4PrefixBits: 20 })).toBe('192.0.0.0/20');
  });

  it('[LOGIN-RATE-9] IPv6: every address of one /64 shares a key; another /64 does not', () => {
    const k = addressKey('2001:db8:0:1:aaaa:bbbb:cccc:dddd');
    expect(k).toBe('2001:db8:0:1::/64');
    expect(addressKey('2001:0DB8:0000:0001::1')).toBe(k);
    expect(addressKey('[2001:db8:0:1::ffff]')).toBe(k);
    expect(addressKey('2001:db8:0:2::1')).not.toBe(k);
    expect(addressKey('fe80::1%eth0')).toBe('fe80::/64');
    expect(addressKey('2001:db8::1', { ipv6PrefixBits: 128 })).toBe('2001:db8::1');
    expect(addressKey('2001:db8:0:1::1', { ipv6PrefixBits: 48 })).toBe('2001:db8::/48');
    expect(addressKey('::')).toBe('::/64');
  });

  it('[LOGIN-RATE-9] an IPv4-mapped IPv6 address (a dual-stack socket) is keyed as its IPv4 address', () => {
    expect(addressKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(addressKey('::FFFF:c000:0201')).toBe('192.0.2.1');
  });

  it('[LOGIN-RATE-9] rejects what is not an IP address', () => {
    for (const bad of [
      '',
      'localhost',
      '192.0.2',
      '192.0.2.256',
      '1.2.3.4.5',
      '2001:db8::1::2',
      '2001:db8:1:2:3:4:5:6:7',
      '12345::',
      'g::1',
      '1:2:3:4:5:6:7',
    ]) {
      let caught: unknown;
      try {
        addressKey(bad);
      } catch (e) {
        caught = e;
      }
      expect(isParleyError(caught, ErrorCode.API_MISUSE), bad).toBe(true);
    }
  });

  it('[LOGIN-RATE-9] property: any text form of any address in a /64 gives that /64 key, parseable and stable', () => {
    const group = fc.integer({ min: 0, max: 0xffff });
    fc.assert(
      fc.property(
        fc.array(group, { minLength: 8, maxLength: 8 }),
        fc.array(group, { minLength: 4, maxLength: 4 }),
        fc.boolean(),
        (groups, otherHost, upper) => {
          const mapped = (g: readonly number[]): boolean => g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff;
          if (mapped(groups) || mapped([...groups.slice(0, 4), ...otherHost])) return; // keyed as IPv4
          const full = groups.map((g) => g.toString(16).padStart(4, '0')).join(':');
          const sameNet = [...groups.slice(0, 4), ...otherHost].map((g) => g.toString(16)).join(':');
          const key = addressKey(upper ? full.toUpperCase() : full);
          expect(addressKey(sameNet)).toBe(key);
          expect(key.endsWith('/64')).toBe(true);
          // The key is itself an address (the /64's first), whose key is the key.
          expect(addressKey(key.slice(0, -3))).toBe(key);
        },
      ),
    );
  });
});
