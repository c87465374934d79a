/**
 * The login server on a @parley/net Transport: a TCP listener whose connections run the stream channel
 * (@parley/channel, spec/03-channels.md) as responder with the login server's payload codec (anonymous or
 * certified initiators, 02-identity.md ID-HS-11), and whose requests go to LoginServerCore one at a time
 * per channel, in order. The same code runs over real sockets (the CLI) and in the simulator (tests).
 *
 * Resources a peer can consume, each bounded ([LOGIN-RES-1]): connections (`maxConnections`, beyond it a
 * new connection is reset before any handshake), requests queued per channel (`maxQueuedPerChannel`,
 * beyond it RESOURCE_LIMIT), the write buffer and handshake time (the channel driver), idle channels
 * (`idleTimeoutMs`), and expensive work (the core's admission gate, BUSY).
 */

import { StreamChannel } from '@parley/channel';
import type { Clock, Listener, NetAddress, Stream, StreamHandlers, Timer, Transport } from '@parley/net';
import {
  type CryptoSuite,
  ErrorCode,
  errorEffect,
  isParleyError,
  loginServerPayloadCodec,
  type Packet,
  type PeerIdentity,
  Role,
  rejectionAction,
  SUPPORTED_PROTOCOL_VERSIONS,
  startResponder,
  VerifiedCertificateCache,
} from '@parley/wire';
import type { LoginServerCore, Session } from './core.js';
import { BusyError } from './errors.js';
import type { Pace } from './pacer.js';

export interface LoginServerOptions {
  transport: Transport;
  core: LoginServerCore;
  suite: CryptoSuite;
  /** Where to listen; port 0 picks a free one. */
  listen: { address?: string; port?: number };
  /** The software string of the server's handshake payload. */
  software?: string;
  maxConnections?: number;
  maxQueuedPerChannel?: number;
  /** A channel with no request for this long is closed (orderly). */
  idleTimeoutMs?: number;
  /** How often published objects are reloaded and the supernode list rebuilt ([LOGIN-LIST-5]). */
  refreshIntervalMs?: number;
  /** Structured log events (the CLI logs them with pino). */
  log?: (event: string, fields: Record<string, unknown>) => void;
  /**
   * Awaited before each request is handled ([LOGIN-RES-2]): `turnPacer()` on real sockets starts one
   * request per event-loop turn. Without it, requests start as soon as they are read (the simulator).
   */
  pace?: Pace;
}

export interface LoginServerStats {
  connections: number;
  accepted: number;
  refusedConnections: number;
  requests: number;
  refusals: number;
}

interface Conn {
  channel: StreamChannel<PeerIdentity | null>;
  session?: Session;
  queue: Packet[];
  busy: boolean;
  remote: NetAddress;
}

export class LoginServer {
  readonly #o: Required<Omit<LoginServerOptions, 'log' | 'pace'>> & Pick<LoginServerOptions, 'log' | 'pace'>;
  readonly #clock: Clock;
  readonly #conns = new Set<Conn>();
  readonly #cache = new VerifiedCertificateCache();
  #listener: Listener | undefined;
  #refreshTimer: Timer | undefined;
  #closed = false;
  readonly stats: LoginServerStats = { connections: 0, accepted: 0, refusedConnections: 0, requests: 0, refusals: 0 };
  #ready!: (a: NetAddress) => void;
  #failed!: (e: unknown) => void;
  /** Resolves with the listening address. */
  readonly ready: Promise<NetAddress> = new Promise((resolve, reject) => {
    this.#ready = resolve;
    this.#failed = reject;
  });

