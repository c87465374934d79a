/**
 * Hole-punch coordination (spec/08-connectivity.md §6, NAT-PUNCH-1..5), the supernodes' side. The nodes'
 * side — sending and answering the punch datagrams — is @parley/wire's connectivity/punch.ts.
 *
 *   caller (node A)         A's home supernode              B's home supernode (`via`)      callee (node B)
 *   PunchRequest ────────▶  attached? caller fields empty?
 *   {B, via, candidates}    fill caller from the channel;
 *                           10 per minute per user;
 *                           via = itself: handles it ─────▶ B attached here? 32 offers out?
 *                           else one hop:  PunchRequest ──▶ punch id, punch key; PunchOffer ──▶ accept
 *                                                           {A's candidates, start: lead}        (candidates)
 *                                                           ◀── PunchOfferReply, measured rtt  ◀──
 *   ◀──────────── PunchReply {B's candidates, start: lead − rtt/2} ◀──
 *
 * A decline, an error, no answer within `punch-offer-timeout`, and an absent device all give the caller
 * the same NOT_FOUND ([NAT-PUNCH-4]); the caller then cannot tell whether B exists or refused it.
 *
 * Timing ([NAT-PUNCH-4]). The callee starts `lead` after sending its answer; the caller gets
 * `lead − rtt/2`, counted from its receipt of the PunchReply, so the two starts differ by about the
 * answer's flight from B's supernode to A. The lead is fixed when the offer is sent, so the RTT it is
 * computed from is the lowest offer→answer time measured on the callee's channel so far
 * (`punchInitialRttMs` before the first: a lower bound filters out the callee's processing time); the
 * caller's shift uses the RTT this offer measured.
 *
 * Every table is bounded ([NAT-RES-1]): offers outstanding per callee channel (at most 32, each ending
 * within `punch-offer-timeout`), RTTs per callee channel (dropped with the channel), and request buckets
 * per user (./rate.ts: a table of buckets that forgets those untouched for a minute, being full).
 */
import {
  bytesEqual,
  CONNECTIVITY_KEY_BYTES,
  checkPunchCandidates,
  checkPunchStart,
  DEVICE_ID_BYTES,
  DecodeError,
  ErrorCode,
  isNormalisedUsername,
  isParleyError,
  KEY_ID_BYTES,
  type Packet,
  type PacketBodies,
  type PacketBody,
  PUNCH_ID_BYTES,
  PUNCH_TIMEOUT_MS,
  RequestRefused,
} from '@parley/wire';
import type { CoreAction } from '../core/core.js';
import type { Session } from '../core/session.js';
import { keyHex } from '../overlay/key-id.js';
import { BucketTable } from './rate.js';
import type { ConnectivityDeps } from './service.js';

export interface PunchLimits {
  /** [NAT-PUNCH-5] PunchRequests per minute per user at its home supernode (burst: a minute's worth). */
  readonly punchRequestsPerMinute: number;
  /** [NAT-PUNCH-5] Punch offers outstanding per callee device. */
  readonly punchOffersPerDevice: number;
  /** [NAT-PUNCH-3] `punch-offer-timeout`: how long the callee's supernode waits for its PunchOfferReply. */
  readonly punchOfferTimeoutMs: number;
  /** [NAT-PUNCH-3] `punch-timeout`: the timeout_ms of every PunchStart. */
  readonly punchTimeoutMs: number;
  /** How long the home supernode waits for the callee's supernode: the offer's timeout and a margin. */
  readonly punchForwardTimeoutMs: number;
  /** The RTT assumed for a callee channel no offer has measured yet (the lead is then twice this). */
  readonly punchInitialRttMs: number;
}

/** [NAT-LIMIT-2] The parameters of §6. */
export const DEFAULT_PUNCH_LIMITS: PunchLimits = Object.freeze({
  punchRequestsPerMinute: 10,
  punchOffersPerDevice: 32,
  punchOfferTimeoutMs: 5_000,
  punchTimeoutMs: PUNCH_TIMEOUT_MS,
  punchForwardTimeoutMs: 7_000,
  punchInitialRttMs: 250,
});

/** [NAT-PUNCH-4] The lead is clamp(2 · rtt, 100, 2,000) ms. */
export const PUNCH_MIN_LEAD_MS = 100;
export const PUNCH_MAX_LEAD_MS = 2_000;

