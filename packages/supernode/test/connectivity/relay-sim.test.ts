/**
 * The relay end to end in the simulator (spec/08-connectivity.md §7): a supernode (the runner, its UDP
 * socket on the TCP port) and users behind symmetric NATs (address-and-port-dependent mapping and
 * filtering: no hole punch between them can work) or behind a firewall that drops all UDP. Each user has a
 * SupernodeClient channel to the supernode and a UDP socket on its host. They allocate (both ask), bind
 * (challenge, then the cookie), and exchange real datagrams of a datagram channel (03 CHAN-DGRAM-*,
 * sealed and opened by @parley/wire's DatagramChannel) through the relay, over UDP and over RelayFrames
 * on their channels. The node's side of each allocation is @parley/wire's RelaySide (the sans-I/O state
 * machine the node package uses), driven here on the host's clock: RelaySide against the real
 * RelayService, through NATs.
 */
import type { NetAddress, Timer, Transport, UdpSocket } from '@parley/net';
import {
  ApiMisuse,
  DatagramChannel,
  encodeRelayData,
  type Packet,
  type PacketBodies,
  RELAY_DATA_HEADER_LENGTH,
  type RelayAction,
  RelaySide,
  seededRandom,
} from '@parley/wire';
import { describe, expect, it } from 'vitest';
import { addressBytes, netAddress } from '../../src/core/endpoint.js';
import type { SupernodeClient } from '../../src/runner/node-client.js';
import { advance, epochTransport, type SimSupernode, SN_PORT, suite, World } from '../fixtures.js';

const SN_HOST = '30.0.1.1';
const random = seededRandom('relay sim keys');
const text = new TextEncoder();
const untext = new TextDecoder();
const wire = (a: NetAddress) => ({ address: addressBytes(a.host), port: a.port });

interface Link {
  readonly peer: string;
  readonly reply: PacketBodies['relayAllocateReply'];
  /** [RELAY-BIND-3] [RELAY-DATA-3] The node's side of the allocation. */
  readonly side: RelaySide;
  channel: DatagramChannel | undefined;
  timer: Timer | undefined;
  /** The binding's outcomes RelaySide reported ('bound', 'failed'), in order. */
  readonly outcomes: ('bound' | 'failed')[];
}

interface Received {
  readonly via: 'udp' | 'tcp';
  readonly from: string;
  readonly text: string;
  /** The length of what arrived: relay data (UDP) or the RelayFrame's datagram (TCP). */
  readonly length: number;
}

/** A user's device: a channel to the supernode, a UDP socket on its host, its relay links (RelaySides). */
class Device {
  client!: SupernodeClient;
  socket!: UdpSocket;
  readonly received: Received[] = [];
  readonly links: Link[] = [];

  constructor(
    readonly name: string,
    readonly identity: ReturnType<World['user']>,
    readonly transport: Transport,
    /** The keepalive interval of this device's RelaySides (default: RelaySide's, 25 s). */
    readonly keepaliveMs?: number,
  ) {}

  get now(): number {
    return this.transport.clock.now();
  }

  async start(w: World, sn: SimSupernode): Promise<void> {
    this.socket = this.transport.bindUdp({ port: 0 }, { onMessage: (data, from) => this.#onUdp(data.slice(), from) });
    this.client = await w.connect(sn, this.identity, {
      transport: this.transport,
      onPacket: (p) => this.#onPacket(p),
    });
  }

  /** [NAT-DGRAM-1] Every datagram of the one socket goes to every side; each takes only its own. */
  #onUdp(data: Uint8Array, from: NetAddress): void {
    for (const l of this.links) this.#perform(l, l.side.onDatagram(data, wire(from), this.now));
  }

  /** [RELAY-DATA-3] RelayFrames from the relay's channel (the only channel this device has). */
  #onPacket(p: Packet): undefined {
    if (p.body.case === 'relayFrame') for (const l of this.links) this.#perform(l, l.side.onFrame(p.body.value));
    return undefined;
  }

