/**
 * Faults at given times (DESIGN.md §9; spec/05-network.md; semantics in src/sim/stream.ts): partitions that
 * heal, host crashes and restarts.
 */
import { describe, expect, it } from 'vitest';
import { Simulator } from '../../src/sim/index.js';
import { connect, serve } from './stream-side.js';

const text = (s: string) => new TextEncoder().encode(s);

describe('partitions', () => {
  it('drop datagrams between the groups only while active, and only across groups', () => {
    const sim = new Simulator({ trace: true });
    const [a, b, c] = [sim.addHost(), sim.addHost(), sim.addHost()];
    const got: string[] = [];
    const sa = a.bindUdp({ port: 1 }, { onMessage() {} });
    for (const [h, name] of [
      [b, 'b'],
      [c, 'c'],
    ] as const)
      h.bindUdp({ port: 1 }, { onMessage: (d) => got.push(`${name}:${new TextDecoder().decode(d)}`) });
    sim.partition([a], [b], 1_000, 2_000);
    for (const t of [500, 1_500, 2_500]) {
      sim.at(t, () => {
        sa.send(text(`${t}`), { host: b.address, port: 1 });
        sa.send(text(`${t}`), { host: c.address, port: 1 });
      });
    }
    sim.run();
    expect(got.sort()).toEqual(['b:2500', 'b:500', 'c:1500', 'c:2500', 'c:500']);
    expect(sim.trace!.records.filter((r) => r.reason === 'partition')).toHaveLength(1);
  });

  it('a stream crossing a partition stalls and resumes, in order and complete, when it heals in time', () => {
    const sim = new Simulator({ streamTimeoutMs: 30_000 });
    const [a, b] = [sim.addHost(), sim.addHost()];
    const accepted = serve(b);
    const c = connect(a, b);
    sim.run();
    sim.partition([a], [b], sim.now, sim.now + 10_000);
    for (let i = 0; i < 10; i++) c.stream!.write(text(`${i};`));
    sim.run({ until: sim.now + 9_000 });
    expect(accepted[0]!.text).toBe('');
    sim.run();
    expect(accepted[0]!.text).toBe('0;1;2;3;4;5;6;7;8;9;');
    expect(c.closes).toBe(0);
  });

  it('a stream whose partition outlives streamTimeoutMs fails with ETIMEDOUT at the writing end', () => {
    const sim = new Simulator({ streamTimeoutMs: 5_000 });
    const [a, b] = [sim.addHost(), sim.addHost()];
    const accepted = serve(b);
    const c = connect(a, b);
    sim.run();
    const t0 = sim.now;
    sim.partition([a], [b], t0, t0 + 60_000);
    c.stream!.write(text('stuck'));
    sim.run();
    expect(c.error?.code).toBe('ETIMEDOUT');
    expect(accepted[0]!.closes).toBe(0); // it never sent: it cannot know
  });
});

describe('crash and restart', () => {
  it('a crashed host’s sockets vanish silently; datagrams to it are dropped; after restart it starts afresh', () => {
    const sim = new Simulator({ trace: true });
    const [a, b] = [sim.addHost(), sim.addHost()];
    const got: string[] = [];
    const sa = a.bindUdp({ port: 1 }, { onMessage() {} });
    const errors: string[] = [];
    b.bindUdp(
      { port: 1 },
      { onMessage: (d) => got.push(new TextDecoder().decode(d)), onError: (e) => errors.push(e.code) },
    );
    sim.crash(b, 100);
    sim.restart(b, 1_000, (h) =>
      h.bindUdp({ port: 1 }, { onMessage: (d) => got.push(`new:${new TextDecoder().decode(d)}`) }),
    );
    for (const t of [50, 500, 1_500]) sim.at(t, () => sa.send(text(`${t}`), { host: b.address, port: 1 }));
    sim.run();
    expect(got).toEqual(['50', 'new:1500']);
    expect(errors).toEqual([]);
    expect(sim.trace!.records.some((r) => r.reason === 'no-listener' || r.reason === 'crashed')).toBe(true);
  });

  it('peers of a crashed host time out while it is down, and get ECONNRESET once it is back', () => {
    const sim = new Simulator({ streamTimeoutMs: 5_000 });
    const [a, b, d] = [sim.addHost(), sim.addHost(), sim.addHost()];
    serve(b);
    const whileDown = connect(a, b);
    const afterRestart = connect(d, b);
    sim.run();
    expect([whileDown.connects, afterRestart.connects]).toEqual([1, 1]);
    const t0 = sim.now;
    sim.crash(b, t0 + 100);
    sim.restart(b, t0 + 20_000);
    sim.at(t0 + 200, () => whileDown.stream!.write(text('anyone?')));
    sim.at(t0 + 30_000, () => afterRestart.stream!.write(text('anyone?')));
    sim.run();
    expect(whileDown.error?.code).toBe('ETIMEDOUT');
    expect(afterRestart.error?.code).toBe('ECONNRESET');
  });

  it('a connect to a crashed host times out; to a restarted host without a listener it is refused', () => {
    const sim = new Simulator();
    const [a, b] = [sim.addHost(), sim.addHost()];
    serve(b);
    sim.crash(b, 0);
    sim.run();
    const down = connect(a, b, 80, 2_000);
    sim.run();
    sim.restart(b, sim.now);
    sim.run();
    const up = connect(a, b, 80);
    sim.run();
    expect(down.error?.code).toBe('ETIMEDOUT');
    expect(up.error?.code).toBe('ECONNREFUSED');
  });
});
