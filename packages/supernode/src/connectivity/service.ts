/**
 * The supernode's connectivity services (spec/08-connectivity.md): observed addresses and probes (§4),
 * NAT classification (§5), hole-punch coordination (§6), the relay (§7) and reachability attestations
 * (§8). One object per supernode; the runner hands it the requests of bodies 240-281, the RelayFrame
 * notices, and every datagram of types 0x02-0x07 that arrives at the supernode's UDP socket. Each service
 * lives in its own module and is sans-I/O like the core: sockets, the clock, randomness and the channels
 * to nodes and supernodes come in through `ConnectivityDeps`.
 *
 *   body / datagram             from                      module
 *   ObserveRequest              node (any user channel)   probe.ts
 *   0x02 probe                  anyone (UDP)              probe.ts   (rate-limited, never larger than the probe)
 *   ClassifyRequest             node (attached)           probe.ts
 *   ClassifyProbe               supernode                 probe.ts
 *   PunchRequest                node (attached), supernode punch.ts
 *   RelayAllocate, RelayRefresh node (any user channel)   relay.ts
 *   RelayFrame (notice)         node (its allocation's)   relay.ts
 *   0x04 relay bind, 0x06 data  anyone (UDP)              relay.ts   (authenticated by the allocation key)
 *   AttestRequest               node (any user channel)   attest.ts
 *   0x03 probe reply            a dialled-back candidate  attest.ts
 */
import type { Clock, NetAddress, Random } from '@parley/net';
import {
  type ConnectivityDatagram,
  type CryptoSuite,
  DATAGRAM_TYPE_PROBE,
  DATAGRAM_TYPE_PROBE_REPLY,
  DATAGRAM_TYPE_RELAY_BIND,
  DATAGRAM_TYPE_RELAY_DATA,
  DecodeError,
  decodeConnectivityDatagram,
  type LocalIdentity,
  type Packet,
  type PeerIdentity,
} from '@parley/wire';
import type { CoreAction, PeerRequester } from '../core/core.js';
import type { NetworkState } from '../core/network-state.js';
import type { Session } from '../core/session.js';
import type { PeerHealth } from '../overlay/health.js';
import { type AttestLimits, AttestService, DEFAULT_ATTEST_LIMITS } from './attest.js';
import { DEFAULT_PROBE_LIMITS, type ProbeLimits, ProbeService } from './probe.js';
import { DEFAULT_PUNCH_LIMITS, type PunchLimits, PunchService } from './punch.js';
import { DEFAULT_RELAY_LIMITS, type RelayLimits, RelayService } from './relay.js';

/** The supernode's UDP socket, as the services see it. */
export interface DatagramSender {
  send(data: Uint8Array, to: NetAddress): void;
}

/**
 * A dial-back for an attestation ([ATTEST-DIAL-2]): opens a stream channel to `to` as initiator with this
 * supernode's certificate, requires a certified ROLE_USER responder, and resolves with the identity it
 * proved (then closes the channel); rejects when the connection or the handshake fails or `timeoutMs`
 * passes.
 */
export type DialBack = (to: NetAddress, timeoutMs: number) => Promise<PeerIdentity>;

export type ConnectivityLimits = ProbeLimits & PunchLimits & RelayLimits & AttestLimits;

export const DEFAULT_CONNECTIVITY_LIMITS: ConnectivityLimits = Object.freeze({
  ...DEFAULT_PROBE_LIMITS,
  ...DEFAULT_PUNCH_LIMITS,
  ...DEFAULT_RELAY_LIMITS,
  ...DEFAULT_ATTEST_LIMITS,
});

export interface ConnectivityDeps {
  /** Unix milliseconds. */
  readonly clock: Clock;
  readonly suite: CryptoSuite;
  readonly random: Random;
  /** What the login server last published, verified (the list, the policy's relay quotas). */
  readonly state: NetworkState;
  readonly selfKeyId: Uint8Array;
  /** Channels to the other supernodes of the list. */
  readonly peers: PeerRequester;
  /** What is known of the other supernodes' liveness (the core's); a new record unless given. */
  readonly health?: PeerHealth;
  /** The node actively attached here as (username, deviceId), if any (punch offers). */
  readonly findAttached: (username: string, deviceId: Uint8Array) => Session | undefined;
  /** The supernode's UDP socket; undefined when it has none (then probes and UDP relay are off). */
  readonly udp: DatagramSender | undefined;
  /** The UDP endpoints nodes reach this supernode at (ObserveReply, ClassifyProbeReply, RelayAllocateReply). */
  readonly udpEndpoints: () => readonly NetAddress[];
  /** This supernode's certificate chain and key: attestations are signed with it. */
  readonly identity: LocalIdentity;
  readonly dialBack: DialBack;
  readonly limits: ConnectivityLimits;
  readonly log?: (event: string, fields: Record<string, unknown>) => void;
}

