/**
 * Routing through NAT boxes and firewalls (DESIGN.md §9; spec/05-network.md §4-6): the simulator calls the
 * pure models of nat.ts and firewall.ts at the edges of the path.
 */
import { describe, expect, it } from 'vitest';
import { NAT_PRESETS, Simulator } from '../../src/sim/index.js';
import type { NetAddress } from '../../src/transport.js';

function collect(sim: Simulator) {
  const got: { at: number; text: string; from: NetAddress }[] = [];
  return {
    got,
    handlers: {
      onMessage: (d: Uint8Array, from: NetAddress) =>
        got.push({ at: sim.now, text: new TextDecoder().decode(d), from }),
    },
  };
}
const bytes = (s: string) => new TextEncoder().encode(s);

describe('NAT routing', () => {
  it('an inside host reaches a public one; the reply comes back through the mapping; unsolicited packets are filtered', () => {
    const sim = new Simulator({ trace: true });
    const nat = sim.addNat({ ...NAT_PRESETS.portRestrictedCone });
    const inside = sim.addHost({ behind: nat.id });
    const server = sim.addHost();
    const other = sim.addHost();
    const ci = collect(sim);
    const cs = collect(sim);
    const si = inside.bindUdp({ port: 5000 }, ci.handlers);
    const ss = server.bindUdp({ port: 3478 }, cs.handlers);
    const so = other.bindUdp({ port: 3478 }, { onMessage() {} });
    si.send(bytes('hello'), { host: server.address, port: 3478 });
    sim.run();
    expect(cs.got).toHaveLength(1);
    const mapped = cs.got[0]!.from;
    expect(mapped).toEqual({ host: nat.publicHost, port: 5000 }); // port preservation
    ss.send(bytes('reply'), mapped);
    so.send(bytes('unsolicited'), mapped); // APDF: another host is filtered
    sim.run();
    expect(ci.got.map((g) => g.text)).toEqual(['reply']);
    expect(ci.got[0]!.from).toEqual({ host: server.address, port: 3478 });
    expect(sim.trace!.records.filter((r) => r.reason === 'filtered')).toHaveLength(1);
  });

  it('a full-cone NAT lets anyone reach a mapping; a mapping expires after its timeout', () => {
    const sim = new Simulator();
    const nat = sim.addNat({ ...NAT_PRESETS.fullCone, timeoutMs: { udp: 30_000 } });
    const inside = sim.addHost({ behind: nat.id });
    const server = sim.addHost();
    const other = sim.addHost();
    const ci = collect(sim);
    inside.bindUdp({ port: 6000 }, ci.handlers).send(bytes('x'), { host: server.address, port: 1 });
    const so = other.bindUdp({}, { onMessage() {} });
    sim.run();
    so.send(bytes('anyone'), { host: nat.publicHost, port: 6000 });
    sim.run({ until: 40_000 });
    so.send(bytes('too late'), { host: nat.publicHost, port: 6000 });
    sim.run();
    expect(ci.got.map((g) => g.text)).toEqual(['anyone']);
  });

  it('hosts behind the same NAT reach each other on their private addresses; hairpinning only when enabled', () => {
    for (const hairpinning of [true, false]) {
      const sim = new Simulator({ trace: true });
      const nat = sim.addNat({ ...NAT_PRESETS.fullCone, hairpinning });
      const x = sim.addHost({ behind: nat.id });
      const y = sim.addHost({ behind: nat.id });
      const server = sim.addHost();
      const cy = collect(sim);
      const sx = x.bindUdp({ port: 7000 }, { onMessage() {} });
      const sy = y.bindUdp({ port: 7001 }, cy.handlers);
      sy.send(bytes('open'), { host: server.address, port: 1 }); // y gets a mapping on port 7001
      sx.send(bytes('lan'), { host: y.address, port: 7001 });
      sim.run();
      sx.send(bytes('hairpin'), { host: nat.publicHost, port: 7001 });
      sim.run();
      const texts = cy.got.map((g) => g.text);
      expect(cy.got[0]!.from).toEqual({ host: x.address, port: 7000 });
      if (hairpinning) {
        expect(texts).toEqual(['lan', 'hairpin']);
        expect(cy.got[1]!.from.host).toBe(nat.publicHost); // RFC 4787 REQ-9a: the external source
      } else {
        expect(texts).toEqual(['lan']);
        expect(sim.trace!.records.some((r) => r.reason === 'hairpin')).toBe(true);
      }
    }
  });

  it('a symmetric NAT gives a different external port per destination', () => {
    const sim = new Simulator();
    const nat = sim.addNat({ ...NAT_PRESETS.symmetric });
    const inside = sim.addHost({ behind: nat.id });
    const s1 = sim.addHost();
    const s2 = sim.addHost();
    const c1 = collect(sim);
    const c2 = collect(sim);
    s1.bindUdp({ port: 1 }, c1.handlers);
    s2.bindUdp({ port: 1 }, c2.handlers);
    const si = inside.bindUdp({ port: 4000 }, { onMessage() {} });
    si.send(bytes('a'), { host: s1.address, port: 1 });
    si.send(bytes('b'), { host: s2.address, port: 1 });
    sim.run();
    expect(c1.got[0]!.from.host).toBe(nat.publicHost);
    expect(c1.got[0]!.from.port).not.toBe(c2.got[0]!.from.port);
  });
});

describe('firewall routing', () => {
  it('blockUdp drops UDP both ways; the host keeps its public address', () => {
    const sim = new Simulator({ trace: true });
    const fw = sim.addFirewall({ blockUdp: true });
    const h = sim.addHost({ behind: fw.id });
    expect(h.address).toBe(fw.publicHost);
    const other = sim.addHost();
    const ch = collect(sim);
    const co = collect(sim);
    const sh = h.bindUdp({ port: 1 }, ch.handlers);
    const so = other.bindUdp({ port: 1 }, co.handlers);
    sh.send(bytes('out'), { host: other.address, port: 1 });
    so.send(bytes('in'), { host: h.address, port: 1 });
    sim.run();
    expect(ch.got).toEqual([]);
    expect(co.got).toEqual([]);
    expect(sim.trace!.records.filter((r) => r.reason === 'filtered')).toHaveLength(2);
  });

  it('blockInbound passes replies to flows the inside opened, drops unsolicited packets', () => {
    const sim = new Simulator();
    const fw = sim.addFirewall({ blockInbound: true });
    const h = sim.addHost({ behind: fw.id });
    const other = sim.addHost();
    const ch = collect(sim);
    const sh = h.bindUdp({ port: 1 }, ch.handlers);
    const so = other.bindUdp({ port: 2 }, { onMessage() {} });
    so.send(bytes('unsolicited'), { host: h.address, port: 1 });
    sim.run();
    sh.send(bytes('out'), { host: other.address, port: 2 });
    sim.run();
    so.send(bytes('reply'), { host: h.address, port: 1 });
    sim.run();
    expect(ch.got.map((g) => g.text)).toEqual(['reply']);
  });
});
