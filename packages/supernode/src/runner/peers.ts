/**
 * Channels from this supernode to the other supernodes of the list (spec/07-supernode.md §9, SN-OVER-*):
 * opened when first needed, one per peer, reused by every request to it, closed when the peer leaves the
 * list or its channel fails (the next request opens a new one). This supernode is the initiator and proves
 * its ROLE_SUPERNODE certificate; the responder must prove a ROLE_SUPERNODE certificate, not revoked,
 * whose subject key is the key id the list names for the endpoint dialled ([SN-OVER-2]).
 */
import { StreamChannel } from '@parley/channel';
import type { NetAddress, Transport } from '@parley/net';
import {
  bytesEqual,
  type CryptoSuite,
  certifiedPayloadCodec,
  ErrorCode,
  IdentityError,
  type LocalIdentity,
  type Packet,
  type PacketBody,
  type PeerIdentity,
  ResourceError,
  Role,
  SUPPORTED_PROTOCOL_VERSIONS,
  startInitiator,
  VerifiedCertificateCache,
} from '@parley/wire';
import type { PeerRequester } from '../core/core.js';
import { netAddress, TRANSPORT_PROTOCOL_TCP } from '../core/endpoint.js';
import type { NetworkState } from '../core/network-state.js';

export interface PeerPoolOptions {
  readonly transport: Transport;
  readonly suite: CryptoSuite;
  readonly identity: LocalIdentity;
  readonly trustAnchors: Uint8Array[];
  readonly state: NetworkState;
  readonly software: string;
  readonly log?: (event: string, fields: Record<string, unknown>) => void;
  /** How long a connection and handshake may take. */
  readonly connectTimeoutMs?: number;
}

interface Peer {
  readonly keyId: Uint8Array;
  readonly channel: StreamChannel<PeerIdentity>;
  readonly ready: Promise<void>;
}

const hexOf = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

export class PeerPool implements PeerRequester {
  readonly #o: PeerPoolOptions;
  readonly #peers = new Map<string, Peer>();
  readonly #cache = new VerifiedCertificateCache();
  #closed = false;
  /** Channels opened so far (tests: one per peer while it stays up). */
  opened = 0;

  constructor(options: PeerPoolOptions) {
    this.#o = options;
    options.state.onChange((what) => {
      // [SN-OVER-4] a peer no longer on the list is not kept.
      if (what === 'list') {
        for (const [k, p] of this.#peers) if (!options.state.has(p.keyId)) this.#drop(k, p);
      }
    });
  }

  /** Peers with an open (or opening) channel. */
  get size(): number {
    return this.#peers.size;
  }

  async request(keyId: Uint8Array, body: PacketBody, timeoutMs?: number): Promise<Packet> {
    const peer = this.#peer(keyId);
    await peer.ready;
    return peer.channel.request(body, timeoutMs);
  }

  #peer(id: Uint8Array): Peer {
    if (this.#closed) throw new ResourceError(ErrorCode.RESOURCE_LIMIT, 'supernode shutting down');
    const k = hexOf(id);
    const held = this.#peers.get(k);
    if (held !== undefined && !held.channel.closed) return held;
    const entry = this.#o.state.entry(id);
    const endpoint = entry?.endpoints.find((e) => e.protocol === TRANSPORT_PROTOCOL_TCP);
    if (entry === undefined || endpoint === undefined) {
      // [SN-OVER-1] only supernodes of the current list are dialled.
      throw new ResourceError(ErrorCode.RESOURCE_LIMIT, 'supernode not on the list or without a TCP endpoint');
    }
    const peer = this.#open(id, netAddress(endpoint));
    this.#peers.set(k, peer);
    return peer;
  }

  #open(id: Uint8Array, address: NetAddress): Peer {
    const { transport, suite, identity, trustAnchors, state } = this.#o;
    const clock = transport.clock;
    let established!: () => void;
    let failed!: (e: unknown) => void;
    const ready = new Promise<void>((resolve, reject) => {
      established = resolve;
      failed = reject;
    });
    ready.catch(() => {});
    const channel: StreamChannel<PeerIdentity> = StreamChannel.connect<PeerIdentity>(transport, address, {
      clock,
      start: startInitiator({
        suite,
        random: transport.random,
        protocolVersions: SUPPORTED_PROTOCOL_VERSIONS,
        payload: certifiedPayloadCodec(suite, {
          identity,
          software: this.#o.software,
          policy: () => ({
            trustAnchors,
            nowMs: clock.now(),
            acceptedRoles: [Role.ROLE_SUPERNODE],
            ...(state.policy !== undefined ? { skewMs: state.policy.certClockSkewMs } : {}),
            isRevoked: state.isRevoked,
            cache: this.#cache,
          }),
        }),
      }),
      events: {
        onEstablished: (c) => {
          // [SN-OVER-2] the responder is the supernode the list names at that endpoint.
          if (!bytesEqual(c.peer.keyId, id)) {
            failed(new IdentityError(ErrorCode.CERT_INVALID, 'the supernode at that endpoint has another key'));
            channel.close(ErrorCode.NOT_AUTHORIZED, 'not the supernode the list names');
            return;
          }
          established();
        },
        // This channel carries our requests only: a request of the responder is refused.
        onPacket: (p) => {
          if (p.requestId !== 0) {
            channel.send({
              requestId: p.requestId,
              body: { case: 'error', value: { code: ErrorCode.NOT_AUTHORIZED, detail: 'initiator side' } },
            });
          }
        },
        onClosed: (reason) => {
          failed(new ResourceError(ErrorCode.RESOURCE_LIMIT, `channel to supernode closed (${reason.code})`));
          const k = hexOf(id);
          if (this.#peers.get(k)?.channel === channel) this.#peers.delete(k);
        },
      },
      ...(this.#o.connectTimeoutMs !== undefined ? { handshakeTimeoutMs: this.#o.connectTimeoutMs } : {}),
    });
    this.opened++;
    this.#o.log?.('peer-open', { peer: hexOf(id).slice(0, 16), address: `${address.host}:${address.port}` });
    return { keyId: id, channel, ready };
  }

  #drop(k: string, p: Peer): void {
    this.#peers.delete(k);
    p.channel.close(0, 'no longer on the supernode list');
  }

  /** Closes channels whose responder's chain holds a revoked certificate. */
  closeRevoked(): void {
    for (const [k, p] of this.#peers) {
      const chain = p.channel.established?.peer.chain;
      if (chain?.some((c) => this.#o.state.isRevoked(c.issuerKeyId, c.serial))) this.#drop(k, p);
    }
  }

  close(): void {
    this.#closed = true;
    for (const [k, p] of this.#peers) this.#drop(k, p);
  }
}
