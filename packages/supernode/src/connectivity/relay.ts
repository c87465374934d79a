/**
 * The relay (spec/08-connectivity.md §7, RELAY-*): a TURN-like relay between two authenticated users who
 * both asked for it, with the quotas of the policy's `relay` (06 §8.3).
 *
 *   input                  from                       effect
 *   RelayAllocate          node, any user channel     pending until the named device asks back (a pair);
 *                                                     then both are answered, each with its own side
 *   RelayRefresh           the side's own channel     extends the lifetime (capped at the policy's), or
 *                                                     releases the allocation (lifetime 0)
 *   RelayFrame (notice)    the side's own channel     the side becomes TCP-bound; the datagram goes to
 *                                                     the other side
 *   0x04 relay bind        anyone (UDP)               authentic (allocation key, fresh counter) and with a
 *                                                     cookie valid for its source: binds the side there;
 *                                                     authentic without one: a bind ack with the cookie
 *   0x06 relay data        the side's bound source    the 8 id bytes rewritten to the other side's id and
 *                                                     the same buffer sent on (or a RelayFrame to a TCP side)
 *
 * An allocation is a pair of sides; each side has its own id, key, owning channel and binding (none, a
 * UDP source, or its channel). Nothing is relayed for anyone but the two channels that asked
 * ([NAT-AMP-3]), nothing is sent to an address a peer merely names ([NAT-AMP-2]: only to sources that
 * proved return routability with a cookie), and nothing sent in answer to a datagram is larger than it
 * ([NAT-AMP-1]: a bind ack is a bind's size; relayed data keeps its length).
 *
 * Relay data is the UDP hot path (target 100,000 datagrams/s on one core): it allocates nothing. A side
 * is found by the first 30 bits of its id (a small integer key: ids are drawn so that these bits are
 * unique among live sides) and the whole id then compared; the source is compared as the transport
 * gives it (host text and port).
 */
import type { NetAddress, Timer } from '@parley/net';
import {
  ALLOCATION_ID_BYTES,
  bytesEqual,
  CONNECTIVITY_KEY_BYTES,
  connectivityMac,
  DATAGRAM_TYPE_RELAY_BIND_ACK,
  DEVICE_ID_BYTES,
  DecodeError,
  ErrorCode,
  encodeRelayBind,
  encodeRelayData,
  isNormalisedUsername,
  isPeerDatagramType,
  MAX_DATAGRAM_LENGTH,
  MAX_PROBE_ENDPOINTS,
  MAX_RELAY_DATA_LENGTH,
  MIN_PEER_DATAGRAM_LENGTH,
  MIN_RELAY_DATA_LENGTH,
  type PacketBodies,
  type PacketBody,
  POLICY_DEFAULTS,
  RELAY_DATA_HEADER_LENGTH,
  type RelayBindDatagram,
  RequestRefused,
  relayBindAuthentic,
} from '@parley/wire';
import { BUSY_RETRY_AFTER_MS, BUSY_RETRY_JITTER_MS, type CoreAction } from '../core/core.js';
import { addressBytes, TRANSPORT_PROTOCOL_UDP, wireEndpoint } from '../core/endpoint.js';
import type { Session } from '../core/session.js';
import { type Bucket, fullBucket, type Rate, takeTokens } from './rate.js';
import type { ConnectivityDeps } from './service.js';

/** [RELAY-BIND-2] The cookie field of a confirming bind ack: 16 zero bytes (a challenge's never is). */
const ZERO_COOKIE = new Uint8Array(16);

export interface RelayLimits {
  /** [RELAY-ALLOC-1] `relay-pair-wait`: how long an allocation waits for the named device to ask back. */
  readonly relayPairWaitMs: number;
  /** [RELAY-ALLOC-2] `relay-capacity`: allocations (pending and active) this supernode holds at most. */
  readonly relayCapacity: number;
}

