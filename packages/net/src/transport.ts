/**
 * The one network interface every Parley role uses (DESIGN.md §2, §9; spec/05-network.md): a host's
 * view of the network — a clock, randomness, UDP sockets and TCP streams — implemented over real
 * sockets (`real/`) and over the deterministic simulator (`sim/`). Both pass one contract suite
 * (test/contract/).
 *
 * Design choices, for implementers of other Transports:
 * - Callbacks given at creation, not promises or event emitters. The simulator delivers every event in
 *   virtual-time order by calling them directly, so a run is a pure function of its seed (no microtask
 *   interleaving), and an idle simulated socket costs a few object slots.
 * - Creation is synchronous and never throws for network reasons: a socket or stream that cannot be
 *   set up reports it through `onError`/`onClose` with a `NetError`.
 * - Handlers run on the Transport's own schedule (the event loop for real sockets, the simulator's run
 *   loop in simulation), never re-entrantly from inside the call that caused them: `send`, `write`,
 *   `end`, `reset` and `close` return before any resulting handler runs.
 * - Bytes handed to a handler are the handler's to keep until it returns; a handler that keeps them
 *   longer copies them. Bytes passed to `send`/`write` must not be modified by the caller afterwards.
 * - net knows nothing of Parley packets: it moves bytes.
 */

/** An IP endpoint. `host` is an IPv4 dotted quad or an IPv6 literal (no brackets). */
export interface NetAddress {
  readonly host: string;
  readonly port: number;
}

/** `host:port` (IPv6 as `[host]:port`), for logs, traces and map keys. */
export function formatAddress(a: NetAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** Time: real (monotonic milliseconds) or virtual (the simulator's clock). */
export interface Clock {
  /** Milliseconds; monotonic; the origin is the Clock's own. */
  now(): number;
  /** Runs `fn` once after `delayMs` (>= 0) unless cancelled. */
  setTimer(delayMs: number, fn: () => void): Timer;
}

export interface Timer {
  cancel(): void;
}

/** Randomness: the system's, or the simulator's seeded generator. Structurally compatible with @parley/wire's `Random`. */
export interface Random {
  randomBytes(length: number): Uint8Array;
  /** A float in [0, 1). */
  float(): number;
}

export type NetErrorCode =
  | 'EADDRINUSE' // the local address and port are taken
  | 'EADDRNOTAVAIL' // the local address is not one of this host's
  | 'ECONNREFUSED' // nothing listens there (or a firewall rejected the connection)
  | 'ECONNRESET' // the peer reset the stream, or its host crashed
  | 'ETIMEDOUT' // a connection attempt got no answer
  | 'EHOSTUNREACH' // no route (partition, host down, blocked by a firewall that drops)
  | 'EMSGSIZE' // a datagram larger than the path allows
  | 'ECLOSED'; // the socket or stream was closed locally

/** A network failure, with a stable code; never a Parley protocol error (net knows no packets). */
export class NetError extends Error {
  override readonly name = 'NetError';
  constructor(
    readonly code: NetErrorCode,
    detail?: string,
  ) {
    super(detail ? `${code}: ${detail}` : code);
  }
}

export interface UdpOptions {
  /** Local address to bind; default: all of the host's addresses (0.0.0.0). */
  readonly address?: string;
  /** Local port; 0 or absent: any free port. */
  readonly port?: number;
}

export interface UdpHandlers {
  /** A datagram arrived. */
  onMessage(data: Uint8Array, from: NetAddress): void;
  /** The socket is bound; `local` is its address (the port chosen when 0 was asked). */
  onReady?(local: NetAddress): void;
  /**
   * Binding failed or the socket failed (the socket is closed afterwards), or one datagram could not
   * be sent (EMSGSIZE, EHOSTUNREACH: the socket stays open).
   */
  onError?(error: NetError): void;
}

export interface UdpSocket {
  /** The bound address; undefined until `onReady`. */
  readonly local: NetAddress | undefined;
  /**
   * Sends one datagram; best effort. A send before `onReady` is queued until the socket is bound.
   * Oversized datagrams are dropped (EMSGSIZE reported via onError where the OS says so).
   */
  send(data: Uint8Array, to: NetAddress): void;
  close(): void;
}

export interface ListenOptions {
  /** Local address; default 0.0.0.0. Addresses are IP literals: a Transport resolves no names. */
  readonly address?: string;
  readonly port?: number;
  /** Connections waiting to be accepted; default 511. */
  readonly backlog?: number;
}

export interface ListenerHandlers {
  /** A connection arrived; return the handlers for the new stream. */
  onConnection(stream: Stream): StreamHandlers;
  onReady?(local: NetAddress): void;
  onError?(error: NetError): void;
}

export interface Listener {
  readonly local: NetAddress | undefined;
  close(): void;
}

export interface ConnectOptions {
  /** Local address to connect from (multi-homed hosts). */
  readonly localAddress?: string;
  /** Give up with ETIMEDOUT after this long; default 10,000 ms. */
  readonly timeoutMs?: number;
}

export interface StreamHandlers {
  /** The connection is established (outbound streams only; accepted streams are established). */
  onConnect?(): void;
  /** Bytes arrived, in order. */
  onData(chunk: Uint8Array): void;
  /** The write buffer drained below its high-water mark after `write` returned false. */
  onDrain?(): void;
  /** The peer ended its side (no more data will arrive); the stream may still be written until `end`. */
  onEnd?(): void;
  /** The stream is closed: without an error after both sides ended, with one after a reset, failure or timeout. Called exactly once. */
  onClose(error?: NetError): void;
}

/** An ordered, reliable byte stream (TCP, or its simulation). */
export interface Stream {
  readonly local: NetAddress | undefined;
  readonly remote: NetAddress;
  /**
   * Queues bytes (also before `onConnect`: they go out once connected); false when the write buffer
   * is above its high-water mark (wait for onDrain). Writes after end/reset/close are dropped and
   * return false.
   */
  write(data: Uint8Array): boolean;
  /** Bytes queued and not yet handed to the network. */
  readonly bufferedAmount: number;
  /** Ends this side gracefully once the queued bytes are sent. */
  end(): void;
  /** Closes at once, discarding queued bytes: the peer gets onClose(ECONNRESET), this side onClose(ECLOSED). */
  reset(): void;
}

/** A host's network stack: everything a Parley role needs from the outside world. */
export interface Transport {
  readonly clock: Clock;
  readonly random: Random;
  bindUdp(options: UdpOptions, handlers: UdpHandlers): UdpSocket;
  listenTcp(options: ListenOptions, handlers: ListenerHandlers): Listener;
  connectTcp(remote: NetAddress, handlers: StreamHandlers, options?: ConnectOptions): Stream;
}
