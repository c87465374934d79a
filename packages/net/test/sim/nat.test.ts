/**
 * Property tests of the simulator's NAT model (src/sim/nat.ts) against RFC 4787 / RFC 5382 as
 * spec/05-network.md §5 states them (NET-NAT-*). The last block checks NatBox against a reference model: a
 * slow, obviously correct restatement of the rules (lists and linear scans, full event histories, no lazy
 * collection), on random configurations and random event sequences.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Protocol } from '../../src/sim/middlebox.js';
import {
  NAT_PRESETS,
  type NatBehaviour,
  NatBox,
  type NatConfig,
  type NatPresetName,
  type PortAllocation,
} from '../../src/sim/nat.js';
import type { NetAddress } from '../../src/transport.js';

const PUBLIC = '203.0.113.1';

/** A small seeded float source (mulberry32) so NatBox's port draws are reproducible from fast-check's seed. */
function floats(seed: number): { float(): number } {
  let a = seed >>> 0;
  return {
    float() {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    },
  };
}

const addr = (host: string, port: number): NetAddress => ({ host, port });

const behaviours: readonly NatBehaviour[] = ['endpoint-independent', 'address-dependent', 'address-and-port-dependent'];
const allocations: readonly PortAllocation[] = ['preserve', 'random', 'sequential'];
const arbBehaviour = fc.constantFrom(...behaviours);
const arbAllocation = fc.constantFrom(...allocations);
const arbProto = fc.constantFrom<Protocol>('udp', 'tcp');
const arbSeed = fc.integer({ min: 0, max: 0xffffffff });
const arbInsideHost = fc.constantFrom('10.0.0.1', '10.0.0.2', '192.168.1.20', 'fd00::2');
const arbRemoteHost = fc.constantFrom('198.51.100.1', '198.51.100.2', '192.0.2.7', '2001:db8::9');
const arbPort = fc.integer({ min: 1, max: 65535 });
const arbHighPort = fc.integer({ min: 1024, max: 65535 });
const arbRemote = fc.record({ host: arbRemoteHost, port: arbPort });
const arbInside = fc.record({ host: arbInsideHost, port: arbHighPort });

/** A random configuration over the full port range, with no exhaustion (timeouts >= 10 ms: the tests step time by a few ms). */
const arbConfig = fc.record({
  mapping: arbBehaviour,
  filtering: arbBehaviour,
  portAllocation: arbAllocation,
  hairpinning: fc.boolean(),
  refreshOnInbound: fc.boolean(),
  timeoutMs: fc.record({ udp: fc.integer({ min: 10, max: 300_000 }), tcp: fc.integer({ min: 10, max: 300_000 }) }),
});

function box(config: Omit<NatConfig, 'publicHost'>, seed: number): NatBox {
  return new NatBox({ ...config, publicHost: PUBLIC }, floats(seed));
}

describe('NatBox: mapping behaviour (RFC 4787 §4.1)', () => {
  it('[NET-NAT-1] endpoint-independent mapping reuses one external address and port towards every destination', () => {
    fc.assert(
      fc.property(
        arbConfig,
        arbSeed,
        arbProto,
        arbInside,
        fc.array(arbRemote, { minLength: 2, maxLength: 20 }),
        (config, seed, proto, inside, remotes) => {
          const nat = box({ ...config, mapping: 'endpoint-independent' }, seed);
          const first = nat.outbound(proto, inside, remotes[0]!, 0);
          expect(first?.host).toBe(PUBLIC);
          for (const r of remotes) expect(nat.outbound(proto, inside, r, 0)).toEqual(first);
        },
      ),
    );
  });

  it('[NET-NAT-2] address-dependent mapping reuses the port per destination host and differs across hosts', () => {
    fc.assert(
      fc.property(
        arbConfig,
        arbSeed,
        arbProto,
        arbInside,
        fc.uniqueArray(arbRemoteHost, { minLength: 2, maxLength: 4 }),
        fc.array(arbPort, { minLength: 1, maxLength: 5 }),
        (config, seed, proto, inside, hosts, ports) => {
          const nat = box({ ...config, mapping: 'address-dependent' }, seed);
          const perHost = hosts.map((h) => nat.outbound(proto, inside, addr(h, ports[0]!), 0)!.port);
          expect(new Set(perHost).size).toBe(hosts.length);
          for (const [i, h] of hosts.entries())
            for (const p of ports) expect(nat.outbound(proto, inside, addr(h, p), 0)!.port).toBe(perHost[i]);
        },
      ),
    );
  });

  it('[NET-NAT-3] address-and-port-dependent (symmetric) mapping gives a different port per destination address and port', () => {
    fc.assert(
      fc.property(
        arbConfig,
        arbSeed,
        arbProto,
        arbInside,
        fc.uniqueArray(arbRemote, { minLength: 2, maxLength: 20, selector: (r) => `${r.host}|${r.port}` }),
        (config, seed, proto, inside, remotes) => {
          const nat = box({ ...config, mapping: 'address-and-port-dependent' }, seed);
          const ports = remotes.map((r) => nat.outbound(proto, inside, r, 0)!.port);
          expect(new Set(ports).size).toBe(remotes.length);
          for (const [i, r] of remotes.entries()) expect(nat.outbound(proto, inside, r, 0)!.port).toBe(ports[i]);
        },
      ),
    );
  });
});

