/**
 * A node's side of a relay allocation (spec/08-connectivity.md §7) as a sans-I/O state machine:
 * `RelaySide` is given the node's RelayAllocateReply and the time it arrived, and answers `start`, timer
 * ticks, received datagrams and RelayFrames with actions (send these bytes to the relay; wake me at T; the
 * side is bound; binding failed; hand this peer datagram to the datagram channel or session; refresh the
 * allocation). Nothing here reads a clock, sets a timer, touches a socket or a channel: the node package
 * and the tests drive the same implementation.
 *
 *   event                       state before       what RelaySide does
 *   start(now)                  idle               bind {counter 1, zero cookie} to the relay endpoint
 *                                                  ([RELAY-BIND-3]); no relay endpoint: failed at once
 *   ack, a non-zero cookie      binding / bound*   a challenge: the same bind again with the same counter
 *                                                  and the ack's cookie ([RELAY-BIND-3])
 *   ack, zero cookie, after a   binding / bound*   bound ([RELAY-BIND-3]: a confirmation carries 16 zero
 *   bind that carried a cookie                     bytes as its cookie, a challenge never does)
 *   no ack                      binding / bound*   the same bind again after 500 ms, 1 s; given up 2 s
 *                                                  after the third: failed (the node uses RelayFrames);
 *                                                  but once after a challenge was answered, a new bind
 *                                                  with the next counter instead (a lost confirmation)
 *   keepalive-interval          bound              a new bind (the next counter): keeps the NAT mapping
 *                                                  alive and re-proves the path ([RELAY-BIND-3])
 *   rebind(now)                 any but closed     a new bind; not bound until it is confirmed
 *   relay data (0x06)           started            deliver the inner datagram, only from the relay
 *                                                  endpoint and only with this side's id ([RELAY-DATA-3])
 *   frame(inner)                any but closed     the RelayFrame body; the relay makes the side TCP-bound
 *                                                  ([RELAY-TCP-1]): state tcp, no keepalive binds
 *   bindTcp()                   any but closed     an empty frame, the TCP bind, sent at once when the
 *                                                  side turns to frames ([RELAY-TCP-2]): state tcp
 *   onFrame(body)               any but closed     deliver, only with this side's id and a datagram
 *                                                  ([RELAY-DATA-3]; an empty one is discarded)
 *   half the lifetime           any but closed     `refresh` ([RELAY-ALLOC-3]); `refreshed` records the
 *                                                  granted lifetime; the lifetime over: `expired`, closed
 *   (* bound: a keepalive bind in flight; the side stays bound meanwhile)
 *
 * Every bind and its acknowledgement carry the same counter: the relay answers a bind with the counter
 * it carried, and a node takes only an ack with the counter of its latest bind, from the relay endpoint
 * it binds at, that authenticates under its allocation key (NAT-DGRAM-4). Anything else — a datagram
 * from elsewhere, another id, a forged or stale ack, a bind, a probe, a punch, a reserved type — is
 * discarded without any change of state ([NAT-DGRAM-2]).
 *
 * wrap() while not bound is a programming error (ApiMisuse), as encodeRelayData's checks are: the driver
 * asks `bound` first, and sends a RelayFrame (frame()) instead when the side is not bound over UDP. The
 * relay would drop the data anyway ([RELAY-DATA-1]); refusing here keeps a node from relying on a path it
 * has not (re)proved ([RELAY-BIND-3]).
 */
import { bytesEqual } from '../codec/bytes.js';
import type { CryptoSuite } from '../crypto/suite.js';
import { MAX_DATAGRAM_LENGTH } from '../datagram/channel.js';
import { ApiMisuse, DecodeError, ErrorCode } from '../errors.js';
import { parley } from '../gen/parley.js';
import type { PacketBodies } from '../packet/packet.js';
import {
  DATAGRAM_TYPE_RELAY_BIND,
  DATAGRAM_TYPE_RELAY_BIND_ACK,
  DATAGRAM_TYPE_RELAY_DATA,
  encodeRelayBind,
  encodeRelayData,
  isPeerDatagramType,
  MAX_RELAY_DATA_LENGTH,
  MIN_PEER_DATAGRAM_LENGTH,
  MIN_RELAY_DATA_LENGTH,
  RELAY_BIND_LENGTH,
  RELAY_COOKIE_BYTES,
  RELAY_DATA_HEADER_LENGTH,
  relayBindAuthentic,
  type WireAddress,
} from './datagrams.js';
import { ALLOCATION_ID_BYTES, CONNECTIVITY_KEY_BYTES, MAX_PROBE_ENDPOINTS } from './messages.js';
import { sameEndpoint } from './nat.js';

