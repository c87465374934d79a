/**
 * The simulator at scale (DESIGN.md §9: "100,000 nodes on one core without trouble"), small enough for
 * every test run: 10,000 hosts and 200,000 deliveries, checked for correctness only (no timing assertions;
 * `pnpm bench` measures the full-size run, bench/sim.ts).
 */
import { describe, expect, it } from 'vitest';
import { deliveryWorkload } from '../../bench/sim.js';

describe('scale', () => {
  it('10,000 hosts move 200,000 datagrams, every one delivered, in one bounded run', () => {
    const r = deliveryWorkload(10_000, 200_000);
    expect(r.sim.hostCount).toBe(10_000);
    expect(r.sent).toBe(200_000);
    expect(r.deliveries).toBe(200_000);
    expect(r.events).toBe(200_000); // one event per datagram: nothing else was scheduled
    expect(r.sim.queue.size).toBe(0); // it stopped by itself
    expect(r.virtualMs).toBeGreaterThan(0);
  });
});