describe('NatBox: port assignment (RFC 4787 §4.2)', () => {
  it('[NET-NAT-4] no two live mappings share an external port: two inside hosts with the same port get different ones', () => {
    fc.assert(
      fc.property(
        arbConfig,
        arbSeed,
        arbProto,
        arbHighPort,
        arbRemote,
        fc.uniqueArray(arbInsideHost, { minLength: 2, maxLength: 4 }),
        (config, seed, proto, port, remote, hosts) => {
          const nat = box(config, seed);
          const ext = hosts.map((h) => nat.outbound(proto, addr(h, port), remote, 0)!.port);
          expect(new Set(ext).size).toBe(hosts.length);
        },
      ),
    );
  });

  it('[NET-NAT-5] port preservation keeps the inside port when it is free, and falls back to a port of the same parity', () => {
    fc.assert(
      fc.property(
        arbConfig,
        arbSeed,
        arbProto,
        arbHighPort,
        arbRemote,
        fc.uniqueArray(arbInsideHost, { minLength: 2, maxLength: 4 }),
        (config, seed, proto, port, remote, hosts) => {
          const nat = box({ ...config, portAllocation: 'preserve', mapping: 'endpoint-independent' }, seed);
          const ext = hosts.map((h) => nat.outbound(proto, addr(h, port), remote, 0)!.port);
          expect(ext[0]).toBe(port);
          for (const p of ext.slice(1)) {
            expect(p).not.toBe(port);
            expect(p % 2).toBe(port % 2);
          }
        },
      ),
    );
  });

  it('[NET-NAT-5] when the inside port is taken, preservation falls back to the same parity until that parity is used up', () => {
    fc.assert(
      fc.property(
        arbSeed,
        arbProto,
        fc.integer({ min: 1024, max: 65000 }),
        fc.nat({ max: 9 }),
        (seed, proto, lo, k) => {
          const nat = box({ portAllocation: 'preserve', portRange: [lo, lo + 9] }, seed);
          const port = lo + k;
          const got: number[] = [];
          for (let i = 0; i < 10; i++)
            got.push(nat.outbound(proto, addr(`10.0.0.${i + 1}`, port), addr('192.0.2.7', 53), 0)!.port);
          expect(got[0]).toBe(port);
          expect(new Set(got).size).toBe(10);
          for (const p of got.slice(0, 5)) expect(p % 2).toBe(port % 2);
          for (const p of got.slice(5)) expect(p % 2).not.toBe(port % 2);
          expect(nat.outbound(proto, addr('10.0.0.99', port), addr('192.0.2.7', 53), 0)).toBeUndefined();
        },
      ),
    );
  });

  it('[NET-NAT-5] sequential allocation hands out consecutive free ports; random allocation stays in the range', () => {
    fc.assert(
      fc.property(
        arbSeed,
        arbProto,
        fc.integer({ min: 1024, max: 60000 }),
        fc.integer({ min: 1, max: 40 }),
        (seed, proto, lo, n) => {
          const range: [number, number] = [lo, lo + 99];
          const seq = box(
            { portAllocation: 'sequential', mapping: 'address-and-port-dependent', portRange: range },
            seed,
          );
          const rnd = box({ portAllocation: 'random', mapping: 'address-and-port-dependent', portRange: range }, seed);
          for (let i = 0; i < n; i++) {
            const to = addr('198.51.100.1', 1000 + i);
            expect(seq.outbound(proto, addr('10.0.0.1', 5000), to, 0)!.port).toBe(lo + i);
            const p = rnd.outbound(proto, addr('10.0.0.1', 5000), to, 0)!.port;
            expect(p).toBeGreaterThanOrEqual(lo);
            expect(p).toBeLessThanOrEqual(lo + 99);
          }
        },
      ),
    );
  });
});

