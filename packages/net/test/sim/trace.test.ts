/**
 * Determinism and the packet trace (DESIGN.md §2, §9; spec/05-network.md): the same seed and program give
 * the identical event trace; the timeline explains a run, with payloads named by a caller's decoder.
 */
import { describe, expect, it } from 'vitest';
import { deliveryWorkload } from '../../bench/sim.js';
import { NAT_PRESETS, Simulator } from '../../src/sim/index.js';
import { connect, serve } from './stream-side.js';

/** A little of everything: lossy jittery links, a NAT, UDP chatter driven by host randomness, a stream, a partition and a crash. */
function scenario(seed: string): Simulator {
  const sim = new Simulator({ seed, trace: true, link: { latencyMs: 5, jitterMs: 15, loss: 0.05 } });
  const nat = sim.addNat({ ...NAT_PRESETS.portRestrictedCone });
  const hosts = [sim.addHost(), sim.addHost(), sim.addHost({ behind: nat.id }), sim.addHost()];
  const sockets = hosts.map((h, i) =>
    h.bindUdp(
      { port: 4000 + i },
      {
        onMessage: (data, from) => {
          if (data[0]! < 40) sockets[i]!.send(new Uint8Array([data[0]! + 1, ...h.random.randomBytes(3)]), from);
        },
      },
    ),
  );
  for (let i = 1; i < hosts.length; i++) {
    const h = hosts[i]!;
    const tick = () => {
      sockets[i]!.send(new Uint8Array([0]), { host: hosts[0]!.address, port: 4000 });
      if (h.clock.now() < 3_000) h.clock.setTimer(50 + h.random.float() * 50, tick);
    };
    h.clock.setTimer(h.random.float() * 100, tick);
  }
  serve(hosts[1]!);
  const c = connect(hosts[2]!, hosts[1]!);
  c.stream!.write(new TextEncoder().encode('hello over tcp'));
  sim.partition([hosts[0]!], [hosts[3]!], 200, 400);
  sim.crash(hosts[3]!, 600);
  sim.run({ until: 5_000 });
  return sim;
}

describe('determinism', () => {
  it('the same seed gives the identical trace; another seed a different one', () => {
    const a = scenario('seed-1');
    const b = scenario('seed-1');
    const c = scenario('seed-2');
    expect(a.trace!.total).toBeGreaterThan(50);
    expect(a.trace!.digest()).toBe(b.trace!.digest());
    expect(a.trace!.timeline()).toBe(b.trace!.timeline());
    expect(c.trace!.digest()).not.toBe(a.trace!.digest());
    // The scenario exercised the fates it was meant to.
    const reasons = new Set(a.trace!.records.map((r) => r.reason));
    expect(reasons).toContain('loss');
    expect(reasons).toContain('partition');
  });

  it('a large run is deterministic too (delivery workload digest)', () => {
    const run = (seed: string) => {
      const r = deliveryWorkload(300, 5_000, seed);
      return `${r.deliveries}/${r.events}/${r.virtualMs}`;
    };
    expect(run('x')).toBe(run('x'));
    expect(run('x')).not.toBe(run('y'));
  });
});

describe('trace', () => {
  it('is off by default', () => {
    expect(new Simulator().trace).toBeUndefined();
  });

  it('prints a readable timeline with the decoder’s names for payloads', () => {
    const sim = new Simulator({ trace: true, link: { latencyMs: 1 } });
    const a = sim.addHost();
    const b = sim.addHost();
    const sa = a.bindUdp({ port: 1 }, { onMessage() {} });
    b.bindUdp({ port: 2 }, { onMessage() {} });
    sa.send(new Uint8Array([1, 0xaa]), { host: b.address, port: 2 });
    sa.send(new Uint8Array([2]), { host: b.address, port: 3 });
    sa.send(new Uint8Array([9]), { host: b.address, port: 2 });
    sim.run();
    const names: Record<number, string> = { 1: 'Ping', 2: 'Pong' };
    const timeline = sim.trace!.timeline((bytes) => {
      const name = names[bytes[0]!];
      if (name === undefined) throw new Error(`unknown type ${bytes[0]}`);
      return name;
    });
    const lines = timeline.split('\n');
    expect(lines).toHaveLength(6);
    expect(lines[0]).toMatch(/^\s+0\.000 ms {2}udp {2}sent\s+30\.0\.0\.1:1 -> 30\.0\.0\.2:2 {2}2 B {2}Ping$/);
    expect(timeline).toMatch(/2\.000 ms {2}udp {2}delivered\s+30\.0\.0\.1:1 -> 30\.0\.0\.2:2 {2}2 B {2}Ping/);
    expect(timeline).toMatch(/dropped\(no-listener\)\s+30\.0\.0\.1:1 -> 30\.0\.0\.2:3 {2}1 B {2}Pong/);
    expect(timeline).toContain('<undecodable: unknown type 9>');
    expect(sim.trace!.timeline()).not.toContain('Ping');
  });

  it('records stream segments with their kind', () => {
    const sim = new Simulator({ trace: true });
    const [a, b] = [sim.addHost(), sim.addHost()];
    serve(b);
    const c = connect(a, b);
    c.stream!.write(new Uint8Array(10));
    c.stream!.end();
    sim.run();
    const delivered = sim.trace!.records.filter((r) => r.event === 'delivered').map((r) => r.segment);
    expect(delivered).toEqual(['syn', 'syn-ack', 'data', 'fin']);
  });
});
