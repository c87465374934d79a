/**
 * The 2,048-counter replay window (spec/03-channels.md §9, CHAN-REPLAY-*): edge cases, and a
 * property test against a reference model (a Set of the counters seen and the highest).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { REPLAY_WINDOW_SIZE, ReplayWindow } from '../../src/datagram/replay-window.js';
import { ErrorCode } from '../../src/errors.js';

type Outcome = 'ok' | 'REPLAYED' | 'TOO_OLD';

function offer(w: ReplayWindow, c: bigint): Outcome {
  try {
    w.accept(c);
    return 'ok';
  } catch (e) {
    return ErrorCode[(e as { code: ErrorCode }).code] as Outcome;
  }
}

/** The reference model: exactly [CHAN-REPLAY-2], with no bitmap. */
class Model {
  seen = new Set<bigint>();
  highest = -1n;
  offer(c: bigint): Outcome {
    if (c <= this.highest && this.highest - c >= BigInt(REPLAY_WINDOW_SIZE)) return 'TOO_OLD';
    if (this.seen.has(c)) return 'REPLAYED';
    this.seen.add(c);
    if (c > this.highest) this.highest = c;
    return 'ok';
  }
}

describe('replay window', () => {
  it('[CHAN-REPLAY-1] is 2,048 counters wide', () => {
    expect(REPLAY_WINDOW_SIZE).toBe(2048);
  });

  it('[CHAN-REPLAY-2] accepts counter 0 first, then rejects it again: REPLAYED', () => {
    const w = new ReplayWindow();
    expect(offer(w, 0n)).toBe('ok');
    expect(offer(w, 0n)).toBe('REPLAYED');
  });

  it('[CHAN-REPLAY-2] 2,047 below the highest is inside the window; 2,048 below is TOO_OLD', () => {
    const w = new ReplayWindow();
    expect(offer(w, 5000n)).toBe('ok');
    expect(offer(w, 5000n - 2047n)).toBe('ok');
    expect(offer(w, 5000n - 2047n)).toBe('REPLAYED');
    expect(offer(w, 5000n - 2048n)).toBe('TOO_OLD');
    expect(offer(w, 0n)).toBe('TOO_OLD');
    expect(offer(w, 4999n)).toBe('ok');
  });

  it('[CHAN-REPLAY-2] out-of-order counters inside the window are each accepted once', () => {
    const w = new ReplayWindow();
    const order = [10n, 3n, 7n, 2n, 9n, 0n, 1n, 8n, 4n, 6n, 5n];
    for (const c of order) expect(offer(w, c)).toBe('ok');
    for (const c of order) expect(offer(w, c)).toBe('REPLAYED');
  });

  it('[CHAN-REPLAY-2] a jump of exactly 2,048 forgets everything behind; a jump of 2,047 keeps the oldest', () => {
    const w = new ReplayWindow();
    for (let c = 0n; c < 64n; c++) w.accept(c);
    expect(offer(w, 63n + 2048n)).toBe('ok');
    expect(offer(w, 63n)).toBe('TOO_OLD');
    expect(offer(w, 64n)).toBe('ok'); // never seen, 2,047 behind
    const v = new ReplayWindow();
    for (let c = 0n; c < 64n; c++) v.accept(c);
    expect(offer(v, 63n + 2047n)).toBe('ok');
    expect(offer(v, 63n)).toBe('REPLAYED'); // still inside, still remembered
    expect(offer(v, 62n)).toBe('TOO_OLD');
  });

  it('[CHAN-REPLAY-2] a bit left from a previous lap of the ring does not make a new counter look replayed', () => {
    const w = new ReplayWindow();
    w.accept(5n);
    w.accept(5n + 2048n + 3n); // wraps; 5 + 2048 shares 5's slot
    expect(offer(w, 5n + 2048n)).toBe('ok');
  });

  it('[CHAN-REPLAY-2] works at the top of the 64-bit range', () => {
    const w = new ReplayWindow();
    const top = 0xffff_ffff_ffff_fffen;
    expect(offer(w, top)).toBe('ok');
    expect(offer(w, top)).toBe('REPLAYED');
    expect(offer(w, top - 1n)).toBe('ok');
    expect(offer(w, top - 2048n)).toBe('TOO_OLD');
  });

  it('[CHAN-REPLAY-3] check() alone never moves the window', () => {
    const w = new ReplayWindow();
    w.accept(100n);
    w.check(100_000n);
    expect(w.highest).toBe(100n);
    expect(offer(w, 99n)).toBe('ok');
  });

  it('[CHAN-REPLAY-1] [CHAN-REPLAY-2] property: same outcomes as the reference model', () => {
    // Counters drawn near a moving base so that the window edges, wraps and jumps are all exercised.
    const step = fc.oneof(
      fc.integer({ min: -2100, max: 40 }),
      fc.integer({ min: -40, max: 2100 }),
      fc.integer({ min: 2040, max: 2060 }),
      fc.integer({ min: -2060, max: -2040 }),
      fc.constant(0),
    );
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 1n << 62n }), fc.array(step, { maxLength: 400 }), (start, steps) => {
        const w = new ReplayWindow();
        const m = new Model();
        let base = start;
        for (const s of steps) {
          const c = base + BigInt(s) < 0n ? 0n : base + BigInt(s);
          expect(offer(w, c)).toBe(m.offer(c));
          if (c > base) base = c;
        }
        expect(w.highest).toBe(m.highest);
      }),
      { numRuns: 300 },
    );
  });
});