describe('NatBox: filtering behaviour (RFC 4787 §5)', () => {
  it('[NET-NAT-6] endpoint-independent filtering accepts any remote once a mapping exists', () => {
    fc.assert(
      fc.property(
        arbConfig,
        arbSeed,
        arbProto,
        arbInside,
        arbRemote,
        fc.array(arbRemote, { minLength: 1, maxLength: 10 }),
        (config, seed, proto, inside, contacted, strangers) => {
          const nat = box({ ...config, filtering: 'endpoint-independent', mapping: 'endpoint-independent' }, seed);
          expect(nat.inbound(proto, addr(PUBLIC, inside.port), strangers[0]!, 0)).toBeUndefined(); // nothing mapped yet
          const ext = nat.outbound(proto, inside, contacted, 0)!;
          for (const s of strangers) expect(nat.inbound(proto, ext, s, 0)).toEqual(inside);
        },
      ),
    );
  });

  it('[NET-NAT-7] address-dependent filtering drops a host never contacted and accepts any port of a contacted host', () => {
    fc.assert(
      fc.property(
        arbConfig,
        arbSeed,
        arbProto,
        arbInside,
        fc.uniqueArray(arbRemoteHost, { minLength: 2, maxLength: 2 }),
        arbPort,
        arbPort,
        (config, seed, proto, inside, [contacted, stranger], p1, p2) => {
          const nat = box({ ...config, filtering: 'address-dependent', mapping: 'endpoint-independent' }, seed);
          const ext = nat.outbound(proto, inside, addr(contacted!, p1), 0)!;
          expect(nat.inbound(proto, ext, addr(stranger!, p1), 1)).toBeUndefined();
          expect(nat.inbound(proto, ext, addr(contacted!, p2), 1)).toEqual(inside);
        },
      ),
    );
  });

  it('[NET-NAT-8] address-and-port-dependent filtering drops another port of a contacted host and accepts the contacted port', () => {
    fc.assert(
      fc.property(
        arbConfig,
        arbSeed,
        arbProto,
        arbInside,
        arbRemote,
        arbRemoteHost,
        fc.integer({ min: 1, max: 65534 }),
        (config, seed, proto, inside, contacted, stranger, delta) => {
          const nat = box({ ...config, filtering: 'address-and-port-dependent' }, seed);
          const ext = nat.outbound(proto, inside, contacted, 0)!;
          const otherPort = ((contacted.port - 1 + delta) % 65535) + 1;
          expect(nat.inbound(proto, ext, addr(contacted.host, otherPort), 1)).toBeUndefined();
          if (stranger !== contacted.host)
            expect(nat.inbound(proto, ext, addr(stranger, contacted.port), 1)).toBeUndefined();
          expect(nat.inbound(proto, ext, contacted, 1)).toEqual(inside);
        },
      ),
    );
  });

  it('[NET-NAT-7] [NET-NAT-8] [NET-NAT-10] each permission expires on its own, while traffic to another remote keeps the mapping alive', () => {
    fc.assert(
      fc.property(
        arbConfig,
        arbSeed,
        arbProto,
        arbInside,
        fc.uniqueArray(arbRemote, { minLength: 3, maxLength: 3, selector: (r) => r.host }),
        fc.constantFrom<NatBehaviour>('address-dependent', 'address-and-port-dependent'),
        (config, seed, proto, inside, [r1, r2, r3], filtering) => {
          const nat = box({ ...config, mapping: 'endpoint-independent', filtering }, seed);
          const T = config.timeoutMs[proto];
          const ext = nat.outbound(proto, inside, r1!, 0)!;
          nat.outbound(proto, inside, r2!, 1);
          nat.outbound(proto, inside, r3!, 2);
          expect(nat.inbound(proto, ext, r1!, T - 1)).toEqual(inside); // refreshes r1 only if configured
          const r1Alive = config.refreshOnInbound;
          expect(nat.inbound(proto, ext, r1!, T)).toEqual(r1Alive ? inside : undefined); // the mapping lives on (r3)
          nat.outbound(proto, inside, r2!, T); // keeps the mapping (and r2) alive
          expect(nat.inbound(proto, ext, r1!, T)).toEqual(r1Alive ? inside : undefined);
          expect(nat.inbound(proto, ext, r2!, T + 1)).toEqual(inside);
          expect(nat.inbound(proto, ext, r3!, T + 2)).toBeUndefined();
          nat.outbound(proto, inside, r3!, T + 2); // a new permission for r3 on the same mapping
          expect(nat.inbound(proto, ext, r3!, T + 2)).toEqual(inside);
        },
      ),
    );
  });

  it('[NET-NAT-6] [NET-NAT-8] a packet for another address than the public one, or an unmapped port, is dropped', () => {
    fc.assert(
      fc.property(arbConfig, arbSeed, arbProto, arbInside, arbRemote, (config, seed, proto, inside, remote) => {
        const nat = box({ ...config, filtering: 'endpoint-independent' }, seed);
        const ext = nat.outbound(proto, inside, remote, 0)!;
        expect(nat.inbound(proto, addr('203.0.113.99', ext.port), remote, 0)).toBeUndefined();
        const other = ext.port === 65535 ? 1024 : ext.port + 1;
        expect(nat.inbound(proto, addr(PUBLIC, other), remote, 0)).toBeUndefined();
      }),
    );
  });
});

