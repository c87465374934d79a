/**
 * The deterministic network simulator (DESIGN.md §2, §9; spec/05-network.md): a virtual clock over an
 * event queue, seeded randomness, hosts with IPv4 addresses on a flat "internet", access links (link.ts),
 * NAT boxes and firewalls (nat.ts, firewall.ts: pure models this file routes through), UDP datagrams,
 * message-level TCP streams (stream.ts), partitions and host crashes. Every simulated host is a
 * `Transport`, so protocol code runs here unchanged; tests never wait on wall time.
 *
 * Determinism: the only inputs are the seed and the program. Events at equal times run in scheduling
 * order; each host draws from its own generators (one for its Transport, one for its link), derived from
 * the seed and the host's index, so adding a host or drawing more on one host perturbs no other host.
 *
 * Cost: an idle host is one object, its address string, a Map entry and a 16-byte row of `linkState` (its
 * link stream's four words of state); generators, clocks and socket tables are created on first use.
 *
 * Speed (the target: >= 1,000,000 datagram deliveries per second with 100,000 hosts on one core; the bench
 * is bench/sim.ts). With that many hosts every object a delivery touches is a likely cache miss, which
 * costs about as much as all the computing a delivery does, so the datagram path is laid out for memory:
 * - A datagram from a public host to an address the simulator made for a socket (SimAddress: what `local`
 *   and every `from` are), over lossless links of unlimited bandwidth, takes a fast path (`sendDatagram`):
 *   no routing table, no middlebox, and no object: it is a packet entry of the event queue
 *   (event-queue.ts) holding the receiving socket, the payload and the source. The run loop reads the
 *   entry where it lies (`EventQueue.takeRunEntry`), and its delivery (`deliverPacket`) touches the
 *   receiving socket, its handlers object and the handler.
 *   Every other datagram (and every one while a trace is recorded) takes the general path and is a
 *   `Datagram` event object; both paths make the same random draws in the same order, so a run is the same
 *   on either (test/sim/fast-path.test.ts checks it).
 * - Struct of arrays for per-host state the path needs: the link streams' state is one Int32Array
 *   (`linkState`, row = host index) rather than a field group of each host; a socket carries its host's
 *   index and a shared SocketPath (simulator, link, edge), so neither host object is read.
 * - The queue reads ahead (warming) the sockets, handlers and link-stream rows of the next bucket of
 *   events, so those cache misses overlap instead of stalling one by one (event-queue.ts).
 * - Few instructions: the fast path tests each side's link with one comparison (SocketPath.fastMax) and
 *   draws both jitters on a local copy of the sender's link-stream row; the handler is called as a
 *   method (`handlers.onMessage(data, from)`, as the real transport calls it), so V8 learns the function
 *   at the call site and calls it directly, or inlines it, where `.call` on a function read from the
 *   socket went through the generic call builtin.
 *
 * Semantics chosen (streams: stream.ts):
 * - Path: a packet crosses the sender's access link and the receiver's (link.ts). Loss, MTU, middleboxes
 *   and partitions are decided when it is sent; whether the receiver is up and has a socket there, when it
 *   arrives. Loss and jitter draws (both links) come from the sender's link stream.
 * - Addresses: public hosts 30.0.0.1 upwards on a flat internet; behind NAT box k, 10.(k>>8).(k&255).x (never
 *   10.255/16). A host behind a firewall keeps a public address (the firewall's). Nested NATs are not modelled.
 * - Partition(a, b, from, to): packets sent in [from, to) between a host of a and one of b are dropped.
 * - Crash: the host's sockets, listeners, streams and timers vanish without callbacks (its software is
 *   dead); datagrams arriving for it are dropped, also after a restart if sent before the crash. Restart:
 *   the host is up with nothing bound; `onRestart` starts its software again.
 * - Handler exceptions are not caught: they leave `run`/`step` (the event has been consumed; the
 *   simulator can run on).
 */

import type {
  ConnectOptions,
  ListenerHandlers,
  ListenOptions,
  StreamHandlers,
  UdpHandlers,
  UdpOptions,
} from '../transport.js';
import { type Clock, type NetAddress, NetError, type Random, type Timer, type Transport } from '../transport.js';
import { EventQueue, type PacketTarget, SimEvent, type Warmable } from './event-queue.js';
import { Firewall, type FirewallConfig } from './firewall.js';
import { DEFAULT_LINK, type LinkConfig, resolveLink, UDP_OVERHEAD } from './link.js';
import type { Protocol } from './middlebox.js';
import { NatBox, type NatConfig } from './nat.js';
import { bytesFromWords, hashSeed, SeededRandom, StreamKind } from './random.js';
import { connectTcp, listenTcp, type SimListener, type SimStream, type StreamTiming } from './stream.js';
import { type DropReason, PacketTrace, type PacketTraceOptions } from './trace.js';

export interface SimulatorOptions {
  /** The seed: the same seed and program give the identical run. Default 'parley'. */
  readonly seed?: string | number;
  /** Record a packet trace (off by default; then it costs nothing). */
  readonly trace?: boolean | PacketTraceOptions;
  /** Default access link of hosts (each host may override fields). */
  readonly link?: Partial<LinkConfig>;
  /**
   * A stream segment that cannot be delivered (partition, crashed peer, NAT mapping gone) is retransmitted
   * until this long after its first transmission, then the sending end fails with ETIMEDOUT. Default 30,000 ms.
   */
  readonly streamTimeoutMs?: number;
  /** First retransmission delay of an undelivered stream segment; doubles up to 8 s. Default 200 ms. */
  readonly retransmitMs?: number;
  /** Stream write-buffer high-water mark in bytes. Default 65,536. */
  readonly highWaterMark?: number;
}

export interface HostOptions {
  /** The host's address. Default: the next free public address (30.0.0.1, …), or a private one behind a NAT. */
  readonly address?: string;
  /** Overrides of the simulator's default link. */
  readonly link?: Partial<LinkConfig>;
  /** The id of the NAT box or firewall (from addNat/addFirewall) the host sits behind. */
  readonly behind?: number;
}

export interface MiddleboxHandle {
  readonly id: number;
  /** The box's public address (for a firewall: the protected host's own address). */
  readonly publicHost: string;
}