  constructor(options: LoginServerOptions) {
    this.#o = {
      software: 'parley-ref-login/0.1.0',
      maxConnections: 10_000,
      maxQueuedPerChannel: 16,
      idleTimeoutMs: 5 * 60_000,
      refreshIntervalMs: 5_000,
      ...options,
    };
    this.#clock = options.transport.clock;
  }

  /** Starts listening; `ready` resolves with the address. */
  start(): Promise<NetAddress> {
    const { transport, listen } = this.#o;
    this.#listener = transport.listenTcp(
      { address: listen.address ?? '127.0.0.1', port: listen.port ?? 0 },
      {
        onConnection: (stream) => this.#accept(stream),
        onReady: (local) => {
          this.#o.log?.('listening', { address: local.host, port: local.port });
          this.#ready(local);
        },
        onError: (e) => this.#failed(e),
      },
    );
    this.#scheduleRefresh();
    return this.ready;
  }

  #scheduleRefresh(): void {
    if (this.#closed) return;
    this.#refreshTimer = this.#clock.setTimer(this.#o.refreshIntervalMs, () => {
      this.#o.core.refresh().then(
        () => this.#scheduleRefresh(),
        (e) => {
          this.#o.log?.('refresh-failed', { error: String(e) });
          this.#scheduleRefresh();
        },
      );
    });
  }

  #accept(stream: Stream): StreamHandlers {
    const { core, suite } = this.#o;
    const identity = core.identityForChannels();
    const start = startResponder<PeerIdentity | null>({
      suite,
      random: this.#o.transport.random,
      protocolVersions: SUPPORTED_PROTOCOL_VERSIONS,
      payload: loginServerPayloadCodec(suite, {
        identity,
        software: this.#o.software,
        policy: () => ({
          trustAnchors: core.trustAnchors,
          nowMs: this.#clock.now(),
          acceptedRoles: [Role.ROLE_USER, Role.ROLE_SUPERNODE],
          skewMs: core.policy.certClockSkewMs,
          cache: this.#cache,
        }),
      }),
    });
    const conn: Conn = { channel: undefined as never, queue: [], busy: false, remote: stream.remote };
    conn.channel = new StreamChannel<PeerIdentity | null>({
      clock: this.#clock,
      start,
      role: 'responder',
      stream,
      idleTimeoutMs: this.#o.idleTimeoutMs,
      events: {
        onEstablished: (channel) => {
          conn.session = core.session(channel, stream.remote.host);
        },
        onPacket: (packet) => this.#enqueue(conn, packet),
        onClosed: () => {
          this.#conns.delete(conn);
          this.stats.connections = this.#conns.size;
        },
      },
    });
    // [LOGIN-RES-1] at most maxConnections channels; the next is reset before its handshake.
    if (this.#closed || this.#conns.size >= this.#o.maxConnections) {
      this.stats.refusedConnections++;
      queueMicrotask(() => stream.reset());
      return conn.channel.handlers;
    }
    this.#conns.add(conn);
    this.stats.accepted++;
    this.stats.connections = this.#conns.size;
    return conn.channel.handlers;
  }

  #enqueue(conn: Conn, packet: Packet): void {
    if (conn.queue.length >= this.#o.maxQueuedPerChannel) {
      // [LOGIN-RES-1] a channel may not queue requests without bound.
      this.#refuse(conn, packet, ErrorCode.RESOURCE_LIMIT, 'too many requests queued on this channel');
      return;
    }
    conn.queue.push(packet);
    if (!conn.busy) void this.#drain(conn);
  }

  async #drain(conn: Conn): Promise<void> {
    conn.busy = true;
    try {
      for (;;) {
        const packet = conn.queue.shift();
        if (packet === undefined || conn.channel.closed || conn.session === undefined) return;
        this.stats.requests++;
        if (this.#o.pace !== undefined) await this.#o.pace();
        if (conn.channel.closed) return;
        await this.#handle(conn, conn.session, packet);
      }
    } finally {
      conn.busy = false;
    }
  }

  async #handle(conn: Conn, session: Session, packet: Packet): Promise<void> {
    try {
      const action = await this.#o.core.handle(session, packet);
      if (conn.channel.closed) return;
      if (action.kind === 'reply') conn.channel.send(action.packet);
      else conn.channel.close(action.code, action.detail);
    } catch (error) {
      // ApiMisuse (a 'local' code, GEN-ERR-5) is a bug here too: it has no wire code to refuse with.
      if (!isParleyError(error) || errorEffect(error.code) === 'local') {
        // A bug or a store failure: the request is refused as BUSY and the channel closed, never a crash.
        this.#o.log?.('internal-error', { error: String(error), body: packet.body.case });
        this.stats.refusals++;
        conn.channel.close(ErrorCode.BUSY, 'internal error');
        return;
      }
      this.stats.refusals++;
      this.#o.log?.('refused', { body: packet.body.case, code: error.code, remote: conn.remote.host });
      if (error instanceof BusyError) {
        conn.channel.send({
          requestId: packet.requestId,
          body: {
            case: 'error',
            value: {
              code: error.code,
              detail: '',
              retryAfterMs: Math.min(error.retryAfterMs, 0xffff_ffff),
              retryJitterMs: Math.min(error.retryJitterMs, 0xffff_ffff),
            },
          },
        });
        return;
      }
      this.#refuse(conn, packet, error.code, '', error);
    }
  }

  /** [GEN-ERR-4] The channel effect of `code` for a refused request (ErrorReply, or Close). */
  #refuse(conn: Conn, packet: Packet, code: ErrorCode, detail: string, error?: unknown): void {
    if (error !== undefined && errorEffect(code) !== 'local') {
      const a = rejectionAction(error, { channel: 'stream', requestId: packet.requestId });
      if (a.action === 'close') conn.channel.close(code, detail);
      else if (a.action === 'reply') conn.channel.send(a.reply);
      return;
    }
    conn.channel.send({ requestId: packet.requestId, body: { case: 'error', value: { code, detail } } });
  }

  /** Stops accepting, closes every channel (orderly), and stops the refresh timer. */
  close(): void {
    this.#closed = true;
    this.#refreshTimer?.cancel();
    this.#listener?.close();
    for (const c of [...this.#conns]) c.channel.close(0, 'shutting down');
    this.#o.core.gate.close();
  }

  /** Resolves when every channel has closed (or after `timeoutMs`). */
  async drained(timeoutMs = 5_000): Promise<void> {
    const end = this.#clock.now() + timeoutMs;
    while (this.#conns.size > 0 && this.#clock.now() < end) {
      await new Promise<void>((r) => this.#clock.setTimer(20, r));
    }
  }
}
