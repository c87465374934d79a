/**
 * The supernode on a @parley/net Transport (spec/07-supernode.md §3, §9, §10): a TCP listener whose
 * connections run the stream channel (@parley/channel) as responder, proving this supernode's
 * ROLE_SUPERNODE certificate and requiring the initiator's certificate chain (ROLE_USER for nodes,
 * ROLE_SUPERNODE for other supernodes; an anonymous initiator fails the handshake, [SN-ATTACH-1]), with
 * revocations checked against the list last fetched. Requests go to SupernodeCore, several at a time
 * per channel (forwarded requests wait on other supernodes). The same code runs over real sockets (the
 * CLI) and in the simulator (tests).
 *
 * Resources a peer can consume, each bounded ([SN-RES-*]): channels in all (`maxConnections`) and per
 * address (`maxConnectionsPerAddress`) — beyond either a new connection is reset before its handshake —
 * requests in progress per channel (`maxPendingPerChannel`, beyond it RESOURCE_LIMIT), packets per second
 * per channel, the write buffer and handshake time (the channel driver), and silence (three keep-alive
 * intervals, [SN-KEEP-2]).
 */
import { type CloseReason, StreamChannel } from '@parley/channel';
import type { Clock, Listener, NetAddress, Stream, StreamHandlers, Timer, Transport, UdpSocket } from '@parley/net';
import {
  type CryptoSuite,
  certifiedPayloadCodec,
  DEFAULT_CLOCK_SKEW_MS,
  decodeCertificate,
  decodeSigned,
  ErrorCode,
  errorEffect,
  isParleyError,
  keyId,
  type LocalIdentity,
  type Packet,
  type PeerIdentity,
  Role,
  rejectionAction,
  SUPPORTED_PROTOCOL_VERSIONS,
  startResponder,
  VerifiedCertificateCache,
} from '@parley/wire';
import { type ConnectivityLimits, ConnectivityService, DEFAULT_CONNECTIVITY_LIMITS } from '../connectivity/service.js';
import { type CoreAction, type CoreDeps, SupernodeCore } from '../core/core.js';
import { NetworkState } from '../core/network-state.js';
import { newSession, type Session } from '../core/session.js';
import { makeDialBack } from './dial-back.js';
import { PeerPool } from './peers.js';

/** The software string of the supernode's handshake payload unless given. */
export const SUPERNODE_SOFTWARE = 'parley-ref-supernode/0.1.0';

export interface SupernodeOptions {
  /** The host's network; its clock must read unix milliseconds (certificates, records, messages). */
  readonly transport: Transport;
  readonly suite: CryptoSuite;
  /** This supernode's ROLE_SUPERNODE certificate chain (leaf first) and the leaf's seed. */
  readonly identity: LocalIdentity;
  /** The network's pinned root public keys. */
  readonly trustAnchors: Uint8Array[];
  /** Where to listen; port 0 picks a free one. Default 127.0.0.1:0. */
  readonly listen?: { address?: string; port?: number };
  /**
   * The UDP socket of probes and the relay (spec/08): bound at the listen address, on `port` (default:
   * the TCP port); `false` for none (probes, classification and the UDP relay are then off).
   */
  readonly udp?: { readonly port?: number } | false;
  /** The UDP endpoints nodes reach this supernode at; default the bound socket's address. */
  readonly udpEndpoints?: () => readonly NetAddress[];
  /** Limits of the connectivity services (spec/08); the defaults of its limits table unless given. */
  readonly connectivityLimits?: Partial<ConnectivityLimits>;
  /** The network state (list, policy, revocations); a new, empty one unless given. */
  readonly state?: NetworkState;
  readonly limits?: CoreDeps['limits'];
  /** The presence records held; a new table unless given. */
  readonly directory?: CoreDeps['directory'];
  /** The offline store; a new MemoryOfflineStore unless given (the CLI gives SQLite). */
  readonly offline?: CoreDeps['offline'];
  readonly software?: string;
  readonly log?: (event: string, fields: Record<string, unknown>) => void;
  /** Makes the core (tests wrap or replace it); default `new SupernodeCore(deps)`. */
  readonly core?: (deps: CoreDeps & { readonly peers: PeerPool }) => SupernodeCore;
}

export interface SupernodeStats {
  connections: number;
  accepted: number;
  refusedConnections: number;
  requests: number;
  refusals: number;
}

interface Conn {
  readonly channel: StreamChannel<PeerIdentity>;
  readonly remote: NetAddress;
  session?: Session;
  pending: number;
  expiry?: Timer;
}

