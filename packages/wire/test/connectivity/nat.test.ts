/**
 * The node's side of probing and NAT classification (spec/08-connectivity.md §4-5, src/connectivity/nat.ts):
 * classifyNat against a small model of RFC 4787 NATs, its rules one by one, and the probe transaction's
 * retransmission schedule and reply matching under arbitrary input.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CLASSIFY_WAIT_MS,
  classifyNat,
  encodeProbe,
  encodeProbeReply,
  MIN_PROBE_LENGTH,
  matchProbeReply,
  NatFiltering,
  NatMapping,
  PROBE_RETRANSMIT_MS,
  PROBE_TRIES,
  ProbeTransaction,
  sameEndpoint,
  type WireAddress,
} from '../../src/index.js';

const ipv4 = fc.uint8Array({ minLength: 4, maxLength: 4 });
const ipv6 = fc.uint8Array({ minLength: 16, maxLength: 16 });
const port = fc.integer({ min: 1, max: 65535 });
const endpoint: fc.Arbitrary<WireAddress> = fc.record({ address: fc.oneof(ipv4, ipv6), port });
const txid = fc.uint8Array({ minLength: 12, maxLength: 12 });

type Behaviour = 'EI' | 'AD' | 'APD';
const behaviour = fc.constantFrom<Behaviour>('EI', 'AD', 'APD');

/**
 * What a node behind a NAT of `mapping` × `filtering` sees when it classifies in the order of nat.ts
 * (probe the home supernode, wait for the unsolicited reply, then probe the second one). The external
 * port of a new mapping is the inside port when free (port preservation), else the next free one.
 */
function observe(
  nat: { mapping: Behaviour; filtering: Behaviour } | undefined,
  local: WireAddress,
  publicAddress: Uint8Array,
  home: WireAddress,
  second: WireAddress,
): { first: WireAddress; second: WireAddress; unsolicited: boolean } {
  if (nat === undefined) return { first: local, second: local, unsolicited: true };
  const mappings = new Map<string, number>();
  const used = new Set<number>();
  const keyOf = (to: WireAddress) =>
    nat.mapping === 'EI' ? '' : nat.mapping === 'AD' ? to.address.join('.') : `${to.address.join('.')}:${to.port}`;
  const map = (to: WireAddress): WireAddress => {
    const key = keyOf(to);
    let p = mappings.get(key);
    if (p === undefined) {
      p = local.port;
      while (used.has(p)) p = (p % 65535) + 1;
      used.add(p);
      mappings.set(key, p);
    }
    return { address: publicAddress, port: p };
  };
  const first = map(home);
  // The unsolicited reply comes from `second`, to which nothing was sent yet: only EIF lets it in.
  const unsolicited = nat.filtering === 'EI';
  return { first, second: map(second), unsolicited };
}