/** [NAT-LIMIT-2] The parameters of §7 that are not the policy's. */
export const DEFAULT_RELAY_LIMITS: RelayLimits = Object.freeze({
  relayPairWaitMs: 10_000,
  relayCapacity: 10_000,
});

/** Why a relay datagram or frame was not forwarded. */
export type RelayDropReason =
  /** Not relay data of a valid length with a type 0x01 datagram inside. */
  | 'malformed'
  /** No live side has that allocation id (or, for a frame, not one of this channel's). */
  | 'unknown'
  /** [RELAY-DATA-1] Not from the side's bound source. */
  | 'unbound'
  /** [RELAY-DATA-2] The other side is bound neither to a source nor to its channel. */
  | 'peerUnbound'
  /** [RELAY-QUOTA-2] Over the allocation's rate. */
  | 'rate'
  /** [RELAY-QUOTA-1] Over the allocation's byte quota (the allocation ended). */
  | 'quota'
  /** The other side's channel could not take the RelayFrame (its write buffer is full). */
  | 'congested'
  /** [RELAY-BIND-1] A bind that is not authentic, or whose counter is not fresh. */
  | 'bind';

/** Counters (tests, status). */
export interface RelayStats {
  /** Asks waiting for their mirror, and allocations paired and not ended (gauges). */
  pending: number;
  active: number;
  /** Allocations paired, and ended (lifetime, quota, release, channel closed), since start. */
  paired: number;
  ended: number;
  /** Binds that bound a side, and binds answered with a cookie challenge. */
  binds: number;
  challenges: number;
  /** Datagrams (UDP or RelayFrame) forwarded, and the bytes of their inner datagrams. */
  forwardedDatagrams: number;
  forwardedBytes: number;
  /** RelayFrames received from nodes and sent to nodes. */
  framesIn: number;
  framesOut: number;
  dropped: Record<RelayDropReason, number>;
}

/** A side's binding: where datagrams for it go and whence its datagrams are accepted. */
const UNBOUND = 0;
const UDP_BOUND = 1;
const TCP_BOUND = 2;
type Binding = typeof UNBOUND | typeof UDP_BOUND | typeof TCP_BOUND;

interface Side {
  readonly allocation: Allocation;
  /** 8 random bytes; the first 30 bits (`slot`) unique among live sides. */
  readonly id: Uint8Array;
  readonly slot: number;
  readonly key: Uint8Array;
  /** The channel that asked for this side: the only one that may refresh it or send frames for it. */
  readonly session: Session;
  readonly username: string;
  other: Side;
  binding: Binding;
  /** [RELAY-BIND-2] The bound source (UDP_BOUND): host text and port as the transport reports them. */
  host: string;
  port: number;
  address: NetAddress | undefined;
  /** [RELAY-BIND-1] The counter of the last bind that bound this side; -1 before any. */
  counter: bigint;
}

interface Allocation {
  a: Side;
  b: Side;
  ended: boolean;
  expiresAt: number;
  timer: Timer | undefined;
  /** [RELAY-QUOTA-1] Bytes of inner datagrams it may carry in all, and still, both directions together. */
  readonly bytes: number;
  bytesLeft: number;
  /** [RELAY-QUOTA-2] The token bucket, in bytes: `rate` bytes/s, a burst of 1 s. */
  readonly bucket: Bucket;
  readonly rate: Rate;
}

/** A RelayAllocate waiting for its mirror. */
interface Ask {
  readonly key: string;
  readonly session: Session;
  readonly username: string;
  readonly timer: Timer;
  readonly resolve: (side: Side, quotas: typeof POLICY_DEFAULTS.relay) => void;
  readonly reject: (error: unknown) => void;
}

const reply = (requestId: number, body: PacketBody): CoreAction => ({ kind: 'reply', packet: { requestId, body } });
const hexOf = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const SECOND = 1_000;
const SECRET_BYTES = 32;
/** id (8) || counter (8) || address (16 at most) || port (2): the cookie's input. */
const COOKIE_INPUT_MAX = ALLOCATION_ID_BYTES + 8 + 16 + 2;

