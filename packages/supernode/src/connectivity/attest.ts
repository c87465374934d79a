/**
 * Reachability attestations, the supernode's side (spec/08-connectivity.md §8, ATTEST-*): an election
 * candidate asks on its user channel to be dialled back; the supernode tries, at the channel's observed
 * address only, a stream-channel handshake at the TCP port named (the responder must prove the
 * candidate's own certificate) and a probe at the UDP port named (the candidate must answer it with the
 * probe's transaction id from that address and port), both at once and within `attest-timeout`, and
 * signs what it found — unreachable included — with its certified key (wire: connectivity/attestation.ts).
 *
 *   input                  from                       effect
 *   AttestRequest          node, any user channel     one dial-back and one probe to the observed address,
 *                                                     then AttestReply {certificate, signed Attestation}
 *   0x03 probe reply       the candidate (UDP)        settles the probe of its transaction id, when it comes
 *                                                     from exactly the address and port probed
 *
 * A candidate cannot make the supernode connect or send anywhere but where its own channel comes from
 * ([ATTEST-DIAL-1], [NAT-AMP-2]): the address is never taken from the request. What one candidate can
 * make it do is bounded: one attestation in progress per channel and 4 per candidate key per hour
 * ([ATTEST-RATE-1]); the remembered request times are bounded too ([NAT-RES-1]).
 */
import type { NetAddress, Timer } from '@parley/net';
import {
  ATTESTATION_LIFETIME_MS,
  bytesEqual,
  DecodeError,
  ErrorCode,
  encodeProbe,
  MAX_ATTEST_NONCE_BYTES,
  MIN_ATTEST_NONCE_BYTES,
  type PacketBodies,
  type PacketBody,
  type PeerIdentity,
  type ProbeReplyDatagram,
  RequestRefused,
  ResourceError,
  Role,
  signAttestation,
  TRANSACTION_ID_BYTES,
} from '@parley/wire';
import type { CoreAction } from '../core/core.js';
import { addressBytes } from '../core/endpoint.js';
import type { Session } from '../core/session.js';
import { keyHex } from '../overlay/key-id.js';
import type { ConnectivityDeps } from './service.js';

export interface AttestLimits {
  /** [ATTEST-DIAL-4] `attest-timeout`: the dial-back and the probe both end within it. */
  readonly attestTimeoutMs: number;
  /** [ATTEST-SIGN-1] `attestation-lifetime`: expires_at - issued_at (at most ATTESTATION_LIFETIME_MS). */
  readonly attestationLifetimeMs: number;
  /** [ATTEST-RATE-1] AttestRequests per candidate (subject key id) per hour at this supernode. */
  readonly attestsPerCandidatePerHour: number;
  /** [NAT-RES-1] Candidates whose request times of the last hour are remembered (beyond: BUSY). */
  readonly attestCandidatesTracked: number;
}

/** [NAT-LIMIT-2] The parameters of §8. */
export const DEFAULT_ATTEST_LIMITS: AttestLimits = Object.freeze({
  attestTimeoutMs: 5_000,
  attestationLifetimeMs: ATTESTATION_LIFETIME_MS,
  attestsPerCandidatePerHour: 4,
  attestCandidatesTracked: 65_536,
});

/** Counters (tests, status). */
export interface AttestStats {
  /** AttestReplies signed. */
  attested: number;
  /** ... of which TCP reachable, UDP reachable. */
  tcpReachable: number;
  udpReachable: number;
  /** Dial-backs started ([ATTEST-DIAL-2]) and probes sent ([ATTEST-DIAL-3]). */
  dials: number;
  probes: number;
  /** Probe replies that settled a probe; those dropped (unknown transaction id, another source). */
  probeReplies: number;
  probeRepliesDropped: number;
  /** Requests refused by [ATTEST-RATE-1]. */
  rateLimited: number;
  busy: number;
}

const HOUR_MS = 3_600_000;
/** [WIRE-ERRREPLY-2] BUSY when the rate table is full: try again after this long (jittered by as much). */
const FULL_RETRY_AFTER_MS = 60_000;