describe('classifyNat [NAT-CLASS-5]', () => {
  it('[NAT-CLASS-5] matches the configured model for every mapping × filtering behaviour, and without a NAT', () => {
    fc.assert(
      fc.property(
        fc.option(fc.record({ mapping: behaviour, filtering: behaviour }), { nil: undefined }),
        ipv4,
        port,
        ipv4,
        endpoint,
        endpoint,
        (nat, localAddress, localPort, publicAddress, home, second) => {
          fc.pre(home.address.join('.') !== second.address.join('.'));
          const local = { address: localAddress, port: localPort };
          fc.pre(nat === undefined || localAddress.join('.') !== publicAddress.join('.'));
          const seen = observe(nat, local, publicAddress, home, second);
          const got = classifyNat({
            hostEndpoints: [local],
            first: seen.first,
            second: seen.second,
            unsolicitedReplyReceived: seen.unsolicited,
          });
          if (nat === undefined) {
            expect(got).toEqual({
              mapping: NatMapping.NAT_MAPPING_NONE,
              filtering: NatFiltering.NAT_FILTERING_ENDPOINT_INDEPENDENT,
            });
            return;
          }
          expect(got.mapping).toBe(
            nat.mapping === 'EI' ? NatMapping.NAT_MAPPING_ENDPOINT_INDEPENDENT : NatMapping.NAT_MAPPING_DEPENDENT,
          );
          expect(got.filtering).toBe(
            nat.filtering === 'EI'
              ? NatFiltering.NAT_FILTERING_ENDPOINT_INDEPENDENT
              : NatFiltering.NAT_FILTERING_DEPENDENT,
          );
        },
      ),
    );
  });

  it('[NAT-CLASS-5] [NAT-OBS-6] no probe answered is UDP_BLOCKED, whatever else was seen', () => {
    fc.assert(
      fc.property(fc.array(endpoint, { maxLength: 4 }), fc.boolean(), (hostEndpoints, unsolicited) => {
        expect(classifyNat({ hostEndpoints, unsolicitedReplyReceived: unsolicited })).toEqual({
          mapping: NatMapping.NAT_MAPPING_UDP_BLOCKED,
          filtering: NatFiltering.NAT_FILTERING_UNKNOWN,
        });
      }),
    );
  });

  it('[NAT-CLASS-5] the same reflexive endpoint from both supernodes is ENDPOINT_INDEPENDENT (NONE when it is a host endpoint)', () => {
    fc.assert(
      fc.property(fc.array(endpoint, { maxLength: 4 }), endpoint, fc.boolean(), (hosts, r, unsolicited) => {
        const got = classifyNat({ hostEndpoints: hosts, first: r, second: r, unsolicitedReplyReceived: unsolicited });
        const isHost = hosts.some((h) => sameEndpoint(h, r));
        expect(got.mapping).toBe(isHost ? NatMapping.NAT_MAPPING_NONE : NatMapping.NAT_MAPPING_ENDPOINT_INDEPENDENT);
        expect(got.filtering).toBe(
          unsolicited ? NatFiltering.NAT_FILTERING_ENDPOINT_INDEPENDENT : NatFiltering.NAT_FILTERING_DEPENDENT,
        );
      }),
    );
  });

  it('[NAT-CLASS-5] two different reflexive endpoints, or only one, are DEPENDENT unless that one is a host endpoint', () => {
    fc.assert(
      fc.property(fc.array(endpoint, { maxLength: 4 }), endpoint, endpoint, fc.boolean(), (hosts, a, b, u) => {
        fc.pre(!sameEndpoint(a, b));
        expect(classifyNat({ hostEndpoints: hosts, first: a, second: b, unsolicitedReplyReceived: u }).mapping).toBe(
          NatMapping.NAT_MAPPING_DEPENDENT,
        );
        const one = classifyNat({ hostEndpoints: hosts, first: a, unsolicitedReplyReceived: u }).mapping;
        expect(one).toBe(
          hosts.some((h) => sameEndpoint(h, a)) ? NatMapping.NAT_MAPPING_NONE : NatMapping.NAT_MAPPING_DEPENDENT,
        );
      }),
    );
  });

  it('[NAT-CLASS-5] an IPv4-mapped IPv6 host endpoint is its IPv4 endpoint', () => {
    const v4 = { address: Uint8Array.of(198, 51, 100, 7), port: 4000 };
    const mapped = { address: Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 51, 100, 7), port: 4000 };
    expect(sameEndpoint(v4, mapped)).toBe(true);
    expect(
      classifyNat({ hostEndpoints: [mapped], first: v4, second: v4, unsolicitedReplyReceived: true }).mapping,
    ).toBe(NatMapping.NAT_MAPPING_NONE);
    expect(CLASSIFY_WAIT_MS).toBe(1_000);
  });
});

