/**
 * Admission control (spec/06-login-server.md §6.3, LOGIN-RATE-12..16): examples, then properties over
 * random sequences of admissions, completions, expiries and cancellations checked against the rules.
 */
import { ErrorCode, isParleyError } from '@parley/wire';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AdmissionLimits } from '../../src/limits/index.js';
import { AdmissionController, DEFAULT_LIMITS, LimitsConfigError } from '../../src/limits/index.js';

const BASE: AdmissionLimits = {
  maxInFlight: 2,
  maxQueued: 3,
  maxQueueWaitMs: 5_000,
  retryMinMs: 1_000,
  retryMaxMs: 60_000,
  jitterRatio: 1,
  initialServiceRate: 10,
  serviceRateTimeConstantMs: 10_000,
};

describe('admission: examples', () => {
  it('[LOGIN-RATE-12][LOGIN-RATE-13] runs maxInFlight, queues maxQueued, refuses the rest with BUSY', () => {
    const a = new AdmissionController(BASE);
    expect(a.admit(0)).toEqual({ kind: 'run' });
    expect(a.admit(0)).toEqual({ kind: 'run' });
    expect(a.admit(0)).toEqual({ kind: 'queued', ticket: 1 });
    expect(a.admit(0)).toEqual({ kind: 'queued', ticket: 2 });
    expect(a.admit(0)).toEqual({ kind: 'queued', ticket: 3 });
    const busy = a.admit(0);
    // Q = 3 waiting, r = 10/s: (3 + 1) / 10 s = 400 ms, raised to retryMinMs; jitter = R.
    expect(busy).toEqual({ kind: 'busy', retryAfterMs: 1_000, jitterMs: 1_000 });
    expect(a.counters).toMatchObject({ admitted: 2, queued: 3, busy: 1 });
  });

  it('[LOGIN-RATE-12] done hands the freed slot to the oldest ticket, first in first out', () => {
    const a = new AdmissionController(BASE);
    a.admit(0);
    a.admit(0);
    a.admit(1);
    a.admit(2);
    expect(a.done(10)).toEqual({ run: 1, dropped: [] });
    expect(a.done(20)).toEqual({ run: 2, dropped: [] });
    expect(a.done(30)).toEqual({ run: undefined, dropped: [] });
    expect(a.inFlight).toBe(1);
    expect(a.admit(40)).toEqual({ kind: 'run' });
  });

  it('[LOGIN-RATE-14] a ticket that has waited maxQueueWaitMs is dropped with a BUSY hint, by expire or by done', () => {
    const a = new AdmissionController(BASE);
    a.admit(0);
    a.admit(0);
    a.admit(100); // ticket 1
    a.admit(200); // ticket 2
    expect(a.nextDeadlineMs()).toBe(5_100);
    expect(a.expire(5_099)).toEqual([]);
    const dropped = a.expire(5_100);
    expect(dropped.map((d) => d.ticket)).toEqual([1]);
    expect(dropped[0]!.retryAfterMs).toBeGreaterThanOrEqual(BASE.retryMinMs);
    expect(a.nextDeadlineMs()).toBe(5_200);
    expect(a.done(6_000)).toEqual({ run: undefined, dropped: [expect.objectContaining({ ticket: 2 })] });
    expect(a.counters.dropped).toBe(2);
    expect(a.nextDeadlineMs()).toBeUndefined();
  });

  it('[LOGIN-RATE-16] refuses at once a request whose expected wait would exceed maxQueueWaitMs', () => {
    // r = 1/s: the 1st waiting request expects 1 s, the 5th 5 s, the 6th 6 s > 5 s.
    const a = new AdmissionController({ ...BASE, maxQueued: 100, initialServiceRate: 1 });
    a.admit(0);
    a.admit(0);
    for (let i = 1; i <= 5; i++) expect(a.admit(0)).toEqual({ kind: 'queued', ticket: i });
    expect(a.admit(0)).toMatchObject({ kind: 'busy', retryAfterMs: 6_000, jitterMs: 6_000 });
  });

  it('[LOGIN-RATE-12] cancel withdraws a queued ticket; done skips it', () => {
    const a = new AdmissionController(BASE);
    a.admit(0);
    a.admit(0);
    a.admit(0);
    a.admit(0);
    expect(a.cancel(1, 0)).toBe(true);
    expect(a.cancel(1, 0)).toBe(false);
    expect(a.done(5)).toEqual({ run: 2, dropped: [] });
    expect(a.counters.cancelled).toBe(1);
  });

  it('done with nothing in flight is API misuse; a nonsense configuration is refused', () => {
    const a = new AdmissionController(BASE);
    expect(() => a.done(0)).toThrow(expect.objectContaining({ code: ErrorCode.API_MISUSE }));
    for (const bad of [{ maxInFlight: 0 }, { maxQueued: -1 }, { retryMinMs: 120_000 }, { maxQueueWaitMs: 1e9 }]) {
      let caught: unknown;
      try {
        new AdmissionController({ ...BASE, ...bad });
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(LimitsConfigError);
      expect(isParleyError(caught, ErrorCode.API_MISUSE)).toBe(true);
    }
  });

  it('[LOGIN-RATE-15] the service rate tracks completions of a saturated server, and ignores idle time', () => {
    const a = new AdmissionController({ ...BASE, maxInFlight: 1, initialServiceRate: 1 });
    // Saturated, one completion every 20 ms (50/s) for 60 s: six time constants.
    let t = 0;
    a.admit(t);
    for (let i = 0; i < 3_000; i++) {
      t += 20;
      a.done(t);
      a.admit(t);
    }
    expect(a.serviceRate(t)).toBeGreaterThan(49);
    expect(a.serviceRate(t)).toBeLessThan(51.5);
    a.done(t);
    // An hour idle (not saturated) teaches nothing: the estimate stays.
    const before = a.serviceRate(t);
    expect(a.serviceRate(t + 3_600_000)).toBe(before);
    // Saturated with no completion for one time constant: the estimate decays by e.
    a.admit(t + 3_600_000);
    expect(a.serviceRate(t + 3_610_000)).toBeCloseTo(before / Math.E, 6);
  });

  it('[LOGIN-RATE-15] a stalled server raises its hint up to retryMaxMs, never beyond', () => {
    const a = new AdmissionController({ ...BASE, maxQueued: 1_000, maxQueueWaitMs: 30_000 });
    a.admit(0);
    a.admit(0);
    a.admit(0);
    const early = a.busyHint(0).retryAfterMs;
    const late = a.busyHint(1_000_000).retryAfterMs;
    expect(late).toBeGreaterThan(early);
    expect(late).toBe(BASE.retryMaxMs);
  });

  it('DEFAULT_LIMITS.admission is accepted', () => {
    expect(new AdmissionController(DEFAULT_LIMITS.admission).limits).toBe(DEFAULT_LIMITS.admission);
  });
});

type Op =
  | { readonly op: 'admit'; readonly dt: number }
  | { readonly op: 'done'; readonly dt: number }
  | { readonly op: 'expire'; readonly dt: number }
  | { readonly op: 'cancel'; readonly dt: number; readonly pick: number };

const arbOp: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('admit' as const), dt: fc.integer({ min: 0, max: 300 }) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('done' as const), dt: fc.integer({ min: 0, max: 300 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('expire' as const), dt: fc.integer({ min: 0, max: 3_000 }) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('cancel' as const),
      dt: fc.integer({ min: 0, max: 100 }),
      pick: fc.nat(),
    }),
  },
);

