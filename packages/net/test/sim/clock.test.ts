/**
 * The simulator's virtual clock and seeded randomness (DESIGN.md §2, §9; spec/05-network.md).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EventQueue, SeededRandom, SimEvent, Simulator } from '../../src/sim/index.js';

class Mark extends SimEvent {
  constructor(
    readonly name: string,
    readonly log: string[],
  ) {
    super();
  }
  fire(): void {
    this.log.push(this.name);
  }
}

describe('event queue', () => {
  it('pops in time order, equal times in insertion order', () => {
    const q = new EventQueue();
    const log: string[] = [];
    const r = new SeededRandom(1);
    const expected: { t: number; i: number }[] = [];
    for (let i = 0; i < 5000; i++) {
      const t = r.below(50); // many equal times
      q.push(new Mark(`${i}`, log), t);
      expected.push({ t, i });
    }
    expected.sort((a, b) => a.t - b.t || a.i - b.i);
    while (q.size > 0) q.pop()!.fire();
    expect(log).toEqual(expected.map((e) => `${e.i}`));
    expect(q.pop()).toBeUndefined();
  });

  // The calendar queue must give exactly the order of a sorted list by (time, insertion), whatever the
  // mix of pushes and pops: equal times, times in the bucket being run or earlier, at the ring's edge
  // (32 ms ahead), far beyond it, and infinite.
  it('[NET-CLOCK-2] interleaved pushes and pops come out exactly as a reference sorted by (time, insertion)', () => {
    const delta = fc.oneof(
      fc.constant(0),
      fc.double({ min: 0, max: 0.05, noNaN: true }),
      fc.double({ min: 0, max: 40, noNaN: true }),
      fc.constantFrom(31.99, 32, 32.0078125, 64),
      fc.double({ min: 1_000, max: 1e7, noNaN: true }),
      fc.constant(Number.POSITIVE_INFINITY),
    );
    const op = fc.oneof(
      { weight: 3, arbitrary: delta.map((d) => ({ push: d })) },
      { weight: 2, arbitrary: fc.constant({ pop: true as const }) },
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const q = new EventQueue();
        const log: string[] = [];
        let reference: { t: number; i: number }[] = [];
        let now = 0;
        let i = 0;
        const popBoth = () => {
          reference.sort((a, b) => (a.t === b.t ? a.i - b.i : a.t < b.t ? -1 : 1));
          const want = reference.shift();
          const got = q.pop();
          expect(got === undefined ? undefined : (got as Mark).name).toBe(want === undefined ? undefined : `${want.i}`);
          if (want !== undefined && Number.isFinite(want.t)) now = want.t;
        };
        for (const o of ops) {
          if ('push' in o) {
            const t = now + o.push; // the simulator never schedules before now
            q.push(new Mark(`${i}`, log), t);
            reference.push({ t, i: i++ });
          } else popBoth();
          expect(q.size).toBe(reference.length);
        }
        while (reference.length > 0) popBoth();
        expect(q.pop()).toBeUndefined();
        reference = [];
      }),
    );
  });
});

describe('Simulator clock', () => {
  it('runs timers in deadline order, equal deadlines in the order set, and never waits on wall time', () => {
    const sim = new Simulator();
    const fired: string[] = [];
    const start = Date.now();
    sim.clock.setTimer(3_600_000, () => fired.push('hour'));
    sim.clock.setTimer(10, () => fired.push('10a'));
    sim.clock.setTimer(0, () => fired.push('0'));
    sim.clock.setTimer(10, () => fired.push('10b'));
    const cancelled = sim.clock.setTimer(5, () => fired.push('cancelled'));
    cancelled.cancel();
    expect(fired).toEqual([]); // never inside the call
    sim.run();
    expect(fired).toEqual(['0', '10a', '10b', 'hour']);
    expect(sim.now).toBe(3_600_000);
    expect(Date.now() - start).toBeLessThan(1000);
  });

  it('run({ until }) stops before later events and sets the clock to `until`; maxEvents bounds a run', () => {
    const sim = new Simulator();
    const fired: number[] = [];
    for (const t of [5, 10, 15, 20]) sim.clock.setTimer(t, () => fired.push(t));
    expect(sim.run({ until: 12 })).toBe(2);
    expect(sim.now).toBe(12);
    expect(fired).toEqual([5, 10]);
    expect(sim.run({ maxEvents: 1 })).toBe(1);
    expect(fired).toEqual([5, 10, 15]);
    expect(sim.step()).toBe(true);
    expect(sim.step()).toBe(false);
    expect(sim.now).toBe(20);
  });

  it('runUntil stops as soon as the predicate holds, or at the timeout with the clock advanced', () => {
    const sim = new Simulator();
    let n = 0;
    const tick = () => {
      n++;
      sim.clock.setTimer(100, tick);
    };
    sim.clock.setTimer(100, tick);
    expect(sim.runUntil(() => n === 3, 10_000)).toBe(true);
    expect(sim.now).toBe(300);
    expect(sim.runUntil(() => n === 1000, 1_000)).toBe(false);
    expect(sim.now).toBe(1_300);
    expect(sim.runUntil(() => false, 50)).toBe(false);
    expect(sim.now).toBe(1_350);
  });

  it('[NET-HANDLER-3] a handler’s exception surfaces out of the run loop; the simulator can run on', () => {
    const sim = new Simulator();
    const h = sim.addHost();
    const got: number[] = [];
    const s = h.bindUdp(
      { port: 1 },
      {
        onMessage: (d) => {
          got.push(d[0]!);
          if (d[0] === 1) throw new Error('handler bug');
        },
      },
    );
    s.send(new Uint8Array([1]), { host: h.address, port: 1 });
    s.send(new Uint8Array([2]), { host: h.address, port: 1 });
    expect(() => sim.run()).toThrow('handler bug');
    sim.run();
    expect(got).toEqual([1, 2]);
  });

  it('a negative or NaN delay runs the timer now', () => {
    const sim = new Simulator();
    const fired: string[] = [];
    sim.clock.setTimer(Number.NaN, () => fired.push('nan'));
    sim.addHost().clock.setTimer(-5, () => fired.push('negative'));
    sim.run();
    expect(fired).toEqual(['nan', 'negative']);
    expect(sim.now).toBe(0);
  });

  it('host timers vanish when the host crashes; simulator timers do not', () => {
    const sim = new Simulator();
    const h = sim.addHost();
    const fired: string[] = [];
    h.clock.setTimer(100, () => fired.push('host'));
    sim.clock.setTimer(100, () => fired.push('sim'));
    sim.crash(h, 50);
    sim.run();
    expect(fired).toEqual(['sim']);
    expect(h.clock.now()).toBe(100);
  });
});

describe('seeded randomness', () => {
  it('the same seed gives the same stream; another seed, stream kind or index a different one', () => {
    const a = SeededRandom.fromSeed('s', 1, 7).randomBytes(64);
    expect(SeededRandom.fromSeed('s', 1, 7).randomBytes(64)).toEqual(a);
    expect(SeededRandom.fromSeed('t', 1, 7).randomBytes(64)).not.toEqual(a);
    expect(SeededRandom.fromSeed('s', 2, 7).randomBytes(64)).not.toEqual(a);
    expect(SeededRandom.fromSeed('s', 1, 8).randomBytes(64)).not.toEqual(a);
  });

  it('float() is uniform in [0, 1) (chi-square over 16 bins, fixed seed)', () => {
    const r = SeededRandom.fromSeed('uniform');
    const bins = new Array(16).fill(0);
    const n = 160_000;
    let inRange = true;
    for (let i = 0; i < n; i++) {
      const f = r.float();
      inRange &&= f >= 0 && f < 1;
      bins[Math.floor(f * 16)]++;
    }
    expect(inRange).toBe(true);
    const e = n / 16;
    const chi = bins.reduce((s, o) => s + ((o - e) * (o - e)) / e, 0);
    expect(chi).toBeLessThan(37.7); // p = 0.001, 15 degrees of freedom
  });

  it('randomBytes(n) has exactly n bytes for odd lengths too', () => {
    const r = SeededRandom.fromSeed(5);
    for (const n of [0, 1, 3, 4, 5, 33]) expect(r.randomBytes(n)).toHaveLength(n);
  });

  it('each host has its own stream: adding hosts or drawing on one host does not perturb another', () => {
    const one = new Simulator({ seed: 'hosts' });
    const a1 = one.addHost();
    const b1 = one.addHost();
    const two = new Simulator({ seed: 'hosts' });
    const a2 = two.addHost();
    const b2 = two.addHost();
    for (let i = 0; i < 10; i++) two.addHost().random.float();
    a2.random.randomBytes(100);
    expect(b2.random.randomBytes(32)).toEqual(b1.random.randomBytes(32));
    expect(a1.random.randomBytes(32)).not.toEqual(b1.random.randomBytes(32));
  });
});