describe('NatBox: timeouts and refresh (RFC 4787 §4.3, REQ-5, REQ-6)', () => {
  it('[NET-NAT-9] an expired mapping passes nothing inbound, and the next outbound packet creates a new mapping', () => {
    fc.assert(
      fc.property(
        arbConfig,
        arbSeed,
        arbProto,
        arbInside,
        arbRemote,
        fc.integer({ min: 0, max: 1_000_000 }),
        (config, seed, proto, inside, remote, extra) => {
          const nat = box({ ...config, filtering: 'address-and-port-dependent', portAllocation: 'random' }, seed);
          const timeout = config.timeoutMs[proto];
          const ext = nat.outbound(proto, inside, remote, 0)!;
          expect(nat.inbound(proto, ext, remote, timeout - 1)).toEqual(inside);
          // Inbound refresh (if configured) moved the deadline to 2 * timeout - 1.
          const deadline = config.refreshOnInbound ? 2 * timeout - 1 : timeout;
          const later = deadline + extra;
          expect(nat.inbound(proto, ext, remote, later)).toBeUndefined();
          expect(nat.outbound(proto, addr(inside.host, inside.port + 1), remote, later - 1)).toBeDefined(); // another flow
          const again = nat.outbound(proto, inside, remote, later)!;
          expect(again.port).not.toBe(ext.port); // random allocation draws a new port
          expect(nat.inbound(proto, ext, remote, later)).toBeUndefined();
          expect(nat.inbound(proto, again, remote, later)).toEqual(inside);
          expect(nat.liveMappings(proto, later)).toBe(2);
        },
      ),
    );
  });

  it('[NET-NAT-9] with port preservation an expired mapping is re-created on the same port but forgets its permissions', () => {
    fc.assert(
      fc.property(arbSeed, arbProto, arbInside, arbRemote, arbRemote, (seed, proto, inside, a, b) => {
        fc.pre(a.host !== b.host);
        const nat = box({ ...NAT_PRESETS.portRestrictedCone, timeoutMs: { udp: 1000, tcp: 1000 } }, seed);
        expect(nat.outbound(proto, inside, a, 0)!.port).toBe(inside.port);
        const ext = nat.outbound(proto, inside, b, 1000)!; // a new mapping; a's permission is gone
        expect(ext.port).toBe(inside.port);
        expect(nat.inbound(proto, ext, a, 1000)).toBeUndefined();
        expect(nat.inbound(proto, ext, b, 1000)).toEqual(inside);
      }),
    );
  });

  it('[NET-NAT-10] outbound traffic refreshes a mapping; inbound traffic refreshes it only when configured', () => {
    fc.assert(
      fc.property(
        arbConfig,
        arbSeed,
        arbProto,
        arbInside,
        arbRemote,
        fc.array(fc.integer({ min: 0, max: 1 }), { minLength: 1, maxLength: 10 }),
        (config, seed, proto, inside, remote, kinds) => {
          const nat = box({ ...config, filtering: 'endpoint-independent' }, seed);
          const timeout = config.timeoutMs[proto];
          let t = 0;
          let lastRefresh = 0;
          const ext = nat.outbound(proto, inside, remote, t)!;
          for (const k of kinds) {
            t = lastRefresh + timeout - 1; // just before expiry of the last refresh
            if (k === 0) {
              expect(nat.outbound(proto, inside, remote, t)).toEqual(ext); // same mapping: still alive
              lastRefresh = t;
            } else {
              const r = nat.inbound(proto, ext, remote, t);
              expect(r).toEqual(inside);
              if (config.refreshOnInbound) lastRefresh = t;
            }
          }
          expect(nat.inbound(proto, ext, remote, lastRefresh + timeout)).toBeUndefined();
        },
      ),
    );
  });

  it('[NET-NAT-10] defaults: UDP mappings live 2 minutes (RFC 4787 REQ-5), TCP mappings 2 h 4 min (RFC 5382 REQ-5)', () => {
    const nat = new NatBox({ publicHost: PUBLIC, filtering: 'endpoint-independent' }, floats(1));
    const inside = addr('10.0.0.1', 5000);
    const remote = addr('198.51.100.1', 3478);
    const u = nat.outbound('udp', inside, remote, 0)!;
    const t = nat.outbound('tcp', inside, remote, 0)!;
    expect(nat.inbound('udp', u, remote, 119_999)).toEqual(inside);
    expect(nat.inbound('udp', u, remote, 120_000)).toBeUndefined();
    expect(nat.inbound('tcp', t, remote, 7_439_999)).toEqual(inside);
    expect(nat.inbound('tcp', t, remote, 7_440_000)).toBeUndefined();
  });
});

describe('NatBox: hairpinning (RFC 4787 §6)', () => {
  it('[NET-NAT-11] with hairpinning on, an inside host reaches another through the public address, seeing its external source; off, nothing passes', () => {
    fc.assert(
      fc.property(
        arbConfig,
        arbSeed,
        arbProto,
        fc.uniqueArray(arbInside, { minLength: 2, maxLength: 2, selector: (a) => a.host }),
        arbRemote,
        (config, seed, proto, [a, b], remote) => {
          const on = box({ ...config, hairpinning: true, mapping: 'endpoint-independent' }, seed);
          const off = box({ ...config, hairpinning: false, mapping: 'endpoint-independent' }, seed);
          for (const nat of [on, off]) {
            const extA = nat.outbound(proto, a!, remote, 0)!;
            const extB = nat.outbound(proto, b!, remote, 0)!;
            // b opens its filter towards a's external address (a hole punch through its own NAT).
            nat.outbound(proto, b!, extA, 0);
            const route = nat.hairpinRoute(proto, a!, extB, 1);
            expect(nat.hairpin(proto, a!, extB, 1)).toEqual(route?.destination);
            if (nat === on) expect(route).toEqual({ source: extA, destination: b });
            else expect(route).toBeUndefined();
          }
        },
      ),
    );
  });

  it('[NET-NAT-11] hairpinned packets go through the filter like packets from outside', () => {
    fc.assert(
      fc.property(
        arbSeed,
        arbProto,
        fc.uniqueArray(arbInside, { minLength: 2, maxLength: 2, selector: (a) => a.host }),
        arbRemote,
        (seed, proto, [a, b], remote) => {
          const nat = box({ ...NAT_PRESETS.portRestrictedCone, hairpinning: true }, seed);
          const extB = nat.outbound(proto, b!, remote, 0)!;
          expect(nat.hairpin(proto, a!, extB, 0)).toBeUndefined(); // b never sent to a's external address
        },
      ),
    );
  });
});

