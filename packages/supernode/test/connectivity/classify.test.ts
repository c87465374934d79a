/**
 * NAT classification end to end in the simulator (spec/08-connectivity.md §4-5): three supernodes in
 * distinct /24s, and nodes behind each of the nine RFC 4787 mapping × filtering combinations, behind no
 * NAT, and behind a firewall that drops UDP. Each node runs the classification of @parley/wire's
 * connectivity/nat.ts from a real UDP socket on its host: ObserveRequest, a probe to its home supernode
 * (ProbeTransaction: retransmissions on simulated time), ClassifyRequest over its SupernodeClient, the
 * `classify-wait` for the second supernode's unsolicited reply, and only then a probe to the second
 * supernode (a probe sent to it earlier would open an address-dependent filter to the unsolicited reply;
 * the last test shows that). classifyNat must give the configured behaviour every time.
 */
import type { NatBehaviour, NetAddress, Transport, UdpSocket } from '@parley/net';
import {
  CLASSIFY_WAIT_MS,
  classifyNat,
  DATAGRAM_TYPE_PROBE_REPLY,
  matchProbeReply,
  type NatClassification,
  NatFiltering,
  NatMapping,
  type ProbeAnswer,
  ProbeTransaction,
} from '@parley/wire';
import { describe, expect, it } from 'vitest';
import { addressBytes, netAddress } from '../../src/core/endpoint.js';
import { advance, type SimSupernode, World } from '../fixtures.js';

const NODE_PORT = 40_000;

interface Received {
  data: Uint8Array;
  from: NetAddress;
  at: number;
}

/** A node's UDP socket, recording what arrives, and probe transactions driven on simulated time. */
class NodeSocket {
  readonly received: Received[] = [];
  readonly sent: { data: Uint8Array; to: NetAddress }[] = [];
  readonly socket: UdpSocket;
  #current: { tx: ProbeTransaction; to: NetAddress } | undefined;

  constructor(
    readonly w: World,
    readonly transport: Transport,
  ) {
    this.socket = transport.bindUdp(
      { address: '0.0.0.0', port: NODE_PORT },
      {
        onMessage: (data, from) => {
          this.received.push({ data, from, at: transport.clock.now() });
          const c = this.#current;
          if (c !== undefined && from.host === c.to.host && from.port === c.to.port) c.tx.receive(data);
        },
      },
    );
  }

  send(data: Uint8Array, to: NetAddress): void {
    this.sent.push({ data, to });
    this.socket.send(data, to);
  }

  /** [NAT-OBS-6] One probe to `to`: its answer, or undefined when three transmissions went unanswered. */
  async probe(to: NetAddress): Promise<ProbeAnswer | undefined> {
    const clock = this.transport.clock;
    const tx = new ProbeTransaction(this.transport.random.randomBytes(12));
    this.#current = { tx, to };
    let step = tx.start(clock.now());
    try {
      for (;;) {
        if (step.kind === 'send') this.send(step.datagram, to);
        else if (step.kind === 'answered') return step.answer;
        else if (step.kind === 'failed') return undefined;
        await advance(this.w.sim, 10);
        step = tx.poll(clock.now());
      }
    } finally {
      this.#current = undefined;
    }
  }
}

interface Outcome {
  result: NatClassification;
  first: ProbeAnswer | undefined;
  second: ProbeAnswer | undefined;
  node: NodeSocket;
  secondKeyId: Uint8Array | undefined;
}

/**
 * The classification of nat.ts from `transport`'s host, attached to `home`. `probeSecondFirst` breaks
 * the order on purpose (the node probes the second supernode before it asks for the unsolicited reply).
 */
