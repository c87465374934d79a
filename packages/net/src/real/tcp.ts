/**
 * TCP streams and listeners over node:net (src/transport.ts `Stream`, `Listener`; spec/05-network.md
 * "Transport contract", [NET-TCP-1]..[NET-TCP-13]).
 *
 * - Half-close: sockets are created with allowHalfOpen, so the peer's FIN is `onEnd` and this side writes
 *   on until `end()`; Node destroys the socket once both sides ended, which is `onClose()` ([NET-TCP-7]).
 * - `reset()` sends an RST (socket.resetAndDestroy(), Node >= 16.17) so the peer sees ECONNRESET; this side
 *   is told `onClose(ECLOSED)` ([NET-TCP-8]).
 * - Batched writes: the writes one stream gets before control returns to the event loop (one handler, or
 *   one run of synchronous code, and the process.nextTick callbacks it queues) are handed to the kernel
 *   together, as one write (small batches are copied into one buffer) or one writev (corked), instead of
 *   one system call per write. Protocol code writes one frame at a time; bench/real.ts measures what this
 *   saves. process.nextTick rather than setImmediate: the batches are the same for a handler that answers
 *   what it read, and a lone request/response exchange measured slower when its flush waited for the
 *   event loop's check phase. `write()` counts the batch in `bufferedAmount` and returns false at the
 *   socket's high-water mark, like an unbatched socket would.
 * - Nagle is off (setNoDelay): batching already coalesces, and Nagle would delay every small reply.
 */
import net from 'node:net';
import {
  type Clock,
  type ConnectOptions,
  type Listener,
  type ListenerHandlers,
  type ListenOptions,
  type NetAddress,
  NetError,
  type Stream,
  type StreamHandlers,
  type Timer,
} from '../transport.js';
import { isIpLiteral, isPort, netAddress } from './address.js';
import type { Dispatcher } from './dispatch.js';
import { toNetError } from './errors.js';

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** Batches up to this size are copied into one buffer; larger ones go out as one writev, uncopied. */
const COPY_BATCH_LIMIT = 64 * 1024;

/** What the streams of one transport share. */
export interface StreamContext {
  readonly d: Dispatcher;
  /** For connect timeouts: the transport's clock never fires early, so ETIMEDOUT never comes before timeoutMs. */
  readonly clock: Clock;
  readonly batchWrites: boolean;
  readonly stats: { streamWrites: number; socketWrites: number };
  readonly open: Set<RealStream>;
}

export class RealStream implements Stream {
  local: NetAddress | undefined = undefined;
  private handlers: StreamHandlers | undefined;
  private socket: net.Socket | undefined;
  private state: 'connecting' | 'open' | 'closed';
  private ended = false;
  private needDrain = false;
  private batch: Uint8Array[] = [];
  private batchBytes = 0;
  private flushScheduled = false;
  private error: NetError | undefined;
  private connectTimer: Timer | undefined;

  private constructor(
    private readonly ctx: StreamContext,
    readonly remote: NetAddress,
    state: 'connecting' | 'open',
  ) {
    this.state = state;
    ctx.open.add(this);
  }

  /** An outbound stream; failures are reported through onClose, after connectTcp returned. */
  static connect(ctx: StreamContext, remote: NetAddress, handlers: StreamHandlers, options: ConnectOptions = {}) {
    const stream = new RealStream(ctx, { host: remote.host, port: remote.port }, 'connecting');
    stream.handlers = handlers;
    if (!isIpLiteral(remote.host) || !isPort(remote.port) || remote.port === 0) {
      stream.finish(new NetError('EHOSTUNREACH', `not an IP endpoint: ${remote.host} port ${remote.port}`));
      return stream;
    }
    if (options.localAddress !== undefined && !isIpLiteral(options.localAddress)) {
      stream.finish(new NetError('EADDRNOTAVAIL', `not an IP address: ${options.localAddress}`));
      return stream;
    }
    let socket: net.Socket;
    try {
      socket = net.connect({
        host: remote.host,
        port: remote.port,
        ...(options.localAddress !== undefined ? { localAddress: options.localAddress } : {}),
        allowHalfOpen: true,
        noDelay: true,
      });
    } catch (e) {
      stream.finish(toNetError(e, 'EADDRNOTAVAIL'));
      return stream;
    }
    stream.attach(socket);
    socket.once('connect', () => stream.onConnected());
    stream.connectTimer = ctx.clock.setTimer(options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, () => {
      if (stream.state !== 'connecting') return;
      stream.finish(new NetError('ETIMEDOUT', `no answer from ${remote.host} port ${remote.port}`));
      socket.destroy();
    });
    return stream;
  }

