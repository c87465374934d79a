/**
 * The token buckets behind the rate limits of spec/08-connectivity.md (./src/connectivity/rate.ts): never
 * more granted than burst + rate × elapsed, and a refusal's wait is exactly when the tokens are back.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BucketTable, fullBucket, type Rate, takeTokens } from '../../src/connectivity/rate.js';

const rateArb = fc.record({
  burst: fc.integer({ min: 1, max: 1_000 }),
  rate: fc.integer({ min: 1, max: 1_000 }),
  periodMs: fc.constantFrom(1_000, 60_000),
});

describe('token buckets [NAT-RES-1] [NAT-OBS-5] [NAT-PUNCH-5] [RELAY-QUOTA-2]', () => {
  it('[NAT-RES-1] grants at most burst + rate × elapsed / period, whatever the times and costs of the takes', () => {
    fc.assert(
      fc.property(
        rateArb,
        fc.array(fc.tuple(fc.integer({ min: 0, max: 5_000 }), fc.integer({ min: 1, max: 50 })), { maxLength: 200 }),
        (r: Rate, steps) => {
          const b = fullBucket(r, 0);
          let now = 0;
          let granted = 0;
          for (const [dt, cost] of steps) {
            now += dt;
            if (takeTokens(b, now, r, cost) === 0) granted += cost;
            expect(granted).toBeLessThanOrEqual(r.burst + (now * r.rate) / r.periodMs + 1e-6);
          }
        },
      ),
    );
  });

  it('[NAT-RES-1] a refusal takes nothing, and its wait is when the tokens are there', () => {
    fc.assert(
      fc.property(rateArb, fc.integer({ min: 1, max: 20 }), (r: Rate, cost) => {
        fc.pre(cost <= r.burst);
        const b = fullBucket(r, 0);
        while (takeTokens(b, 0, r, cost) === 0);
        const wait = takeTokens(b, 0, r, cost);
        expect(wait).toBeGreaterThan(0);
        expect(takeTokens(b, Math.max(0, wait - 1e-3), r, cost)).toBeGreaterThan(0);
        expect(takeTokens(b, wait + 1e-6, r, cost)).toBe(0);
      }),
    );
  });

  it('[NAT-RES-1] a table forgets buckets untouched for two refill periods, and a forgotten key starts full', () => {
    const t = new BucketTable({ burst: 2, rate: 2, periodMs: 1_000 }, 0);
    for (let i = 0; i < 100; i++) t.take(`k${i}`, 0);
    expect(t.size).toBe(100);
    expect(t.take('k1', 10)).toBe(0);
    expect(t.take('k1', 10)).toBeGreaterThan(0); // empty now
    t.take('other', 1_000); // one turn: the old keys move to the older generation
    expect(t.size).toBe(101);
    t.take('other', 2_000); // two turns: they are gone
    expect(t.size).toBe(1);
    expect(t.take('k1', 2_000)).toBe(0);
  });
});