const arbLimits: fc.Arbitrary<AdmissionLimits> = fc
  .record({
    maxInFlight: fc.integer({ min: 1, max: 6 }),
    maxQueued: fc.integer({ min: 0, max: 8 }),
    maxQueueWaitMs: fc.integer({ min: 1, max: 5_000 }),
    retryMinMs: fc.integer({ min: 1, max: 5_000 }),
    retrySpanMs: fc.integer({ min: 0, max: 60_000 }),
    jitterRatio: fc.double({ min: 0, max: 4, noNaN: true }),
    initialServiceRate: fc.double({ min: 0.001, max: 1_000, noNaN: true }),
    serviceRateTimeConstantMs: fc.integer({ min: 100, max: 60_000 }),
  })
  .map(({ retrySpanMs, ...l }) => ({ ...l, retryMaxMs: Math.min(3_600_000, l.retryMinMs + retrySpanMs) }));

/** What the properties track about every ticket. */
interface Run {
  readonly started: number[];
  readonly dropped: Set<number>;
  readonly cancelled: Set<number>;
  readonly queued: number[];
  readonly hints: { retryAfterMs: number; jitterMs: number }[];
}

function run(limits: AdmissionLimits, ops: readonly Op[], check: (a: AdmissionController) => void): Run {
  const a = new AdmissionController(limits);
  const r: Run = { started: [], dropped: new Set(), cancelled: new Set(), queued: [], hints: [] };
  const waiting: number[] = [];
  let t = 0;
  const drop = (ds: readonly { ticket: number; retryAfterMs: number; jitterMs: number }[]): void => {
    for (const d of ds) {
      expect(r.dropped.has(d.ticket) || r.cancelled.has(d.ticket)).toBe(false);
      r.dropped.add(d.ticket);
      r.hints.push(d);
      waiting.splice(waiting.indexOf(d.ticket), 1);
    }
  };
  const release = (): void => {
    const rel = a.done(t);
    drop(rel.dropped);
    if (rel.run !== undefined) {
      r.started.push(rel.run);
      waiting.splice(waiting.indexOf(rel.run), 1);
    }
  };
  for (const o of ops) {
    t += o.dt;
    switch (o.op) {
      case 'admit': {
        const adm = a.admit(t);
        if (adm.kind === 'queued') {
          r.queued.push(adm.ticket);
          waiting.push(adm.ticket);
        } else if (adm.kind === 'busy') r.hints.push(adm);
        break;
      }
      case 'done':
        if (a.inFlight > 0) release();
        break;
      case 'expire':
        drop(a.expire(t));
        break;
      case 'cancel':
        if (waiting.length > 0) {
          const ticket = waiting[o.pick % waiting.length]!;
          expect(a.cancel(ticket, t)).toBe(true);
          r.cancelled.add(ticket);
          waiting.splice(waiting.indexOf(ticket), 1);
        }
        break;
    }
    check(a);
  }
  // Drain: finish everything running; each release starts or drops what waits.
  while (a.inFlight > 0) {
    t += 1;
    release();
    check(a);
  }
  expect(a.queueLength).toBe(0);
  return r;
}

