/**
 * A datagram path to one peer device, as a peer session sees it: `send` one peer datagram (type 0x01 or
 * 0x08), receive the peer's through `onDatagram`. Three kinds (spec/08-connectivity.md):
 *
 *   direct      a punched UDP path (08 §6): one pair of endpoints; datagrams go as they are
 *   relay-udp   a relay allocation bound over UDP (08 §7.2): datagrams go wrapped in relay data (0x06)
 *   relay-tcp   the same allocation, TCP-bound (08 §7.4): datagrams go in RelayFrame notices on the node's
 *               channel to the relay supernode (when UDP is blocked, or binding failed)
 *
 * A relay path moves between relay-udp and relay-tcp by itself (the RelaySide's binding); the session on
 * top does not notice. Nothing here authenticates a datagram: the session's handshake and datagram
 * channel do (03 §8-9); a path only makes sure it came from the right place (RELAY-DATA-3, NAT-PUNCH-7).
 */
import type { Clock, NetAddress, Timer } from '@parley/net';
import {
  type CryptoSuite,
  type PacketBodies,
  type PacketBody,
  type RelayAction,
  type RelayAllocation,
  type RelayFrameBody,
  RelaySide,
} from '@parley/wire';
import { netAddress, wireAddress } from './address.js';
import type { UdpMux } from './udp-mux.js';

export type PathKind = 'direct' | 'relay-udp' | 'relay-tcp';

export interface PeerPath {
  readonly kind: PathKind;
  readonly closed: boolean;
  /** Sends one peer datagram (0x01 or 0x08, at most 1,200 bytes). Dropped silently once closed. */
  send(datagram: Uint8Array): void;
  /** Where the peer's datagrams go. */
  onDatagram: ((datagram: Uint8Array) => void) | undefined;
  /** Called once when the path ends by itself (the allocation expired, the relay channel closed). */
  onClosed: (() => void) | undefined;
  close(): void;
}

/** [NAT-PUNCH-7] A punched path: the peer's datagrams come from `remote`, ours go there. */
export class DirectPath implements PeerPath {
  readonly kind = 'direct';
  readonly remote: NetAddress;
  onDatagram: ((datagram: Uint8Array) => void) | undefined;
  onClosed: (() => void) | undefined;
  readonly #mux: UdpMux;
  readonly #release: () => void;
  #closed = false;

  constructor(mux: UdpMux, remote: NetAddress) {
    this.#mux = mux;
    this.remote = remote;
    this.#release = mux.onPeer(remote, (data) => this.onDatagram?.(data));
  }

  get closed(): boolean {
    return this.#closed;
  }

  send(datagram: Uint8Array): void {
    if (!this.#closed) this.#mux.send(datagram, this.remote);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#release();
  }
}

/** A user channel to a supernode, as the relay path uses it (the home channel, or one to the relay). */
export interface RelayChannel {
  request<K extends keyof PacketBodies>(body: PacketBody, expected: K): Promise<PacketBodies[K]>;
  /** Sends a notice (request_id 0). */
  notify(body: PacketBody): void;
  /** RelayFrame notices that arrive on this channel go to `handler` until the returned function is called. */
  onRelayFrame(handler: (frame: RelayFrameBody) => void): () => void;
  readonly closed: boolean;
}

export interface RelayPathOptions {
  readonly suite: CryptoSuite;
  readonly clock: Clock;
  readonly mux: UdpMux;
  readonly channel: RelayChannel;
  readonly allocation: RelayAllocation;
  /** When the RelayAllocateReply arrived (the clock's time). */
  readonly receivedAt: number;
  /** UDP is known to be blocked: go straight to RelayFrames ([RELAY-TCP-1]). */
  readonly tcpOnly?: boolean;
}

/**
 * A relay allocation's side driven on the node's socket and channel: binding with the cookie exchange,
 * keepalive binds, refreshes at half-life, RelayFrames when UDP binding fails ([RELAY-BIND-3],
 * [RELAY-DATA-3], [RELAY-TCP-1], [RELAY-ALLOC-3]).
 */
export class RelayPath implements PeerPath {
  readonly side: RelaySide;
  onDatagram: ((datagram: Uint8Array) => void) | undefined;
  onClosed: (() => void) | undefined;
  readonly #o: RelayPathOptions;
  readonly #releases: (() => void)[] = [];
  #timer: Timer | undefined;
  #closed = false;
  #bound: Promise<PathKind>;
  #settle!: (kind: PathKind) => void;