async function classifyFrom(
  w: World,
  home: SimSupernode,
  transport: Transport,
  user: string,
  o: { probeSecondFirst?: SimSupernode } = {},
): Promise<Outcome> {
  const node = new NodeSocket(w, transport);
  const client = await w.connect(home, w.user(user), { transport });
  await w.run(client.attach());
  // [NAT-OBS-1]
  const observed = await w.run(client.request({ case: 'observeRequest', value: {} }, 'observeReply'));
  expect(observed.probeEndpoints).toHaveLength(1);
  const homeUdp = netAddress(observed.probeEndpoints[0]!);
  expect(homeUdp).toEqual(home.address); // the UDP socket shares the TCP port
  if (o.probeSecondFirst !== undefined) await node.probe(o.probeSecondFirst.supernode.udpAddress!);
  // [NAT-OBS-2] the reflexive endpoint as the home supernode sees it.
  const first = await node.probe(homeUdp);
  let second: ProbeAnswer | undefined;
  let unsolicited = false;
  let secondKeyId: Uint8Array | undefined;
  if (first !== undefined) {
    // [NAT-CLASS-1] [NAT-CLASS-2] [NAT-CLASS-3]
    const cr = await w.run(
      client.request(
        { case: 'classifyRequest', value: { transactionId: first.transactionId, token: first.token } },
        'classifyReply',
      ),
    );
    secondKeyId = cr.supernodeKeyId;
    const asked = transport.clock.now();
    await advance(w.sim, CLASSIFY_WAIT_MS);
    const secondUdp = netAddress(cr.probeEndpoint!);
    unsolicited = node.received.some(
      (r) =>
        r.at <= asked + CLASSIFY_WAIT_MS &&
        r.from.host === secondUdp.host &&
        r.from.port === secondUdp.port &&
        matchProbeReply(r.data, cr.transactionId) !== undefined,
    );
    // [NAT-CLASS-5] only now the mapping test: a probe to the second supernode.
    second = await node.probe(secondUdp);
  }
  const local = node.socket.local!;
  const result = classifyNat({
    hostEndpoints: [{ address: addressBytes(local.host), port: local.port }],
    first: first?.observed,
    second: second?.observed,
    unsolicitedReplyReceived: unsolicited,
  });
  client.close();
  return { result, first, second, node, secondKeyId };
}

/** Three supernodes in 30.0.1.0/24, 30.0.2.0/24 and 30.0.3.0/24, on one list. */
async function world(seed: string): Promise<{ w: World; sns: SimSupernode[] }> {
  const w = new World({ seed });
  const sns: SimSupernode[] = [];
  for (const address of ['30.0.1.1', '30.0.2.1', '30.0.3.1']) sns.push(await w.addSupernode({ address }));
  w.publishList();
  return { w, sns };
}

const BEHAVIOURS: NatBehaviour[] = ['endpoint-independent', 'address-dependent', 'address-and-port-dependent'];

/** [NAT-AMP-1] Every datagram a node received from a supernode is no longer than the longest it sent. */
function checkAmplification(node: NodeSocket): void {
  const longest = Math.max(0, ...node.sent.map((s) => s.data.length));
  for (const r of node.received) {
    expect(r.data[0]).toBe(DATAGRAM_TYPE_PROBE_REPLY);
    expect(r.data.length).toBeLessThanOrEqual(longest);
  }
}

