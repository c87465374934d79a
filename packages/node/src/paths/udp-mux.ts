/**
 * The node's one UDP socket ([NAT-DGRAM-1]: probes, punches, relay binds and data, and the peers' own
 * datagrams all share it, so that the reflexive endpoint a probe reveals is the endpoint peers reach) and
 * the demultiplexer in front of it. What arrives is routed by its first byte:
 *
 *   0x03 probe reply          to the probe transaction waiting for that source (one per source)
 *   0x05 bind ack, 0x06 data  to the relay sides bound at that source (each checks its own id and MAC)
 *   0x07 punch                to the punch attempt of that punch id
 *   0x01, 0x08 peer datagram  to the direct path of that source (a punched path is one endpoint pair)
 *   anything else             discarded, unanswered ([NAT-DGRAM-1]); a node takes 0x02 only as an
 *                             election candidate (chapter 12), which registers a handler for it
 *
 * A datagram nobody registered for is discarded: anyone can send one (03 CHAN-DGRAM-8), so it proves
 * nothing and changes nothing.
 */
import type { NetAddress } from '@parley/net';
import {
  DATAGRAM_TYPE_DATA,
  DATAGRAM_TYPE_PROBE,
  DATAGRAM_TYPE_PROBE_REPLY,
  DATAGRAM_TYPE_PUNCH,
  DATAGRAM_TYPE_RELAY_BIND_ACK,
  DATAGRAM_TYPE_RELAY_DATA,
  DATAGRAM_TYPE_SESSION_HANDSHAKE,
  PUNCH_ID_BYTES,
} from '@parley/wire';

export type DatagramHandler = (data: Uint8Array, from: NetAddress) => void;

/** What the mux sends through: a bound UDP socket. */
export interface DatagramSender {
  send(data: Uint8Array, to: NetAddress): void;
}

const endpointKey = (a: NetAddress): string => `${a.host}|${a.port}`;
const hexOf = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

/** Counts of what was routed and discarded (tests, diagnostics). */
export interface MuxStats {
  routed: number;
  discarded: number;
}

export class UdpMux {
  readonly #socket: DatagramSender;
  readonly #probes = new Map<string, DatagramHandler>();
  readonly #relays = new Map<string, Set<DatagramHandler>>();
  readonly #punches = new Map<string, DatagramHandler>();
  readonly #peers = new Map<string, DatagramHandler>();
  #candidate: DatagramHandler | undefined;
  readonly stats: MuxStats = { routed: 0, discarded: 0 };

  constructor(socket: DatagramSender) {
    this.#socket = socket;
  }

  send(data: Uint8Array, to: NetAddress): void {
    this.#socket.send(data, to);
  }

  /** Give every datagram the socket receives to this. */
  receive(data: Uint8Array, from: NetAddress): void {
    const handler = this.#route(data, from);
    if (handler === undefined) {
      this.stats.discarded++;
      return;
    }
    this.stats.routed++;
    handler(data, from);
  }

  #route(data: Uint8Array, from: NetAddress): DatagramHandler | undefined {
    if (data.length === 0) return undefined;
    switch (data[0]) {
      case DATAGRAM_TYPE_PROBE_REPLY:
        return this.#probes.get(endpointKey(from));
      case DATAGRAM_TYPE_RELAY_BIND_ACK:
      case DATAGRAM_TYPE_RELAY_DATA: {
        const sides = this.#relays.get(endpointKey(from));
        if (sides === undefined || sides.size === 0) return undefined;
        return (d, f) => {
          for (const h of sides) h(d, f);
        };
      }
      case DATAGRAM_TYPE_PUNCH:
        if (data.length < 1 + PUNCH_ID_BYTES) return undefined;
        return this.#punches.get(hexOf(data.subarray(1, 1 + PUNCH_ID_BYTES)));
      case DATAGRAM_TYPE_DATA:
      case DATAGRAM_TYPE_SESSION_HANDSHAKE:
        return this.#peers.get(endpointKey(from));
      case DATAGRAM_TYPE_PROBE:
        return this.#candidate;
      default:
        return undefined;
    }
  }

  /** Probe replies from `server` go to `handler` until the returned function is called. */
  onProbeReplies(server: NetAddress, handler: DatagramHandler): () => void {
    return this.#add(this.#probes, endpointKey(server), handler);
  }

  /** Bind acks and relay data from `relay` go to `handler` (with any other side bound there). */
  onRelay(relay: NetAddress, handler: DatagramHandler): () => void {
    const key = endpointKey(relay);
    let set = this.#relays.get(key);
    if (set === undefined) {
      set = new Set();
      this.#relays.set(key, set);
    }
    set.add(handler);
    return () => {
      const s = this.#relays.get(key);
      s?.delete(handler);
      if (s !== undefined && s.size === 0) this.#relays.delete(key);
    };
  }

  /** Punches of `punchId` go to `handler`. */
  onPunch(punchId: Uint8Array, handler: DatagramHandler): () => void {
    return this.#add(this.#punches, hexOf(punchId), handler);
  }

  /** Peer datagrams (0x01, 0x08) from `peer` go to `handler`: a direct path. */
  onPeer(peer: NetAddress, handler: DatagramHandler): () => void {
    return this.#add(this.#peers, endpointKey(peer), handler);
  }

  /** Probes (0x02) go to `handler` while the node is an election candidate (08 ATTEST-NODE-1). */
  onCandidateProbes(handler: DatagramHandler | undefined): void {
    this.#candidate = handler;
  }

  #add(map: Map<string, DatagramHandler>, key: string, handler: DatagramHandler): () => void {
    map.set(key, handler);
    return () => {
      if (map.get(key) === handler) map.delete(key);
    };
  }
}