export class Supernode {
  readonly core: SupernodeCore;
  readonly connectivity: ConnectivityService;
  readonly state: NetworkState;
  readonly peers: PeerPool;
  readonly keyId: Uint8Array;
  readonly stats: SupernodeStats = { connections: 0, accepted: 0, refusedConnections: 0, requests: 0, refusals: 0 };
  readonly #o: SupernodeOptions;
  readonly #clock: Clock;
  readonly #conns = new Set<Conn>();
  readonly #perAddress = new Map<string, number>();
  readonly #cache = new VerifiedCertificateCache();
  #listener: Listener | undefined;
  #local: NetAddress | undefined;
  #udp: UdpSocket | undefined;
  #udpLocal: NetAddress | undefined;
  #closed = false;
  readonly #unsubscribe: () => void;

  constructor(options: SupernodeOptions) {
    this.#o = options;
    this.#clock = options.transport.clock;
    this.state = options.state ?? new NetworkState(options.suite);
    const leaf = decodeCertificate(decodeSigned(options.identity.chain[0]!).body);
    this.keyId = keyId(options.suite, leaf.subjectKey);
    this.peers = new PeerPool({
      transport: options.transport,
      suite: options.suite,
      identity: options.identity,
      trustAnchors: options.trustAnchors,
      state: this.state,
      software: options.software ?? SUPERNODE_SOFTWARE,
      ...(options.log !== undefined ? { log: options.log } : {}),
    });
    if (this.state.loginCertificates.length === 0) this.state.setLoginCertificates(options.identity.chain.slice(1));
    const deps = {
      clock: this.#clock,
      suite: options.suite,
      trustAnchors: options.trustAnchors,
      state: this.state,
      selfKeyId: this.keyId,
      peers: this.peers,
      ...(options.limits !== undefined ? { limits: options.limits } : {}),
      ...(options.directory !== undefined ? { directory: options.directory } : {}),
      ...(options.offline !== undefined ? { offline: options.offline } : {}),
      ...(options.log !== undefined ? { log: options.log } : {}),
    };
    this.core = options.core?.(deps) ?? new SupernodeCore(deps);
    const software = options.software ?? SUPERNODE_SOFTWARE;
    this.connectivity = new ConnectivityService({
      clock: this.#clock,
      suite: options.suite,
      random: options.transport.random,
      state: this.state,
      selfKeyId: this.keyId,
      peers: this.peers,
      health: this.core.health,
      findAttached: (username, deviceId) => {
        const s = this.core.attachments.get(username, deviceId);
        return s?.attachment === 'active' ? s : undefined;
      },
      udp: { send: (data, to) => this.#udp?.send(data, to) },
      udpEndpoints: options.udpEndpoints ?? (() => (this.#udpLocal !== undefined ? [this.#udpLocal] : [])),
      identity: options.identity,
      dialBack: makeDialBack({
        transport: options.transport,
        suite: options.suite,
        identity: options.identity,
        trustAnchors: options.trustAnchors,
        state: this.state,
        software,
      }),
      limits: { ...DEFAULT_CONNECTIVITY_LIMITS, ...options.connectivityLimits },
      ...(options.log !== undefined ? { log: options.log } : {}),
    });
    // [SN-LOGIN-5] a certificate revoked after its channel was established ends the channel.
    this.#unsubscribe = this.state.onChange((what) => {
      if (what === 'revocations') this.#closeRevoked();
    });
  }

  /** The listening address, once `start` resolved. */
  get address(): NetAddress | undefined {
    return this.#local;
  }

  /** The bound UDP socket's address (probes, relay), once `start` resolved; undefined when there is none. */
  get udpAddress(): NetAddress | undefined {
    return this.#udpLocal;
  }

  /** Starts listening (TCP, then the UDP socket unless `udp: false`); resolves with the TCP address. */
  async start(): Promise<NetAddress> {
    const local = await this.#listenTcp();
    if (this.#o.udp !== false) await this.#bindUdp(local);
    return local;
  }

  #bindUdp(tcp: NetAddress): Promise<void> {
    const port = (this.#o.udp !== false ? this.#o.udp?.port : undefined) ?? tcp.port;
    return new Promise((resolve, reject) => {
      this.#udp = this.#o.transport.bindUdp(
        { address: tcp.host, port },
        {
          onMessage: (data, from) => this.connectivity.onDatagram(data, from),
          onReady: (local) => {
            this.#udpLocal = local;
            this.#o.log?.('udp-bound', { address: local.host, port: local.port });
            resolve();
          },
          onError: (e) => {
            if (this.#udpLocal === undefined) reject(e);
            else this.#o.log?.('udp-error', { error: String(e) });
          },
        },
      );
    });
  }

  #listenTcp(): Promise<NetAddress> {
    const { transport, listen } = this.#o;
    this.core.start();
    return new Promise((resolve, reject) => {
      this.#listener = transport.listenTcp(
        { address: listen?.address ?? '127.0.0.1', port: listen?.port ?? 0 },
        {
          onConnection: (stream) => this.#accept(stream),
          onReady: (local) => {
            this.#local = local;
            this.#o.log?.('listening', { address: local.host, port: local.port });
            resolve(local);
          },
          onError: (e) => reject(e),
        },
      );
    });
  }

