/**
 * Simulated TCP streams (DESIGN.md §9; spec/05-network.md), modelled at message level: a `write` becomes
 * one or more segments (at most 64 KiB each) that cross the same links, NATs, firewalls and partitions as
 * datagrams, in order and reliably. Congestion control and ACKs are not simulated; what protocol code can
 * observe is: latency, bandwidth (serialisation on the sender's uplink drains the write buffer, so
 * backpressure is real), ordering, end/half-close, resets, refusals and timeouts.
 *
 * Semantics chosen (and relied on by tests):
 * - Connect: a SYN goes out through the sender's NAT (creating the mapping: streams are outbound only). An
 *   inbound SYN that a NAT or firewall drops, or one to a crashed host, is retransmitted (200 ms doubling)
 *   until the connect timeout: the connector gets ETIMEDOUT. A live host with nothing listening answers RST:
 *   ECONNREFUSED.
 * - Loss: streams are not subject to random link loss (TCP would retransmit; the extra delay is not modelled).
 * - Undeliverable segments (partition, crashed peer, NAT or firewall drop): the sender retransmits them
 *   (`retransmitMs`, doubling up to 8 s) — a partition that heals in time lets the stream resume with
 *   nothing lost or reordered. A segment still undelivered `streamTimeoutMs` after its first transmission
 *   fails the sending end with ETIMEDOUT. The other end learns nothing (as with TCP without keep-alives)
 *   until it sends.
 * - Crash: the crashed host's streams vanish without callbacks. Its peers' segments are retransmitted while
 *   it is down (ETIMEDOUT after `streamTimeoutMs`); once it has restarted, it answers them with RST and the
 *   peer gets ECONNRESET — what a rebooted TCP stack does.
 * - NAT mapping expiry: segments from outside are dropped (the outside end retransmits, then ETIMEDOUT). The
 *   inside end's next segment makes a fresh mapping; unless the NAT preserved the port, the outside host sees
 *   an unknown connection and answers RST: the inside end gets ECONNRESET.
 * - Listeners accept every SYN at once (the backlog option is ignored); a listener's close() leaves accepted
 *   streams open. Simultaneous open (two SYNs crossing) is not modelled.
 * - A segment for a connection the receiving host does not know is answered with RST (after reset, close or
 *   restart). RSTs are never retransmitted; a lost RST leaves the peer to time out.
 * - Local `reset()`: RST to the peer (ECONNRESET there); the local `onClose` gets ECLOSED ([NET-TCP-8]).
 */

import type {
  ConnectOptions,
  Listener,
  ListenerHandlers,
  ListenOptions,
  Stream,
  StreamHandlers,
} from '../transport.js';
import { type NetAddress, NetError } from '../transport.js';
import { SimEvent } from './event-queue.js';
import { TCP_OVERHEAD } from './link.js';
import type { HostTask, SimHost } from './simulator.js';
import type { DropReason, SegmentKind } from './trace.js';

export interface StreamTiming {
  readonly streamTimeoutMs: number;
  readonly retransmitMs: number;
  readonly highWaterMark: number;
}

/** Largest segment a write is cut into, so the write buffer drains gradually on slow links. */
const MAX_SEGMENT = 65_536;
/** Retransmission back-off ceiling. */
const MAX_RTO = 8_000;
const DEFAULT_CONNECT_TIMEOUT = 10_000;
const EMPTY = new Uint8Array(0);

function streamKey(localPort: number, remote: NetAddress): string {
  return `${localPort}|${remote.host}:${remote.port}`;
}

export class SimListener implements Listener {
  closed = false;
  private bound: NetAddress | undefined;
  constructor(
    readonly host: SimHost,
    readonly address: NetAddress,
    readonly handlers: ListenerHandlers,
  ) {}

  get local(): NetAddress | undefined {
    return this.bound;
  }

  /** @internal */
  ready(): void {
    if (this.closed) return;
    this.bound = this.address;
    this.handlers.onReady?.(this.address);
  }