describe('admission: properties', () => {
  it('[LOGIN-RATE-12] never more than maxInFlight running or maxQueued waiting', () => {
    fc.assert(
      fc.property(arbLimits, fc.array(arbOp, { maxLength: 300 }), (limits, ops) => {
        run(limits, ops, (a) => {
          expect(a.inFlight).toBeLessThanOrEqual(limits.maxInFlight);
          expect(a.queueLength).toBeLessThanOrEqual(limits.maxQueued);
          // A ticket waits only while every slot is taken.
          if (a.queueLength > 0) expect(a.inFlight).toBe(limits.maxInFlight);
        });
      }),
    );
  });

  it('[LOGIN-RATE-12][LOGIN-RATE-14] tickets start in FIFO order; every queued ticket ends started, dropped with BUSY, or cancelled, exactly once', () => {
    fc.assert(
      fc.property(arbLimits, fc.array(arbOp, { maxLength: 300 }), (limits, ops) => {
        const r = run(limits, ops, () => {});
        for (let i = 1; i < r.started.length; i++) expect(r.started[i]!).toBeGreaterThan(r.started[i - 1]!);
        const ends = [...r.started, ...r.dropped, ...r.cancelled].sort((x, y) => x - y);
        expect(ends).toEqual([...r.queued].sort((x, y) => x - y));
      }),
    );
  });

  it('[LOGIN-RATE-15] every BUSY hint has retryAfterMs in [retryMinMs, retryMaxMs] and jitterMs = ceil(R x jitterRatio)', () => {
    fc.assert(
      fc.property(arbLimits, fc.array(arbOp, { maxLength: 300 }), (limits, ops) => {
        const r = run(limits, ops, () => {});
        for (const h of r.hints) {
          expect(Number.isInteger(h.retryAfterMs)).toBe(true);
          expect(h.retryAfterMs).toBeGreaterThanOrEqual(limits.retryMinMs);
          expect(h.retryAfterMs).toBeLessThanOrEqual(limits.retryMaxMs);
          expect(h.jitterMs).toBe(Math.ceil(h.retryAfterMs * limits.jitterRatio));
        }
      }),
    );
  });

  it('[LOGIN-RATE-15] is deterministic: the same inputs give the same answers', () => {
    fc.assert(
      fc.property(arbLimits, fc.array(arbOp, { maxLength: 100 }), (limits, ops) => {
        expect(
          JSON.stringify(
            run(limits, ops, () => {}),
            replacer,
          ),
        ).toBe(
          JSON.stringify(
            run(limits, ops, () => {}),
            replacer,
          ),
        );
      }),
    );
  });
});

function replacer(_key: string, value: unknown): unknown {
  return value instanceof Set ? [...value] : value;
}