/** [RELAY-BIND-3] [NAT-LIMIT-2] "bind retransmission": an unanswered bind is sent again after 500 ms, doubling. */
export const RELAY_BIND_RETRANSMIT_MS = 500;
/** [RELAY-BIND-3] [NAT-LIMIT-2] Transmissions of one bind: 3 (at 0, 0.5 and 1.5 s; given up at 3.5 s). */
export const RELAY_BIND_TRIES = 3;
/**
 * [RELAY-BIND-3] `keepalive-interval` (00-conventions.md §5, a policy parameter, 25 s by default): a
 * bound side sends a new bind at least this often. The driver passes the policy's value when it has one.
 */
export const RELAY_KEEPALIVE_MS = 25_000;
/**
 * Challenges answered for one counter, at most. One is the normal case; a second one means the node's
 * source changed between its bind and its answer (a NAT that remapped). The cap bounds the schedule
 * (each answer restarts it) against replayed acks; further challenges for that counter are ignored.
 */
export const RELAY_BIND_CHALLENGES = 3;

/** The fields of a RelayAllocateReply that the node's side uses. */
export type RelayAllocation = Pick<
  PacketBodies['relayAllocateReply'],
  'allocationId' | 'allocationKey' | 'relayEndpoints' | 'lifetimeS'
>;
/** A RelayFrame notice body (264). */
export type RelayFrameBody = PacketBodies['relayFrame'];

/** What a RelaySide asks of its driver. */
export type RelayAction =
  /** Send `datagram` (a bind or relay data) from the node's one UDP socket ([NAT-DGRAM-1]) to `to`, now. */
  | { readonly kind: 'send'; readonly datagram: Uint8Array; readonly to: WireAddress }
  /** Call `onTimer` at `at` (replaces any earlier request). */
  | { readonly kind: 'timer'; readonly at: number }
  /** [RELAY-BIND-3] The side is bound over UDP: `wrap` may be used. */
  | { readonly kind: 'bound' }
  /** [RELAY-BIND-3] A bind went unanswered to the end of its schedule: use RelayFrames (`frame`) instead. */
  | { readonly kind: 'failed' }
  /** [RELAY-DATA-3] A peer datagram (0x01 or 0x08): hand it to the datagram channel or session, which authenticates it. */
  | { readonly kind: 'deliver'; readonly inner: Uint8Array; readonly via: 'udp' | 'tcp' }
  /** [RELAY-ALLOC-3] Half the lifetime has passed: send RelayRefresh {allocation id, `lifetimeS`}. */
  | { readonly kind: 'refresh'; readonly lifetimeS: number }
  /** [RELAY-ALLOC-3] The lifetime has passed without a refresh: the allocation is gone at the relay. */
  | { readonly kind: 'expired' };

export type RelaySideState =
  /** Constructed; start() not called. */
  | 'idle'
  /** A bind is outstanding and the side is not (or no longer) relied on. */
  | 'binding'
  /** Bound over UDP: relay data may be sent (a keepalive bind may be in flight). */
  | 'bound'
  /** Binding over UDP failed (or the relay has no UDP endpoint): RelayFrames only. */
  | 'failed'
  /** The node sent a RelayFrame: the relay made the side TCP-bound ([RELAY-TCP-1]). */
  | 'tcp'
  /** Released or expired: nothing is sent or accepted. */
  | 'closed';

export interface RelaySideOptions {
  readonly suite: CryptoSuite;
  readonly allocation: RelayAllocation;
  /** When the node received the RelayAllocateReply, on the clock the other methods are given. */
  readonly receivedAt: number;
  /** Which of `relayEndpoints` to bind at (default 0): one the node's socket can reach (its family). */
  readonly endpoint?: number;
  /** The first retransmission wait (default RELAY_BIND_RETRANSMIT_MS). */
  readonly retransmitMs?: number;
  /** Transmissions of one bind (default RELAY_BIND_TRIES). */
  readonly tries?: number;
  /** The policy's `keepalive-interval` (default RELAY_KEEPALIVE_MS). */
  readonly keepaliveMs?: number;
}

