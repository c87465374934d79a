/**
 * Property tests of the simulator's firewall model (src/sim/firewall.ts) as spec/05-network.md §6 states it
 * (NET-FW-*), ending with a check against a reference model (full flow history, linear scans).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Firewall } from '../../src/sim/firewall.js';
import type { Protocol } from '../../src/sim/middlebox.js';
import type { NetAddress } from '../../src/transport.js';

const HOST = '198.51.100.10';
const addr = (host: string, port: number): NetAddress => ({ host, port });
const arbProto = fc.constantFrom<Protocol>('udp', 'tcp');
const arbPort = fc.integer({ min: 1, max: 65535 });
const arbLocal = arbPort.map((p) => addr(HOST, p));
const arbRemote = fc.record({
  host: fc.constantFrom('203.0.113.1', '203.0.113.2', '192.0.2.7', '2001:db8::1'),
  port: arbPort,
});
const arbTimeouts = fc.record({ udp: fc.integer({ min: 1, max: 300_000 }), tcp: fc.integer({ min: 1, max: 300_000 }) });

describe('Firewall', () => {
  it('[NET-FW-1] blockUdp drops every UDP packet in both directions and leaves TCP alone', () => {
    fc.assert(
      fc.property(arbLocal, arbRemote, fc.nat(), (local, remote, now) => {
        const fw = new Firewall({ host: HOST, blockUdp: true });
        expect(fw.outbound('udp', local, remote, now)).toBeUndefined();
        expect(fw.inbound('udp', local, remote, now)).toBeUndefined();
        expect(fw.outbound('tcp', local, remote, now)).toEqual(local);
        expect(fw.inbound('tcp', local, remote, now)).toEqual(local);
        const both = new Firewall({ host: HOST, blockUdp: true, blockInbound: true });
        expect(both.outbound('udp', local, remote, now)).toBeUndefined();
        expect(both.inbound('udp', local, remote, now)).toBeUndefined();
        expect(both.inbound('tcp', local, remote, now)).toBeUndefined();
        expect(both.outbound('tcp', local, remote, now)).toEqual(local);
        expect(both.inbound('tcp', local, remote, now)).toEqual(local);
      }),
    );
  });

  it('[NET-FW-2] blockInbound drops unsolicited packets and passes replies to flows the inside opened, addresses unchanged', () => {
    fc.assert(
      fc.property(
        arbProto,
        arbLocal,
        arbRemote,
        arbRemote,
        fc.integer({ min: 1, max: 65534 }),
        (proto, local, remote, other, delta) => {
          const fw = new Firewall({ host: HOST, blockInbound: true });
          expect(fw.publicHost).toBe(HOST);
          expect(fw.inbound(proto, local, remote, 0)).toBeUndefined(); // unsolicited (for TCP: a SYN from outside)
          expect(fw.outbound(proto, local, remote, 1)).toEqual(local);
          expect(fw.inbound(proto, local, remote, 2)).toEqual(local);
          // Another remote port, another local port, another protocol: not the flow.
          expect(
            fw.inbound(proto, local, addr(remote.host, ((remote.port - 1 + delta) % 65535) + 1), 2),
          ).toBeUndefined();
          expect(fw.inbound(proto, addr(HOST, ((local.port - 1 + delta) % 65535) + 1), remote, 2)).toBeUndefined();
          expect(fw.inbound(proto === 'udp' ? 'tcp' : 'udp', local, remote, 2)).toBeUndefined();
          if (other.host !== remote.host) expect(fw.inbound(proto, local, other, 2)).toBeUndefined();
          // Nothing for another host's address.
          expect(fw.inbound(proto, addr('198.51.100.11', local.port), remote, 2)).toBeUndefined();
        },
      ),
    );
  });

  it('[NET-FW-2] a firewall with neither rule passes everything unchanged', () => {
    fc.assert(
      fc.property(arbProto, arbLocal, arbRemote, fc.nat(), (proto, local, remote, now) => {
        const fw = new Firewall({ host: HOST });
        expect(fw.inbound(proto, local, remote, now)).toEqual(local);
        expect(fw.outbound(proto, local, remote, now)).toEqual(local);
      }),
    );
  });

  it('[NET-FW-3] a flow expires after its idle timeout; outbound packets refresh it, replies too unless configured otherwise', () => {
    fc.assert(
      fc.property(
        arbProto,
        arbLocal,
        arbRemote,
        arbTimeouts,
        fc.boolean(),
        fc.array(fc.boolean(), { maxLength: 8 }),
        (proto, local, remote, timeoutMs, refreshOnInbound, steps) => {
          const fw = new Firewall({ host: HOST, blockInbound: true, timeoutMs, refreshOnInbound });
          const T = timeoutMs[proto];
          let last = 0;
          fw.outbound(proto, local, remote, 0);
          for (const outbound of steps) {
            const t = last + T - 1;
            if (outbound) {
              fw.outbound(proto, local, remote, t);
              last = t;
            } else {
              expect(fw.inbound(proto, local, remote, t)).toEqual(local);
              if (refreshOnInbound) last = t;
            }
          }
          expect(fw.inbound(proto, local, remote, last + T)).toBeUndefined();
          // Gone for good: a later reply does not revive it; a new outbound packet opens it again.
          expect(fw.inbound(proto, local, remote, last + T + 1)).toBeUndefined();
          fw.outbound(proto, local, remote, last + 2 * T);
          expect(fw.inbound(proto, local, remote, last + 2 * T)).toEqual(local);
        },
      ),
    );
  });

  it('[NET-FW-1] [NET-FW-2] [NET-FW-3] agrees with a reference model on random event sequences', () => {
    const arbEvent = fc.record({
      out: fc.boolean(),
      proto: arbProto,
      local: fc.constantFrom(addr(HOST, 5000), addr(HOST, 5001), addr('198.51.100.11', 5000)),
      remote: fc.constantFrom(addr('203.0.113.1', 3478), addr('203.0.113.1', 3479), addr('192.0.2.7', 3478)),
      dt: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 90, max: 110 })),
    });
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        fc.record({ udp: fc.integer({ min: 1, max: 150 }), tcp: fc.integer({ min: 1, max: 150 }) }),
        fc.array(arbEvent, { maxLength: 100 }),
        (blockUdp, blockInbound, refreshOnInbound, timeoutMs, events) => {
          const fw = new Firewall({ host: HOST, blockUdp, blockInbound, refreshOnInbound, timeoutMs });
          const history: { proto: Protocol; local: NetAddress; remote: NetAddress; t: number }[] = [];
          const same = (a: NetAddress, b: NetAddress) => a.host === b.host && a.port === b.port;
          let now = 0;
          for (const e of events) {
            now += e.dt;
            if (e.out) {
              const want = blockUdp && e.proto === 'udp' ? undefined : e.local;
              expect(fw.outbound(e.proto, e.local, e.remote, now)).toEqual(want);
              if (want) history.push({ proto: e.proto, local: e.local, remote: e.remote, t: now });
            } else {
              let want: NetAddress | undefined = e.local;
              if (blockUdp && e.proto === 'udp') want = undefined;
              else if (e.local.host !== HOST) want = undefined;
              else if (blockInbound) {
                const open = history.some(
                  (h) =>
                    h.proto === e.proto &&
                    same(h.local, e.local) &&
                    same(h.remote, e.remote) &&
                    h.t + timeoutMs[e.proto] > now,
                );
                if (!open) want = undefined;
                else if (refreshOnInbound) history.push({ proto: e.proto, local: e.local, remote: e.remote, t: now });
              }
              expect(fw.inbound(e.proto, e.local, e.remote, now)).toEqual(want);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