describe('ProbeTransaction [NAT-OBS-6]', () => {
  it('[NAT-OBS-6] sends at 0, 500 and 1,500 ms and fails at 3,500 ms when nothing answers, however late it is polled', () => {
    fc.assert(
      fc.property(txid, fc.array(fc.nat({ max: 700 }), { minLength: 1, maxLength: 40 }), (id, gaps) => {
        const t = new ProbeTransaction(id);
        const start = t.start(1_000);
        expect(start).toMatchObject({ kind: 'send', deadline: 1_000 + PROBE_RETRANSMIT_MS });
        const sends = [1_000];
        let now = 1_000;
        let failedAt: number | undefined;
        for (const gap of gaps) {
          now += gap;
          const step = t.poll(now);
          if (step.kind === 'send') {
            expect(now).toBeGreaterThanOrEqual(
              sends[sends.length - 1]! + PROBE_RETRANSMIT_MS * 2 ** (sends.length - 1),
            );
            sends.push(now);
            expect(step.datagram).toEqual(encodeProbe(id));
          } else if (step.kind === 'failed') {
            failedAt ??= now;
          } else {
            expect(step.kind).toBe('wait');
          }
        }
        expect(sends.length).toBeLessThanOrEqual(PROBE_TRIES);
        if (failedAt !== undefined) {
          expect(sends.length).toBe(PROBE_TRIES);
          expect(failedAt - sends[PROBE_TRIES - 1]!).toBeGreaterThanOrEqual(PROBE_RETRANSMIT_MS * 4);
          expect(t.state).toBe('failed');
        }
      }),
    );
    // On time, exactly: 0, 500, 1,500; failed at 3,500.
    const t = new ProbeTransaction(new Uint8Array(12));
    t.start(0);
    expect(t.poll(499).kind).toBe('wait');
    expect(t.poll(500).kind).toBe('send');
    expect(t.poll(1_499).kind).toBe('wait');
    expect(t.poll(1_500).kind).toBe('send');
    expect(t.poll(3_499).kind).toBe('wait');
    expect(t.poll(3_500).kind).toBe('failed');
  });

  it('[NAT-OBS-2] [NAT-DGRAM-2] only a probe reply with its transaction id answers it; anything else changes nothing', () => {
    fc.assert(
      fc.property(
        txid,
        endpoint,
        fc.uint8Array({ minLength: 8, maxLength: 8 }),
        fc.array(
          fc.oneof(
            fc.uint8Array({ maxLength: 1300 }),
            txid.map((other) => ({ other })),
          ),
          { maxLength: 10 },
        ),
        (id, observed, token, noise) => {
          const t = new ProbeTransaction(id, { length: 100 });
          t.start(0);
          for (const n of noise) {
            const bytes = n instanceof Uint8Array ? n : encodeProbeReply(n.other, observed, token, MIN_PROBE_LENGTH);
            const mine = !(n instanceof Uint8Array) && sameTx(n.other, id);
            const got = t.receive(bytes);
            if (!mine && !(n instanceof Uint8Array && matchProbeReply(n, id) !== undefined)) {
              expect(got).toBeUndefined();
            }
          }
          if (t.state === 'answered') return;
          const got = t.receive(encodeProbeReply(id, observed, token, 100));
          expect(got).toBeDefined();
          expect(sameEndpoint(got!.observed, observed)).toBe(true);
          expect(got!.token).toEqual(token);
          expect(t.state).toBe('answered');
          expect(t.deadline).toBeUndefined();
          expect(t.poll(10_000)).toMatchObject({ kind: 'answered' });
          // A second reply (a retransmission's) changes nothing.
          expect(t.receive(encodeProbeReply(id, observed, token, 100))).toBeUndefined();
        },
      ),
    );
  });

  it('[NAT-DGRAM-2] matchProbeReply never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1400 }), txid, (bytes, id) => {
        const got = matchProbeReply(bytes, id);
        if (got !== undefined) expect(got.transactionId).toEqual(id);
      }),
    );
  });
});

function sameTx(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