/** One attestation in progress: the waits the deadline or the channel's end settle as "not reached". */
interface Job {
  readonly waits: Set<(reached: boolean) => void>;
  timer: Timer | undefined;
  ended: boolean;
}

/** A probe sent, waiting for its reply from exactly `to`. */
interface ProbeWait {
  readonly to: NetAddress;
  readonly settle: (reached: boolean) => void;
}

const reply = (requestId: number, body: PacketBody): CoreAction => ({ kind: 'reply', packet: { requestId, body } });

const validPort = (port: number, min: number): boolean => Number.isInteger(port) && port >= min && port <= 65_535;

/** Two hosts as a transport reports them: the same text, or the same address bytes (IPv4-mapped IPv6). */
function sameHost(a: string, b: string): boolean {
  if (a === b) return true;
  try {
    return bytesEqual(addressBytes(a), addressBytes(b));
  } catch {
    return false;
  }
}

export class AttestService {
  readonly stats: AttestStats = {
    attested: 0,
    tcpReachable: 0,
    udpReachable: 0,
    dials: 0,
    probes: 0,
    probeReplies: 0,
    probeRepliesDropped: 0,
    rateLimited: 0,
    busy: 0,
  };
  readonly #deps: ConnectivityDeps;
  readonly #limits: AttestLimits;
  /** [ATTEST-RATE-1] One attestation in progress per channel. */
  readonly #jobs = new Map<Session, Job>();
  /** [ATTEST-RATE-1] Candidate key id (hex) → times of its requests within the last hour, oldest first. */
  readonly #recent = new Map<string, number[]>();
  /** Outstanding probes by transaction id (hex): at most one per job. */
  readonly #probes = new Map<string, ProbeWait>();
  #closed = false;

  constructor(deps: ConnectivityDeps) {
    this.#deps = deps;
    this.#limits = deps.limits;
  }

  /** Attestations in progress (tests). */
  get inProgress(): number {
    return this.#jobs.size;
  }

  /** Candidates remembered by the rate limit (tests). */
  get tracked(): number {
    return this.#recent.size;
  }