/** A running event with no host: timers of `Simulator.clock`, scheduled faults. */
class TaskEvent extends SimEvent implements Timer {
  cancelled = false;
  constructor(private readonly fn: () => void) {
    super();
  }
  fire(): void {
    if (!this.cancelled) this.fn();
  }
  cancel(): void {
    this.cancelled = true;
  }
}

/** An event that belongs to a host's software: it vanishes if the host crashes before it fires. */
export class HostTask extends SimEvent implements Timer {
  cancelled = false;
  constructor(
    private readonly host: SimHost,
    private readonly incarnation: number,
    private readonly fn: () => void,
  ) {
    super();
  }
  fire(): void {
    if (!this.cancelled && this.host.incarnation === this.incarnation) this.fn();
  }
  cancel(): void {
    this.cancelled = true;
  }
}

/**
 * A datagram in flight: the packet and its queue entry in one object, recycled after delivery. Fields in
 * the order delivery reads them (V8 lays them out in that order): what every delivery needs first, what
 * only a slow path (closed socket, trace) needs last.
 */
class Datagram extends SimEvent {
  readonly sim: Simulator;
  /** The receiving socket when known at sending time (a direct route), else undefined: look it up by port. */
  socket: SimUdpSocket | undefined = undefined;
  data: Uint8Array = EMPTY;
  from: NetAddress = NOWHERE;
  to: NetAddress = NOWHERE;
  host: SimHost | undefined = undefined;
  port = 0;
  /** Virtual time of sending: a host that crashed after it never gets it (read only when the socket closed). */
  sentAt = 0;
  constructor(sim: Simulator) {
    super();
    this.sim = sim;
  }
  fire(): void {
    this.sim.deliverDatagram(this);
  }
  override warm(): Warmable | undefined {
    // Reads the first and the last field delivery reads (an object may straddle two cache lines).
    return this.from === NOWHERE ? undefined : this.socket;
  }
}

/** The link random stream of a host, as a `Random` over its row of `Simulator.linkState`. */
class HostLinkRandom implements Random {
  constructor(private readonly host: SimHost) {}
  uint32(): number {
    return this.host.linkUint32();
  }
  float(): number {
    return this.host.linkFloat();
  }
  randomBytes(length: number): Uint8Array {
    return bytesFromWords(length, () => this.uint32());
  }
}

class HostClock implements Clock {
  constructor(private readonly host: SimHost) {}
  now(): number {
    return this.host.sim.now;
  }
  setTimer(delayMs: number, fn: () => void): Timer {
    return this.host.schedule(delayMs, fn);
  }
}

/**
 * An address the simulator hands out: a socket's address, hence every `from` of a datagram. For a public
 * host not behind a middlebox it also remembers its socket, host and link, so a datagram sent to it needs
 * neither the routing table nor the destination host's object until delivery: answering or remembering
 * `from` is what protocols do, and among 100,000 hosts each object touched is a cache miss. The extra state
 * is private, so the object still equals a plain `{ host, port }`.
 */
export class SimAddress implements NetAddress {
  // The fields a datagram to the address reads first (V8 lays fields out in declaration order), so that
  // with the object's header they span 48 bytes, not 64: more often one cache line than two.
  readonly #socket: SimUdpSocket | undefined;
  readonly #owner: SimHost | undefined;
  readonly #path: SocketPath | undefined;
  readonly host: string;
  readonly port: number;
  constructor(host: string, port: number, socket?: SimUdpSocket, owner?: SimHost, path?: SocketPath) {
    this.host = host;
    this.port = port;
    this.#socket = socket;
    this.#owner = owner;
    this.#path = owner === undefined ? undefined : path;
  }

  /** @internal The address as a direct route, if the simulator made it for an unboxed public host. */
  static direct(address: NetAddress): SimAddress | undefined {
    return #owner in address && (address as SimAddress).#owner !== undefined ? (address as SimAddress) : undefined;
  }

  /** @internal */
  get ownerHost(): SimHost {
    return this.#owner!;
  }
  /** @internal */
  get ownerLink(): LinkConfig {
    return this.#path!.link;
  }
  /** @internal The path of the socket the address was made for (its host's link: SocketPath). */
  get ownerPath(): SocketPath {
    return this.#path!;
  }
  /** @internal The socket the address was made for (it may have closed since). */
  get ownerSocket(): SimUdpSocket | undefined {
    return this.#socket;
  }
}

/**
 * @internal What the datagram path needs of a socket's host besides its index, shared by every socket of
 * the simulator whose host has the same link and the same kind of edge (Simulator.socketPath): one object
 * for thousands of hosts, so it stays in cache.
 */
export interface SocketPath {
  readonly sim: Simulator;
  /** The host's link (`SimHost.link`). */
  readonly link: LinkConfig;
  /** No NAT or firewall in front of the host: a datagram may take a direct route (SimAddress). */
  readonly unboxed: boolean;
  /**
   * The largest payload `sendDatagram`'s fast path takes across this link, as sender or as receiver: the
   * link's MTU less the headers when the link is lossless with unlimited bandwidth and the host is
   * unboxed (nothing to draw, serialise or route on that side but jitter), else -1 (every datagram from
   * or to the host takes the general path). One comparison instead of five field tests per side.
   */
  readonly fastMax: number;
  /** `link.latencyMs` and `link.jitterMs`, read where the path is (one object fewer per datagram). */
  readonly latencyMs: number;
  readonly jitterMs: number;
}

/**
 * A UDP socket. It is the one object of its host that every delivery to it and every send from it must
 * touch (the handler is called through it; protocol code calls `send` on it), so it carries, first in its
 * layout, everything the datagram path needs: the handlers, the address, the host's index (its link
 * stream's state is a row of `Simulator.linkState`) and its path (simulator, link, edge; shared). A
 * datagram's path then touches neither the sending nor the receiving `SimHost` object (among 100,000
 * hosts each object touched is a cache miss), unless a slow path (middlebox, partition, finite bandwidth,
 * closed socket) needs it. The hot fields are six words, so they usually share a cache line or two.
 */