  /** Carries out what a RelaySide asks: sends, its one timer, deliveries, outcomes. */
  #perform(l: Link, actions: readonly RelayAction[]): void {
    for (const a of actions) {
      switch (a.kind) {
        case 'send':
          this.socket.send(a.datagram, netAddress(a.to));
          break;
        case 'timer':
          l.timer?.cancel();
          l.timer = this.transport.clock.setTimer(Math.max(0, a.at - this.now), () => {
            l.timer = undefined;
            this.#perform(l, l.side.onTimer(this.now));
          });
          break;
        case 'deliver': {
          if (l.channel === undefined) throw new Error(`${this.name}: a datagram before the channel`);
          const length = a.via === 'udp' ? a.inner.length + RELAY_DATA_HEADER_LENGTH : a.inner.length;
          this.received.push({ via: a.via, from: l.peer, text: untext.decode(l.channel.open(a.inner)), length });
          break;
        }
        case 'bound':
        case 'failed':
          l.outcomes.push(a.kind);
          break;
        case 'refresh':
        case 'expired':
          break;
      }
    }
  }

  allocate(peer: Device): Promise<PacketBodies['relayAllocateReply']> {
    return this.client.request(
      { case: 'relayAllocate', value: { username: peer.name, deviceId: peer.identity.deviceId } },
      'relayAllocateReply',
    );
  }

  /** A link from the RelayAllocateReply, received now. */
  addLink(peer: string, reply: PacketBodies['relayAllocateReply']): void {
    const side = new RelaySide({
      suite,
      allocation: reply,
      receivedAt: this.now,
      ...(this.keepaliveMs === undefined ? {} : { keepaliveMs: this.keepaliveMs }),
    });
    this.links.push({ peer, reply, side, channel: undefined, timer: undefined, outcomes: [] });
  }

  link(peer: string): Link {
    const l = this.links.find((x) => x.peer === peer);
    if (l === undefined) throw new Error(`${this.name} has no link to ${peer}`);
    return l;
  }

  /**
   * [RELAY-BIND-2] [RELAY-BIND-3] RelaySide binds (its first bind, or a new one with the next counter):
   * bind, challenge, bind with the cookie, confirmation. True when bound; false when RelaySide gave up
   * (three transmissions unanswered, 3.5 s).
   */
  async bind(w: World, peer: string): Promise<boolean> {
    const l = this.link(peer);
    const before = l.outcomes.length;
    this.#perform(l, l.side.state === 'idle' ? l.side.start(this.now) : l.side.rebind(this.now));
    for (let t = 0; t < 5_000 && l.outcomes.length === before; t += 100) await advance(w.sim, 100);
    return l.outcomes[before] === 'bound';
  }

  /** One datagram of the link's channel to `peer`: relay data over UDP (RelaySide.wrap). Returns its length. */
  sendUdp(peer: string, message: string): number {
    const l = this.link(peer);
    const a = l.side.wrap(l.channel!.seal(text.encode(message)));
    this.socket.send(a.datagram, netAddress(a.to));
    return a.datagram.length;
  }

  /** What a node ignoring RelaySide's refusal (wrap before the bind) would send: relay data, unbound. */
  sendUdpUnbound(peer: string, message: string): void {
    const l = this.link(peer);
    const datagram = encodeRelayData(l.reply.allocationId, l.channel!.seal(text.encode(message)));
    this.socket.send(datagram, netAddress(l.side.relay!));
  }

  /** The same as a RelayFrame notice on the channel ([RELAY-TCP-1], RelaySide.frame). */
  sendTcp(peer: string, message: string): number {
    const l = this.link(peer);
    const body = l.side.frame(l.channel!.seal(text.encode(message)));
    this.client.channel.send({ requestId: 0, body: { case: 'relayFrame', value: body } });
    return body.datagram.length;
  }
}

/** Both ask; each device learns its side, and the two get a datagram channel with fresh keys and indices. */
async function relayBetween(w: World, x: Device, y: Device): Promise<void> {
  const [sx, sy] = await w.run(Promise.all([x.allocate(y), y.allocate(x)]));
  const kx = random.randomBytes(32);
  const ky = random.randomBytes(32);
  const ix = 1 + (x.links.length << 8);
  const iy = 2 + (y.links.length << 8);
  for (const [d, side, peer] of [
    [x, sx, y.name],
    [y, sy, x.name],
  ] as const) {
    expect(side.relayEndpoints.length).toBe(1);
    expect(netAddress(side.relayEndpoints[0]!)).toEqual({ host: SN_HOST, port: SN_PORT });
    d.addLink(peer, side);
    expect(netAddress(d.link(peer).side.relay!)).toEqual({ host: SN_HOST, port: SN_PORT });
  }
  x.link(y.name).channel = new DatagramChannel(suite, { sendKey: kx, receiveKey: ky, localIndex: ix, remoteIndex: iy });
  y.link(x.name).channel = new DatagramChannel(suite, { sendKey: ky, receiveKey: kx, localIndex: iy, remoteIndex: ix });
}