  /** [ATTEST-REQ-1] .. [ATTEST-SIGN-1] One AttestRequest. */
  async attest(session: Session, requestId: number, b: PacketBodies['attestRequest']): Promise<CoreAction> {
    // [ATTEST-REQ-1] on a user channel (no attachment needed).
    if (session.kind !== 'node' || session.peer.certificate.role !== Role.ROLE_USER) {
      throw new RequestRefused(ErrorCode.NOT_AUTHORIZED, 'AttestRequest is for user channels');
    }
    if (!validPort(b.tcpPort, 1)) throw new DecodeError(ErrorCode.MALFORMED, `AttestRequest.tcp_port: ${b.tcpPort}`);
    if (!validPort(b.udpPort, 0)) throw new DecodeError(ErrorCode.MALFORMED, `AttestRequest.udp_port: ${b.udpPort}`);
    if (b.nonce.length < MIN_ATTEST_NONCE_BYTES || b.nonce.length > MAX_ATTEST_NONCE_BYTES) {
      throw new DecodeError(ErrorCode.MALFORMED, `AttestRequest.nonce: ${b.nonce.length} bytes, not 16..32`);
    }
    if (this.#closed) throw new ResourceError(ErrorCode.RESOURCE_LIMIT, 'supernode shutting down');
    // [ATTEST-RATE-1] one in progress per channel: a second one is BUSY and costs nothing.
    if (this.#jobs.has(session)) {
      this.stats.busy++;
      throw new RequestRefused(ErrorCode.BUSY, 'an attestation is in progress on this channel');
    }
    const refused = this.#admit(session.peer.keyId, requestId);
    if (refused !== undefined) return refused;

    const job: Job = { waits: new Set(), timer: undefined, ended: false };
    this.#jobs.set(session, job);
    const timeoutMs = this.#limits.attestTimeoutMs;
    // [ATTEST-DIAL-4] one deadline for both tests: what has not succeeded by then was not reached.
    job.timer = this.#deps.clock.setTimer(timeoutMs, () => this.#end(job));
    // [ATTEST-DIAL-1] [NAT-AMP-2] the observed address of this channel, never one the request names.
    const host = session.observed.host;
    const nonce = Uint8Array.from(b.nonce);
    try {
      const [tcpReachable, udpReachable] = await Promise.all([
        this.#bounded(job, this.#dial(session.peer, { host, port: b.tcpPort }, timeoutMs)),
        b.udpPort === 0 ? Promise.resolve(false) : this.#bounded(job, this.#probe(job, { host, port: b.udpPort })),
      ]);
      if (this.#jobs.get(session) !== job) {
        // The channel closed (or the supernode is shutting down): nobody is left to answer.
        throw new ResourceError(ErrorCode.RESOURCE_LIMIT, 'the channel closed during the attestation');
      }
      return this.#sign(
        session,
        requestId,
        { host, tcpPort: b.tcpPort, udpPort: b.udpPort, nonce },
        tcpReachable,
        udpReachable,
      );
    } finally {
      this.#end(job);
      if (this.#jobs.get(session) === job) this.#jobs.delete(session);
    }
  }

  /**
   * [ATTEST-RATE-1] Counts a request of the candidate `keyId`: undefined when admitted, else the
   * RATE_LIMITED (or, with the table full, BUSY) reply with its retry hint.
   */
  #admit(keyId: Uint8Array, requestId: number): CoreAction | undefined {
    const now = this.#deps.clock.now();
    const key = keyHex(keyId);
    const limit = this.#limits.attestsPerCandidatePerHour;
    let times = this.#recent.get(key);
    if (times !== undefined) {
      while (times.length > 0 && times[0]! <= now - HOUR_MS) times.shift();
    } else {
      if (this.#recent.size >= this.#limits.attestCandidatesTracked) this.#sweep(now);
      if (this.#recent.size >= this.#limits.attestCandidatesTracked) {
        // [NAT-RES-1] the table is bounded: a new candidate waits until entries age out.
        this.stats.busy++;
        return reply(requestId, {
          case: 'error',
          value: {
            code: ErrorCode.BUSY,
            detail: 'too many candidates this hour',
            retryAfterMs: FULL_RETRY_AFTER_MS,
            retryJitterMs: FULL_RETRY_AFTER_MS,
          },
        });
      }
      times = [];
      this.#recent.set(key, times);
    }
    if (times.length >= limit) {
      this.stats.rateLimited++;
      return reply(requestId, {
        case: 'error',
        value: {
          code: ErrorCode.RATE_LIMITED,
          detail: `AttestRequest: ${limit} per candidate per hour`,
          retryAfterMs: Math.max(1, times[0]! + HOUR_MS - now),
          retryJitterMs: 0,
        },
      });
    }
    times.push(now);
    return undefined;
  }

  /** Forgets candidates with no request in the last hour. */
  #sweep(now: number): void {
    for (const [k, times] of this.#recent) {
      if (times.length === 0 || times[times.length - 1]! <= now - HOUR_MS) this.#recent.delete(k);
    }
  }