/** Counters (tests, status). */
export interface ConnectivityStats {
  datagramsIn: number;
  datagramsDropped: number;
}

const BODIES = new Set<string>([
  'observeRequest',
  'classifyRequest',
  'classifyProbe',
  'punchRequest',
  'relayAllocate',
  'relayRefresh',
  'attestRequest',
]);

export class ConnectivityService {
  readonly probe: ProbeService;
  readonly punch: PunchService;
  readonly relay: RelayService;
  readonly attest: AttestService;
  readonly stats: ConnectivityStats = { datagramsIn: 0, datagramsDropped: 0 };

  constructor(deps: ConnectivityDeps) {
    this.probe = new ProbeService(deps);
    this.punch = new PunchService(deps);
    this.relay = new RelayService(deps);
    this.attest = new AttestService(deps);
  }

  /** Whether `body` is a request of this chapter (the runner sends it here rather than to the core). */
  handles(body: string): boolean {
    return BODIES.has(body);
  }

  /** Handles one request; refusals are thrown as ParleyErrors (the runner maps them, as the core's). */
  handle(session: Session, packet: Packet): Promise<CoreAction> {
    const { body } = packet;
    switch (body.case) {
      case 'observeRequest':
        return this.probe.observe(session, packet.requestId);
      case 'classifyRequest':
        return this.probe.classify(session, packet.requestId, body.value);
      case 'classifyProbe':
        return this.probe.classifyProbe(session, packet.requestId, body.value);
      case 'punchRequest':
        return this.punch.request(session, packet.requestId, body.value);
      case 'relayAllocate':
        return this.relay.allocate(session, packet.requestId, body.value);
      case 'relayRefresh':
        return this.relay.refresh(session, packet.requestId, body.value);
      case 'attestRequest':
        return this.attest.attest(session, packet.requestId, body.value);
      default:
        throw new Error(`not a connectivity request: ${body.case}`);
    }
  }

  /**
   * A notice of this chapter (RelayFrame); true when it was one. Bad input is thrown as a ParleyError
   * (the runner closes the channel or ignores it by the code's effect).
   */
  notice(session: Session, packet: Packet): boolean {
    if (packet.body.case !== 'relayFrame') return false;
    this.relay.frame(session, packet.body.value);
    return true;
  }

  /**
   * [NAT-DGRAM-1] [NAT-DGRAM-2] One datagram from the UDP socket: demultiplexed by its first byte;
   * anything that fails to decode, or whose type this supernode does not take, is dropped unanswered.
   */
  onDatagram(bytes: Uint8Array, from: NetAddress): void {
    this.stats.datagramsIn++;
    // The relay's hot path first: relay data is decoded by the relay itself (no allocation here).
    if (bytes.length > 0 && bytes[0] === DATAGRAM_TYPE_RELAY_DATA) {
      if (!this.relay.onData(bytes, from)) this.stats.datagramsDropped++;
      return;
    }
    let d: ConnectivityDatagram;
    try {
      // A 0x01 channel datagram is not this chapter's: MALFORMED here, dropped like any other.
      d = decodeConnectivityDatagram(bytes);
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      this.stats.datagramsDropped++;
      return;
    }
    let taken = false;
    if (d.type === DATAGRAM_TYPE_PROBE) taken = this.probe.onProbe(d, from);
    else if (d.type === DATAGRAM_TYPE_PROBE_REPLY) taken = this.attest.onProbeReply(d, from);
    else if (d.type === DATAGRAM_TYPE_RELAY_BIND) taken = this.relay.onBind(d, bytes, from);
    if (!taken) this.stats.datagramsDropped++;
  }

  /** The channel of `session` closed: its allocations, pending punches and attestations end. */
  closed(session: Session): void {
    this.relay.closed(session);
    this.punch.closed(session);
    this.attest.closed(session);
  }

  /** Stops every timer. */
  close(): void {
    this.probe.close();
    this.punch.close();
    this.relay.close();
    this.attest.close();
  }
}