export class SimUdpSocket implements PacketTarget {
  closed = false;
  /**
   * @internal Whether warming may read `handlers.onMessage`: it was an own data property at creation (an
   * object literal's, as usual), so reading it runs no code (a getter would run: warming must not).
   */
  readonly warmsHandler: boolean;
  readonly handlers: UdpHandlers;
  readonly address: SimAddress;
  /** @internal */ readonly path: SocketPath;
  /** @internal The host's index (`SimHost.index`). */
  readonly hostIndex: number;
  readonly host: SimHost;
  private bound: NetAddress | undefined = undefined;

  constructor(host: SimHost, port: number, handlers: UdpHandlers) {
    const own = Object.getOwnPropertyDescriptor(handlers, 'onMessage');
    this.warmsHandler = own !== undefined && 'value' in own;
    this.handlers = handlers;
    const path = host.sim.socketPath(host);
    this.address = new SimAddress(host.address, port, this, host.box === undefined ? host : undefined, path);
    this.path = path;
    this.hostIndex = host.index;
    this.host = host;
  }

  /** @internal A packet for this socket (event-queue.ts), outside the simulator's run loop. */
  receive(data: Uint8Array, from: unknown, sentAt: number): void {
    this.path.sim.deliverPacket(this, data, from as NetAddress, sentAt);
  }

  /**
   * @internal EventQueue warming: reads what a delivery to this socket, and a send from it, will read. The
   * socket's first and last hot fields (an object may straddle cache lines)…
   */
  warmNext(): Warmable | undefined {
    return this.closed || this.hostIndex < 0 ? undefined : this;
  }

  /**
   * @internal … then the handlers object and its `onMessage` function object (`typeof` reads its map),
   * which the call will need, and the row of the host's link stream, which its answer (if it sends one)
   * draws from.
   */
  warmLast(): number {
    let w = this.path.sim.linkState[4 * this.hostIndex]!;
    if (this.warmsHandler) w ^= typeof this.handlers.onMessage === 'function' ? 1 : 2;
    return w;
  }

  /** The bound address; undefined until `onReady` ran (transport.ts). */
  get local(): NetAddress | undefined {
    return this.bound;
  }

  /** @internal */
  ready(): void {
    if (this.closed) return;
    this.bound = this.address;
    this.handlers.onReady?.(this.address);
  }

  send(data: Uint8Array, to: NetAddress): void {
    if (this.closed) return;
    this.path.sim.sendDatagram(this, data, to);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.host.removeUdp(this);
  }
}

/** A simulated host: its address, link and sockets; it is its own `Transport`. */
export class SimHost implements Transport {
  /** False between a crash and a restart. */
  up = true;
  /** Bumped by a crash: events and sockets of an older incarnation are dead. */
  incarnation = 0;
  /** Virtual time of the last crash. */
  crashedAt = Number.NEGATIVE_INFINITY;
  /** Uplink/downlink busy until (virtual ms), for bandwidth serialisation. */
  txFreeAt = 0;
  rxFreeAt = 0;
  /**
   * @internal UDP sockets: most hosts hold one, kept in two fields (no Map, one memory access fewer per
   * delivery); others in `udp`.
   */
  firstUdp: SimUdpSocket | undefined;
  /** @internal */ firstUdpPort = -1;
  /** @internal */ udp: Map<number, SimUdpSocket> | undefined;
  /** @internal */ listeners: Map<number, SimListener> | undefined;
  /** @internal Streams by `${localPort}|${remoteHost}:${remotePort}` as this host sees them. */
  streams: Map<string, SimStream> | undefined;
  private nextEphemeral = 49152;
  private transportRandom: SeededRandom | undefined;
  private linkRng: HostLinkRandom | undefined;
  private hostClock: HostClock | undefined;

  constructor(
    readonly sim: Simulator,
    /** Index in creation order; derives the host's random streams. */
    readonly index: number,
    readonly address: string,
    readonly link: LinkConfig,
    /** The NAT or firewall in front of the host, if any. @internal */
    readonly box: BoxNode | undefined,
  ) {}

  /** @internal The next uint32 of the link's stream (its state is a row of `Simulator.linkState`). */
  linkUint32(): number {
    return this.sim.linkUint32(this.index);
  }

  /** @internal A float in [0, 1) from the link's stream: SeededRandom.float (random.ts). */
  linkFloat(): number {
    return this.sim.linkUint32(this.index) / 4294967296;
  }

  get clock(): Clock {
    if (this.hostClock === undefined) this.hostClock = new HostClock(this);
    return this.hostClock;
  }

  /** This host's own stream of the seed (its software's randomness). */
  get random(): Random {
    if (this.transportRandom === undefined)
      this.transportRandom = new SeededRandom(this.sim.seedHash, StreamKind.HostTransport, this.index);
    return this.transportRandom;
  }

  /** @internal Loss and jitter draws of this host's link (a view of its row of `Simulator.linkState`). */
  get linkRandom(): HostLinkRandom {
    if (this.linkRng === undefined) this.linkRng = new HostLinkRandom(this);
    return this.linkRng;
  }

  /** @internal Runs fn after delayMs unless the host crashes first. */
  schedule(delayMs: number, fn: () => void): HostTask {
    const task = new HostTask(this, this.incarnation, fn);
    this.sim.queue.push(task, this.sim.now + delay(delayMs));
    return task;
  }

  /** @internal */
  udpSocket(port: number): SimUdpSocket | undefined {
    return this.firstUdpPort === port ? this.firstUdp : this.udp?.get(port);
  }

  private addUdp(socket: SimUdpSocket): void {
    if (this.firstUdp === undefined) {
      this.firstUdp = socket;
      this.firstUdpPort = socket.address.port;
    } else {
      if (this.udp === undefined) this.udp = new Map();
      this.udp.set(socket.address.port, socket);
    }
  }

  /** @internal */
  removeUdp(socket: SimUdpSocket): void {
    if (this.firstUdp === socket) {
      this.firstUdp = undefined;
      this.firstUdpPort = -1;
    } else if (this.udp?.get(socket.address.port) === socket) this.udp.delete(socket.address.port);
  }

  /** @internal A free ephemeral port, deterministic (sequential from 49152, wrapping). */
  ephemeralPort(proto: Protocol): number {
    for (let i = 0; i < 16384; i++) {
      const port = this.nextEphemeral;
      this.nextEphemeral = port === 65535 ? 49152 : port + 1;
      if (
        proto === 'udp' ? this.udpSocket(port) === undefined : !this.listeners?.has(port) && !this.portInStreams(port)
      )
        return port;
    }
    return 0;
  }