/** The 30-bit slot of the allocation id at `bytes[at..at+8)`: a small integer (no heap number) for a Map key. */
function slotAt(bytes: Uint8Array, at: number): number {
  return (bytes[at]! << 22) | (bytes[at + 1]! << 14) | (bytes[at + 2]! << 6) | (bytes[at + 3]! >>> 2);
}

/** Whether `bytes[at..at+8)` is `id`. */
function idAt(bytes: Uint8Array, at: number, id: Uint8Array): boolean {
  for (let i = 0; i < ALLOCATION_ID_BYTES; i++) if (bytes[at + i] !== id[i]) return false;
  return true;
}

/** An allocation id of a request or notice: exactly 8 bytes. */
function allocationIdOf(id: Uint8Array, field: string): Uint8Array {
  if (id.length === 0) throw new DecodeError(ErrorCode.MISSING_FIELD, field);
  if (id.length !== ALLOCATION_ID_BYTES) throw new DecodeError(ErrorCode.MALFORMED, `${field}: ${id.length} bytes`);
  return id;
}

export class RelayService {
  readonly stats: RelayStats = {
    pending: 0,
    active: 0,
    paired: 0,
    ended: 0,
    binds: 0,
    challenges: 0,
    forwardedDatagrams: 0,
    forwardedBytes: 0,
    framesIn: 0,
    framesOut: 0,
    dropped: { malformed: 0, unknown: 0, unbound: 0, peerUnbound: 0, rate: 0, quota: 0, congested: 0, bind: 0 },
  };
  readonly #deps: ConnectivityDeps;
  readonly #limits: RelayLimits;
  /** [RELAY-BIND-2] The secret of bind cookies. */
  readonly #secret: Uint8Array;
  readonly #cookieInput = new Uint8Array(COOKIE_INPUT_MAX);
  /** Live sides by slot. */
  readonly #sides = new Map<number, Side>();
  /** Pending asks by (asker, asker's device, peer, peer's device). */
  readonly #asks = new Map<string, Ask>();
  /** [RELAY-ALLOC-2] Pending asks and active sides of each user, all devices together. */
  readonly #perUser = new Map<string, number>();
  /** Each channel's pending asks and sides ([RELAY-ALLOC-3]: they end with it). */
  readonly #bySession = new Map<Session, Set<Ask | Side>>();
  #closed = false;

  constructor(deps: ConnectivityDeps) {
    this.#deps = deps;
    this.#limits = { ...DEFAULT_RELAY_LIMITS, ...pick(deps.limits) };
    this.#secret = deps.random.randomBytes(SECRET_BYTES);
  }