/** [NAT-PUNCH-4] The callee's lead for a channel whose RTT is `rttMs`. */
export function punchLead(rttMs: number): number {
  return Math.min(PUNCH_MAX_LEAD_MS, Math.max(PUNCH_MIN_LEAD_MS, Math.round(2 * rttMs)));
}

/** [NAT-PUNCH-4] The caller's start_in_ms: the lead less half the offer's measured round trip. */
export function callerStartIn(leadMs: number, rttMs: number): number {
  return Math.max(0, Math.round(leadMs - rttMs / 2));
}

/** Counters (tests, status). */
export interface PunchStats {
  /** PunchRequests from nodes. */
  requests: number;
  /** Forwarded to another supernode ([NAT-PUNCH-2]). */
  forwarded: number;
  /** PunchOffers sent to callees. */
  offers: number;
  /** Offers accepted (a PunchReply went back). */
  accepted: number;
  /** Refused over the request rate ([NAT-PUNCH-5]). */
  rateLimited: number;
  /** Refused over the outstanding offers of a callee ([NAT-PUNCH-5]). */
  busy: number;
}

const MINUTE_MS = 60_000;

const reply = (requestId: number, body: PacketBody): CoreAction => ({ kind: 'reply', packet: { requestId, body } });

/** [NAT-PUNCH-4] Absence, a decline, an error and silence all look like this. */
const notFound = (): RequestRefused => new RequestRefused(ErrorCode.NOT_FOUND, 'no such device reachable');

/** A refusal with a retry hint (WIRE-ERRREPLY-3). */
const refusedWithHint = (
  requestId: number,
  code: ErrorCode,
  retryAfterMs: number,
  retryJitterMs: number,
  detail: string,
): CoreAction =>
  reply(requestId, {
    case: 'error',
    value: { code, detail, retryAfterMs: Math.max(1, Math.ceil(retryAfterMs)), retryJitterMs },
  });

type PunchRequestBody = PacketBodies['punchRequest'];

export class PunchService {
  readonly stats: PunchStats = { requests: 0, forwarded: 0, offers: 0, accepted: 0, rateLimited: 0, busy: 0 };
  readonly #deps: ConnectivityDeps;
  readonly #limits: PunchLimits;
  /** [NAT-PUNCH-5] Offers outstanding per callee channel (one active channel per device). */
  readonly #outstanding = new Map<Session, number>();
  /** The lowest offer→answer time measured per callee channel. */
  readonly #rtt = new Map<Session, number>();
  /** [NAT-PUNCH-5] Request buckets per user name. */
  readonly #buckets: BucketTable;

  constructor(deps: ConnectivityDeps) {
    this.#deps = deps;
    this.#limits = { ...DEFAULT_PUNCH_LIMITS, ...pick(deps.limits) };
    const perMinute = this.#limits.punchRequestsPerMinute;
    this.#buckets = new BucketTable({ burst: perMinute, rate: perMinute, periodMs: MINUTE_MS }, deps.clock.now());
  }

  get limits(): PunchLimits {
    return this.#limits;
  }

  /** Offers outstanding to the callee of `session` (tests). */
  outstanding(session: Session): number {
    return this.#outstanding.get(session) ?? 0;
  }