  /** An accepted stream; `handlers` are set once the listener's onConnection returned them. */
  static accept(ctx: StreamContext, socket: net.Socket, remote: NetAddress): RealStream {
    const stream = new RealStream(ctx, remote, 'open');
    stream.local = netAddress(socket.localAddress, socket.localPort);
    socket.setNoDelay(true);
    stream.attach(socket);
    return stream;
  }

  setHandlers(handlers: StreamHandlers): void {
    this.handlers = handlers;
  }

  get bufferedAmount(): number {
    if (this.state === 'closed') return 0;
    return this.batchBytes + (this.socket?.writableLength ?? 0);
  }

  write(data: Uint8Array): boolean {
    return this.ctx.d.call(() => {
      const socket = this.socket;
      if (this.state === 'closed' || this.ended || !socket) return false; // dropped, as the interface says
      this.ctx.stats.streamWrites++;
      if (this.ctx.batchWrites) {
        this.batch.push(data);
        this.batchBytes += data.length;
        if (!this.flushScheduled) {
          this.flushScheduled = true;
          process.nextTick(() => this.flush());
        }
      } else {
        this.ctx.stats.socketWrites++;
        socket.write(data);
      }
      const ok = this.bufferedAmount < socket.writableHighWaterMark;
      if (!ok) this.needDrain = true;
      return ok;
    });
  }

  end(): void {
    this.ctx.d.call(() => {
      if (this.state === 'closed' || this.ended || !this.socket) return;
      this.ended = true;
      this.needDrain = false; // nothing more may be written: no onDrain
      this.flush();
      this.socket.end();
    });
  }

  reset(): void {
    this.ctx.d.call(() => {
      if (this.state === 'closed') return;
      const socket = this.socket;
      this.finish(new NetError('ECLOSED', 'reset locally'));
      if (!socket) return;
      try {
        // An RST, not a FIN, so that the peer sees ECONNRESET. Before the connection is established
        // there is nothing to reset: destroying it abandons the attempt.
        if (socket.connecting || socket.destroyed) socket.destroy();
        else socket.resetAndDestroy();
      } catch {
        socket.destroy();
      }
    });
  }

  /** Closes the stream as the transport closes (RealTransport.close). */
  abandon(): void {
    this.reset();
  }

  private attach(socket: net.Socket): void {
    this.socket = socket;
    const d = this.ctx.d;
    socket.on('data', (chunk: Buffer) => {
      if (this.state === 'closed') return;
      d.emit(() => {
        if (this.state !== 'closed') this.handlers?.onData(chunk);
      });
    });
    socket.on('end', () => {
      if (this.state === 'closed') return;
      d.emit(() => {
        if (this.state !== 'closed') this.handlers?.onEnd?.();
      });
    });
    socket.on('drain', () => {
      if (this.needDrain && this.batchBytes === 0) this.drained();
    });
    // Stays attached for the socket's life: an 'error' event without a listener would throw. Node
    // follows every error with 'close', where the stream is finished with the first error seen.
    socket.on('error', (e) => {
      this.error ??= toNetError(e, this.state === 'connecting' ? 'ECONNREFUSED' : 'ECONNRESET');
    });
    socket.on('close', (hadError) => {
      this.finish(this.error ?? (hadError ? new NetError('ECONNRESET') : undefined));
    });
  }

  private onConnected(): void {
    if (this.state !== 'connecting' || !this.socket) return;
    this.connectTimer?.cancel();
    this.state = 'open';
    this.local = netAddress(this.socket.localAddress, this.socket.localPort);
    this.ctx.d.emit(() => {
      if (this.state !== 'closed') this.handlers?.onConnect?.();
    });
  }