  /** Stops accepting; streams already accepted are unaffected. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const listeners = this.host.listeners;
    if (listeners?.get(this.address.port) === this) listeners.delete(this.address.port);
  }
}

export function listenTcp(host: SimHost, options: ListenOptions, handlers: ListenerHandlers): SimListener {
  let error = host.checkLocal(options.address);
  let port = options.port ?? 0;
  if (error === undefined && port !== 0 && host.listeners?.has(port))
    error = new NetError('EADDRINUSE', `tcp port ${port} on ${host.address}`);
  if (error === undefined && port === 0) {
    port = host.ephemeralPort('tcp');
    if (port === 0) error = new NetError('EADDRINUSE', 'no free tcp port');
  }
  const listener = new SimListener(host, { host: host.address, port }, handlers);
  if (error !== undefined) {
    listener.closed = true;
    const e = error;
    host.schedule(0, () => handlers.onError?.(e));
    return listener;
  }
  if (host.listeners === undefined) host.listeners = new Map();
  host.listeners.set(port, listener);
  host.schedule(0, () => listener.ready());
  return listener;
}

export function connectTcp(
  host: SimHost,
  remote: NetAddress,
  handlers: StreamHandlers,
  options: ConnectOptions = {},
): SimStream {
  const error = host.checkLocal(options.localAddress);
  const port = error === undefined ? host.ephemeralPort('tcp') : 0;
  const stream = new SimStream(host, port, remote, 'connecting');
  stream.handlers = handlers;
  if (error !== undefined || port === 0) {
    stream.fail(error ?? new NetError('EADDRINUSE', 'no free tcp port'));
    return stream;
  }
  stream.register();
  stream.connectTimer = host.schedule(options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT, () => {
    if (stream.state === 'connecting')
      stream.fail(new NetError('ETIMEDOUT', `connect to ${remote.host}:${remote.port}`));
  });
  stream.sendSyn();
  return stream;
}

/** A stream segment; the same object departs, is retransmitted and arrives. */
class Segment extends SimEvent {
  arriving = false;
  /** Undelivered segment's next back-off. */
  rto: number;
  firstSentAt: number;
  /** Set when routed: where it arrives, and the source the receiver sees. */
  dst: SimHost | undefined;
  dstIncarnation = 0;
  dstPort = 0;
  from: NetAddress | undefined;
  /** Counted out of the write buffer already (first departure). */
  departed = false;

  constructor(
    readonly kind: SegmentKind,
    /** The sending stream; undefined for an RST answering an unknown connection. */
    readonly stream: SimStream | undefined,
    /** Position in the sender's sequence (data and fin); -1 for control segments. */
    readonly n: number,
    readonly data: Uint8Array,
    /** For an RST without a stream: sender host and addresses. */
    readonly srcHost: SimHost,
    readonly local: NetAddress,
    readonly remote: NetAddress,
  ) {
    super();
    this.rto = srcHost.sim.timing.retransmitMs;
    this.firstSentAt = srcHost.sim.now;
  }