  private portInStreams(port: number): boolean {
    if (this.streams === undefined) return false;
    for (const s of this.streams.values()) if (s.localPort === port) return true;
    return false;
  }

  /** @internal Validates a local address option; an error or undefined. */
  checkLocal(address: string | undefined): NetError | undefined {
    if (!this.up) return new NetError('EADDRNOTAVAIL', `host ${this.address} is down`);
    if (address !== undefined && address !== this.address && address !== '0.0.0.0')
      return new NetError('EADDRNOTAVAIL', `${address} is not an address of host ${this.address}`);
    return undefined;
  }

  bindUdp(options: UdpOptions, handlers: UdpHandlers): SimUdpSocket {
    const error = this.checkLocal(options.address);
    let port = options.port ?? 0;
    if (error === undefined && port !== 0 && this.udpSocket(port) !== undefined) {
      return this.failedUdp(handlers, port, new NetError('EADDRINUSE', `udp port ${port} on ${this.address}`));
    }
    if (error !== undefined) return this.failedUdp(handlers, port, error);
    if (port === 0) port = this.ephemeralPort('udp');
    if (port === 0) return this.failedUdp(handlers, 0, new NetError('EADDRINUSE', 'no free udp port'));
    const socket = new SimUdpSocket(this, port, handlers);
    this.addUdp(socket);
    if (handlers.onReady !== undefined) this.schedule(0, () => socket.ready());
    else socket.ready(); // no observer: nothing can tell it apart, and bulk binds stay allocation-free
    return socket;
  }

  private failedUdp(handlers: UdpHandlers, port: number, error: NetError): SimUdpSocket {
    const socket = new SimUdpSocket(this, port, handlers);
    socket.closed = true;
    this.schedule(0, () => handlers.onError?.(error));
    return socket;
  }

  listenTcp(options: ListenOptions, handlers: ListenerHandlers): SimListener {
    return listenTcp(this, options, handlers);
  }

  connectTcp(remote: NetAddress, handlers: StreamHandlers, options?: ConnectOptions): SimStream {
    return connectTcp(this, remote, handlers, options);
  }

  /** @internal The host's software dies: every socket, listener, stream and timer vanishes silently. */
  crash(): void {
    this.up = false;
    this.crashedAt = this.sim.now;
    this.incarnation++;
    if (this.firstUdp !== undefined) this.firstUdp.closed = true;
    this.firstUdp = undefined;
    this.firstUdpPort = -1;
    if (this.udp !== undefined) for (const s of this.udp.values()) s.closed = true;
    this.udp = undefined;
    if (this.listeners !== undefined) for (const l of this.listeners.values()) l.closed = true;
    this.listeners = undefined;
    if (this.streams !== undefined) for (const s of this.streams.values()) s.vanish();
    this.streams = undefined;
    this.txFreeAt = 0;
    this.rxFreeAt = 0;
  }
}

/** @internal A NAT box or firewall placed in the topology. */
export interface BoxNode {
  readonly id: number;
  readonly publicHost: string;
  readonly nat: NatBox | undefined;
  readonly firewall: Firewall | undefined;
  /** NAT only: inside hosts by private address. */
  readonly inside: Map<string, SimHost>;
  /** NAT only: the private /24 (as its first three octets) inside addresses are drawn from. */
  readonly subnet: string;
  nextInside: number;
}

interface Partition {
  readonly a: ReadonlySet<SimHost>;
  readonly b: ReadonlySet<SimHost>;
  readonly from: number;
  readonly to: number;
}

/** A timer delay: negative and NaN mean now (Math.max would keep NaN, which breaks the queue's order). */
function delay(ms: number): number {
  // biome-ignore lint/complexity/useMathMinMax: NaN must become 0
  return ms > 0 ? ms : 0;
}

const EMPTY = new Uint8Array(0);
const NOWHERE: NetAddress = Object.freeze({ host: '0.0.0.0', port: 0 });

/** First public address handed out: 30.0.0.1 (anything that is not private, loopback or 10.255/16). */
const FIRST_PUBLIC = (30 << 24) >>> 0;

