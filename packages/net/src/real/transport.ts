/**
 * The real Transport (src/transport.ts; DESIGN.md §9): a host's network stack over node:dgram and node:net,
 * with the system clock and randomness. It passes the Transport contract suite (test/contract/) on loopback.
 */
import type {
  ConnectOptions,
  ListenerHandlers,
  ListenOptions,
  NetAddress,
  StreamHandlers,
  Transport,
  UdpHandlers,
  UdpOptions,
} from '../transport.js';
import { RealClock } from './clock.js';
import { Dispatcher } from './dispatch.js';
import { SystemRandom } from './random.js';
import { RealListener, RealStream, type StreamContext } from './tcp.js';
import { RealUdpSocket } from './udp.js';

export interface RealTransportOptions {
  /** Coalesce the writes a stream gets before control returns to the event loop into one system call; default true. */
  readonly batchWrites?: boolean;
}

/** Counters for tests and benchmarks. */
export interface RealTransportStats {
  /** `Stream.write` calls that queued bytes. */
  streamWrites: number;
  /** Writes handed to Node's sockets (one write or one corked writev each; about one system call each). */
  socketWrites: number;
}

export interface RealTransport extends Transport {
  readonly clock: RealClock;
  readonly stats: RealTransportStats;
  /**
   * Closes everything this transport opened: resets every stream (each gets onClose(ECLOSED)), closes every
   * listener and UDP socket, cancels every timer. The transport stays usable.
   */
  close(): void;
}

export function createRealTransport(options: RealTransportOptions = {}): RealTransport {
  const d = new Dispatcher();
  const clock = new RealClock();
  const random = new SystemRandom();
  const stats: RealTransportStats = { streamWrites: 0, socketWrites: 0 };
  const udpSockets = new Set<RealUdpSocket>();
  const listeners = new Set<RealListener>();
  const ctx: StreamContext = { d, clock, batchWrites: options.batchWrites ?? true, stats, open: new Set<RealStream>() };

  return {
    clock,
    random,
    stats,
    bindUdp: (opts: UdpOptions, handlers: UdpHandlers) =>
      d.call(() => new RealUdpSocket(d, opts, handlers, udpSockets)),
    listenTcp: (opts: ListenOptions, handlers: ListenerHandlers) =>
      d.call(() => new RealListener(ctx, opts, handlers, listeners)),
    connectTcp: (remote: NetAddress, handlers: StreamHandlers, opts?: ConnectOptions) =>
      d.call(() => RealStream.connect(ctx, remote, handlers, opts)),
    close: () => {
      for (const s of [...ctx.open]) s.abandon();
      for (const l of [...listeners]) l.close();
      for (const u of [...udpSockets]) u.close();
      clock.cancelAll();
    },
  };
}
