/**
 * The node's UDP demultiplexer (src/paths/udp-mux.ts): one socket for probes, relays, punches and peer
 * datagrams ([NAT-DGRAM-1]); everything nobody registered for, and every reserved type, is discarded.
 */
import type { NetAddress } from '@parley/net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UdpMux } from '../../src/paths/udp-mux.js';

const A: NetAddress = { host: '30.0.1.1', port: 7500 };
const B: NetAddress = { host: '30.0.2.1', port: 7500 };
const P: NetAddress = { host: '40.0.0.9', port: 40_000 };
const punchId = new Uint8Array(12).fill(7);
const of = (type: number, n = 64, fill = 0) => {
  const d = new Uint8Array(n).fill(fill);
  d[0] = type;
  return d;
};

function mux() {
  const sent: { data: Uint8Array; to: NetAddress }[] = [];
  const got: string[] = [];
  const m = new UdpMux({ send: (data, to) => sent.push({ data, to }) });
  return { m, sent, got };
}

describe('UdpMux', () => {
  it('[NAT-DGRAM-1] routes by type and by source (or punch id); the rest is discarded', () => {
    const { m, got } = mux();
    m.onProbeReplies(A, () => got.push('probe'));
    m.onRelay(B, () => got.push('relay1'));
    m.onRelay(B, () => got.push('relay2'));
    m.onPunch(punchId, () => got.push('punch'));
    m.onPeer(P, (d) => got.push(`peer${d[0]}`));
    m.receive(of(0x03), A);
    m.receive(of(0x03), B); // a probe reply from another source
    m.receive(of(0x05, 49), B);
    m.receive(of(0x06), B);
    m.receive(of(0x06), A); // relay data from a source that is no relay of ours
    m.receive(of(0x07, 30, 7), P);
    m.receive(of(0x07, 30, 8), P); // another punch id
    m.receive(of(0x01), P);
    m.receive(of(0x08), P);
    m.receive(of(0x01), A); // a peer datagram from elsewhere
    m.receive(of(0x02), A); // a probe: not a candidate
    m.receive(new Uint8Array(0), A);
    expect(got).toEqual(['probe', 'relay1', 'relay2', 'relay1', 'relay2', 'punch', 'peer1', 'peer8']);
    expect(m.stats).toEqual({ routed: 6, discarded: 6 });
  });

  it('[NAT-DGRAM-1] a released handler gets nothing more; probes reach a candidate handler only while it is set', () => {
    const { m, got } = mux();
    const off = m.onPeer(P, () => got.push('peer'));
    const offRelay = m.onRelay(B, () => got.push('relay'));
    off();
    offRelay();
    m.receive(of(0x01), P);
    m.receive(of(0x06), B);
    m.onCandidateProbes(() => got.push('candidate'));
    m.receive(of(0x02), A);
    m.onCandidateProbes(undefined);
    m.receive(of(0x02), A);
    expect(got).toEqual(['candidate']);
  });

  it('[NAT-DGRAM-1] random datagrams from random sources never reach a handler of another type or source (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ type: fc.nat(255), len: fc.nat(80), from: fc.constantFrom(A, B, P) }), { maxLength: 50 }),
        (ds) => {
          const { m } = mux();
          const seen: { kind: string; type: number; from: NetAddress }[] = [];
          m.onProbeReplies(A, (d, from) => seen.push({ kind: 'probe', type: d[0]!, from }));
          m.onRelay(B, (d, from) => seen.push({ kind: 'relay', type: d[0]!, from }));
          m.onPeer(P, (d, from) => seen.push({ kind: 'peer', type: d[0]!, from }));
          for (const d of ds) m.receive(of(d.type, Math.max(1, d.len)), d.from);
          for (const s of seen) {
            if (s.kind === 'probe') expect([s.type, s.from]).toEqual([0x03, A]);
            if (s.kind === 'relay') expect([[0x05, 0x06].includes(s.type), s.from]).toEqual([true, B]);
            if (s.kind === 'peer') expect([[0x01, 0x08].includes(s.type), s.from]).toEqual([true, P]);
          }
        },
      ),
      { seed: 0x3ab },
    );
  });
});