function ipv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export class Simulator {
  readonly queue = new EventQueue();
  readonly seedHash: number;
  /** Randomness not tied to a host (NAT port allocation streams derive from it). */
  readonly random: SeededRandom;
  readonly trace: PacketTrace | undefined;
  readonly defaultLink: LinkConfig;
  /** @internal */ readonly timing: StreamTiming;
  /** Datagrams and stream segments handed to a receiving socket. */
  deliveries = 0;
  /** Events run so far. */
  eventsRun = 0;
  /** The simulator's own clock (virtual ms); timers on it survive host crashes. */
  readonly clock: Clock;

  private nowMs = 0;
  private readonly hosts: SimHost[] = [];
  /** The internet: public addresses to hosts, NAT boxes (their public address) or firewalled hosts. */
  private readonly publicAddrs = new Map<string, SimHost | BoxNode>();
  private readonly boxes: BoxNode[] = [];
  private nextPublic = FIRST_PUBLIC + 1;
  private partitions: Partition[] = [];
  /** No trace and no partition: datagrams may take sendDatagram's fast path. */
  private plain: boolean;
  private readonly freeDatagrams: Datagram[] = [];
  /**
   * @internal The state of every host's link random stream (sfc32, random.ts): row i (four int32 words
   * at 4i) is host i's, the stream `SeededRandom(seedHash, StreamKind.HostLink, i)` gives. A struct of
   * arrays rather than a generator object per host: a send draws its loss and jitter here, in a dense
   * table of 16 bytes per host (1.6 MB for 100,000 hosts), rather than in a scattered object of its own;
   * and the event queue reads the row ahead, with the receiving socket, before a delivery's answer needs
   * it (SimUdpSocket.warmLast). Grown by doubling as hosts are added.
   */
  linkState = new Int32Array(64);
  private readonly socketPaths: SocketPath[] = [];

  // Routing results (scratch, to keep the datagram path allocation-free).
  private rHost: SimHost | undefined;
  private rPort = 0;
  private rFrom: NetAddress | undefined;

  constructor(options: SimulatorOptions = {}) {
    this.seedHash = hashSeed(options.seed ?? 'parley');
    this.random = new SeededRandom(this.seedHash, StreamKind.Simulator, 0);
    const trace = options.trace;
    this.trace = trace === undefined || trace === false ? undefined : new PacketTrace(trace === true ? {} : trace);
    this.plain = this.trace === undefined;
    this.defaultLink = resolveLink(DEFAULT_LINK, options.link);
    this.timing = {
      streamTimeoutMs: options.streamTimeoutMs ?? 30_000,
      retransmitMs: options.retransmitMs ?? 200,
      highWaterMark: options.highWaterMark ?? 65_536,
    };
    this.clock = {
      now: () => this.nowMs,
      setTimer: (delayMs, fn) => this.schedule(delayMs, fn),
    };
  }

  /** Current virtual time, ms. */
  get now(): number {
    return this.nowMs;
  }

  /** Number of hosts. */
  get hostCount(): number {
    return this.hosts.length;
  }

  /** Runs fn at now + delayMs (simulator-level: not tied to a host). */
  schedule(delayMs: number, fn: () => void): Timer {
    const t = new TaskEvent(fn);
    this.queue.push(t, this.nowMs + delay(delayMs));
    return t;
  }

  /** Runs fn at absolute virtual time atMs (or now, if that has passed). */
  at(atMs: number, fn: () => void): Timer {
    return this.schedule(atMs - this.nowMs, fn);
  }

  // ---- Running ------------------------------------------------------------------------------------

  /** Runs the earliest event; false when none is left. */
  step(): boolean {
    const ev = this.queue.pop();
    if (ev === undefined) return false;
    this.nowMs = this.queue.poppedTime;
    this.eventsRun++;
    ev.fire();
    return true;
  }

  /**
   * Runs events in order until none is left, or the next is later than `until` (the clock then stands at
   * `until`), or `maxEvents` have run. Returns the number of events run.
   */
  run(options: { until?: number; maxEvents?: number } = {}): number {
    const until = options.until ?? Number.POSITIVE_INFINITY;
    const max = options.maxEvents ?? Number.POSITIVE_INFINITY;
    const queue = this.queue;
    let n = 0;
    while (n < max) {
      // A packet (a datagram on the direct path: no event object) or an event; the time comes from the
      // queue's keys, so nothing of the entry is read before it runs. Mostly an entry of the queue's
      // current run, read here where it lies (takeRunEntry); else (an event of the queue's `near` heap) by
      // takeDue.
      const e = queue.takeRunEntry(until);
      if (e >= 0) {
        const refs = queue.refs;
        const item = refs[e];
        const data = refs[e + 1];
        const from = refs[e + 2];
        // Cleared (the arena must not keep dead events and payloads alive); storing undefined needs no barrier.
        refs[e] = refs[e + 1] = refs[e + 2] = undefined;
        const keys = queue.keys;
        this.nowMs = keys[e]!;
        n++;
        if (data !== undefined)
          this.deliverPacket(item as SimUdpSocket, data as Uint8Array, from as NetAddress, keys[e + 2]!);
        else (item as SimEvent).fire();
        continue;
      }
      if (e === -1) break;
      const item = queue.takeDue(until);
      if (item === undefined) break;
      this.nowMs = queue.poppedTime;
      n++;
      const data = queue.poppedData;
      if (data !== undefined)
        this.deliverPacket(item as SimUdpSocket, data, queue.poppedFrom as NetAddress, queue.poppedStamp);
      else (item as SimEvent).fire();
    }
    this.eventsRun += n;
    if (n < max && until !== Number.POSITIVE_INFINITY && this.nowMs < until) this.nowMs = until;
    return n;
  }

  /** Runs events until `predicate()` holds (checked before each event) or `timeoutMs` of virtual time passed. */
  runUntil(predicate: () => boolean, timeoutMs: number): boolean {
    const deadline = this.nowMs + timeoutMs;
    for (;;) {
      if (predicate()) return true;
      const ev = this.queue.peek();
      if (ev === undefined || ev.time > deadline) {
        this.nowMs = Math.max(this.nowMs, deadline);
        return predicate();
      }
      this.step();
    }
  }

  // ---- Topology -----------------------------------------------------------------------------------

  private allocatePublic(): string {
    for (;;) {
      const n = this.nextPublic++;
      const last = n & 255;
      if (last === 0 || last === 255) continue;
      const a = ipv4(n);
      if (!this.publicAddrs.has(a)) return a;
    }
  }

  addHost(options: HostOptions = {}): SimHost {
    const link = resolveLink(this.defaultLink, options.link);
    const index = this.hosts.length;
    let host: SimHost;
    if (options.behind === undefined) {
      const address = options.address ?? this.allocatePublic();
      if (this.publicAddrs.has(address)) throw new RangeError(`address ${address} is taken`);
      host = new SimHost(this, index, address, link, undefined);
      this.publicAddrs.set(address, host);
    } else {
      const box = this.boxes[options.behind];
      if (box === undefined) throw new RangeError(`no middlebox ${options.behind}`);
      if (box.firewall !== undefined) {
        // A firewall protects one host, whose address is the firewall's public one.
        const address = box.publicHost;
        if (options.address !== undefined && options.address !== address)
          throw new RangeError(`a host behind firewall ${box.id} has its address ${address}`);
        if (this.publicAddrs.has(address)) throw new RangeError(`firewall ${box.id} already protects a host`);
        host = new SimHost(this, index, address, link, box);
        this.publicAddrs.set(address, host);
      } else {
        let address = options.address;
        if (address === undefined) {
          do {
            if (box.nextInside > 254) throw new RangeError(`NAT ${box.id}: no free inside address`);
            address = `${box.subnet}.${box.nextInside++}`;
          } while (box.inside.has(address));
        }
        if (box.inside.has(address)) throw new RangeError(`address ${address} is taken behind NAT ${box.id}`);
        host = new SimHost(this, index, address, link, box);
        box.inside.set(address, host);
      }
    }
    this.hosts.push(host);
    this.initLinkState(index);
    return host;
  }

  /** @internal The shared SocketPath of `host`'s sockets. */
  socketPath(host: SimHost): SocketPath {
    const unboxed = host.box === undefined;
    let path = this.socketPaths.find((p) => p.link === host.link && p.unboxed === unboxed);
    if (path === undefined) {
      const link = host.link;
      const plain = unboxed && link.loss === 0 && link.bandwidth === Number.POSITIVE_INFINITY;
      const fastMax = plain ? link.mtu - UDP_OVERHEAD : -1;
      path = { sim: this, link, unboxed, fastMax, latencyMs: link.latencyMs, jitterMs: link.jitterMs };
      // Hosts mostly share a few links; past a handful, a path per socket is as good (and the search short).
      if (this.socketPaths.length < 16) this.socketPaths.push(path);
    }
    return path;
  }

  /** Row `index` of `linkState`: the seeded state of host `index`'s link stream. */
  private initLinkState(index: number): void {
    if (4 * index + 4 > this.linkState.length) {
      const grown = new Int32Array(2 * this.linkState.length);
      grown.set(this.linkState);
      this.linkState = grown;
    }
    this.linkState.set(new SeededRandom(this.seedHash, StreamKind.HostLink, index).stateWords(), 4 * index);
  }

  /** @internal The next uint32 of host `index`'s link stream: SeededRandom.uint32 (random.ts) on its row. */
  linkUint32(index: number): number {
    const s = this.linkState;
    const i = 4 * index;
    const a = s[i]!;
    const b = s[i + 1]!;
    const c = s[i + 2]!;
    const d = s[i + 3]!;
    const t = (((a + b) | 0) + d) | 0;
    s[i] = b ^ (b >>> 9);
    s[i + 1] = (c + (c << 3)) | 0;
    s[i + 2] = (((c << 21) | (c >>> 11)) + t) | 0;
    s[i + 3] = (d + 1) | 0;
    return t >>> 0;
  }

  /**
   * Adds a NAT box (nat.ts). Its public address defaults to the next free public one; inside hosts get
   * private addresses 10.a.b.x (never 10.255/16), one /24 per box, unless given explicitly (private
   * spaces of different boxes may overlap).
   */
  addNat(config: Partial<NatConfig> = {}): MiddleboxHandle {
    const id = this.boxes.length;
    const publicHost = config.publicHost ?? this.allocatePublic();
    if (this.publicAddrs.has(publicHost)) throw new RangeError(`address ${publicHost} is taken`);
    const random = new SeededRandom(this.seedHash, StreamKind.Middlebox, id);
    const nat = new NatBox({ ...config, publicHost }, random);
    // 10.0.0.0/8 minus 10.255.0.0/16: 255 * 256 subnets; 192.168.x.0/24 after that.
    const subnet = id < 255 * 256 ? `10.${id >> 8}.${id & 255}` : `192.168.${(id - 255 * 256) & 255}`;
    const node: BoxNode = { id, publicHost, nat, firewall: undefined, inside: new Map(), subnet, nextInside: 2 };
    this.boxes.push(node);
    this.publicAddrs.set(publicHost, node);
    return { id, publicHost };
  }

  /** Adds a host firewall (firewall.ts); place exactly one host behind it (`addHost({ behind: id })`). */
  addFirewall(config: Partial<FirewallConfig> = {}): MiddleboxHandle {
    const id = this.boxes.length;
    const publicHost = config.host ?? this.allocatePublic();
    if (this.publicAddrs.has(publicHost)) throw new RangeError(`address ${publicHost} is taken`);
    const firewall = new Firewall({ ...config, host: publicHost });
    const node: BoxNode = { id, publicHost, nat: undefined, firewall, inside: new Map(), subnet: '', nextInside: 0 };
    this.boxes.push(node);
    return { id, publicHost };
  }

  /** The NAT model of a box (for assertions on mappings). */
  nat(id: number): NatBox | undefined {
    return this.boxes[id]?.nat;
  }

  /** A host by index. */
  host(index: number): SimHost | undefined {
    return this.hosts[index];
  }

  // ---- Faults -------------------------------------------------------------------------------------

  /** Between fromMs (inclusive) and toMs (exclusive) nothing passes between a host of `a` and one of `b`. */
  partition(a: Iterable<SimHost>, b: Iterable<SimHost>, fromMs: number, toMs = Number.POSITIVE_INFINITY): void {
    this.partitions.push({ a: new Set(a), b: new Set(b), from: fromMs, to: toMs });
    this.plain = false;
  }

  /** At atMs the host crashes: its sockets, streams and timers vanish without callbacks (see stream.ts for peers). */
  crash(host: SimHost, atMs: number): void {
    this.at(atMs, () => {
      if (host.up) host.crash();
    });
  }

  /** At atMs a crashed host is up again, with no sockets; `onRestart` lets the test start its software anew. */
  restart(host: SimHost, atMs: number, onRestart?: (host: SimHost) => void): void {
    this.at(atMs, () => {
      if (!host.up) {
        host.up = true;
        onRestart?.(host);
      }
    });
  }

  private partitioned(a: SimHost, b: SimHost): boolean {
    const now = this.nowMs;
    for (const p of this.partitions) {
      if (now < p.from || now >= p.to) continue;
      if ((p.a.has(a) && p.b.has(b)) || (p.b.has(a) && p.a.has(b))) return true;
    }
    return false;
  }

  // ---- Routing ------------------------------------------------------------------------------------

  /**
   * Finds where a packet from `src` (sent from its local address `from`) to `to` ends up: sets rHost,
   * rPort and rFrom (the source the receiver sees), or returns why it is dropped. Middleboxes see the
   * packet now, at sending time (they sit at the edge of the sender's and receiver's links).
   * @internal
   */
  route(proto: Protocol, src: SimHost, from: NetAddress, to: NetAddress): DropReason | undefined {
    const now = this.nowMs;
    let seenFrom = from;
    const box = src.box;
    if (box !== undefined) {
      if (box.nat !== undefined) {
        const local = box.inside.get(to.host);
        if (local !== undefined) {
          // Same private network: straight across, no translation.
          return this.finish(src, local, to.port, from);
        }
        if (to.host === box.publicHost) {
          const hp = box.nat.hairpinRoute(proto, from, to, now);
          if (hp === undefined) return 'hairpin';
          const dst = box.inside.get(hp.destination.host);
          if (dst === undefined) return 'no-route';
          return this.finish(src, dst, hp.destination.port, hp.source);
        }
        const out = box.nat.outbound(proto, from, to, now);
        if (out === undefined) return 'filtered';
        seenFrom = out;
      } else {
        const out = box.firewall!.outbound(proto, from, to, now);
        if (out === undefined) return 'filtered';
        seenFrom = out;
      }
    }
    const target = SimAddress.direct(to)?.ownerHost ?? this.publicAddrs.get(to.host);
    if (target === undefined) return 'no-route';
    if (target instanceof SimHost) {
      let port = to.port;
      if (target.box !== undefined) {
        const inside = target.box.firewall!.inbound(proto, to, seenFrom, now);
        if (inside === undefined) return 'filtered';
        port = inside.port;
      }
      return this.finish(src, target, port, seenFrom);
    }
    const inside = target.nat!.inbound(proto, to, seenFrom, now);
    if (inside === undefined) return 'filtered';
    const dst = target.inside.get(inside.host);
    if (dst === undefined) return 'no-route';
    return this.finish(src, dst, inside.port, seenFrom);
  }

  private finish(src: SimHost, dst: SimHost, port: number, seenFrom: NetAddress): DropReason | undefined {
    if (this.partitions.length !== 0 && this.partitioned(src, dst)) return 'partition';
    this.rHost = dst;
    this.rPort = port;
    this.rFrom = seenFrom;
    return undefined;
  }

  /** @internal The last successful route. */
  routed(): { host: SimHost; port: number; from: NetAddress } {
    return { host: this.rHost!, port: this.rPort, from: this.rFrom! };
  }

  /**
   * @internal Time at which `wireBytes` sent now from `src` reach `dst`: uplink serialisation (unless the
   * caller did it: streams serialise before departure), both latencies with jitter, downlink serialisation.
   */
  arrivalTime(src: SimHost, dst: SimHost, dl: LinkConfig, wireBytes: number, serialised: boolean): number {
    return this.arrival(src, src.index, src.link, dst, dl, wireBytes, serialised);
  }

  /**
   * arrivalTime with the sender's index and link given (a socket carries them): the hosts' objects are
   * read only for finite bandwidths.
   */
  private arrival(
    src: SimHost,
    srcIndex: number,
    sl: LinkConfig,
    dst: SimHost,
    dl: LinkConfig,
    wireBytes: number,
    serialised: boolean,
  ): number {
    let t = this.nowMs;
    if (!serialised && sl.bandwidth !== Number.POSITIVE_INFINITY) {
      t = Math.max(t, src.txFreeAt) + (wireBytes * 1000) / sl.bandwidth;
      src.txFreeAt = t;
    }
    t += sl.latencyMs;
    // Both links' jitter is drawn from the sender's link stream: a packet's fate depends on its sender's
    // stream only, and the receiver's state is not touched before delivery.
    if (sl.jitterMs > 0) t += (this.linkUint32(srcIndex) / 4294967296) * sl.jitterMs;
    if (dl.bandwidth !== Number.POSITIVE_INFINITY) {
      t = Math.max(t, dst.rxFreeAt) + (wireBytes * 1000) / dl.bandwidth;
      dst.rxFreeAt = t;
    }
    t += dl.latencyMs;
    if (dl.jitterMs > 0) t += (this.linkUint32(srcIndex) / 4294967296) * dl.jitterMs;
    return t;
  }

  // ---- Datagrams ----------------------------------------------------------------------------------

  /** @internal */
  sendDatagram(socket: SimUdpSocket, data: Uint8Array, to: NetAddress): void {
    // The fast path: no trace, no partition, public to public with nothing in between, lossless links of
    // unlimited bandwidth (SocketPath.fastMax), to an address the simulator made for a socket (SimAddress).
    // It reads the sending socket (not its host: see SimUdpSocket), its shared path and the destination
    // address, draws the jitter of both links from the sender's link stream, and queues a packet entry (no
    // object). Every other datagram takes sendGeneral, before any draw; for these datagrams sendGeneral
    // would make the same draws in the same order and compute the same time (test/sim/fast-path.test.ts).
    // Short on purpose (one comparison per side for MTU, loss and bandwidth; the link stream's row read and
    // written once): with 100,000 hosts the simulator's instructions per delivery are a good part of what
    // is not waiting for memory.
    const size = data.length;
    const sp = socket.path;
    const direct = size <= sp.fastMax && this.plain ? SimAddress.direct(to) : undefined;
    const dstSocket = direct?.ownerSocket;
    if (direct === undefined || dstSocket === undefined || size > direct.ownerPath.fastMax) {
      this.sendGeneral(socket, data, to);
      return;
    }
    const dp = direct.ownerPath;
    // `arrival` without serialisation, its additions in its order (the same floating-point result). The
    // jitter draws are linkUint32 written out on local copies of the sender's row of `linkState`: the row
    // is read and written once, not once per draw (each typed-array access is a bounds check, and two
    // draws through linkUint32 cost as many instructions as the rest of this function). The same sfc32
    // steps, so the same numbers in the same order.
    const now = this.nowMs;
    let t = now + sp.latencyMs;
    const sj = sp.jitterMs;
    const dj = dp.jitterMs;
    if (sj > 0 || dj > 0) {
      const s = this.linkState;
      const r = socket.hostIndex << 2;
      let a = s[r]!;
      let b = s[r + 1]!;
      let c = s[r + 2]!;
      let d = s[r + 3]!;
      if (sj > 0) {
        const x = (((a + b) | 0) + d) | 0;
        a = b ^ (b >>> 9);
        b = (c + (c << 3)) | 0;
        c = (((c << 21) | (c >>> 11)) + x) | 0;
        d = (d + 1) | 0;
        t += ((x >>> 0) / 4294967296) * sj;
      }
      t += dp.latencyMs;
      if (dj > 0) {
        const x = (((a + b) | 0) + d) | 0;
        a = b ^ (b >>> 9);
        b = (c + (c << 3)) | 0;
        c = (((c << 21) | (c >>> 11)) + x) | 0;
        d = (d + 1) | 0;
        t += ((x >>> 0) / 4294967296) * dj;
      }
      s[r] = a;
      s[r + 1] = b;
      s[r + 2] = c;
      s[r + 3] = d;
    } else t += dp.latencyMs;
    // A packet entry of the queue, stamped with the time of sending (event-queue.ts, deliverPacket).
    this.queue.pushPacket(dstSocket, data, socket.address, now, t);
  }

  /** sendDatagram, every case: a trace, middleboxes, partitions, any destination address. */
  private sendGeneral(socket: SimUdpSocket, data: Uint8Array, to: NetAddress): void {
    // The sending host's object (`socket.host`) is read only on slow paths: see SimUdpSocket.
    const from = socket.address;
    const srcIndex = socket.hostIndex;
    const size = data.length;
    const trace = this.trace;
    if (trace !== undefined) trace.record(this.nowMs, 'udp', 'sent', from, to, data, size);
    const sl = socket.path.link;
    if (size + UDP_OVERHEAD > sl.mtu) {
      // The sending host knows its own link's MTU: the OS reports it (transport.ts).
      this.dropDatagram(from, to, data, 'mtu');
      const onError = socket.handlers.onError;
      if (onError !== undefined)
        socket.host.schedule(0, () => onError(new NetError('EMSGSIZE', `${size} bytes over MTU ${sl.mtu}`)));
      return;
    }
    if (sl.loss > 0 && this.linkUint32(srcIndex) / 4294967296 < sl.loss) {
      this.dropDatagram(from, to, data, 'loss');
      return;
    }
    this.sendRouted(
      socket,
      data,
      to,
      socket.path.unboxed && this.partitions.length === 0 ? SimAddress.direct(to) : undefined,
    );
  }

  /**
   * sendGeneral after the sender's link: routing (unless `direct`, the destination as a direct route),
   * the receiver's link, and the datagram queued.
   */
  private sendRouted(socket: SimUdpSocket, data: Uint8Array, to: NetAddress, direct: SimAddress | undefined): void {
    const from = socket.address;
    const srcIndex = socket.hostIndex;
    const size = data.length;
    const trace = this.trace;
    const sl = socket.path.link;
    let dst: SimHost;
    let dl: LinkConfig;
    let dstSocket: SimUdpSocket | undefined;
    let port: number;
    let seenFrom: NetAddress;
    if (direct !== undefined) {
      // Public to public, nothing in between: the address knows where it goes (SimAddress).
      dst = direct.ownerHost;
      dl = direct.ownerLink;
      dstSocket = direct.ownerSocket;
      port = direct.port;
      seenFrom = from;
    } else {
      const reason = this.route('udp', socket.host, from, to);
      if (reason !== undefined) {
        this.dropDatagram(from, to, data, reason);
        return;
      }
      dst = this.rHost!;
      dl = dst.link;
      dstSocket = undefined;
      port = this.rPort;
      seenFrom = this.rFrom!;
    }
    if (size + UDP_OVERHEAD > dl.mtu) {
      this.dropDatagram(from, to, data, 'mtu');
      return;
    }
    if (dl.loss > 0 && this.linkUint32(srcIndex) / 4294967296 < dl.loss) {
      this.dropDatagram(from, to, data, 'loss');
      return;
    }
    const t = this.arrival(socket.host, srcIndex, sl, dst, dl, size + UDP_OVERHEAD, false);
    if (dstSocket !== undefined && trace === undefined) {
      // The direct path: a packet entry of the queue, stamped with the time of sending (event-queue.ts).
      this.queue.pushPacket(dstSocket, data, seenFrom, this.nowMs, t);
      return;
    }
    let d = this.freeDatagrams.pop();
    if (d === undefined) d = new Datagram(this);
    d.socket = dstSocket;
    d.data = data;
    d.from = seenFrom;
    d.to = to;
    d.host = dst;
    d.port = port;
    d.sentAt = this.nowMs;
    this.queue.push(d, t);
  }

  /**
   * @internal Delivers a packet of the direct path (sendDatagram): `socket` is the one the destination
   * address was made for, `sentAt` the time of sending. The trace is off (else the datagram would have
   * taken the Datagram path), so a drop records nothing.
   */
  deliverPacket(socket: SimUdpSocket, data: Uint8Array, from: NetAddress, sentAt: number): void {
    // A socket still open is still bound there, and its host has not crashed since (a crash closes every
    // socket): no need to look at the host.
    if (socket.closed) {
      const dst = socket.host;
      if (!dst.up || dst.crashedAt >= sentAt) return; // 'crashed'
      const other = dst.udpSocket(socket.address.port);
      if (other === undefined) return; // 'no-listener'
      socket = other;
    }
    this.deliveries++;
    // A method call, as the real transport makes it (real/udp.ts): `handlers.onMessage` read now, with
    // `handlers` as `this`. Its call site learns the handler's function (protocol code binds many sockets
    // with one handler, each a closure of the same function), so V8 can call, even inline, it directly.
    socket.handlers.onMessage(data, from);
  }

  private dropDatagram(from: NetAddress, to: NetAddress, data: Uint8Array, reason: DropReason): void {
    this.trace?.record(this.nowMs, 'udp', 'dropped', from, to, data, data.length, reason);
  }

  /** @internal */
  deliverDatagram(d: Datagram): void {
    let socket = d.socket;
    const data = d.data;
    const from = d.from;
    // Recycled before the handler runs (which may send): a pool of datagrams keeps the hot path free of
    // allocation and of objects that live long enough to be promoted by the GC. (A datagram is reused only
    // by a send, so the fields read below on the slow path are still this datagram's.)
    d.socket = undefined;
    d.data = EMPTY;
    this.freeDatagrams.push(d);
    // A socket still open is still bound there, and its host has not crashed since (a crash closes every
    // socket): no need to look at the host.
    if (socket === undefined || socket.closed) {
      const to = d.to;
      const dst = d.host!;
      const port = d.port;
      if (!dst.up || dst.crashedAt >= d.sentAt) {
        this.dropDatagram(from, to, data, 'crashed');
        return;
      }
      socket = dst.firstUdpPort === port ? dst.firstUdp : dst.udp?.get(port);
      if (socket === undefined) {
        this.dropDatagram(from, to, data, 'no-listener');
        return;
      }
    }
    this.deliveries++;
    const trace = this.trace;
    if (trace !== undefined) trace.record(this.nowMs, 'udp', 'delivered', from, socket.address, data, data.length);
    socket.handlers.onMessage(data, from);
  }
}