  /** The policy's quotas ([RELAY-ALLOC-2]; defaults before a policy is held). */
  get #quotas(): typeof POLICY_DEFAULTS.relay {
    return this.#deps.state.policy?.relay ?? POLICY_DEFAULTS.relay;
  }

  /** Allocations (pending and active) held: what `relay-capacity` bounds. */
  get size(): number {
    return this.stats.pending + this.stats.active;
  }

  // ---- RelayAllocate ---------------------------------------------------------------------------------

  /**
   * [RELAY-ALLOC-1] An ask for a relay towards (username, device_id). Resolves when the named device asks
   * back (both asks are then answered); NOT_FOUND after `relay-pair-wait`.
   */
  async allocate(session: Session, requestId: number, body: PacketBodies['relayAllocate']): Promise<CoreAction> {
    if (session.kind !== 'node') throw new RequestRefused(ErrorCode.NOT_AUTHORIZED, 'RelayAllocate from a supernode');
    if (body.username === '') throw new DecodeError(ErrorCode.MISSING_FIELD, 'RelayAllocate.username');
    if (!isNormalisedUsername(body.username))
      throw new RequestRefused(ErrorCode.USERNAME_INVALID, 'RelayAllocate.username');
    if (body.deviceId.length === 0) throw new DecodeError(ErrorCode.MISSING_FIELD, 'RelayAllocate.device_id');
    if (body.deviceId.length !== DEVICE_ID_BYTES) {
      throw new DecodeError(ErrorCode.MALFORMED, `RelayAllocate.device_id: ${body.deviceId.length} bytes`);
    }
    if (this.#closed) throw new RequestRefused(ErrorCode.BUSY, 'shutting down');
    const me = askKey(session.username, session.deviceId, body.username, body.deviceId);
    // [RELAY-ALLOC-1] the same device asking again for the same peer while its ask is pending.
    if (this.#asks.has(me)) throw new RequestRefused(ErrorCode.CONFLICT, 'an allocation for this peer is pending');
    // [RELAY-ALLOC-2] pending asks and active sides of the user, over all of its devices.
    const quotas = this.#quotas;
    if ((this.#perUser.get(session.username) ?? 0) >= quotas.allocationsPerUser) {
      throw new RequestRefused(ErrorCode.QUOTA_EXCEEDED, 'relay allocations per user');
    }
    const mirror = this.#asks.get(askKey(body.username, body.deviceId, session.username, session.deviceId));
    if (mirror !== undefined) {
      return reply(requestId, { case: 'relayAllocateReply', value: this.#pair(mirror, session, quotas) });
    }
    // [RELAY-ALLOC-2] a new pending allocation: within `relay-capacity`.
    if (this.size >= this.#limits.relayCapacity) {
      return reply(requestId, {
        case: 'error',
        value: {
          code: ErrorCode.BUSY,
          detail: 'relay at capacity',
          retryAfterMs: BUSY_RETRY_AFTER_MS,
          retryJitterMs: BUSY_RETRY_JITTER_MS,
        },
      });
    }
    return new Promise<CoreAction>((resolve, reject) => {
      const ask: Ask = {
        key: me,
        session,
        username: session.username,
        // [RELAY-ALLOC-1] not paired within `relay-pair-wait`: NOT_FOUND.
        timer: this.#deps.clock.setTimer(this.#limits.relayPairWaitMs, () => {
          if (this.#dropAsk(ask)) reject(new RequestRefused(ErrorCode.NOT_FOUND, 'the peer did not ask for the relay'));
        }),
        resolve: (side, paired) =>
          resolve(reply(requestId, { case: 'relayAllocateReply', value: this.#allocateReply(side, paired) })),
        reject,
      };
      this.#asks.set(me, ask);
      this.#index(session, ask);
      this.#count(session.username, 1);
      this.stats.pending++;
    });
  }

  /** The mirror of `ask` arrived from `session`: both become sides of one allocation; the ask is answered. */
  #pair(ask: Ask, session: Session, quotas: typeof POLICY_DEFAULTS.relay): PacketBodies['relayAllocateReply'] {
    this.#dropAsk(ask);
    const now = this.#deps.clock.now();
    const rate: Rate = { burst: quotas.allocationBytesPerS, rate: quotas.allocationBytesPerS, periodMs: SECOND };
    const allocation: Allocation = {
      a: undefined as unknown as Side,
      b: undefined as unknown as Side,
      ended: false,
      expiresAt: now + quotas.allocationLifetimeMs,
      timer: undefined,
      bytes: quotas.allocationBytes,
      bytesLeft: quotas.allocationBytes,
      rate,
      bucket: fullBucket(rate, now),
    };
    const a = this.#side(allocation, ask.session);
    const b = this.#side(allocation, session);
    a.other = b;
    b.other = a;
    allocation.a = a;
    allocation.b = b;
    this.#count(ask.username, 1);
    this.#count(session.username, 1);
    this.#arm(allocation);
    this.stats.paired++;
    this.stats.active++;
    ask.resolve(a, quotas);
    return this.#allocateReply(b, quotas);
  }

  /** A new live side of `allocation`, owned by `session`, with a fresh id and key. */
  #side(allocation: Allocation, session: Session): Side {
    let id: Uint8Array;
    let slot: number;
    do {
      id = this.#deps.random.randomBytes(ALLOCATION_ID_BYTES);
      slot = slotAt(id, 0);
    } while (this.#sides.has(slot));
    const side: Side = {
      allocation,
      id,
      slot,
      key: this.#deps.random.randomBytes(CONNECTIVITY_KEY_BYTES),
      session,
      username: session.username,
      other: undefined as unknown as Side,
      binding: UNBOUND,
      host: '',
      port: 0,
      address: undefined,
      counter: -1n,
    };
    this.#sides.set(slot, side);
    this.#index(session, side);
    return side;
  }

  #allocateReply(side: Side, quotas: typeof POLICY_DEFAULTS.relay): PacketBodies['relayAllocateReply'] {
    const endpoints = this.#deps.udp === undefined ? [] : this.#deps.udpEndpoints().slice(0, MAX_PROBE_ENDPOINTS);
    return {
      allocationId: side.id,
      allocationKey: side.key,
      relayEndpoints: endpoints.map((e) => wireEndpoint(e, TRANSPORT_PROTOCOL_UDP)),
      lifetimeS: Math.floor(quotas.allocationLifetimeMs / SECOND),
      byteQuota: quotas.allocationBytes,
      bytesPerS: quotas.allocationBytesPerS,
    };
  }

  // ---- RelayRefresh ----------------------------------------------------------------------------------

  /**
   * [RELAY-ALLOC-3] Extends the allocation of one of this channel's sides to min(asked, the policy's
   * lifetime) from now, or releases it (lifetime 0). Another channel's allocation, or an ended one: NOT_FOUND.
   */
  async refresh(session: Session, requestId: number, body: PacketBodies['relayRefresh']): Promise<CoreAction> {
    const id = allocationIdOf(body.allocationId, 'RelayRefresh.allocation_id');
    const side = this.#sides.get(slotAt(id, 0));
    if (side === undefined || !idAt(id, 0, side.id) || side.session !== session) {
      throw new RequestRefused(ErrorCode.NOT_FOUND, 'no such allocation on this channel');
    }
    if (body.lifetimeS === 0) {
      this.#end(side.allocation, 'released');
      return reply(requestId, { case: 'relayRefreshReply', value: { lifetimeS: 0 } });
    }
    const grantedMs = Math.min(body.lifetimeS * SECOND, this.#quotas.allocationLifetimeMs);
    side.allocation.expiresAt = this.#deps.clock.now() + grantedMs;
    this.#arm(side.allocation);
    return reply(requestId, { case: 'relayRefreshReply', value: { lifetimeS: Math.floor(grantedMs / SECOND) } });
  }

  // ---- RelayFrame ------------------------------------------------------------------------------------

  /**
   * [RELAY-TCP-1] A RelayFrame from a node: one datagram of a side this channel owns, which becomes
   * TCP-bound; forwarded to the other side (an empty datagram is a TCP bind: nothing is forwarded). A malformed frame throws DecodeError (the channel closes);
   * a frame for an allocation that is not this channel's is discarded.
   */
  frame(session: Session, body: PacketBodies['relayFrame']): void {
    const id = allocationIdOf(body.allocationId, 'RelayFrame.allocation_id');
    const datagram = body.datagram;
    // [RELAY-TCP-1] empty: a TCP bind; otherwise a peer datagram.
    const bindOnly = datagram.length === 0;
    if (!bindOnly && (datagram.length < MIN_PEER_DATAGRAM_LENGTH || datagram.length > MAX_DATAGRAM_LENGTH)) {
      throw new DecodeError(ErrorCode.MALFORMED, `RelayFrame.datagram: ${datagram.length} bytes`);
    }
    if (!bindOnly && !isPeerDatagramType(datagram[0]!)) {
      throw new DecodeError(ErrorCode.MALFORMED, `RelayFrame.datagram: type ${datagram[0]}`);
    }
    this.stats.framesIn++;
    const side = this.#sides.get(slotAt(id, 0));
    if (side === undefined || !idAt(id, 0, side.id) || side.session !== session) {
      this.stats.dropped.unknown++;
      return;
    }
    // [RELAY-TCP-1] the side is TCP-bound from now on (until an authentic UDP bind moves it back).
    side.binding = TCP_BOUND;
    side.address = undefined;
    side.host = '';
    side.port = 0;
    if (bindOnly) return;
    const to = side.other;
    if (!this.#admit(side.allocation, to, datagram.length)) return;
    if (to.binding === UDP_BOUND) {
      this.#deps.udp!.send(encodeRelayData(to.id, datagram), to.address!);
    } else if (!this.#notify(to, datagram)) {
      return;
    }
    this.stats.forwardedDatagrams++;
    this.stats.forwardedBytes += datagram.length;
  }

  // ---- 0x04 relay bind -------------------------------------------------------------------------------

  /**
   * [RELAY-BIND-1] [RELAY-BIND-2] A relay bind from `from`: authentic and fresh, it is answered with a
   * bind ack (the same size: [NAT-AMP-1]) to its source; with a cookie valid for that source it also binds
   * the side there. Anything else is discarded unanswered, and changes nothing ([NAT-DGRAM-2]).
   */
  onBind(d: RelayBindDatagram, bytes: Uint8Array, from: NetAddress): boolean {
    const udp = this.#deps.udp;
    const side = this.#sides.get(slotAt(d.allocationId, 0));
    if (udp === undefined || side === undefined || !idAt(d.allocationId, 0, side.id)) {
      this.stats.dropped.unknown++;
      return false;
    }
    // [RELAY-BIND-1] the MAC under the side's key, and a counter above the last accepted one — or equal
    // to it from the bound source: a repeat of the bind that bound it, whose confirmation was lost.
    const { suite } = this.#deps;
    const repeat =
      d.counter === side.counter && side.binding === UDP_BOUND && side.host === from.host && side.port === from.port;
    if (!relayBindAuthentic(suite, side.key, bytes) || (d.counter <= side.counter && !repeat)) {
      this.stats.dropped.bind++;
      return false;
    }
    const cookie = this.#cookie(side.id, bytes, from);
    if (cookie === undefined) {
      this.stats.dropped.bind++;
      return false;
    }
    if (bytesEqual(cookie, d.cookie)) {
      // [RELAY-BIND-2] return routability proven: the side is bound to this source (replacing any other),
      // confirmed by an ack with a zero cookie (a challenge never carries one).
      if (!repeat) {
        side.binding = UDP_BOUND;
        side.host = from.host;
        side.port = from.port;
        side.address = { host: from.host, port: from.port };
        side.counter = d.counter;
        this.stats.binds++;
      }
      udp.send(encodeRelayBind(suite, DATAGRAM_TYPE_RELAY_BIND_ACK, side.key, side.id, d.counter, ZERO_COOKIE), from);
      return true;
    }
    if (repeat) {
      // A repeat must carry the cookie that bound the side; anything else changes nothing.
      this.stats.dropped.bind++;
      return false;
    }
    // [RELAY-BIND-2] a challenge: the cookie for this source; nothing changes.
    this.stats.challenges++;
    udp.send(encodeRelayBind(suite, DATAGRAM_TYPE_RELAY_BIND_ACK, side.key, side.id, d.counter, cookie), from);
    return true;
  }

  /**
   * [RELAY-BIND-2] The cookie of a bind (its id and counter, `bytes[1..17)`) from `from`: the first 16
   * bytes of HMAC-SHA-256(relay secret, allocation id || counter || source address || source port).
   */
  #cookie(id: Uint8Array, bytes: Uint8Array, from: NetAddress): Uint8Array | undefined {
    let address: Uint8Array;
    try {
      address = addressBytes(from.host);
    } catch {
      return undefined;
    }
    const input = this.#cookieInput;
    input.set(id, 0);
    input.set(bytes.subarray(1 + ALLOCATION_ID_BYTES, 1 + ALLOCATION_ID_BYTES + 8), ALLOCATION_ID_BYTES);
    input.set(address, 16);
    const end = 16 + address.length;
    input[end] = from.port >>> 8;
    input[end + 1] = from.port & 0xff;
    return connectivityMac(this.#deps.suite, this.#secret, input.subarray(0, end + 2)).slice();
  }

  // ---- 0x06 relay data: the hot path -----------------------------------------------------------------

  /**
   * [RELAY-DATA-1] [RELAY-DATA-2] Relay data from `from`, undecoded: forwarded, with the 8 id bytes
   * rewritten in place to the other side's id and the same buffer sent (or as a RelayFrame to a TCP-bound
   * side), when it comes from the bound source of a live side and the allocation's rate and quota allow.
   * True when forwarded. Allocates nothing on the UDP path.
   */
  onData(bytes: Uint8Array, from: NetAddress): boolean {
    const n = bytes.length;
    if (
      n < MIN_RELAY_DATA_LENGTH ||
      n > MAX_RELAY_DATA_LENGTH ||
      !isPeerDatagramType(bytes[RELAY_DATA_HEADER_LENGTH]!)
    ) {
      this.stats.dropped.malformed++;
      return false;
    }
    const side = this.#sides.get(slotAt(bytes, 1));
    if (side === undefined || !idAt(bytes, 1, side.id)) {
      this.stats.dropped.unknown++;
      return false;
    }
    // [RELAY-DATA-1] only from the side's bound source; [NAT-AMP-3] nothing for an unproven sender.
    if (side.binding !== UDP_BOUND || side.port !== from.port || side.host !== from.host) {
      this.stats.dropped.unbound++;
      return false;
    }
    const to = side.other;
    const length = n - RELAY_DATA_HEADER_LENGTH;
    if (!this.#admit(side.allocation, to, length)) return false;
    if (to.binding === UDP_BOUND) {
      // [RELAY-DATA-2] [NAT-AMP-1] the same datagram, the same length: only the id bytes change.
      const id = to.id;
      for (let i = 0; i < ALLOCATION_ID_BYTES; i++) bytes[1 + i] = id[i]!;
      this.#deps.udp!.send(bytes, to.address!);
    } else if (!this.#notify(to, bytes.subarray(RELAY_DATA_HEADER_LENGTH))) {
      return false;
    }
    this.stats.forwardedDatagrams++;
    this.stats.forwardedBytes += length;
    return true;
  }

  /**
   * Whether `length` bytes may go to `to` now: it is bound ([RELAY-DATA-2]), the allocation's token bucket
   * holds them ([RELAY-QUOTA-2]) and its byte quota does ([RELAY-QUOTA-1]: a datagram the quota cannot
   * carry ends the allocation). Takes the tokens and the quota when it may.
   */
  #admit(allocation: Allocation, to: Side, length: number): boolean {
    if (to.binding === UNBOUND) {
      this.stats.dropped.peerUnbound++;
      return false;
    }
    if (length > allocation.bytesLeft) {
      this.stats.dropped.quota++;
      this.#end(allocation, 'quota');
      return false;
    }
    if (takeTokens(allocation.bucket, this.#deps.clock.now(), allocation.rate, length) > 0) {
      this.stats.dropped.rate++;
      return false;
    }
    allocation.bytesLeft -= length;
    return true;
  }

  /** [RELAY-DATA-2] A datagram for a TCP-bound side: a RelayFrame notice on its channel. */
  #notify(to: Side, datagram: Uint8Array): boolean {
    if (!to.session.notify({ case: 'relayFrame', value: { allocationId: to.id, datagram } })) {
      this.stats.dropped.congested++;
      return false;
    }
    this.stats.framesOut++;
    return true;
  }

  // ---- Ending ----------------------------------------------------------------------------------------

  /** (Re)sets the allocation's expiry timer at its `expiresAt`. */
  #arm(allocation: Allocation): void {
    allocation.timer?.cancel();
    const delay = Math.max(0, allocation.expiresAt - this.#deps.clock.now());
    allocation.timer = this.#deps.clock.setTimer(delay, () => this.#end(allocation, 'lifetime'));
  }

  /** [RELAY-ALLOC-3] Ends an allocation: both sides are gone. */
  #end(allocation: Allocation, reason: 'lifetime' | 'quota' | 'released' | 'closed'): void {
    if (allocation.ended) return;
    allocation.ended = true;
    allocation.timer?.cancel();
    allocation.timer = undefined;
    for (const side of [allocation.a, allocation.b]) {
      if (this.#sides.get(side.slot) === side) this.#sides.delete(side.slot);
      this.#unindex(side.session, side);
      this.#count(side.username, -1);
    }
    this.stats.active--;
    this.stats.ended++;
    this.#deps.log?.('relay-ended', {
      reason,
      a: allocation.a.username,
      b: allocation.b.username,
      bytes: allocation.bytes - allocation.bytesLeft,
    });
  }

  /** Removes a pending ask (paired, timed out, or its channel closed); false when it was gone already. */
  #dropAsk(ask: Ask): boolean {
    if (this.#asks.get(ask.key) !== ask) return false;
    this.#asks.delete(ask.key);
    ask.timer.cancel();
    this.#unindex(ask.session, ask);
    this.#count(ask.username, -1);
    this.stats.pending--;
    return true;
  }

  /** [RELAY-ALLOC-3] The channel of `session` closed: its pending asks and its allocations (both sides) end. */
  closed(session: Session): void {
    const items = this.#bySession.get(session);
    if (items === undefined) return;
    for (const item of [...items]) {
      if ('allocation' in item) this.#end(item.allocation, 'closed');
      else if (this.#dropAsk(item)) item.reject(new RequestRefused(ErrorCode.NOT_FOUND, 'channel closed'));
    }
    this.#bySession.delete(session);
  }

  /** Stops every timer and ends everything held. */
  close(): void {
    this.#closed = true;
    for (const session of [...this.#bySession.keys()]) this.closed(session);
  }

  #index(session: Session, item: Ask | Side): void {
    let set = this.#bySession.get(session);
    if (set === undefined) {
      set = new Set();
      this.#bySession.set(session, set);
    }
    set.add(item);
  }

  #unindex(session: Session, item: Ask | Side): void {
    const set = this.#bySession.get(session);
    if (set === undefined) return;
    set.delete(item);
    if (set.size === 0) this.#bySession.delete(session);
  }

  #count(username: string, delta: number): void {
    const n = (this.#perUser.get(username) ?? 0) + delta;
    if (n <= 0) this.#perUser.delete(username);
    else this.#perUser.set(username, n);
  }
}

/** The map key of an ask by (asker, its device) for (peer, its device). */
function askKey(username: string, deviceId: Uint8Array, peer: string, peerDeviceId: Uint8Array): string {
  return `${username}\u0000${hexOf(deviceId)}\u0000${peer}\u0000${hexOf(peerDeviceId)}`;
}

/** The relay limits of `limits` (the merged ConnectivityLimits), ignoring other services' fields. */
function pick(limits: Partial<RelayLimits> | undefined): Partial<RelayLimits> {
  const out: Partial<Record<keyof RelayLimits, number>> = {};
  if (limits === undefined) return out;
  for (const k of Object.keys(DEFAULT_RELAY_LIMITS) as (keyof RelayLimits)[]) {
    if (limits[k] !== undefined) out[k] = limits[k];
  }
  return out;
}