describe('NatBox: exhaustion, TCP, determinism, presets', () => {
  it('[NET-NAT-12] when the mapping limit is reached, a packet needing a new mapping is dropped and live mappings keep working', () => {
    fc.assert(
      fc.property(
        arbConfig,
        arbSeed,
        arbProto,
        fc.integer({ min: 1, max: 8 }),
        fc.boolean(),
        (config, seed, proto, limit, byRange) => {
          const nat = box(
            {
              ...config,
              mapping: 'address-and-port-dependent',
              filtering: 'endpoint-independent',
              ...(byRange ? { portRange: [20000, 20000 + limit - 1] as const } : { maxMappings: limit }),
            },
            seed,
          );
          const inside = addr('10.0.0.1', 20000);
          const ext = [];
          for (let i = 0; i < limit; i++) ext.push(nat.outbound(proto, inside, addr('198.51.100.1', 1000 + i), 0));
          expect(ext.every((e) => e !== undefined)).toBe(true);
          expect(nat.outbound(proto, inside, addr('198.51.100.1', 999), 1)).toBeUndefined();
          expect(nat.outbound(proto, addr('10.0.0.2', 1), addr('198.51.100.1', 1000), 1)).toBeUndefined();
          expect(nat.outbound(proto, inside, addr('198.51.100.1', 1000), 1)).toEqual(ext[0]);
          expect(nat.inbound(proto, ext[0]!, addr('192.0.2.7', 7), 1)).toEqual(inside);
          // Once the mappings expire, new ones can be made again.
          const after = config.timeoutMs[proto] + 1;
          expect(nat.outbound(proto, inside, addr('198.51.100.1', 999), after)).toBeDefined();
        },
      ),
    );
  });

  it('[NET-NAT-13] TCP: an outbound SYN creates the mapping; an inbound SYN without one is dropped; UDP and TCP mappings are separate', () => {
    fc.assert(
      fc.property(arbConfig, arbSeed, arbInside, arbRemote, (config, seed, inside, remote) => {
        const nat = box({ ...config, filtering: 'endpoint-independent' }, seed);
        expect(nat.inbound('tcp', addr(PUBLIC, inside.port), remote, 0)).toBeUndefined();
        const u = nat.outbound('udp', inside, remote, 0)!;
        expect(nat.inbound('tcp', u, remote, 0)).toBeUndefined(); // a UDP mapping opens nothing for TCP
        const t = nat.outbound('tcp', inside, remote, 0)!;
        expect(nat.inbound('tcp', t, remote, 0)).toEqual(inside);
        expect(nat.liveMappings('tcp', 0)).toBe(1);
        expect(nat.liveMappings('udp', 0)).toBe(1);
      }),
    );
  });

  it('[NET-NAT-14] the model is deterministic: the same configuration, random stream and events give the same results', () => {
    fc.assert(
      fc.property(arbConfig, arbSeed, fc.array(arbEvent(), { maxLength: 40 }), (config, seed, events) => {
        const run = () => {
          const nat = box(config, seed);
          const out: unknown[] = [];
          let now = 0;
          const seen: number[] = [];
          for (const e of events) {
            now += e.dt;
            const r = apply(nat, e, now, seen);
            if (r) seen.push(r.port);
            out.push(r);
          }
          return out;
        };
        expect(run()).toEqual(run());
      }),
    );
  });

  it('[NET-NAT-15] the presets are the classic cone and symmetric NATs', () => {
    const want: Record<NatPresetName, [NatBehaviour, NatBehaviour, PortAllocation]> = {
      fullCone: ['endpoint-independent', 'endpoint-independent', 'preserve'],
      restrictedCone: ['endpoint-independent', 'address-dependent', 'preserve'],
      portRestrictedCone: ['endpoint-independent', 'address-and-port-dependent', 'preserve'],
      symmetric: ['address-and-port-dependent', 'address-and-port-dependent', 'random'],
    };
    for (const [name, [m, f, a]] of Object.entries(want)) {
      expect(NAT_PRESETS[name as NatPresetName]).toEqual({ mapping: m, filtering: f, portAllocation: a });
    }
    const inside = addr('10.0.0.1', 40000);
    const nat = NatBox.preset('symmetric', PUBLIC, floats(7));
    const a = nat.outbound('udp', inside, addr('198.51.100.1', 3478), 0)!;
    const b = nat.outbound('udp', inside, addr('198.51.100.1', 3479), 0)!;
    expect(a.port).not.toBe(b.port);
    const cone = NatBox.preset('portRestrictedCone', PUBLIC, floats(7));
    expect(cone.outbound('udp', inside, addr('198.51.100.1', 3478), 0)).toEqual(addr(PUBLIC, 40000));
  });
});