  /**
   * A PunchRequest: from a node, its home supernode's part ([NAT-PUNCH-1], [NAT-PUNCH-2], [NAT-PUNCH-5]);
   * from a supernode, or from a node naming this supernode as `via`, the callee's supernode's part
   * ([NAT-PUNCH-3], [NAT-PUNCH-4]).
   */
  async request(session: Session, requestId: number, b: PunchRequestBody): Promise<CoreAction> {
    if (session.kind === 'supernode') return this.#fromSupernode(requestId, b);
    this.stats.requests++;
    // [NAT-PUNCH-1] an active attachment on this channel.
    if (session.attachment !== 'active') {
      throw new RequestRefused(ErrorCode.NOT_AUTHORIZED, 'PunchRequest needs an active attachment');
    }
    // [NAT-PUNCH-1] the caller is who the channel's certificate says, never what the node writes.
    if (b.caller !== '' || b.callerDeviceId.length !== 0) {
      throw new RequestRefused(ErrorCode.NOT_AUTHORIZED, 'PunchRequest: caller is set by the supernode');
    }
    this.#checkTarget(b);
    if (b.via.length !== KEY_ID_BYTES) throw new DecodeError(ErrorCode.MALFORMED, 'PunchRequest.via: not 32 bytes');
    // [NAT-PUNCH-5] 10 per minute per user.
    const retry = this.#admit(session.username, this.#deps.clock.now());
    if (retry !== undefined) {
      this.stats.rateLimited++;
      return refusedWithHint(requestId, ErrorCode.RATE_LIMITED, retry, 0, 'PunchRequest: 10 per minute');
    }
    const forwarded: PunchRequestBody = { ...b, caller: session.username, callerDeviceId: session.deviceId };
    // [NAT-PUNCH-2] via = this supernode: the callee is attached here (or nowhere).
    if (bytesEqual(b.via, this.#deps.selfKeyId)) return this.#offer(requestId, forwarded);
    if (!this.#deps.state.has(b.via)) throw new RequestRefused(ErrorCode.NOT_FOUND, 'via: not on the supernode list');
    return this.#forward(requestId, b.via, forwarded);
  }

  /** [NAT-PUNCH-2] A request another supernode forwarded: it names its caller, and goes no further. */
  async #fromSupernode(requestId: number, b: PunchRequestBody): Promise<CoreAction> {
    if (b.caller === '') throw new DecodeError(ErrorCode.MISSING_FIELD, 'PunchRequest.caller');
    if (!isNormalisedUsername(b.caller)) throw new DecodeError(ErrorCode.MALFORMED, 'PunchRequest.caller');
    if (b.callerDeviceId.length !== DEVICE_ID_BYTES) {
      throw new DecodeError(ErrorCode.MALFORMED, 'PunchRequest.caller_device_id: not 16 bytes');
    }
    this.#checkTarget(b);
    // Never forwarded again: a request for a device attached elsewhere finds nothing here.
    if (!bytesEqual(b.via, this.#deps.selfKeyId)) throw notFound();
    return this.#offer(requestId, b);
  }

  /** [NAT-PUNCH-1] The callee and the caller's candidates. */
  #checkTarget(b: PunchRequestBody): void {
    if (!isNormalisedUsername(b.username)) {
      throw new RequestRefused(ErrorCode.USERNAME_INVALID, 'PunchRequest.username');
    }
    if (b.deviceId.length !== DEVICE_ID_BYTES) {
      throw new DecodeError(ErrorCode.MALFORMED, 'PunchRequest.device_id: not 16 bytes');
    }
    checkPunchCandidates(b.candidates, 'PunchRequest.candidates');
  }

  /** [NAT-PUNCH-2] One hop to the callee's supernode; its PunchReply, its BUSY, or NOT_FOUND. */
  async #forward(requestId: number, via: Uint8Array, b: PunchRequestBody): Promise<CoreAction> {
    const deps = this.#deps;
    this.stats.forwarded++;
    let p: Packet;
    try {
      p = await deps.peers.request(via, { case: 'punchRequest', value: b }, this.#limits.punchForwardTimeoutMs);
    } catch (e) {
      // Unreachable, timed out, or gone from the list: the callee cannot be reached through it.
      deps.log?.('punch-forward-failed', { peer: keyHex(via).slice(0, 16), error: String(e) });
      throw notFound();
    }
    const body = p.body;
    if (body.case === 'punchReply' && body.value.start !== undefined && body.value.start !== null) {
      try {
        checkPunchStart(body.value.start, 'PunchReply.start');
      } catch (e) {
        if (!isParleyError(e)) throw e;
        deps.log?.('punch-forward-bad-reply', { peer: keyHex(via).slice(0, 16), error: String(e) });
        throw notFound();
      }
      return reply(requestId, { case: 'punchReply', value: { start: body.value.start } });
    }
    if (body.case === 'error' && body.value.code === ErrorCode.BUSY) {
      // [NAT-PUNCH-5] the callee has too many offers outstanding: the caller may retry later.
      return refusedWithHint(
        requestId,
        ErrorCode.BUSY,
        body.value.retryAfterMs ?? this.#limits.punchOfferTimeoutMs,
        body.value.retryJitterMs ?? 0,
        'PunchRequest: the callee is busy',
      );
    }
    // [NAT-PUNCH-4] any other answer (NOT_FOUND, a refusal, a body out of place) is NOT_FOUND.
    throw notFound();
  }

  /** [NAT-PUNCH-3] [NAT-PUNCH-4] The callee's supernode: offer the punch to the device, answer the caller. */
  async #offer(requestId: number, b: PunchRequestBody): Promise<CoreAction> {
    const deps = this.#deps;
    const limits = this.#limits;
    // [NAT-PUNCH-3] the device attached actively here; else NOT_FOUND.
    const callee = deps.findAttached(b.username, b.deviceId);
    if (callee === undefined) throw notFound();
    // [NAT-PUNCH-5] 32 offers outstanding per callee device.
    const n = this.#outstanding.get(callee) ?? 0;
    if (n >= limits.punchOffersPerDevice) {
      this.stats.busy++;
      return refusedWithHint(requestId, ErrorCode.BUSY, limits.punchOfferTimeoutMs, 0, 'PunchRequest: callee busy');
    }
    this.#outstanding.set(callee, n + 1);
    try {
      const punchId = deps.random.randomBytes(PUNCH_ID_BYTES);
      const punchKey = deps.random.randomBytes(CONNECTIVITY_KEY_BYTES);
      const lead = punchLead(this.#rtt.get(callee) ?? limits.punchInitialRttMs);
      const relay = deps.selfKeyId;
      const timeoutMs = limits.punchTimeoutMs;
      this.stats.offers++;
      const sentAt = deps.clock.now();
      let answer: Packet;
      try {
        answer = await callee.request(
          {
            case: 'punchOffer',
            value: {
              caller: b.caller,
              callerDeviceId: b.callerDeviceId,
              start: { punchId, punchKey, candidates: b.candidates, nat: b.nat, startInMs: lead, timeoutMs, relay },
            },
          },
          limits.punchOfferTimeoutMs,
        );
      } catch {
        // [NAT-PUNCH-4] no answer in time, or the channel closed.
        throw notFound();
      }
      const rtt = Math.max(0, deps.clock.now() - sentAt);
      if (this.#outstanding.has(callee)) this.#rtt.set(callee, Math.min(rtt, this.#rtt.get(callee) ?? rtt));
      const a = answer.body;
      // [NAT-PUNCH-4] a decline or an error reply is absence to the caller.
      if (a.case !== 'punchOfferReply' || !a.value.accept) throw notFound();
      try {
        checkPunchCandidates(a.value.candidates, 'PunchOfferReply.candidates');
      } catch (e) {
        if (!isParleyError(e)) throw e;
        throw notFound(); // accepting with no usable candidate is no acceptance
      }
      this.stats.accepted++;
      return reply(requestId, {
        case: 'punchReply',
        value: {
          start: {
            punchId,
            punchKey,
            candidates: a.value.candidates,
            nat: a.value.nat,
            startInMs: callerStartIn(lead, rtt),
            timeoutMs,
            relay,
          },
        },
      });
    } finally {
      const m = this.#outstanding.get(callee);
      if (m !== undefined) {
        if (m <= 1) this.#outstanding.delete(callee);
        else this.#outstanding.set(callee, m - 1);
      }
    }
  }

  /**
   * [NAT-PUNCH-5] Takes one request from `user`'s bucket (burst and rate: punchRequestsPerMinute); the
   * wait until the next is allowed when the bucket is empty, else undefined.
   */
  #admit(user: string, now: number): number | undefined {
    const wait = this.#buckets.take(user, now);
    return wait > 0 ? wait : undefined;
  }

  /** The channel of `session` closed: offers to it fail by themselves (its requests reject); its state goes. */
  closed(session: Session): void {
    this.#outstanding.delete(session);
    this.#rtt.delete(session);
  }

  /** No timers to stop: every wait is a request's own timeout. */
  close(): void {}
}

/** The limits of this part in `limits`: positive finite numbers only. */
function pick(limits: Partial<PunchLimits>): Partial<PunchLimits> {
  const out: Partial<Record<keyof PunchLimits, number>> = {};
  for (const k of Object.keys(DEFAULT_PUNCH_LIMITS) as (keyof PunchLimits)[]) {
    const v = limits[k];
    if (typeof v === 'number' && Number.isFinite(v) && v > 0) out[k] = v;
  }
  return out;
}
