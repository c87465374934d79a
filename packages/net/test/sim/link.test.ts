/**
 * Links of the simulator (DESIGN.md §9; spec/05-network.md): latency, jitter, loss, bandwidth, MTU.
 */
import { describe, expect, it } from 'vitest';
import { type LinkConfig, type SimHost, Simulator } from '../../src/sim/index.js';
import type { NetAddress } from '../../src/transport.js';

interface Received {
  at: number;
  data: Uint8Array;
  from: NetAddress;
}

function pair(link: Partial<LinkConfig>, seed = 'link') {
  const sim = new Simulator({ seed, link, trace: true });
  const a = sim.addHost();
  const b = sim.addHost();
  const got: Received[] = [];
  const sa = a.bindUdp({ port: 1000 }, { onMessage() {} });
  b.bindUdp({ port: 2000 }, { onMessage: (data, from) => got.push({ at: sim.now, data, from }) });
  const to = { host: b.address, port: 2000 };
  return { sim, a, b, sa, got, to };
}

describe('links', () => {
  it('a datagram takes both links’ latencies; `from` is the sender’s address', () => {
    const { sim, a, sa, got, to } = pair({ latencyMs: 7 });
    sa.send(new Uint8Array([1]), to);
    expect(got).toHaveLength(0); // never inside send
    sim.run();
    expect(got).toHaveLength(1);
    expect(got[0]!.at).toBe(14);
    expect(got[0]!.from).toEqual({ host: a.address, port: 1000 });
  });

  it('jitter stays within [latency, latency + jitter] per link and reorders datagrams', () => {
    const { sim, sa, got, to } = pair({ latencyMs: 10, jitterMs: 20 });
    for (let i = 0; i < 500; i++) sa.send(new Uint8Array([i & 255, i >> 8]), to);
    sim.run();
    expect(got).toHaveLength(500);
    for (const r of got) {
      expect(r.at).toBeGreaterThanOrEqual(20);
      expect(r.at).toBeLessThan(60);
    }
    const order = got.map((r) => r.data[0]! + 256 * r.data[1]!);
    expect(order).not.toEqual([...order].sort((x, y) => x - y));
  });

  it('loss drops datagrams at the configured rate (fixed seed; within 4 standard deviations)', () => {
    const { sim, sa, got, to } = pair({ loss: 0.1 });
    const n = 20_000;
    for (let i = 0; i < n; i++) sa.send(new Uint8Array(1), to);
    sim.run();
    // Two links at 10% each: delivered with probability 0.81.
    const p = 0.81;
    const sd = Math.sqrt(n * p * (1 - p));
    expect(Math.abs(got.length - n * p)).toBeLessThan(4 * sd);
    expect(sim.trace!.records.filter((r) => r.reason === 'loss')).toHaveLength(n - got.length);
  });

  it('bandwidth serialises datagrams back to back', () => {
    // 100,000 B/s: a 972-byte payload is 1,000 bytes on the wire, 10 ms per link.
    const { sim, sa, got, to } = pair({ latencyMs: 0, bandwidth: 100_000 });
    for (let i = 0; i < 5; i++) sa.send(new Uint8Array(972), to);
    sim.run();
    expect(got.map((r) => Math.round(r.at))).toEqual([20, 30, 40, 50, 60]);
  });

  it('datagrams over the MTU are dropped (EMSGSIZE at the sender when its own link is the limit)', () => {
    const sim = new Simulator({ link: { mtu: 1500 }, trace: true });
    const a = sim.addHost();
    const small = sim.addHost({ link: { mtu: 600 } });
    const got: number[] = [];
    const errors: string[] = [];
    const sa = a.bindUdp({}, { onMessage() {}, onError: (e) => errors.push(e.code) });
    const sb = small.bindUdp({ port: 9 }, { onMessage: (d) => got.push(d.length) });
    sa.send(new Uint8Array(1472), { host: small.address, port: 9 }); // fits a's link, not small's
    sa.send(new Uint8Array(572), { host: small.address, port: 9 });
    sa.send(new Uint8Array(1473), { host: small.address, port: 9 }); // over a's own MTU
    sim.run();
    expect(got).toEqual([572]);
    expect(errors).toEqual(['EMSGSIZE']);
    expect(sim.trace!.records.filter((r) => r.reason === 'mtu')).toHaveLength(2);
    sb.close();
  });

  it('no socket bound, or an unknown address: dropped with a reason', () => {
    const { sim, sa, b, got } = pair({});
    sa.send(new Uint8Array(1), { host: b.address, port: 9999 });
    sa.send(new Uint8Array(1), { host: '203.0.113.9', port: 1 });
    sim.run();
    expect(got).toHaveLength(0);
    expect(sim.trace!.records.map((r) => r.reason).filter(Boolean)).toEqual(['no-route', 'no-listener']);
  });
});

describe('addresses', () => {
  it('public hosts get distinct public addresses; hosts behind a NAT get private ones (never 10.255/16)', () => {
    const sim = new Simulator();
    const hosts: SimHost[] = [];
    for (let i = 0; i < 600; i++) hosts.push(sim.addHost());
    expect(new Set(hosts.map((h) => h.address)).size).toBe(600);
    for (const h of hosts) expect(h.address).not.toMatch(/^(10\.|192\.168\.|127\.)|\.(0|255)$/);
    for (let i = 0; i < 300; i++) {
      const nat = sim.addNat();
      const inside = sim.addHost({ behind: nat.id });
      expect(inside.address).toMatch(/^(10\.|192\.168\.)/);
      expect(inside.address).not.toMatch(/^10\.255\./);
    }
  });
});