// --- hole punching ---------------------------------------------------------------------------------

/**
 * The hole-punching procedure of spec/05-network.md §5.7: each peer learns its server-reflexive address from
 * a reflector S, the two exchange them, then in rounds both send to every candidate they know (at the same
 * time), and a peer that receives from an address it did not know adds it (a peer-reflexive candidate).
 * Direct connectivity: both have received from the other. No port prediction.
 */
function punch(a: Omit<NatConfig, 'publicHost'>, b: Omit<NatConfig, 'publicHost'>, seed: number): boolean {
  const S = addr('192.0.2.1', 3478);
  type Peer = { nat: NatBox; inside: NetAddress; cands: NetAddress[]; got: boolean };
  const peers: [Peer, Peer] = [
    { nat: box2(a, '203.0.113.1', seed), inside: addr('10.0.0.2', 40000), cands: [], got: false },
    { nat: box2(b, '203.0.113.2', seed + 1), inside: addr('10.0.1.2', 40000), cands: [], got: false },
  ];
  const [A, B] = peers;
  A.cands.push(B.nat.outbound('udp', B.inside, S, 0)!);
  B.cands.push(A.nat.outbound('udp', A.inside, S, 0)!);
  for (let round = 0; round < 5; round++) {
    const t = 10 + 10 * round;
    const flights: [NetAddress, NetAddress][] = [];
    for (const X of peers)
      for (const c of X.cands) {
        const src = X.nat.outbound('udp', X.inside, c, t);
        if (src) flights.push([src, c]);
      }
    for (const [src, dst] of flights) {
      const Y = peers.find((p) => p.nat.publicHost === dst.host)!;
      const d = Y.nat.inbound('udp', dst, src, t + 1);
      if (d?.host !== Y.inside.host || d.port !== Y.inside.port) continue;
      Y.got = true;
      if (!Y.cands.some((c) => c.host === src.host && c.port === src.port)) Y.cands.push(src);
    }
  }
  return A.got && B.got;
}

function box2(config: Omit<NatConfig, 'publicHost'>, publicHost: string, seed: number): NatBox {
  return new NatBox({ ...config, publicHost }, floats(seed));
}

/** spec/05-network.md §5.7, table 2: rows and columns EI/EI, EI/AD, EI/APD, AD/EI, ..., APD/APD (mapping/filtering). */
const PUNCH_MATRIX = [
  'yyyyyyyyy',
  'yyyyyyyyy',
  'yyy------',
  'yy-yy-yy-',
  'yy-y--y--',
  'yy-------',
  'yy-yy-yy-',
  'yy-y--y--',
  'yy-------',
];

describe('NatBox: hole punching', () => {
  it('[NET-NAT-16] simultaneous hole punching between two NATs succeeds exactly for the pairs of the matrix, whatever the port allocation', () => {
    fc.assert(
      fc.property(arbAllocation, arbAllocation, arbSeed, fc.boolean(), (allocA, allocB, seed, refresh) => {
        behaviours.forEach((ma, i) => {
          behaviours.forEach((fa, j) => {
            behaviours.forEach((mb, k) => {
              behaviours.forEach((fb, l) => {
                const a = { mapping: ma, filtering: fa, portAllocation: allocA, refreshOnInbound: refresh };
                const b = { mapping: mb, filtering: fb, portAllocation: allocB, refreshOnInbound: refresh };
                const want = PUNCH_MATRIX[3 * i + j]![3 * k + l] === 'y';
                expect(punch(a, b, seed), `${ma}/${fa} with ${mb}/${fb}`).toBe(want);
              });
            });
          });
        });
      }),
      { numRuns: 20 },
    );
  });

  it('[NET-NAT-16] with the presets: cones connect to cones; port-restricted cone and symmetric need a relay with symmetric', () => {
    const names: NatPresetName[] = ['fullCone', 'restrictedCone', 'portRestrictedCone', 'symmetric'];
    const want = ['yyyy', 'yyyy', 'yyy-', 'yy--'];
    for (const [i, a] of names.entries())
      for (const [j, b] of names.entries()) expect(punch(NAT_PRESETS[a], NAT_PRESETS[b], 1)).toBe(want[i]![j] === 'y');
  });
});

// --- the reference model ----------------------------------------------------------------------------

type Event =
  | { kind: 'out'; proto: Protocol; from: NetAddress; to: NetAddress; dt: number }
  | { kind: 'in'; proto: Protocol; pick: number; wrongHost: boolean; from: NetAddress; dt: number }
  | { kind: 'hairpin'; proto: Protocol; from: NetAddress; pick: number; dt: number };