/** The bind in flight: its counter, the cookie it carries, and its retransmission schedule. */
interface PendingBind {
  readonly counter: bigint;
  cookie: Uint8Array;
  datagram: Uint8Array;
  /** Transmissions of `datagram` so far. */
  sent: number;
  /** When the next transmission (or, after the last, the verdict) is due. */
  deadline: number;
  /** Challenges answered for this counter. */
  challenges: number;
  /** Whether this bind replaces one whose confirmation never came (at most once in a row). */
  readonly restarted: boolean;
}

const UDP = parley.v1.TransportProtocol.TRANSPORT_PROTOCOL_UDP;
const ZERO_COOKIE = new Uint8Array(RELAY_COOKIE_BYTES);
const SECOND = 1_000;

const malformed = (detail: string): never => {
  throw new DecodeError(ErrorCode.MALFORMED, `RelayAllocateReply.${detail}`);
};

/** Whether `inner` is a peer datagram relay data and RelayFrames may carry ([RELAY-TCP-1], [NAT-DGRAM-3]). */
function checkInner(inner: Uint8Array): void {
  if (inner.length < MIN_PEER_DATAGRAM_LENGTH || inner.length > MAX_DATAGRAM_LENGTH || !isPeerDatagramType(inner[0]!)) {
    throw new ApiMisuse(`relay: not a peer datagram (${inner.length} bytes, type ${inner[0]})`);
  }
}

export class RelaySide {
  /** [RELAY-DATA-3] This side's allocation id: the only one it sends with and accepts. */
  readonly allocationId: Uint8Array;
  /** The relay endpoint this side binds at and accepts relay data from; undefined without one (frames only). */
  readonly relay: WireAddress | undefined;
  readonly #suite: CryptoSuite;
  readonly #key: Uint8Array;
  readonly #retransmitMs: number;
  readonly #tries: number;
  readonly #keepaliveMs: number;
  #state: RelaySideState = 'idle';
  /** [RELAY-BIND-3] The counter of the latest bind (0 before the first). */
  #counter = 0n;
  #pending: PendingBind | undefined;
  /** When the latest bind started: the next keepalive bind is due a keepalive interval later. */
  #bindStartedAt = 0;
  /** [RELAY-ALLOC-3] The allocation's end as the node knows it, and when to ask for a refresh. */
  #expiresAt: number;
  #refreshAt: number;
  #lifetimeS: number;

  constructor(o: RelaySideOptions) {
    const a = o.allocation;
    if (a.allocationId.length !== ALLOCATION_ID_BYTES) malformed(`allocation_id: ${a.allocationId.length} bytes`);
    if (a.allocationKey.length !== CONNECTIVITY_KEY_BYTES) malformed(`allocation_key: ${a.allocationKey.length} bytes`);
    if (a.relayEndpoints.length > MAX_PROBE_ENDPOINTS) malformed(`relay_endpoints: ${a.relayEndpoints.length}`);
    for (const [i, e] of a.relayEndpoints.entries()) {
      if (e.protocol !== UDP) malformed(`relay_endpoints[${i}]: protocol ${e.protocol}`);
      if (e.address.length !== 4 && e.address.length !== 16) malformed(`relay_endpoints[${i}]: address`);
      if (!Number.isInteger(e.port) || e.port < 1 || e.port > 65_535) malformed(`relay_endpoints[${i}]: port`);
    }
    if (!Number.isInteger(a.lifetimeS) || a.lifetimeS < 1) malformed(`lifetime_s: ${a.lifetimeS}`);
    if (!Number.isFinite(o.receivedAt)) throw new ApiMisuse('relay side: receivedAt');
    const retransmitMs = o.retransmitMs ?? RELAY_BIND_RETRANSMIT_MS;
    const tries = o.tries ?? RELAY_BIND_TRIES;
    const keepaliveMs = o.keepaliveMs ?? RELAY_KEEPALIVE_MS;
    if (!(retransmitMs > 0) || !Number.isInteger(tries) || tries < 1 || !(keepaliveMs > 0)) {
      throw new ApiMisuse('relay side: schedule');
    }
    const index = o.endpoint ?? 0;
    if (a.relayEndpoints.length > 0 && (!Number.isInteger(index) || index < 0 || index >= a.relayEndpoints.length)) {
      throw new ApiMisuse(`relay side: endpoint ${index}`);
    }
    const e = a.relayEndpoints[index];
    this.relay = e === undefined ? undefined : { address: Uint8Array.from(e.address), port: e.port };
    this.allocationId = Uint8Array.from(a.allocationId);
    this.#key = Uint8Array.from(a.allocationKey);
    this.#suite = o.suite;
    this.#retransmitMs = retransmitMs;
    this.#tries = tries;
    this.#keepaliveMs = keepaliveMs;
    this.#lifetimeS = a.lifetimeS;
    this.#expiresAt = o.receivedAt + a.lifetimeS * SECOND;
    this.#refreshAt = o.receivedAt + (a.lifetimeS * SECOND) / 2;
  }