async function world() {
  const w = new World({ seed: 'relay sim', options: { udpEndpoints: () => [{ host: SN_HOST, port: SN_PORT }] } });
  const sn = await w.addSupernode({ address: SN_HOST });
  w.publishList();
  const symmetric = () => w.natHost({ mapping: 'address-and-port-dependent', filtering: 'address-and-port-dependent' });
  const alice = new Device('alice', w.user('alice', 1), symmetric().transport);
  const bob = new Device('bob', w.user('bob', 2), symmetric().transport);
  const carol = new Device('carol', w.user('carol', 3), w.firewalledHost({ blockUdp: true }).transport);
  for (const d of [alice, bob, carol]) await d.start(w, sn);
  return { w, sn, alice, bob, carol, relay: sn.supernode.connectivity.relay };
}

describe('the relay between users behind symmetric NATs and UDP-blocking firewalls [RELAY-ALLOC-1] [RELAY-BIND-2] [RELAY-BIND-3] [RELAY-DATA-2] [RELAY-DATA-3] [RELAY-TCP-1]', () => {
  it('[RELAY-ALLOC-1] [RELAY-BIND-2] [RELAY-BIND-3] [RELAY-DATA-1] [RELAY-DATA-2] [RELAY-DATA-3] [NAT-AMP-1] two users behind symmetric NATs exchange channel datagrams through the relay over UDP', async () => {
    const { w, alice, bob, relay } = await world();
    await relayBetween(w, alice, bob);
    // data before the binds goes nowhere: RelaySide refuses to wrap it, and the relay drops it anyway
    expect(() => alice.sendUdp('bob', 'too early')).toThrow(ApiMisuse);
    alice.sendUdpUnbound('bob', 'too early');
    await advance(w.sim, 300);
    expect(bob.received).toEqual([]);
    expect(await alice.bind(w, 'bob')).toBe(true);
    expect(await bob.bind(w, 'alice')).toBe(true);
    // [RELAY-BIND-3] the first bind of each side: counter 1, one challenge answered
    expect([alice.link('bob').side.counter, bob.link('alice').side.counter]).toEqual([1n, 1n]);
    const sentA = ['hello bob', 'a second one', 'x'.repeat(1_000)].map((m) => alice.sendUdp('bob', m));
    const sentB = ['hello alice', 'and back'].map((m) => bob.sendUdp('alice', m));
    await advance(w.sim, 300);
    expect(bob.received.map((r) => [r.via, r.from, r.text])).toEqual([
      ['udp', 'alice', 'hello bob'],
      ['udp', 'alice', 'a second one'],
      ['udp', 'alice', 'x'.repeat(1_000)],
    ]);
    expect(alice.received.map((r) => [r.via, r.text])).toEqual([
      ['udp', 'hello alice'],
      ['udp', 'and back'],
    ]);
    // [NAT-AMP-1] each datagram arrives with the length it was sent with
    expect(bob.received.map((r) => r.length)).toEqual(sentA);
    expect(alice.received.map((r) => r.length)).toEqual(sentB);
    expect(relay.stats).toMatchObject({ active: 1, binds: 2, challenges: 2, forwardedDatagrams: 5 });
    expect(relay.stats.dropped.peerUnbound + relay.stats.dropped.unbound).toBe(1);
  });

  it('[RELAY-TCP-1] [RELAY-DATA-2] when one side turns to TCP frames, traffic still flows both ways', async () => {
    const { w, alice, bob, relay } = await world();
    await relayBetween(w, alice, bob);
    expect(await alice.bind(w, 'bob')).toBe(true);
    expect(await bob.bind(w, 'alice')).toBe(true);
    bob.sendUdp('alice', 'over udp');
    await advance(w.sim, 300);
    // bob's UDP stops working: he sends RelayFrames on his channel, and receives them there
    const framed = bob.sendTcp('alice', 'over tcp');
    expect(bob.link('alice').side.state).toBe('tcp');
    expect(() => bob.sendUdp('alice', 'not while TCP-bound')).toThrow(ApiMisuse);
    await advance(w.sim, 300);
    const sent = alice.sendUdp('bob', 'to a tcp side');
    await advance(w.sim, 300);
    expect(alice.received.map((r) => [r.via, r.text])).toEqual([
      ['udp', 'over udp'],
      ['udp', 'over tcp'],
    ]);
    expect(alice.received[1]!.length).toBe(framed + 9);
    expect(bob.received.map((r) => [r.via, r.text])).toEqual([['tcp', 'to a tcp side']]);
    expect(bob.received[0]!.length).toBe(sent - 9);
    // an authentic UDP bind, with a new counter, moves bob back to UDP
    expect(await bob.bind(w, 'alice')).toBe(true);
    expect(bob.link('alice').side.counter).toBe(2n);
    alice.sendUdp('bob', 'udp again');
    await advance(w.sim, 300);
    expect(bob.received.map((r) => r.via)).toEqual(['tcp', 'udp']);
    expect(relay.stats.framesIn).toBe(1);
    expect(relay.stats.framesOut).toBe(1);
  });

  it('[RELAY-TCP-1] [RELAY-ALLOC-3] a user whose firewall drops all UDP relays over TCP frames only; closing its channel ends the allocation', async () => {
    const { w, alice, carol, relay } = await world();
    await relayBetween(w, alice, carol);
    // carol's binds never reach the relay: RelaySide gives up after three transmissions
    const t0 = w.sim.now;
    expect(await carol.bind(w, 'alice')).toBe(false);
    expect(w.sim.now - t0).toBeGreaterThanOrEqual(3_500);
    expect(carol.link('alice').side.state).toBe('failed');
    expect(relay.stats.challenges).toBe(0);
    expect(await alice.bind(w, 'carol')).toBe(true);
    carol.sendTcp('alice', 'from behind the firewall');
    await advance(w.sim, 300);
    alice.sendUdp('carol', 'to behind the firewall');
    carol.sendTcp('alice', 'again');
    await advance(w.sim, 300);
    expect(alice.received.map((r) => [r.via, r.from, r.text])).toEqual([
      ['udp', 'carol', 'from behind the firewall'],
      ['udp', 'carol', 'again'],
    ]);
    expect(carol.received.map((r) => [r.via, r.from, r.text])).toEqual([['tcp', 'alice', 'to behind the firewall']]);
    expect(relay.stats.active).toBe(1);
    carol.client.close();
    await advance(w.sim, 1_000);
    expect(relay.stats).toMatchObject({ active: 0, ended: 1 });
    alice.sendUdp('carol', 'after the end');
    await advance(w.sim, 300);
    expect(relay.stats.dropped.unknown).toBeGreaterThanOrEqual(1);
    expect(carol.received.length).toBe(1);
  });

  it("[RELAY-BIND-3] RelaySide's keepalive binds keep an idle path alive through symmetric NATs (random ports) that forget a UDP mapping after 30 s; without them the relayed datagrams are lost", async () => {
    const w = new World({
      seed: 'relay sim keepalive',
      options: { udpEndpoints: () => [{ host: SN_HOST, port: SN_PORT }] },
    });
    const sn = await w.addSupernode({ address: SN_HOST });
    w.publishList();
    const forgetful = () => {
      const nat = w.sim.addNat({
        mapping: 'address-and-port-dependent',
        filtering: 'address-and-port-dependent',
        portAllocation: 'random',
        timeoutMs: { udp: 30_000 },
      });
      return epochTransport(w.sim.addHost({ behind: nat.id }));
    };
    const relay = sn.supernode.connectivity.relay;
    // alice keeps the default keepalive (25 s); bob's RelaySide is told an interval far beyond the NAT's
    const alice = new Device('alice', w.user('alice', 1), forgetful());
    const bob = new Device('bob', w.user('bob', 2), forgetful(), 10 * 60_000);
    for (const d of [alice, bob]) {
      await d.start(w, sn);
      // attached: the client's Pings keep the channels, and so the allocation, alive ([RELAY-ALLOC-3])
      await w.run(d.client.attach());
    }
    await relayBetween(w, alice, bob);
    expect(await alice.bind(w, 'bob')).toBe(true);
    expect(await bob.bind(w, 'alice')).toBe(true);
    await advance(w.sim, 2 * 60_000);
    expect(relay.stats.active).toBe(1);
    // alice bound again every 25 s, with counters 2..5, and stayed bound throughout
    expect(alice.link('bob').side.counter).toBe(5n);
    expect(alice.link('bob').outcomes).toEqual(['bound']);
    expect(bob.link('alice').side.counter).toBe(1n);
    expect(relay.stats.binds).toBe(2 + 4);
    // bob -> alice: bob's NAT gives his datagram a new port, which the relay does not accept ([RELAY-DATA-1])
    bob.sendUdp('alice', 'from a forgotten mapping');
    // alice -> bob: the relay sends to bob's old mapping, which his NAT forgot
    alice.sendUdp('bob', 'to a forgotten mapping');
    await advance(w.sim, 300);
    expect(alice.received).toEqual([]);
    expect(bob.received).toEqual([]);
    // [RELAY-BIND-3] bob binds again with a new counter before relying on the relay: both ways work again
    expect(await bob.bind(w, 'alice')).toBe(true);
    expect(bob.link('alice').side.counter).toBe(2n);
    bob.sendUdp('alice', 'rebound');
    alice.sendUdp('bob', 'kept alive');
    await advance(w.sim, 300);
    expect(alice.received.map((r) => [r.via, r.text])).toEqual([['udp', 'rebound']]);
    expect(bob.received.map((r) => [r.via, r.text])).toEqual([['udp', 'kept alive']]);
  });
});