  constructor(o: RelayPathOptions) {
    this.#o = o;
    this.side = new RelaySide({ suite: o.suite, allocation: o.allocation, receivedAt: o.receivedAt });
    this.#bound = new Promise((resolve) => {
      this.#settle = resolve;
    });
    if (this.side.relay !== undefined) {
      this.#releases.push(
        o.mux.onRelay(netAddress(this.side.relay), (data, from) =>
          this.#perform(this.side.onDatagram(data, wireAddress(from), o.clock.now())),
        ),
      );
    }
    this.#releases.push(o.channel.onRelayFrame((f) => this.#perform(this.side.onFrame(f))));
    if (o.tcpOnly === true || this.side.relay === undefined) {
      // [RELAY-TCP-2] no UDP: a TCP bind at once, so the peer's datagrams reach us before we send any.
      this.#bindTcp();
    } else {
      this.#perform(this.side.start(o.clock.now()));
    }
  }

  get kind(): PathKind {
    return this.side.bound ? 'relay-udp' : 'relay-tcp';
  }
  get closed(): boolean {
    return this.#closed;
  }
  /** Resolves when the side is bound over UDP, or has fallen back to RelayFrames. */
  get ready(): Promise<PathKind> {
    return this.#bound;
  }

  send(datagram: Uint8Array): void {
    if (this.#closed) return;
    if (this.side.bound) {
      const a = this.side.wrap(datagram);
      this.#o.mux.send(a.datagram, netAddress(a.to));
    } else if (!this.#o.channel.closed) {
      // [RELAY-TCP-1] not bound over UDP (binding, failed, or TCP-only): a RelayFrame on the channel.
      this.#o.channel.notify({ case: 'relayFrame', value: this.side.frame(datagram) });
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#end();
    // [RELAY-ALLOC-3] release what we no longer need.
    if (!this.#o.channel.closed) {
      this.#o.channel
        .request(
          { case: 'relayRefresh', value: { allocationId: this.side.allocationId, lifetimeS: 0 } },
          'relayRefreshReply',
        )
        .catch(() => {});
    }
  }

  #bindTcp(): void {
    if (!this.#o.channel.closed) this.#o.channel.notify({ case: 'relayFrame', value: this.side.bindTcp() });
    this.#settle('relay-tcp');
  }

  #end(): void {
    this.#closed = true;
    this.#timer?.cancel();
    this.#timer = undefined;
    for (const r of this.#releases.splice(0)) r();
    this.side.close();
    this.#settle('relay-tcp');
  }

  #perform(actions: readonly RelayAction[]): void {
    if (this.#closed) return;
    const clock = this.#o.clock;
    for (const a of actions) {
      switch (a.kind) {
        case 'send':
          this.#o.mux.send(a.datagram, netAddress(a.to));
          break;
        case 'timer':
          this.#timer?.cancel();
          this.#timer = clock.setTimer(Math.max(0, a.at - clock.now()), () => {
            this.#timer = undefined;
            this.#perform(this.side.onTimer(clock.now()));
          });
          break;
        case 'bound':
          this.#settle('relay-udp');
          break;
        case 'failed':
          // [RELAY-BIND-3] binding over UDP failed: RelayFrames from now on, starting with a TCP bind.
          this.#bindTcp();
          break;
        case 'deliver':
          this.onDatagram?.(a.inner);
          break;
        case 'refresh':
          this.#o.channel
            .request(
              { case: 'relayRefresh', value: { allocationId: this.side.allocationId, lifetimeS: a.lifetimeS } },
              'relayRefreshReply',
            )
            .then(
              (r) => this.#perform(this.side.refreshed(r.lifetimeS, clock.now())),
              () => {},
            );
          break;
        case 'expired':
          this.#end();
          this.onClosed?.();
          return;
      }
    }
  }
}