describe('classification in the simulator [NAT-CLASS-5]', () => {
  it('[NAT-CLASS-5] [NAT-CLASS-2] [NAT-CLASS-3] [NAT-OBS-2] [NAT-AMP-1] every RFC 4787 mapping × filtering combination, and no NAT, is classified as configured', async () => {
    const { w, sns } = await world('classify nine');
    let i = 0;
    const seen: string[] = [];
    for (const mapping of BEHAVIOURS) {
      for (const filtering of BEHAVIOURS) {
        const { transport, nat } = w.natHost({ mapping, filtering });
        const home = sns[i % sns.length]!;
        const out = await classifyFrom(w, home, transport, `user${i++}`);
        const label = `${mapping} mapping, ${filtering} filtering`;
        expect(out.first, label).toBeDefined();
        expect(out.second, label).toBeDefined();
        // The reflexive endpoint is the NAT's public address.
        expect(netAddress(out.first!.observed).host, label).toBe(nat.publicHost);
        expect(out.result, label).toEqual({
          mapping:
            mapping === 'endpoint-independent'
              ? NatMapping.NAT_MAPPING_ENDPOINT_INDEPENDENT
              : NatMapping.NAT_MAPPING_DEPENDENT,
          filtering:
            filtering === 'endpoint-independent'
              ? NatFiltering.NAT_FILTERING_ENDPOINT_INDEPENDENT
              : NatFiltering.NAT_FILTERING_DEPENDENT,
        });
        // [NAT-CLASS-2] never the home supernode itself (the others are all in other /24s).
        expect(Buffer.from(out.secondKeyId!).equals(Buffer.from(home.identity.keyId))).toBe(false);
        checkAmplification(out.node);
        seen.push(`${mapping}/${filtering}`);
      }
    }
    expect(seen).toHaveLength(9);
    // No NAT: the reflexive endpoint is the host's own.
    const open = w.host();
    const out = await classifyFrom(w, sns[0]!, open, 'open');
    expect(out.result).toEqual({
      mapping: NatMapping.NAT_MAPPING_NONE,
      filtering: NatFiltering.NAT_FILTERING_ENDPOINT_INDEPENDENT,
    });
    checkAmplification(out.node);
    // [NAT-CLASS-3] one unsolicited reply per classification, from the second supernodes.
    const unsolicited = sns.reduce((n, s) => n + s.supernode.connectivity.probe.stats.unsolicitedSent, 0);
    expect(unsolicited).toBe(10);
    const classified = sns.reduce((n, s) => n + s.supernode.connectivity.probe.stats.classified, 0);
    expect(classified).toBe(10);
  });

  it('[NAT-CLASS-5] [NAT-OBS-6] a node behind a firewall that drops UDP gives up after three probes: UDP_BLOCKED', async () => {
    const { w, sns } = await world('classify blocked');
    const { transport } = w.firewalledHost({ blockUdp: true });
    const start = transport.clock.now();
    const out = await classifyFrom(w, sns[1]!, transport, 'walled');
    expect(out.first).toBeUndefined();
    expect(out.node.sent).toHaveLength(3);
    expect(transport.clock.now() - start).toBeGreaterThanOrEqual(3_500);
    expect(out.result).toEqual({
      mapping: NatMapping.NAT_MAPPING_UDP_BLOCKED,
      filtering: NatFiltering.NAT_FILTERING_UNKNOWN,
    });
    expect(sns[1]!.supernode.connectivity.probe.stats.answered).toBe(0);
  });

  it('[NAT-CLASS-5] probing the second supernode before the unsolicited reply opens an address-dependent filter to it (why the order matters)', async () => {
    const { w, sns } = await world('classify order');
    const home = sns[0]!;
    // With one other supernode in another /24, the second one is known in advance.
    w.publishList([home, sns[1]!]);
    const { transport } = w.natHost({ mapping: 'endpoint-independent', filtering: 'address-dependent' });
    const wrong = await classifyFrom(w, home, transport, 'hasty', { probeSecondFirst: sns[1]! });
    expect(wrong.result.filtering).toBe(NatFiltering.NAT_FILTERING_ENDPOINT_INDEPENDENT);
    const { transport: t2 } = w.natHost({ mapping: 'endpoint-independent', filtering: 'address-dependent' });
    const right = await classifyFrom(w, home, t2, 'patient');
    expect(right.result.filtering).toBe(NatFiltering.NAT_FILTERING_DEPENDENT);
  });

  it("[NAT-DGRAM-2] [NAT-AMP-2] junk sent to a supernode's UDP socket through a NAT is never answered", async () => {
    const { w, sns } = await world('classify junk');
    const { transport } = w.natHost({ mapping: 'endpoint-independent', filtering: 'endpoint-independent' });
    const node = new NodeSocket(w, transport);
    const to = sns[0]!.supernode.udpAddress!;
    for (const data of [
      new Uint8Array(0),
      Uint8Array.of(0x02, 1, 2, 3), // a probe shorter than 64 bytes
      new Uint8Array(63).fill(0x02),
      new Uint8Array(64).fill(0x03),
      new Uint8Array(49).fill(0x04),
      new Uint8Array(100).fill(0x09),
      new Uint8Array(1_300).fill(0x02), // longer than any datagram
    ]) {
      node.send(data, to);
    }
    await advance(w.sim, 1_000);
    expect(node.received).toHaveLength(0);
    // A real probe is answered, to the NAT's public endpoint only.
    const answer = await node.probe(to);
    expect(answer).toBeDefined();
    expect(node.received.every((r) => r.from.host === to.host && r.from.port === to.port)).toBe(true);
    checkAmplification(node);
  });
});
