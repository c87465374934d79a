/**
 * Two nodes with paths between them in the simulator, for the paths and sessions tests: supernodes of
 * @parley/supernode/testing's World, nodes attached through SupernodeClient, each with one UDP socket
 * behind the UdpMux (src/paths/).
 */
import type { NatPresetName, Transport, UdpSocket } from '@parley/net';
import { NAT_PRESETS } from '@parley/net';
import { addressBytes } from '@parley/supernode';
import { advance, epochTransport, type SimSupernode, suite, type TestDevice, World } from '@parley/supernode/testing';
import { bytesEqual, candidatesFor, type Packet, type PacketBody, type PunchCandidate } from '@parley/wire';
import { expect } from 'vitest';
import { SupernodeRelayChannel } from '../../src/paths/channel.js';
import { answerOffer, callPath, type EstablishedPath, type PathEnv } from '../../src/paths/establish.js';
import { probe } from '../../src/paths/probe.js';
import { UdpMux } from '../../src/paths/udp-mux.js';

const NODE_PORT = 40_000;
const SOCKET = { address: new Uint8Array(4), port: NODE_PORT };
export type Behaviour = NatPresetName | 'none' | 'udpBlocked';
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

export class PathNode {
  readonly transport: Transport;
  readonly hostAddress: string;
  readonly device: TestDevice;
  readonly mux: UdpMux;
  readonly socket: UdpSocket;
  home!: SupernodeRelayChannel;
  homeKeyId!: Uint8Array;
  readonly #channels = new Map<string, Promise<SupernodeRelayChannel>>();
  candidates: PunchCandidate[] = [];
  udpBlocked = false;
  incoming: Promise<EstablishedPath> | undefined;
  readonly received: Uint8Array[] = [];

  constructor(
    readonly w: World,
    readonly name: string,
    readonly behaviour: Behaviour,
    device: number,
  ) {
    if (behaviour === 'none') {
      const host = w.sim.addHost();
      this.transport = epochTransport(host);
      this.hostAddress = host.address;
    } else if (behaviour === 'udpBlocked') {
      const h = w.firewalledHost({ blockUdp: true });
      this.transport = h.transport;
      this.hostAddress = h.host.address;
    } else {
      const h = w.natHost({ ...NAT_PRESETS[behaviour] });
      this.transport = h.transport;
      this.hostAddress = h.host.address;
    }
    this.device = w.user(name, device);
    this.mux = new UdpMux({ send: (d, to) => this.socket.send(d, to) });
    this.socket = this.transport.bindUdp(
      { address: '0.0.0.0', port: NODE_PORT },
      { onMessage: (data, from) => this.mux.receive(data, from) },
    );
  }

  async join(home: SimSupernode): Promise<this> {
    this.home = await this.#open(home, true);
    this.homeKeyId = home.identity.keyId;
    this.#channels.set(hex(home.identity.keyId), Promise.resolve(this.home));
    const answer = await this.w.run(probe(this.mux, this.transport.clock, this.transport.random, home.address));
    this.udpBlocked = answer === undefined;
    this.candidates = candidatesFor({
      socket: SOCKET,
      interfaces: [addressBytes(this.hostAddress)],
      reflexive: answer === undefined ? undefined : { socket: SOCKET, reflexive: answer.observed },
    });
    return this;
  }

  async #open(s: SimSupernode, attach: boolean): Promise<SupernodeRelayChannel> {
    let channel!: SupernodeRelayChannel;
    const client = await this.w.connect(s, this.device, {
      transport: this.transport,
      onPacket: (p) => this.#onPacket(p, channel),
    });
    channel = new SupernodeRelayChannel(client);
    if (attach) await this.w.run(client.attach());
    return channel;
  }

  #onPacket(p: Packet, channel: SupernodeRelayChannel): PacketBody | undefined {
    if (p.body.case === 'relayFrame') {
      channel.frame(p.body.value);
      return undefined;
    }
    if (p.body.case !== 'punchOffer') return undefined;
    const { reply, path } = answerOffer(this.env(), p.body.value, true);
    this.incoming = path;
    return { case: 'punchOfferReply', value: reply };
  }

  env(): PathEnv {
    return {
      suite,
      clock: this.transport.clock,
      mux: this.mux,
      home: this.home,
      channelTo: (keyId) => {
        let c = this.#channels.get(hex(keyId));
        if (c === undefined) {
          const s = this.w.supernodes.find((x) => bytesEqual(x.identity.keyId, keyId));
          if (s === undefined) return Promise.reject(new Error('no such supernode'));
          c = this.#open(s, false);
          this.#channels.set(hex(keyId), c);
        }
        return c;
      },
      candidates: () => this.candidates,
      nat: () => ({ mapping: 0, filtering: 0 }),
      udpBlocked: () => this.udpBlocked,
    };
  }
}

/** A peer datagram (type 0x01) of 64 bytes carrying `tag`, as a datagram channel's would be. */
export const peerDatagram = (tag: number, type = 0x01) => {
  const d = new Uint8Array(64).fill(tag);
  d[0] = type;
  return d;
};

export async function world(seed: string): Promise<{ w: World; s1: SimSupernode; s2: SimSupernode }> {
  const w = new World({ seed });
  const s1 = await w.addSupernode({ address: '30.0.1.1' });
  const s2 = await w.addSupernode({ address: '30.0.2.1' });
  w.publishList();
  return { w, s1, s2 };
}

/** Alice (on s1) opens a path to Bob (on s2); both ends, then datagrams both ways. */
export async function connect(ca: Behaviour, cb: Behaviour, seed: string) {
  const { w, s1, s2 } = await world(seed);
  const a = await new PathNode(w, 'alice', ca, 1).join(s1);
  const b = await new PathNode(w, 'bob', cb, 2).join(s2);
  const pa = await w.run(callPath(a.env(), { username: 'bob', deviceId: b.device.deviceId }, s2.identity.keyId));
  expect(b.incoming).toBeDefined();
  const pb = await w.run(b.incoming!);
  const atA: Uint8Array[] = [];
  const atB: Uint8Array[] = [];
  pa.path.onDatagram = (d) => atA.push(d.slice());
  pb.path.onDatagram = (d) => atB.push(d.slice());
  pa.path.send(peerDatagram(1));
  pa.path.send(peerDatagram(2, 0x08));
  pb.path.send(peerDatagram(3));
  await advance(w.sim, 500);
  expect(atB).toEqual([peerDatagram(1), peerDatagram(2, 0x08)]);
  expect(atA).toEqual([peerDatagram(3)]);
  return { w, a, b, pa, pb };
}
