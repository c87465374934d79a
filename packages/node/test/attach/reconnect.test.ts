/**
 * The spread of reconnections (src/attach/reconnect.ts, 09 NODE-ATTACH-1): a whole network loses its
 * supernodes at the same instant and they come back 20 s later. With full jitter the attempts arrive
 * spread out — measured, not assumed: a chi-square test of the first attempts against the uniform
 * distribution, and a bound on the busiest second once the supernodes are back.
 */
import { seededRandom } from '@parley/wire';
import { describe, expect, it } from 'vitest';
import { ReconnectSchedule, STABLE_ATTACHMENT_MS } from '../../src/attach/reconnect.js';

const NODES = 10_000;
/** A uniform float in [0, 1) from a seeded byte source (the node's transports give `float` directly). */
const floats = (seed: string) => {
  const r = seededRandom(seed);
  return { float: () => Buffer.from(r.randomBytes(4)).readUInt32BE(0) / 2 ** 32 };
};

describe('reconnection with exponential backoff and full jitter', () => {
  it('[NODE-ATTACH-1] the first attempts of 10,000 nodes that lost their supernode at once are uniform over [0, 1 s] (chi-square, 20 bins)', () => {
    const bins = new Array<number>(20).fill(0);
    for (let i = 0; i < NODES; i++) {
      const s = new ReconnectSchedule(floats(`node ${i}`));
      const d = s.lost(0);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(1_000);
      bins[Math.min(19, Math.floor(d / 50))]!++;
    }
    const expected = NODES / 20;
    const chi2 = bins.reduce((a, o) => a + (o - expected) ** 2 / expected, 0);
    // 19 degrees of freedom: the 99.9th percentile is 43.8
    expect(chi2).toBeLessThan(43.8);
  });

  it('[NODE-ATTACH-1] supernodes back after 20 s: no second sees more than 10% of the network, half are back within 16 s of the return, nine in ten within 60 s', () => {
    const downUntil = 20_000;
    const perSecond = new Map<number, number>();
    const back: number[] = [];
    for (let i = 0; i < NODES; i++) {
      const s = new ReconnectSchedule(floats(`net ${i}`));
      let t = s.lost(0);
      let attempts = 1;
      while (t < downUntil) {
        t += s.failed();
        attempts++;
        expect(attempts).toBeLessThan(40);
      }
      const second = Math.floor(t / 1_000);
      perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
      back.push(t);
    }
    const busiest = Math.max(...perSecond.values());
    expect(busiest).toBeLessThan(NODES * 0.1);
    // half the network is back within 16 s of the supernodes' return, nine in ten within 60 s (measured
    // with these seeds: see the note of issue 6), and nobody waits past the 5-minute cap
    back.sort((a, b) => a - b);
    const at = (q: number) => back[Math.floor(q * (back.length - 1))]!;
    expect(at(0.5) - downUntil).toBeLessThan(16_000);
    expect(at(0.9) - downUntil).toBeLessThan(60_000);
    expect(at(1) - downUntil).toBeLessThan(300_000);
    // and without jitter all 10,000 would have come in the same millisecond
    expect(perSecond.size).toBeGreaterThan(10);
  });

  it('[NODE-ATTACH-1] the bound doubles from 1 s to 5 min; a hint is honoured; a stable attachment resets the backoff', () => {
    const random = { float: () => 0.999_999 };
    const s = new ReconnectSchedule(random);
    const waits = Array.from({ length: 12 }, () => s.failed());
    expect(waits.slice(0, 4)).toEqual([1_000, 2_000, 4_000, 8_000]);
    expect(waits.at(-1)).toBe(300_000);
    expect(s.failed({ retryAfterMs: 30_000, retryJitterMs: 0 })).toBe(30_000);
    s.attached(1_000);
    expect(s.lost(1_000 + STABLE_ATTACHMENT_MS - 1)).toBe(300_000); // not stable: no reset
    s.attached(2_000_000);
    expect(s.lost(2_000_000 + STABLE_ATTACHMENT_MS)).toBe(1_000);
  });
});