const INSIDE_PORTS = [80, 1024, 1025, 5000, 5001, 5002, 40000, 65535];
const REMOTE_PORTS = [53, 3478, 3479, 9000];

function arbEvent(): fc.Arbitrary<Event> {
  const inside = fc.record({
    host: fc.constantFrom('10.0.0.1', '10.0.0.2', '10.0.0.3'),
    port: fc.constantFrom(...INSIDE_PORTS),
  });
  const remote = fc.record({
    host: fc.constantFrom('198.51.100.1', '198.51.100.2', '192.0.2.7'),
    port: fc.constantFrom(...REMOTE_PORTS),
  });
  const dt = fc.oneof(
    { weight: 4, arbitrary: fc.constant(0) },
    { weight: 4, arbitrary: fc.integer({ min: 1, max: 50 }) },
    { weight: 2, arbitrary: fc.integer({ min: 90, max: 110 }) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 400 }) },
  );
  return fc.oneof(
    {
      weight: 5,
      arbitrary: fc.record({ kind: fc.constant('out' as const), proto: arbProto, from: inside, to: remote, dt }),
    },
    {
      weight: 5,
      arbitrary: fc.record({
        kind: fc.constant('in' as const),
        proto: arbProto,
        pick: fc.nat(),
        wrongHost: fc.boolean(),
        from: remote,
        dt,
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('hairpin' as const),
        proto: arbProto,
        from: inside,
        pick: fc.nat(),
        dt,
      }),
    },
  );
}

/** The external port an inbound or hairpin event aims at: one handed out before, or an arbitrary one. */
function target(e: { pick: number }, seen: readonly number[]): number {
  return seen.length > 0 && e.pick % 4 !== 0 ? seen[e.pick % seen.length]! : 1024 + (e.pick % 5000);
}

function apply(nat: NatBox, e: Event, now: number, seen: number[]): NetAddress | undefined {
  if (e.kind === 'out') return nat.outbound(e.proto, e.from, e.to, now);
  if (e.kind === 'in')
    return nat.inbound(
      e.proto,
      addr(e.wrongHost && e.pick % 3 === 0 ? '203.0.113.2' : PUBLIC, target(e, seen)),
      e.from,
      now,
    );
  return nat.hairpin(e.proto, e.from, addr(PUBLIC, target(e, seen)), now);
}

interface RefMapping {
  readonly proto: Protocol;
  readonly internal: NetAddress;
  /** The destination that created it (what ADM/APDM mappings are keyed by). */
  readonly dest: NetAddress;
  readonly port: number;
  /** Every packet that refreshed it: time and remote. */
  readonly activity: { t: number; remote: NetAddress }[];
}

interface RefConfig {
  mapping: NatBehaviour;
  filtering: NatBehaviour;
  portAllocation: PortAllocation;
  portRange: readonly [number, number];
  timeoutMs: { udp: number; tcp: number };
  refreshOnInbound: boolean;
  hairpinning: boolean;
  maxMappings: number | undefined;
}

/** RFC 4787 restated as directly as possible; `expected*` returns what a conforming box must do. */
class ReferenceNat {
  readonly mappings: RefMapping[] = [];
  private readonly next: Record<Protocol, number>;

  constructor(readonly c: RefConfig) {
    this.next = { udp: c.portRange[0], tcp: c.portRange[0] };
  }

  private alive(m: RefMapping, now: number): boolean {
    return m.activity.some((a) => a.t + this.c.timeoutMs[m.proto] > now);
  }

  live(proto: Protocol, now: number): RefMapping[] {
    return this.mappings.filter((m) => m.proto === proto && this.alive(m, now));
  }

  private same(a: NetAddress, b: NetAddress): boolean {
    return a.host === b.host && a.port === b.port;
  }

  /** Checks the box's answer to an outbound packet and records its effect. */
  outbound(proto: Protocol, from: NetAddress, to: NetAddress, now: number, got: NetAddress | undefined): void {
    const live = this.live(proto, now);
    const m = live.find(
      (x) =>
        this.same(x.internal, from) &&
        (this.c.mapping === 'endpoint-independent' ||
          (this.c.mapping === 'address-dependent' && x.dest.host === to.host) ||
          (this.c.mapping === 'address-and-port-dependent' && this.same(x.dest, to))),
    );
    if (m !== undefined) {
      expect(got).toEqual({ host: PUBLIC, port: m.port });
      m.activity.push({ t: now, remote: to });
      return;
    }
    const [lo, hi] = this.c.portRange;
    const limit = Math.min(this.c.maxMappings ?? Number.POSITIVE_INFINITY, hi - lo + 1);
    if (live.length >= limit) {
      expect(got).toBeUndefined();
      return;
    }
    expect(got).toBeDefined();
    const port = got!.port;
    expect(got!.host).toBe(PUBLIC);
    expect(port).toBeGreaterThanOrEqual(lo);
    expect(port).toBeLessThanOrEqual(hi);
    const used = new Set(live.map((x) => x.port));
    expect(used.has(port)).toBe(false); // REQ-3: no port overloading
    if (this.c.portAllocation === 'sequential') {
      let want = this.next[proto];
      while (used.has(want)) want = want === hi ? lo : want + 1;
      expect(port).toBe(want);
      this.next[proto] = port === hi ? lo : port + 1;
    } else if (this.c.portAllocation === 'preserve') {
      if (from.port >= lo && from.port <= hi && !used.has(from.port)) expect(port).toBe(from.port);
      else {
        let sameParityFree = false;
        for (let p = lo; p <= hi && !sameParityFree; p++)
          if (p % 2 === from.port % 2 && !used.has(p)) sameParityFree = true;
        if (sameParityFree) expect(port % 2).toBe(from.port % 2);
      }
    }
    this.mappings.push({ proto, internal: { ...from }, dest: { ...to }, port, activity: [{ t: now, remote: to }] });
  }