  #accept(stream: Stream): StreamHandlers {
    const { suite, identity, trustAnchors } = this.#o;
    const limits = this.core.limits;
    const state = this.state;
    const start = startResponder<PeerIdentity>({
      suite,
      random: this.#o.transport.random,
      protocolVersions: SUPPORTED_PROTOCOL_VERSIONS,
      // [SN-ATTACH-1] a certified initiator only, ROLE_USER or ROLE_SUPERNODE, not revoked.
      payload: certifiedPayloadCodec(suite, {
        identity,
        software: this.#o.software ?? SUPERNODE_SOFTWARE,
        policy: () => ({
          trustAnchors,
          nowMs: this.#clock.now(),
          acceptedRoles: [Role.ROLE_USER, Role.ROLE_SUPERNODE],
          ...(state.policy !== undefined ? { skewMs: state.policy.certClockSkewMs } : {}),
          isRevoked: state.isRevoked,
          cache: this.#cache,
        }),
      }),
    });
    const remote = stream.remote;
    const conn: Conn = {
      remote,
      pending: 0,
      channel: new StreamChannel<PeerIdentity>({
        clock: this.#clock,
        start,
        role: 'responder',
        stream,
        // [SN-KEEP-2] silence for `missedKeepalives` intervals ends the channel (and its attachment).
        idleTimeoutMs: limits.keepaliveIntervalMs * limits.missedKeepalives,
        maxWriteBufferBytes: limits.maxWriteBufferBytes, // [SN-RES-4]
        maxPacketsPerSecond: limits.maxPacketsPerSecond, // [SN-RES-5]
        events: {
          onEstablished: (channel) => {
            conn.session = newSession(channel.peer, remote, {
              close: (code, detail) => conn.channel.close(code, detail),
              request: (body, timeoutMs) => conn.channel.request(body, timeoutMs),
              notify: (body) => conn.channel.send({ requestId: 0, body }),
            });
            // [SN-ATTACH-9] the channel lasts no longer than the certificates it was admitted with.
            const notAfter = Math.min(...channel.peer.chain.map((c) => c.notAfter));
            const skew = state.policy?.certClockSkewMs ?? DEFAULT_CLOCK_SKEW_MS;
            conn.expiry = this.#clock.setTimer(Math.max(0, notAfter + skew - this.#clock.now()), () =>
              conn.channel.close(ErrorCode.CERT_EXPIRED, 'certificate expired'),
            );
          },
          onPacket: (packet) => this.#onPacket(conn, packet),
          onClosed: (reason) => this.#onClosed(conn, reason),
        },
      }),
    };
    const perAddress = this.#perAddress.get(remote.host) ?? 0;
    // [SN-RES-1] [SN-RES-2] beyond the global or the per-address limit, reset before any handshake.
    if (this.#closed || this.#conns.size >= limits.maxConnections || perAddress >= limits.maxConnectionsPerAddress) {
      this.stats.refusedConnections++;
      this.#o.log?.('connection-refused', { remote: remote.host, connections: this.#conns.size, perAddress });
      queueMicrotask(() => stream.reset());
      return conn.channel.handlers;
    }
    this.#conns.add(conn);
    this.#perAddress.set(remote.host, perAddress + 1);
    this.stats.accepted++;
    this.stats.connections = this.#conns.size;
    return conn.channel.handlers;
  }

  #onClosed(conn: Conn, reason: CloseReason): void {
    conn.expiry?.cancel();
    if (!this.#conns.delete(conn)) return;
    const n = (this.#perAddress.get(conn.remote.host) ?? 1) - 1;
    if (n === 0) this.#perAddress.delete(conn.remote.host);
    else this.#perAddress.set(conn.remote.host, n);
    this.stats.connections = this.#conns.size;
    if (conn.session !== undefined) {
      this.core.closed(conn.session);
      this.connectivity.closed(conn.session);
      this.#o.log?.('channel-closed', {
        session: conn.session.id,
        kind: conn.session.kind,
        code: reason.code,
        local: reason.local,
      });
    }
  }

  #onPacket(conn: Conn, packet: Packet): void {
    const session = conn.session;
    if (session === undefined || conn.channel.closed) return;
    if (packet.requestId === 0) {
      // 08: RelayFrame is the one notice a node sends a supernode.
      try {
        if (this.connectivity.notice(session, packet)) return;
      } catch (error) {
        this.#refuse(conn, packet, error);
        return;
      }
      // [SN-ATTACH-3] every other body of 07 and 08 is a request.
      this.stats.refusals++;
      conn.channel.close(ErrorCode.UNEXPECTED_MESSAGE, 'a request without request_id');
      return;
    }
    // [SN-RES-3] requests in progress per channel are bounded.
    if (conn.pending >= this.core.limits.maxPendingPerChannel) {
      this.stats.refusals++;
      conn.channel.send({
        requestId: packet.requestId,
        body: { case: 'error', value: { code: ErrorCode.RESOURCE_LIMIT, detail: 'too many requests in progress' } },
      });
      return;
    }
    conn.pending++;
    this.stats.requests++;
    void this.#handle(conn, session, packet).finally(() => {
      conn.pending--;
    });
  }

  async #handle(conn: Conn, session: Session, packet: Packet): Promise<void> {
    let action: CoreAction;
    try {
      action = this.connectivity.handles(packet.body.case)
        ? await this.connectivity.handle(session, packet)
        : await this.core.handle(session, packet);
    } catch (error) {
      this.#refuse(conn, packet, error);
      return;
    }
    if (conn.channel.closed) return;
    if (action.kind === 'reply') conn.channel.send(action.packet);
    else conn.channel.close(action.code, action.detail);
  }

  /** [GEN-ERR-4] A refused request: ErrorReply or Close, by the code's channel effect; never a crash. */
  #refuse(conn: Conn, packet: Packet, error: unknown): void {
    this.stats.refusals++;
    if (conn.channel.closed) return;
    if (!isParleyError(error) || errorEffect(error.code) === 'local') {
      // A bug or a store failure: the request is refused as BUSY and the channel stays usable.
      this.#o.log?.('internal-error', { error: String(error), body: packet.body.case });
      conn.channel.send({
        requestId: packet.requestId,
        body: { case: 'error', value: { code: ErrorCode.BUSY, detail: 'internal error' } },
      });
      return;
    }
    this.#o.log?.('refused', { body: packet.body.case, code: error.code, remote: conn.remote.host });
    const a = rejectionAction(error, { channel: 'stream', requestId: packet.requestId });
    if (a.action === 'close') conn.channel.close(error.code, '');
    else if (a.action === 'reply') conn.channel.send(a.reply);
  }

  /** Channels whose peer chain holds a certificate now revoked are closed with CERT_REVOKED. */
  #closeRevoked(): void {
    for (const c of [...this.#conns]) {
      const chain = c.session?.peer.chain;
      if (chain?.some((cert) => this.state.isRevoked(cert.issuerKeyId, cert.serial))) {
        c.channel.close(ErrorCode.CERT_REVOKED, 'certificate revoked');
      }
    }
    this.peers.closeRevoked();
  }

  /** Sessions of established channels (diagnostics, tests). */
  sessions(): Session[] {
    return [...this.#conns].flatMap((c) => (c.session !== undefined ? [c.session] : []));
  }

  /** Stops accepting, closes every channel (orderly, code 0) and the pooled channels to other supernodes. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe();
    this.#listener?.close();
    this.#udp?.close();
    for (const c of [...this.#conns]) c.channel.close(0, 'shutting down');
    this.peers.close();
    this.connectivity.close();
    this.core.close();
  }

  /** Resolves when every channel has closed (or after `timeoutMs`). */
  async drained(timeoutMs = 5_000): Promise<void> {
    const end = this.#clock.now() + timeoutMs;
    while (this.#conns.size > 0 && this.#clock.now() < end) {
      await new Promise<void>((r) => this.#clock.setTimer(20, r));
    }
  }
}