  /** Hands the batch to the kernel: one write (copied when small) or one writev (corked). */
  private flush(): void {
    this.flushScheduled = false;
    const socket = this.socket;
    if (this.state === 'closed' || this.batch.length === 0 || !socket) return;
    const batch = this.batch;
    const bytes = this.batchBytes;
    this.batch = [];
    this.batchBytes = 0;
    this.ctx.stats.socketWrites++;
    let ok: boolean;
    if (batch.length === 1) {
      ok = socket.write(batch[0]!);
    } else if (bytes <= COPY_BATCH_LIMIT) {
      ok = socket.write(Buffer.concat(batch, bytes));
    } else {
      socket.cork();
      for (const chunk of batch) socket.write(chunk);
      socket.uncork();
      ok = socket.writableLength < socket.writableHighWaterMark;
    }
    // Node emits 'drain' only after a write of its own returned false; below the mark, drained now.
    if (ok && this.needDrain && !this.ended) this.drained();
  }

  private drained(): void {
    if (this.state === 'closed' || this.ended) return;
    this.needDrain = false;
    this.ctx.d.emit(() => {
      if (this.state !== 'closed') this.handlers?.onDrain?.();
    });
  }

  /** Closed: once, whatever closed it; onClose after everything emitted before. */
  private finish(error: NetError | undefined): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.connectTimer?.cancel();
    this.batch = [];
    this.batchBytes = 0;
    this.ctx.open.delete(this);
    this.ctx.d.emit(() => this.handlers?.onClose(error));
  }
}

export class RealListener implements Listener {
  local: NetAddress | undefined = undefined;
  private readonly server: net.Server | undefined;
  private closed = false;

  constructor(
    private readonly ctx: StreamContext,
    options: ListenOptions,
    private readonly handlers: ListenerHandlers,
    private readonly open: Set<RealListener>,
  ) {
    open.add(this);
    const host = options.address ?? '0.0.0.0';
    const port = options.port ?? 0;
    if (!isIpLiteral(host) || !isPort(port)) {
      this.fail(new NetError('EADDRNOTAVAIL', `cannot listen on ${host} port ${port}`));
      return;
    }
    const server = net.createServer({ allowHalfOpen: true });
    this.server = server;
    server.on('error', (e) => this.fail(toNetError(e, 'EADDRNOTAVAIL')));
    server.on('listening', () => {
      if (this.closed) {
        server.close(); // closed while binding
        return;
      }
      const a = server.address() as net.AddressInfo;
      const local = netAddress(a.address, a.port)!;
      this.local = local;
      ctx.d.emit(() => {
        if (!this.closed) this.handlers.onReady?.(local);
      });
    });
    server.on('connection', (socket: net.Socket) => this.onSocket(socket));
    try {
      server.listen({ host, port, backlog: options.backlog ?? 511, exclusive: true });
    } catch (e) {
      this.fail(toNetError(e, 'EADDRNOTAVAIL'));
    }
  }

  close(): void {
    this.ctx.d.call(() => {
      if (this.closed) return;
      this.closed = true;
      this.release();
    });
  }

  private onSocket(socket: net.Socket): void {
    const remote = netAddress(socket.remoteAddress, socket.remotePort);
    if (this.closed || remote === undefined) {
      socket.destroy(); // closed meanwhile, or the peer already gone
      return;
    }
    const stream = RealStream.accept(this.ctx, socket, remote);
    this.ctx.d.emit(() => {
      if (this.closed) return stream.abandon();
      stream.setHandlers(this.handlers.onConnection(stream));
    });
  }

  private fail(error: NetError): void {
    if (this.closed) return;
    this.closed = true;
    this.release();
    this.ctx.d.emit(() => this.handlers.onError?.(error));
  }

  private release(): void {
    // server.close() stops accepting at once; accepted streams are not affected.
    if (this.server?.listening) this.server.close();
    this.open.delete(this);
  }
}