  /** `p`, or false once the job ends first (deadline, channel closed); a failure is false too. */
  #bounded(job: Job, p: Promise<boolean>): Promise<boolean> {
    if (job.ended) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      job.waits.add(resolve);
      p.then(resolve, () => resolve(false));
    });
  }

  /**
   * [ATTEST-DIAL-2] TCP reachable iff the handshake as initiator completes and the responder proves a
   * ROLE_USER certificate of the same subject key as the requesting channel's.
   */
  async #dial(candidate: PeerIdentity, to: NetAddress, timeoutMs: number): Promise<boolean> {
    this.stats.dials++;
    let proved: PeerIdentity;
    try {
      proved = await this.#deps.dialBack(to, timeoutMs);
    } catch (e) {
      this.#deps.log?.('attest-dial-failed', { to: `${to.host}:${to.port}`, error: String(e) });
      return false;
    }
    const same = proved.certificate.role === Role.ROLE_USER && bytesEqual(proved.keyId, candidate.keyId);
    if (!same) this.#deps.log?.('attest-dial-other-key', { to: `${to.host}:${to.port}` });
    return same;
  }

  /**
   * [ATTEST-DIAL-3] UDP reachable iff a 64-byte probe with a fresh random transaction id, sent from this
   * supernode's UDP socket, is answered by a probe reply with that id from that address and port.
   */
  #probe(job: Job, to: NetAddress): Promise<boolean> {
    const udp = this.#deps.udp;
    if (udp === undefined) return Promise.resolve(false);
    const txid = this.#deps.random.randomBytes(TRANSACTION_ID_BYTES);
    const key = keyHex(txid);
    if (this.#probes.has(key)) return Promise.resolve(false); // 2^-96: not worth a retry
    return new Promise<boolean>((resolve) => {
      const settle = (reached: boolean) => {
        if (this.#probes.get(key)?.settle === settle) this.#probes.delete(key);
        resolve(reached);
      };
      this.#probes.set(key, { to, settle });
      job.waits.add(() => settle(false));
      this.stats.probes++;
      udp.send(encodeProbe(txid), to);
    });
  }

  /**
   * [ATTEST-DIAL-3] [NAT-DGRAM-2] A probe reply at the supernode's UDP socket: it settles the probe of its
   * transaction id when it comes from exactly the address and port probed; anything else is dropped and
   * changes nothing (a reply from elsewhere does not cancel the probe). True when it was taken.
   */
  onProbeReply(d: ProbeReplyDatagram, from: NetAddress): boolean {
    if (this.#probes.size === 0) {
      this.stats.probeRepliesDropped++;
      return false;
    }
    const wait = this.#probes.get(keyHex(d.transactionId));
    if (wait === undefined || wait.to.port !== from.port || !sameHost(wait.to.host, from.host)) {
      this.stats.probeRepliesDropped++;
      return false;
    }
    this.stats.probeReplies++;
    wait.settle(true);
    return true;
  }

  /** [ATTEST-SIGN-1] The AttestReply: this supernode's certificate and the signed Attestation. */
  #sign(
    session: Session,
    requestId: number,
    r: { host: string; tcpPort: number; udpPort: number; nonce: Uint8Array },
    tcpReachable: boolean,
    udpReachable: boolean,
  ): CoreAction {
    const { suite, identity, clock } = this.#deps;
    const issuedAt = clock.now();
    const lifetime = Math.min(this.#limits.attestationLifetimeMs, ATTESTATION_LIFETIME_MS);
    const attestation = signAttestation(suite, identity.seed, {
      subjectKeyId: session.peer.keyId,
      username: session.username,
      deviceId: session.deviceId,
      address: addressBytes(r.host),
      tcpPort: r.tcpPort,
      tcpReachable,
      udpPort: r.udpPort,
      udpReachable: r.udpPort !== 0 && udpReachable,
      nonce: r.nonce,
      issuedAt,
      expiresAt: issuedAt + lifetime,
    });
    this.stats.attested++;
    if (tcpReachable) this.stats.tcpReachable++;
    if (udpReachable) this.stats.udpReachable++;
    this.#deps.log?.('attested', { session: session.id, tcp: tcpReachable, udp: udpReachable });
    return reply(requestId, { case: 'attestReply', value: { certificate: identity.chain[0]!, attestation } });
  }

  /** Ends `job`: its timer is cancelled and whatever it still waits for counts as not reached. */
  #end(job: Job): void {
    if (job.ended) return;
    job.ended = true;
    job.timer?.cancel();
    job.timer = undefined;
    const waits = [...job.waits];
    job.waits.clear();
    for (const w of waits) w(false);
  }

  /** The channel of `session` closed: its attestation in progress ends unanswered. */
  closed(session: Session): void {
    const job = this.#jobs.get(session);
    if (job === undefined) return;
    this.#jobs.delete(session);
    this.#end(job);
  }

  /** Stops every timer; attestations in progress end unanswered. */
  close(): void {
    this.#closed = true;
    for (const [session, job] of [...this.#jobs]) {
      this.#jobs.delete(session);
      this.#end(job);
    }
    this.#recent.clear();
  }
}