  fire(): void {
    if (this.arriving) arrive(this);
    else depart(this);
  }
}

function trace(seg: Segment, event: 'sent' | 'delivered' | 'dropped', reason?: DropReason): void {
  const t = seg.srcHost.sim.trace;
  if (t === undefined) return;
  const source = event === 'delivered' ? seg.from! : seg.local;
  t.record(seg.srcHost.sim.now, 'tcp', event, source, seg.remote, seg.data, seg.data.length, reason, seg.kind);
}

function dropped(seg: Segment, reason: DropReason): void {
  trace(seg, 'dropped', reason);
}

/** A segment leaves the sender: route it now, schedule its arrival or its retransmission. */
function depart(seg: Segment): void {
  const s = seg.stream;
  if (s !== undefined) {
    if (s.state === 'closed') return;
    if (!seg.departed) {
      seg.departed = true;
      if (seg.data.length > 0) s.drained(seg.data.length);
    }
  }
  const host = seg.srcHost;
  const sim = host.sim;
  trace(seg, 'sent');
  const reason = sim.route('tcp', host, seg.local, seg.remote);
  if (reason !== undefined) {
    dropped(seg, reason);
    retransmit(seg);
    return;
  }
  const r = sim.routed();
  let t = sim.arrivalTime(host, r.host, r.host.link, seg.data.length + TCP_OVERHEAD, true);
  if (s !== undefined) {
    // In order: jitter never lets a segment overtake the previous one.
    if (t < s.lastArrival) t = s.lastArrival;
    s.lastArrival = t;
  }
  seg.dst = r.host;
  seg.dstIncarnation = r.host.incarnation;
  seg.dstPort = r.port;
  seg.from = r.from;
  seg.arriving = true;
  sim.queue.push(seg, t);
}

/** An undelivered segment is sent again later, unless it is a control answer or its stream gave up. */
function retransmit(seg: Segment): void {
  const s = seg.stream;
  if (s === undefined || s.state === 'closed' || seg.kind === 'rst' || seg.kind === 'syn-ack') return;
  const sim = seg.srcHost.sim;
  // SYNs are bounded by the connect timer; data and FIN by the stream timeout.
  if (seg.kind !== 'syn' && sim.now + seg.rto - seg.firstSentAt > sim.timing.streamTimeoutMs) {
    s.fail(
      new NetError(
        'ETIMEDOUT',
        `no delivery to ${s.remote.host}:${s.remote.port} for ${sim.timing.streamTimeoutMs} ms`,
      ),
    );
    return;
  }
  seg.arriving = false;
  sim.queue.push(seg, sim.now + seg.rto);
  seg.rto = Math.min(seg.rto * 2, MAX_RTO);
}

function arrive(seg: Segment): void {
  const dst = seg.dst!;
  const from = seg.from!;
  if (!dst.up || dst.incarnation !== seg.dstIncarnation) {
    dropped(seg, 'crashed');
    retransmit(seg);
    return;
  }
  const target = dst.streams?.get(streamKey(seg.dstPort, from));
  const sim = dst.sim;
  switch (seg.kind) {
    case 'syn': {
      if (target !== undefined) {
        // A retransmitted SYN: the SYN-ACK was lost (e.g. filtered); answer again.
        trace(seg, 'delivered');
        if (target.accepted && target.state !== 'closed') target.sendControl('syn-ack');
        return;
      }
      const listener = dst.listeners?.get(seg.dstPort);
      if (listener === undefined || listener.closed) {
        dropped(seg, 'no-listener');
        answerRst(dst, { host: dst.address, port: seg.dstPort }, from);
        return;
      }
      trace(seg, 'delivered');
      const stream = new SimStream(dst, seg.dstPort, from, 'open');
      stream.accepted = true;
      stream.register();
      stream.sendControl('syn-ack');
      stream.handlers = listener.handlers.onConnection(stream);
      return;
    }
    case 'syn-ack':
      trace(seg, 'delivered');
      if (target !== undefined && target.state === 'connecting') target.established();
      return;
    case 'rst':
      trace(seg, 'delivered');
      if (target !== undefined && target.state !== 'closed') {
        target.fail(
          target.state === 'connecting'
            ? new NetError('ECONNREFUSED', `${from.host}:${from.port}`)
            : new NetError('ECONNRESET', `reset by ${from.host}:${from.port}`),
        );
      }
      return;
    case 'data':
    case 'fin':
      if (target === undefined || target.state === 'closed') {
        dropped(seg, 'no-listener');
        answerRst(dst, { host: dst.address, port: seg.dstPort }, from);
        return;
      }
      trace(seg, 'delivered');
      if (seg.kind === 'data') sim.deliveries++;
      target.receive(seg);
      return;
  }
}

/** RST for a segment of a connection this host does not know. */
function answerRst(host: SimHost, local: NetAddress, remote: NetAddress): void {
  depart(new Segment('rst', undefined, -1, EMPTY, host, local, remote));
}

export type StreamState = 'connecting' | 'open' | 'closed';

export class SimStream implements Stream {
  handlers: StreamHandlers | undefined;
  /** @internal Accepted from a listener (answers duplicate SYNs). */
  accepted = false;
  /** @internal */ connectTimer: HostTask | undefined;
  readonly local: NetAddress;
  /** Bytes written and not yet sent (serialised onto the uplink). */
  bufferedAmount = 0;
  /** @internal Arrival time of the last segment sent, to keep arrivals in order. */
  lastArrival = 0;
  private readonly key: string;
  private lastDepart = 0;
  private nextN = 0;
  private ended = false;
  private finDelivered = false;
  private peerEnded = false;
  private wantDrain = false;
  private expectN = 0;
  private outOfOrder: Map<number, Segment> | undefined;
  /** Writes (and the end) made while connecting; sent once established. */
  private held: Uint8Array[] | undefined;
  private heldEnd = false;

  constructor(
    readonly host: SimHost,
    readonly localPort: number,
    readonly remote: NetAddress,
    public state: StreamState,
  ) {
    this.local = { host: host.address, port: localPort };
    this.key = streamKey(localPort, remote);
  }

  /** @internal */
  register(): void {
    if (this.host.streams === undefined) this.host.streams = new Map();
    this.host.streams.set(this.key, this);
  }

  write(data: Uint8Array): boolean {
    if (this.state === 'closed' || this.ended) return false;
    const hwm = this.host.sim.timing.highWaterMark;
    if (data.length > 0) {
      this.bufferedAmount += data.length;
      if (this.state !== 'connecting') this.enqueue(data);
      else if (this.held === undefined) this.held = [data];
      else this.held.push(data);
    }
    const ok = this.bufferedAmount < hwm;
    if (!ok) this.wantDrain = true;
    return ok;
  }

  end(): void {
    if (this.state === 'closed' || this.ended) return;
    this.ended = true;
    if (this.state === 'connecting') this.heldEnd = true;
    else this.queueSegment('fin', EMPTY);
  }

  /**
   * Closes at once, discarding queued bytes; the peer gets ECONNRESET (if the RST reaches it). This end's
   * `onClose` runs later (never inside this call) with ECLOSED ([NET-TCP-8]).
   */
  reset(): void {
    if (this.state === 'closed') return;
    if (this.state === 'open') this.sendControl('rst');
    this.close(new NetError('ECLOSED', 'reset locally'));
  }