  /** What an inbound packet must become (and its refresh, when configured). */
  inbound(proto: Protocol, to: NetAddress, from: NetAddress, now: number): NetAddress | undefined {
    if (to.host !== PUBLIC) return undefined;
    const hits = this.live(proto, now).filter((x) => x.port === to.port);
    expect(hits.length).toBeLessThanOrEqual(1);
    const m = hits[0];
    if (m === undefined) return undefined;
    const T = this.c.timeoutMs[proto];
    const permitted =
      this.c.filtering === 'endpoint-independent' ||
      m.activity.some(
        (a) =>
          a.t + T > now &&
          a.remote.host === from.host &&
          (this.c.filtering === 'address-dependent' || a.remote.port === from.port),
      );
    if (!permitted) return undefined;
    if (this.c.refreshOnInbound) m.activity.push({ t: now, remote: from });
    return m.internal;
  }
}

const arbRefConfig: fc.Arbitrary<RefConfig> = fc.record({
  mapping: arbBehaviour,
  filtering: arbBehaviour,
  portAllocation: arbAllocation,
  portRange: fc.oneof(
    fc.constant([1024, 65535] as const),
    fc.integer({ min: 0, max: 9 }).map((k) => [5000, 5000 + k] as const),
    fc.integer({ min: 0, max: 40 }).map((k) => [4990, 5010 + k] as const),
  ),
  timeoutMs: fc.record({ udp: fc.integer({ min: 1, max: 200 }), tcp: fc.integer({ min: 1, max: 200 }) }),
  refreshOnInbound: fc.boolean(),
  hairpinning: fc.boolean(),
  maxMappings: fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined }),
});

describe('NatBox against a reference model of RFC 4787', () => {
  it('[NET-NAT-1] [NET-NAT-2] [NET-NAT-3] [NET-NAT-4] [NET-NAT-5] [NET-NAT-6] [NET-NAT-7] [NET-NAT-8] [NET-NAT-9] [NET-NAT-10] [NET-NAT-11] [NET-NAT-12] [NET-NAT-13] agrees with the reference on random configurations and event sequences', () => {
    fc.assert(
      fc.property(arbRefConfig, arbSeed, fc.array(arbEvent(), { maxLength: 80 }), (c, seed, events) => {
        const nat = new NatBox({ ...c, publicHost: PUBLIC }, floats(seed));
        const ref = new ReferenceNat(c);
        const seen: number[] = [];
        let now = 0;
        for (const e of events) {
          now += e.dt;
          if (e.kind === 'out') {
            const got = nat.outbound(e.proto, e.from, e.to, now);
            ref.outbound(e.proto, e.from, e.to, now, got);
            if (got) seen.push(got.port);
          } else if (e.kind === 'in') {
            const to = addr(e.wrongHost && e.pick % 3 === 0 ? '203.0.113.2' : PUBLIC, target(e, seen));
            const want = ref.inbound(e.proto, to, e.from, now);
            expect(nat.inbound(e.proto, to, e.from, now)).toEqual(want);
          } else {
            // Hairpin = the sender's outbound translation, then the target's inbound filter (RFC 4787 §6).
            const to = addr(PUBLIC, target(e, seen));
            if (!c.hairpinning) {
              const before = ref.live(e.proto, now).length;
              expect(nat.hairpinRoute(e.proto, e.from, to, now)).toBeUndefined();
              expect(nat.liveMappings(e.proto, now)).toBe(before);
              continue;
            }
            const source = nat.outbound(e.proto, e.from, to, now);
            ref.outbound(e.proto, e.from, to, now, source);
            if (source === undefined) {
              expect(nat.hairpin(e.proto, e.from, to, now)).toBeUndefined();
              continue;
            }
            seen.push(source.port);
            const want = ref.inbound(e.proto, to, source, now);
            const route = nat.hairpinRoute(e.proto, e.from, to, now);
            expect(route?.destination).toEqual(want);
            if (route) expect(route.source).toEqual(source);
          }
          for (const proto of ['udp', 'tcp'] as const)
            if (e.dt % 7 === 0) expect(nat.liveMappings(proto, now)).toBe(ref.live(proto, now).length);
        }
      }),
      { numRuns: 400 },
    );
  });
});