  get state(): RelaySideState {
    return this.#state;
  }
  /** Whether relay data may be sent now (wrap). */
  get bound(): boolean {
    return this.#state === 'bound';
  }
  /** The counter of the latest bind (0 before the first). */
  get counter(): bigint {
    return this.#counter;
  }
  /** [RELAY-ALLOC-3] When the allocation ends unless refreshed. */
  get expiresAt(): number {
    return this.#expiresAt;
  }
  /** The wake-up the driver should have set (undefined when nothing is due). */
  get deadline(): number | undefined {
    return this.#nextDeadline();
  }

  /** [RELAY-BIND-3] The first bind: counter 1, a zero cookie, to the relay endpoint. */
  start(now: number): RelayAction[] {
    if (this.#state !== 'idle') throw new ApiMisuse('relay side: started twice');
    if (this.relay === undefined) {
      // [RELAY-ALLOC-1] no UDP endpoint: the sides use RelayFrame only.
      this.#state = 'failed';
      return [{ kind: 'failed' }, ...this.#timer()];
    }
    this.#state = 'binding';
    return [...this.#bind(now), ...this.#timer()];
  }

  /**
   * [RELAY-BIND-3] Binds again with a new counter (the node's reflexive endpoint towards the relay may have
   * changed: a new network, a long sleep; or the side was TCP-bound and the node wants UDP back). The side
   * is not relied on (not `bound`) until the new bind is confirmed.
   */
  rebind(now: number): RelayAction[] {
    if (this.#state === 'idle') return this.start(now);
    if (this.#state === 'closed') throw new ApiMisuse('relay side: closed');
    if (this.relay === undefined) return [];
    this.#state = 'binding';
    return [...this.#bind(now), ...this.#timer()];
  }

  /**
   * Time passed (call it at every `timer` action's `at`; calling it early is harmless): a retransmission,
   * the failure of a bind, a keepalive bind, a refresh reminder, the end of the lifetime.
   */
  onTimer(now: number): RelayAction[] {
    const s = this.#state;
    if (s === 'idle' || s === 'closed') return [];
    const out: RelayAction[] = [];
    if (now >= this.#expiresAt) {
      this.#close();
      return [{ kind: 'expired' }];
    }
    if (now >= this.#refreshAt) {
      // [RELAY-ALLOC-3] refresh before half the lifetime has passed; once per lifetime granted.
      this.#refreshAt = Number.POSITIVE_INFINITY;
      out.push({ kind: 'refresh', lifetimeS: this.#lifetimeS });
    }
    const p = this.#pending;
    if (p !== undefined && now >= p.deadline) {
      if (p.sent < this.#tries) {
        out.push(this.#transmit(p, now));
      } else if (!bytesEqual(p.cookie, ZERO_COOKIE) && !p.restarted) {
        // The relay answered this counter a moment ago, so the path works, yet the bind with its cookie
        // went unconfirmed 3 times (a relay re-confirms a repeat, [RELAY-BIND-1], but all 3 may be lost):
        // one new bind, the next counter ([RELAY-BIND-3]), before giving up.
        out.push(...this.#bind(now, true));
      } else {
        // [RELAY-BIND-3] 3 transmissions unanswered: give up; the node falls back to RelayFrames.
        this.#pending = undefined;
        this.#state = 'failed';
        out.push({ kind: 'failed' });
      }
    } else if (s === 'bound' && p === undefined && now >= this.#bindStartedAt + this.#keepaliveMs) {
      // [RELAY-BIND-3] a bound side that was not woken for more than an extra keepalive interval (a sleep)
      // may have lost its NAT mapping: it binds again before it relies on the relay. Otherwise it is the
      // keepalive, at least every `keepalive-interval`, and the side stays bound meanwhile.
      if (now >= this.#bindStartedAt + 2 * this.#keepaliveMs) this.#state = 'binding';
      out.push(...this.#bind(now));
    }
    out.push(...this.#timer());
    return out;
  }

  /**
   * A UDP datagram arrived at the node's socket from `from`. [RELAY-BIND-3] a bind ack from the relay
   * endpoint, with this side's id and the counter of the latest bind, that authenticates under the key:
   * a challenge (a non-zero cookie) is answered with the same counter and its cookie; a confirmation
   * (a zero cookie) of a bind that carried a cookie binds. [RELAY-DATA-3] relay data from the relay endpoint with this side's id: `deliver`. Everything
   * else is discarded with no action and no change ([NAT-DGRAM-2]).
   */
  onDatagram(bytes: Uint8Array, from: WireAddress, now: number): RelayAction[] {
    const s = this.#state;
    if (s === 'idle' || s === 'closed' || this.relay === undefined) return [];
    if (bytes.length === 0 || !sameEndpoint(from, this.relay)) return [];
    const type = bytes[0];
    if (type === DATAGRAM_TYPE_RELAY_DATA) {
      if (bytes.length < MIN_RELAY_DATA_LENGTH || bytes.length > MAX_RELAY_DATA_LENGTH) return [];
      if (!isPeerDatagramType(bytes[RELAY_DATA_HEADER_LENGTH]!)) return [];
      if (!bytesEqual(bytes.subarray(1, RELAY_DATA_HEADER_LENGTH), this.allocationId)) return [];
      return [{ kind: 'deliver', inner: bytes.subarray(RELAY_DATA_HEADER_LENGTH), via: 'udp' }];
    }
    if (type !== DATAGRAM_TYPE_RELAY_BIND_ACK || bytes.length !== RELAY_BIND_LENGTH) return [];
    const p = this.#pending;
    if (p === undefined) return [];
    if (!bytesEqual(bytes.subarray(1, 9), this.allocationId)) return [];
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (view.getBigUint64(9) !== p.counter) return [];
    if (!relayBindAuthentic(this.#suite, this.#key, bytes)) return [];
    const cookie = bytes.subarray(17, 33);
    if (bytesEqual(cookie, ZERO_COOKIE)) {
      // [RELAY-BIND-3] a confirmation (zero cookie) counts only for a bind that carried a cookie.
      if (bytesEqual(p.cookie, ZERO_COOKIE)) return [];
      this.#pending = undefined;
      if (this.#state === 'bound') return this.#timer();
      this.#state = 'bound';
      return [{ kind: 'bound' }, ...this.#timer()];
    }
    // [RELAY-BIND-3] a challenge: the bind again, with the same counter and the ack's cookie.
    if (p.challenges >= RELAY_BIND_CHALLENGES) return [];
    p.challenges++;
    p.cookie = Uint8Array.from(cookie);
    p.datagram = encodeRelayBind(
      this.#suite,
      DATAGRAM_TYPE_RELAY_BIND,
      this.#key,
      this.allocationId,
      p.counter,
      p.cookie,
    );
    p.sent = 0;
    return [this.#transmit(p, now), ...this.#timer()];
  }

  /**
   * [RELAY-DATA-3] Relay data carrying `inner` (a peer datagram, type 0x01 or 0x08, of 29..1,200 bytes) with this
   * side's own allocation id, to send to the relay endpoint it bound at. Throws ApiMisuse when the side is
   * not bound over UDP (see `bound`; use `frame` then) or `inner` is not a peer datagram.
   */
  wrap(inner: Uint8Array): RelayAction & { kind: 'send' } {
    if (this.#state !== 'bound' || this.relay === undefined) {
      throw new ApiMisuse(`relay side: not bound over UDP (${this.#state})`);
    }
    return { kind: 'send', datagram: encodeRelayData(this.allocationId, inner), to: this.relay };
  }

  /**
   * [RELAY-TCP-1] The RelayFrame body carrying `inner` for the TCP path (a notice on the node's channel to
   * the relay, `requestId` 0). Sending it makes the side TCP-bound at the relay, replacing a UDP binding:
   * the state becomes `tcp`, a bind in flight is abandoned and no keepalive binds are sent (a later
   * `rebind` moves the side back to UDP). Throws ApiMisuse when `inner` is not a peer datagram.
   */
  frame(inner: Uint8Array): RelayFrameBody {
    if (this.#state === 'closed') throw new ApiMisuse('relay side: closed');
    checkInner(inner);
    this.#pending = undefined;
    this.#state = 'tcp';
    return { allocationId: this.allocationId, datagram: inner };
  }

  /**
   * [RELAY-TCP-2] The TCP bind (a RelayFrame with an empty datagram) to send at once when this side starts
   * using frames, so that the relay forwards the peer's datagrams to the channel before this side has
   * anything to send. The state becomes `tcp`, as with `frame`.
   */
  bindTcp(): RelayFrameBody {
    if (this.#state === 'closed') throw new ApiMisuse('relay side: closed');
    this.#pending = undefined;
    this.#state = 'tcp';
    return { allocationId: this.allocationId, datagram: new Uint8Array(0) };
  }

  /**
   * [RELAY-DATA-3] A RelayFrame that arrived on the node's channel to the relay (the driver hands only
   * those): `deliver` when it carries this side's own allocation id; otherwise nothing.
   */
  onFrame(body: RelayFrameBody): RelayAction[] {
    if (this.#state === 'idle' || this.#state === 'closed') return [];
    if (!bytesEqual(body.allocationId, this.allocationId)) return [];
    // [RELAY-TCP-2] a relay never sends an empty frame: discarded.
    if (body.datagram.length === 0) return [];
    return [{ kind: 'deliver', inner: body.datagram, via: 'tcp' }];
  }

  /**
   * [RELAY-ALLOC-3] The RelayRefreshReply arrived at `now` with `lifetimeS`: the allocation lasts that long
   * from now (0: released, the side is closed). The next `refresh` is due at half of it.
   */
  refreshed(lifetimeS: number, now: number): RelayAction[] {
    if (this.#state === 'closed') return [];
    if (lifetimeS === 0) {
      this.#close();
      return [];
    }
    this.#lifetimeS = lifetimeS;
    this.#expiresAt = now + lifetimeS * SECOND;
    this.#refreshAt = now + (lifetimeS * SECOND) / 2;
    return this.#timer();
  }

  /** Stops the side (released, or no longer needed): nothing more is sent or accepted. */
  close(): void {
    this.#close();
  }

  #close(): void {
    this.#state = 'closed';
    this.#pending = undefined;
  }

  /** [RELAY-BIND-3] A new bind: a counter above every earlier one, and 16 zero bytes as the cookie. */
  #bind(now: number, restarted = false): RelayAction[] {
    this.#counter++;
    this.#bindStartedAt = now;
    const p: PendingBind = {
      counter: this.#counter,
      cookie: ZERO_COOKIE,
      datagram: encodeRelayBind(
        this.#suite,
        DATAGRAM_TYPE_RELAY_BIND,
        this.#key,
        this.allocationId,
        this.#counter,
        ZERO_COOKIE,
      ),
      sent: 0,
      deadline: now,
      challenges: 0,
      restarted,
    };
    this.#pending = p;
    return [this.#transmit(p, now)];
  }

  /** One transmission of the pending bind; the next after 500 ms, 1 s, 2 s ([RELAY-BIND-3], as NAT-OBS-6). */
  #transmit(p: PendingBind, now: number): RelayAction {
    p.deadline = now + this.#retransmitMs * 2 ** p.sent;
    p.sent++;
    return { kind: 'send', datagram: p.datagram, to: this.relay! };
  }

  #nextDeadline(): number | undefined {
    const s = this.#state;
    if (s === 'idle' || s === 'closed') return undefined;
    let at = Math.min(this.#expiresAt, this.#refreshAt);
    const p = this.#pending;
    if (p !== undefined) at = Math.min(at, p.deadline);
    else if (s === 'bound') at = Math.min(at, this.#bindStartedAt + this.#keepaliveMs);
    return at;
  }

  #timer(): RelayAction[] {
    const at = this.#nextDeadline();
    return at === undefined ? [] : [{ kind: 'timer', at }];
  }
}
