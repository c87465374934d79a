/**
 * Simulated TCP streams (DESIGN.md §9; spec/05-network.md; semantics in src/sim/stream.ts): order,
 * backpressure, end, reset, refusal, timeouts, NATs (outbound only) and firewalls.
 */
import { describe, expect, it } from 'vitest';
import { NAT_PRESETS, Simulator, type SimulatorOptions } from '../../src/sim/index.js';
import { connect, serve } from './stream-side.js';

function setup(options: SimulatorOptions = {}) {
  const sim = new Simulator({ seed: 'streams', ...options });
  const a = sim.addHost();
  const b = sim.addHost();
  const accepted = serve(b);
  return { sim, a, b, accepted };
}

const text = (s: string) => new TextEncoder().encode(s);

describe('streams', () => {
  it('connect takes one round trip; bytes arrive in order despite jitter', () => {
    const { sim, a, accepted } = setup({ link: { latencyMs: 5, jitterMs: 30 } });
    const c = connect(a, sim.host(1)!);
    for (let i = 0; i < 200; i++) c.stream!.write(text(`${i},`));
    sim.run();
    expect(c.connects).toBe(1);
    expect(accepted).toHaveLength(1);
    const want = Array.from({ length: 200 }, (_, i) => `${i},`).join('');
    expect(accepted[0]!.text).toBe(want);
  });

  it('backpressure: write() false above the high-water mark, onDrain as the uplink drains, bandwidth paces delivery', () => {
    const { sim, a, accepted } = setup({ highWaterMark: 16_384, link: { bandwidth: 1_000_000, latencyMs: 1 } });
    const c = connect(a, sim.host(1)!);
    sim.run();
    const chunk = new Uint8Array(8_192);
    let writes = 0;
    let falses = 0;
    const total = 1_000_000;
    const pump = () => {
      while (writes * chunk.length < total) {
        writes++;
        if (!c.stream!.write(chunk)) {
          falses++;
          return;
        }
      }
    };
    const t0 = sim.now;
    pump();
    expect(c.stream!.bufferedAmount).toBeGreaterThanOrEqual(16_384);
    while (writes * chunk.length < total) {
      const d = c.drains;
      expect(sim.runUntil(() => c.drains > d, 10_000)).toBe(true);
      pump();
    }
    sim.run();
    expect(falses).toBeGreaterThan(10);
    expect(accepted[0]!.bytes).toBe(writes * chunk.length);
    expect(c.stream!.bufferedAmount).toBe(0);
    // ~1 MB at 1 MB/s (plus headers): about a second of virtual time, not instant.
    expect(sim.now - t0).toBeGreaterThan(1000);
    expect(sim.now - t0).toBeLessThan(1100);
  });

  it('end() is a half-close: the peer gets onEnd, answers, and both close without error', () => {
    const { sim, a, accepted } = setup();
    const c = connect(a, sim.host(1)!);
    c.stream!.write(text('question'));
    c.stream!.end();
    sim.run();
    const s = accepted[0]!;
    expect(s.text).toBe('question');
    expect(s.ends).toBe(1);
    expect(c.closes + s.closes).toBe(0);
    s.stream!.write(text('answer'));
    s.stream!.end();
    sim.run();
    expect(c.text).toBe('answer');
    expect([c.closes, s.closes]).toEqual([1, 1]);
    expect([c.error, s.error]).toEqual([undefined, undefined]);
  });

  it('reset(): the peer gets ECONNRESET, the resetting side ECLOSED; data after a reset is answered by RST', () => {
    const { sim, a, accepted } = setup();
    const c = connect(a, sim.host(1)!);
    sim.run();
    c.stream!.write(text('lost?'));
    c.stream!.reset();
    expect(c.stream!.write(text('after'))).toBe(false);
    sim.run();
    expect(c.error?.code).toBe('ECLOSED');
    expect(accepted[0]!.error?.code).toBe('ECONNRESET');
    expect([c.closes, accepted[0]!.closes]).toEqual([1, 1]);
  });

  it('nothing listening: ECONNREFUSED; no answer: ETIMEDOUT after timeoutMs', () => {
    const { sim, a, b } = setup();
    const refused = connect(a, b, 81);
    const fw = sim.addFirewall({ blockInbound: true });
    const silent = sim.addHost({ behind: fw.id });
    serve(silent);
    const t0 = sim.now;
    const timedOut = connect(a, silent, 80, 3_000);
    sim.run();
    expect(refused.error?.code).toBe('ECONNREFUSED');
    expect(timedOut.error?.code).toBe('ETIMEDOUT');
    expect(timedOut.connects).toBe(0);
    expect(sim.now - t0).toBeGreaterThanOrEqual(3_000);
  });

  it('through a NAT streams are outbound only: out works, an inbound SYN is dropped (ETIMEDOUT)', () => {
    const sim = new Simulator();
    const nat = sim.addNat({ ...NAT_PRESETS.fullCone });
    const inside = sim.addHost({ behind: nat.id });
    const pub = sim.addHost();
    const atPub = serve(pub);
    serve(inside, 80);
    const out = connect(inside, pub);
    const inbound = connect(pub, nat.publicHost, 80, 2_000);
    out.stream!.write(text('from inside'));
    sim.run();
    expect(out.connects).toBe(1);
    expect(atPub[0]!.text).toBe('from inside');
    expect(atPub[0]!.stream!.remote.host).toBe(nat.publicHost);
    atPub[0]!.stream!.write(text('back'));
    sim.run();
    expect(out.text).toBe('back');
    expect(inbound.error?.code).toBe('ETIMEDOUT');
  });

  it('NAT mapping expiry: the outside end times out; the inside end gets ECONNRESET on its next write', () => {
    const sim = new Simulator({ streamTimeoutMs: 5_000 });
    const nat = sim.addNat({ ...NAT_PRESETS.symmetric, timeoutMs: { tcp: 60_000 } });
    const inside = sim.addHost({ behind: nat.id });
    const pub = sim.addHost();
    const atPub = serve(pub);
    const c = connect(inside, pub);
    sim.run();
    sim.run({ until: sim.now + 120_000 }); // idle past the mapping timeout
    atPub[0]!.stream!.write(text('to a dead mapping'));
    sim.run();
    expect(atPub[0]!.error?.code).toBe('ETIMEDOUT');
    c.stream!.write(text('from a new mapping'));
    sim.run();
    expect(c.error?.code).toBe('ECONNRESET');
  });

  it('a listener behind a firewall that blocks inbound cannot be reached (SYN dropped)', () => {
    const sim = new Simulator({ trace: true });
    const fw = sim.addFirewall({ blockInbound: true });
    const h = sim.addHost({ behind: fw.id });
    serve(h);
    const c = connect(sim.addHost(), h, 80, 1_000);
    sim.run();
    expect(c.error?.code).toBe('ETIMEDOUT');
    expect(sim.trace!.records.some((r) => r.segment === 'syn' && r.reason === 'filtered')).toBe(true);
  });
});