  /** @internal SYN, retransmitted until established or the connect timer fires. */
  sendSyn(): void {
    this.host.sim.queue.push(this.control('syn'), this.host.sim.now);
  }

  /** @internal A control segment (syn-ack, rst), sent now ahead of queued data. */
  sendControl(kind: 'syn-ack' | 'rst'): void {
    depart(this.control(kind));
  }

  private control(kind: SegmentKind): Segment {
    return new Segment(kind, this, -1, EMPTY, this.host, this.local, this.remote);
  }

  /** @internal The SYN-ACK arrived. */
  established(): void {
    this.state = 'open';
    this.connectTimer?.cancel();
    this.connectTimer = undefined;
    this.handlers?.onConnect?.();
    if (this.state !== 'open') return; // the handler reset or closed it
    const held = this.held;
    this.held = undefined;
    if (held !== undefined) for (const chunk of held) this.enqueue(chunk);
    if (this.heldEnd) this.queueSegment('fin', EMPTY);
  }

  private enqueue(data: Uint8Array): void {
    for (let off = 0; off < data.length; off += MAX_SEGMENT) {
      this.queueSegment('data', off === 0 && data.length <= MAX_SEGMENT ? data : data.subarray(off, off + MAX_SEGMENT));
    }
  }

  /** Schedules a sequenced segment's departure after the uplink has serialised it (and everything before it). */
  private queueSegment(kind: 'data' | 'fin', data: Uint8Array): void {
    const host = this.host;
    const sim = host.sim;
    let t = Math.max(sim.now, this.lastDepart);
    const bw = host.link.bandwidth;
    if (bw !== Number.POSITIVE_INFINITY) {
      t = Math.max(t, host.txFreeAt) + ((data.length + TCP_OVERHEAD) * 1000) / bw;
      host.txFreeAt = t;
    }
    this.lastDepart = t;
    sim.queue.push(new Segment(kind, this, this.nextN++, data, host, this.local, this.remote), t);
  }

  /** @internal Bytes left the write buffer. */
  drained(bytes: number): void {
    this.bufferedAmount -= bytes;
    if (this.wantDrain && this.bufferedAmount < this.host.sim.timing.highWaterMark) {
      this.wantDrain = false;
      this.handlers?.onDrain?.();
    }
  }

  /** @internal A sequenced segment arrived: deliver it and any that waited for it, in order. */
  receive(seg: Segment): void {
    if (seg.n < this.expectN) return; // duplicate
    if (seg.n > this.expectN) {
      if (this.outOfOrder === undefined) this.outOfOrder = new Map();
      this.outOfOrder.set(seg.n, seg);
      return;
    }
    // Data arriving before our SYN-ACK did (cannot happen with in-order arrival, kept for safety).
    if (this.state === 'connecting') this.established();
    let next: Segment | undefined = seg;
    while (next !== undefined && this.state !== 'closed') {
      this.expectN++;
      this.consume(next);
      next = this.outOfOrder?.get(this.expectN);
      if (next !== undefined) this.outOfOrder!.delete(this.expectN);
    }
  }

  private consume(seg: Segment): void {
    if (seg.kind === 'data') {
      this.handlers?.onData(seg.data);
      return;
    }
    this.peerEnded = true;
    // The FIN's sender learns it was delivered (its ACK; the return trip is not modelled).
    seg.stream?.finAcked();
    this.handlers?.onEnd?.();
    this.maybeClose();
  }

  /** @internal */
  finAcked(): void {
    this.finDelivered = true;
    this.maybeClose();
  }

  private maybeClose(): void {
    if (this.state !== 'closed' && this.peerEnded && this.finDelivered) this.close(undefined);
  }

  /** @internal Fails with an error (reset by peer, refused, timed out). */
  fail(error: NetError): void {
    if (this.state === 'closed') return;
    this.close(error);
  }

  /** Exactly once: state closed at once, `onClose` from the event queue (never re-entrant). */
  private close(error: NetError | undefined): void {
    this.state = 'closed';
    this.connectTimer?.cancel();
    this.connectTimer = undefined;
    this.held = undefined;
    this.outOfOrder = undefined;
    const streams = this.host.streams;
    if (streams?.get(this.key) === this) streams.delete(this.key);
    this.host.schedule(0, () => this.handlers?.onClose(error));
  }

  /** @internal The host crashed: gone, without callbacks. */
  vanish(): void {
    this.state = 'closed';
    this.connectTimer = undefined;
    this.held = undefined;
    this.outOfOrder = undefined;
  }
}
