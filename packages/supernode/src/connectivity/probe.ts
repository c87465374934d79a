/**
 * Observed addresses and probes (spec/08-connectivity.md §4, NAT-OBS-*) and NAT classification (§5,
 * NAT-CLASS-*), the supernode's side. The node's side (the retransmission schedule, the classification
 * from what it saw) is @parley/wire's connectivity/nat.ts.
 *
 *   input                   from                     answer
 *   ObserveRequest          node, any user channel   the channel's observed TCP endpoint, the probe endpoints
 *   0x02 probe              anyone (UDP)             one probe reply of the probe's length, to its source,
 *                                                    within 10/s per source address and 1,000/s in total
 *   ClassifyRequest         node, attached           a second supernode sends an unsolicited reply to the
 *                                                    reflexive endpoint of a probe answered here
 *   ClassifyProbe           supernode                one 64-byte unsolicited probe reply to `target`
 *
 * The probe path is the UDP hot path and open to anyone: it answers nothing larger than what it received
 * ([NAT-AMP-1]), only to the datagram's source ([NAT-AMP-2]), allocates one reply, one HMAC and one table
 * key per answer (and one bucket per new source), nothing for an IPv4 probe it drops, and every table it
 * fills is bounded ([NAT-RES-1]). The token secret rotates lazily on the clock; there are no timers.
 */
import type { NetAddress } from '@parley/net';
import {
  bytesEqual,
  DATAGRAM_TYPE_PROBE_REPLY,
  DecodeError,
  ErrorCode,
  encodeProbeReply,
  MIN_PROBE_LENGTH,
  type PacketBodies,
  type PacketBody,
  PROBE_TOKEN_BYTES,
  type ProbeDatagram,
  RequestRefused,
  ResourceError,
  TRANSACTION_ID_BYTES,
} from '@parley/wire';
import type { CoreAction } from '../core/core.js';
import {
  addressBytes,
  netAddress,
  TRANSPORT_PROTOCOL_TCP,
  TRANSPORT_PROTOCOL_UDP,
  type WireEndpoint,
  wireEndpoint,
} from '../core/endpoint.js';
import type { Session } from '../core/session.js';
import { PeerHealth } from '../overlay/health.js';
import { keyHex } from '../overlay/key-id.js';
import { type Bucket, BucketTable, bucketLevel, fullBucket, type Rate, takeTokens } from './rate.js';
import type { ConnectivityDeps } from './service.js';

export interface ProbeLimits {
  /** [NAT-OBS-5] Probe answers per second per source IP address (burst: one second's worth). */
  readonly probeAnswersPerAddressPerSecond: number;
  /** [NAT-OBS-5] Probe answers per second in total (burst: one second's worth). */
  readonly probeAnswersPerSecond: number;
  /** [NAT-OBS-4] The token secret is replaced this often; the previous one is still accepted. */
  readonly probeSecretRotationMs: number;
  /** [NAT-CLASS-1] Answered probes remembered (txid → reflexive endpoint), oldest evicted. */
  readonly probeTableEntries: number;
  /** [NAT-CLASS-1] How long an answered probe can be named in a ClassifyRequest. */
  readonly probeTableTtlMs: number;
  /** [NAT-CLASS-6] ClassifyRequests per minute per attachment. */
  readonly classifyPerMinute: number;
  /** [NAT-CLASS-4] ClassifyProbes per second per asking supernode. */
  readonly classifyProbesPerSecond: number;
  /** How long the home supernode waits for the second supernode's ClassifyProbeReply. */
  readonly classifyProbeTimeoutMs: number;
}

/** [NAT-LIMIT-2] The parameters of §4-5. */
export const DEFAULT_PROBE_LIMITS: ProbeLimits = Object.freeze({
  probeAnswersPerAddressPerSecond: 10,
  probeAnswersPerSecond: 1_000,
  probeSecretRotationMs: 60_000,
  probeTableEntries: 4_096,
  probeTableTtlMs: 120_000,
  classifyPerMinute: 6,
  classifyProbesPerSecond: 100,
  classifyProbeTimeoutMs: 5_000,
});

/** Counters (tests, status). */
export interface ProbeStats {
  /** Probes answered. */
  answered: number;
  /** Probes dropped by the rate limits ([NAT-OBS-5]). */
  rateLimited: number;
  /** ClassifyRequests that ended in a ClassifyReply. */
  classified: number;
  /** Unsolicited probe replies sent for other supernodes ([NAT-CLASS-3]). */
  unsolicitedSent: number;
}

/** [NAT-CLASS-3] The token of an unsolicited probe reply: 8 zero bytes. */
const ZERO_TOKEN = new Uint8Array(PROBE_TOKEN_BYTES);
/** Second supernodes tried for one ClassifyRequest before giving up. */
const CLASSIFY_ATTEMPTS = 2;
const SECRET_BYTES = 32;

const reply = (requestId: number, body: PacketBody): CoreAction => ({ kind: 'reply', packet: { requestId, body } });

/** A refusal with a retry hint (WIRE-ERRREPLY-2): RATE_LIMITED, try again in `retryAfterMs`. */
const rateLimited = (requestId: number, retryAfterMs: number, detail: string): CoreAction =>
  reply(requestId, {
    case: 'error',
    value: {
      code: ErrorCode.RATE_LIMITED,
      detail,
      retryAfterMs: Math.max(1, Math.ceil(retryAfterMs)),
      retryJitterMs: 0,
    },
  });

/**
 * Writes the 4 bytes of a dotted-quad IPv4 literal at `out[at..at+4)`; false (and `out` in any state) when
 * `host` is not one. No allocation: this runs for every probe.
 */
function writeIpv4(host: string, out: Uint8Array, at: number): boolean {
  let octet = 0;
  let digits = 0;
  let part = 0;
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      octet = octet * 10 + (c - 48);
      if (++digits > 3 || octet > 255) return false;
    } else if (c === 46 && digits > 0 && part < 3) {
      out[at + part++] = octet;
      octet = 0;
      digits = 0;
    } else {
      return false;
    }
  }
  if (digits === 0 || part !== 3) return false;
  out[at + 3] = octet;
  return true;
}

/** Whether two addresses share a /24 (IPv4) or /48 (IPv6) ([NAT-CLASS-2]); addresses of different families never do. */
function samePrefix(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  const n = a.length === 4 ? 3 : 6;
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

const unspecified = (a: Uint8Array): boolean => a.every((x) => x === 0);
const validPort = (p: number): boolean => Number.isInteger(p) && p >= 1 && p <= 65535;
const validAddress = (a: Uint8Array): boolean => (a.length === 4 || a.length === 16) && !unspecified(a);

export class ProbeService {
  readonly stats: ProbeStats = { answered: 0, rateLimited: 0, classified: 0, unsolicitedSent: 0 };
  /**
   * Liveness of the supernodes asked for ClassifyProbes (the core's, deps.health, when given): a peer that
   * failed is not chosen again until it answers.
   */
  readonly health: PeerHealth;
  readonly #deps: ConnectivityDeps;
  readonly #limits: ProbeLimits;

  // ---- [NAT-OBS-4] the token secret ------------------------------------------------------------------
  #secret: Uint8Array;
  #previousSecret: Uint8Array | undefined;
  #secretAt: number;

  // ---- [NAT-OBS-5] rate limits ------------------------------------------------------------------------
  readonly #global: Bucket;
  readonly #globalRate: Rate;
  /**
   * Per-source buckets. One is created only for an answer the global bucket granted, so a generation of
   * the table (./rate.ts) holds at most (1 + period) × probeAnswersPerSecond of them.
   */
  readonly #sources: BucketTable;

  // ---- [NAT-CLASS-1] answered probes: a ring of parallel arrays, indexed by a map from the txid ------
  readonly #slotOf = new Map<string, number>();
  readonly #slotKey: (string | undefined)[];
  readonly #slotHost: string[];
  readonly #slotPort: Int32Array;
  readonly #slotAt: Float64Array;
  #head = 0;

  /** txid (12) || family (1) || port (2) || address (16): the token's input, reused for every probe. */
  readonly #input = new Uint8Array(TRANSACTION_ID_BYTES + 3 + 16);
  readonly #input4 = this.#input.subarray(0, TRANSACTION_ID_BYTES + 3 + 4);

  // ---- [NAT-CLASS-6] [NAT-CLASS-4] request rates -----------------------------------------------------
  readonly #classifyBuckets = new WeakMap<Session, Bucket>();
  readonly #classifyRate: Rate;
  readonly #peerBuckets: BucketTable;

  constructor(deps: ConnectivityDeps) {
    this.#deps = deps;
    this.health = deps.health ?? new PeerHealth();
    this.#limits = { ...DEFAULT_PROBE_LIMITS, ...pick(deps.limits) };
    const now = deps.clock.now();
    this.#secret = deps.random.randomBytes(SECRET_BYTES);
    this.#secretAt = now;
    const l = this.#limits;
    this.#globalRate = { burst: l.probeAnswersPerSecond, rate: l.probeAnswersPerSecond, periodMs: 1_000 };
    this.#global = fullBucket(this.#globalRate, now);
    const perAddress = l.probeAnswersPerAddressPerSecond;
    this.#sources = new BucketTable({ burst: perAddress, rate: perAddress, periodMs: 1_000 }, now);
    this.#classifyRate = { burst: l.classifyPerMinute, rate: l.classifyPerMinute, periodMs: 60_000 };
    const perPeer = l.classifyProbesPerSecond;
    this.#peerBuckets = new BucketTable({ burst: perPeer, rate: perPeer, periodMs: 1_000 }, now);
    const n = this.#limits.probeTableEntries;
    this.#slotKey = new Array<string | undefined>(n).fill(undefined);
    this.#slotHost = new Array<string>(n).fill('');
    this.#slotPort = new Int32Array(n);
    this.#slotAt = new Float64Array(n);
  }

  // ---- ObserveRequest, §4 ----------------------------------------------------------------------------

  /** [NAT-OBS-1] Where this supernode sees the channel come from, and where it answers probes. */
  async observe(session: Session, requestId: number): Promise<CoreAction> {
    if (session.kind !== 'node') throw new RequestRefused(ErrorCode.NOT_AUTHORIZED, 'ObserveRequest from a supernode');
    return reply(requestId, {
      case: 'observeReply',
      value: {
        observed: wireEndpoint(session.observed, TRANSPORT_PROTOCOL_TCP),
        probeEndpoints: this.probeEndpoints(),
      },
    });
  }

  /** This supernode's probe endpoints (0..4): its UDP endpoints that name a real address and port. */
  probeEndpoints(): WireEndpoint[] {
    if (this.#deps.udp === undefined) return [];
    const out: WireEndpoint[] = [];
    for (const e of this.#deps.udpEndpoints()) {
      let w: WireEndpoint;
      try {
        w = wireEndpoint(e, TRANSPORT_PROTOCOL_UDP);
      } catch {
        continue; // not an IP literal
      }
      if (validAddress(w.address) && validPort(w.port)) out.push(w);
      if (out.length === 4) break;
    }
    return out;
  }

  // ---- Probes, §4 ------------------------------------------------------------------------------------

  /**
   * [NAT-OBS-2] [NAT-OBS-3] A probe (decoded by the service: 64..1,200 bytes): answered with one probe
   * reply of exactly its length, to its source, naming that source and carrying its token; false when it
   * was dropped ([NAT-OBS-5] over a rate limit, no socket, a source that is not an IP literal).
   */
  onProbe(d: ProbeDatagram, from: NetAddress): boolean {
    const udp = this.#deps.udp;
    if (udp === undefined) return false;
    const port = from.port;
    if (!(port >= 1 && port <= 65535) || d.length < MIN_PROBE_LENGTH) return false;
    // The token's input; the source's address first, so that a source that is no address changes no state.
    const input = this.#input;
    let addressLength = 4;
    if (!writeIpv4(from.host, input, TRANSACTION_ID_BYTES + 3)) {
      let a: Uint8Array;
      try {
        a = addressBytes(from.host);
      } catch {
        return false;
      }
      input.set(a, TRANSACTION_ID_BYTES + 3);
      addressLength = a.length;
    }
    const now = this.#deps.clock.now();
    if (!this.#admit(from.host, now)) {
      this.stats.rateLimited++;
      return false;
    }
    if (now - this.#secretAt >= this.#limits.probeSecretRotationMs) this.#rotate(now);
    const txid = d.transactionId;
    input.set(txid, 0);
    input[TRANSACTION_ID_BYTES] = addressLength === 4 ? 4 : 6;
    input[TRANSACTION_ID_BYTES + 1] = port >>> 8;
    input[TRANSACTION_ID_BYTES + 2] = port & 0xff;
    // [NAT-OBS-4] token = the first 8 bytes of HMAC-SHA-256(secret, txid || family || port || address).
    const mac = this.#deps.suite.hmacSha256(this.#secret, addressLength === 4 ? this.#input4 : input);
    // [NAT-OBS-3] exactly the probe's length: [NAT-AMP-1] never larger than what it answers.
    const out = new Uint8Array(d.length);
    out[0] = DATAGRAM_TYPE_PROBE_REPLY;
    // txid || family || port || address is the reply's layout too.
    out.set(addressLength === 4 ? this.#input4 : input, 1);
    const t = 16 + addressLength;
    for (let i = 0; i < PROBE_TOKEN_BYTES; i++) out[t + i] = mac[i]!;
    this.#remember(txid, from.host, port, now);
    this.stats.answered++;
    // [NAT-AMP-2] to the probe's source only.
    udp.send(out, from);
    return true;
  }

  /** [NAT-OBS-5] One token from the source's bucket and one from the global one, or none taken. */
  #admit(host: string, now: number): boolean {
    const b = this.#sources.get(host, now);
    // Check both before taking from either: a refusal by one costs the other nothing.
    if (b !== undefined && bucketLevel(b, now, this.#sources.rate) < 1) return false;
    if (takeTokens(this.#global, now, this.#globalRate) > 0) return false;
    this.#sources.take(host, now);
    return true;
  }

  /** [NAT-OBS-4] A new secret; the one before stays valid for one more period. */
  #rotate(now: number): void {
    const period = this.#limits.probeSecretRotationMs;
    const periods = Math.floor((now - this.#secretAt) / period);
    // A secret older than two periods is gone: its tokens are past their lifetime.
    this.#previousSecret = periods === 1 ? this.#secret : this.#deps.random.randomBytes(SECRET_BYTES);
    this.#secret = this.#deps.random.randomBytes(SECRET_BYTES);
    this.#secretAt += periods * period;
  }

  /** [NAT-CLASS-1] Records an answered probe; a full table overwrites its oldest entry. */
  #remember(txid: Uint8Array, host: string, port: number, now: number): void {
    const key = txKey(txid);
    const slot = this.#head;
    const old = this.#slotKey[slot];
    if (old !== undefined && this.#slotOf.get(old) === slot) this.#slotOf.delete(old);
    this.#slotKey[slot] = key;
    this.#slotHost[slot] = host;
    this.#slotPort[slot] = port;
    this.#slotAt[slot] = now;
    this.#slotOf.set(key, slot);
    this.#head = slot + 1 === this.#slotKey.length ? 0 : slot + 1;
  }

  /** The source of the probe `txid` answered within probeTableTtlMs, if any. */
  answeredProbe(txid: Uint8Array, now = this.#deps.clock.now()): NetAddress | undefined {
    if (txid.length !== TRANSACTION_ID_BYTES) return undefined;
    const slot = this.#slotOf.get(txKey(txid));
    if (slot === undefined || now - this.#slotAt[slot]! >= this.#limits.probeTableTtlMs) return undefined;
    return { host: this.#slotHost[slot]!, port: this.#slotPort[slot]! };
  }

  /** [NAT-OBS-4] Whether `token` is the token of (txid, source) under the current or the previous secret. */
  #tokenValid(txid: Uint8Array, source: NetAddress, token: Uint8Array, now: number): boolean {
    if (now - this.#secretAt >= this.#limits.probeSecretRotationMs) this.#rotate(now);
    const address = addressBytes(source.host);
    const input = new Uint8Array(TRANSACTION_ID_BYTES + 3 + address.length);
    input.set(txid, 0);
    input[TRANSACTION_ID_BYTES] = address.length === 4 ? 4 : 6;
    input[TRANSACTION_ID_BYTES + 1] = source.port >>> 8;
    input[TRANSACTION_ID_BYTES + 2] = source.port & 0xff;
    input.set(address, TRANSACTION_ID_BYTES + 3);
    let ok = false;
    for (const secret of [this.#secret, this.#previousSecret]) {
      if (secret === undefined) continue;
      const mac = this.#deps.suite.hmacSha256(secret, input).subarray(0, PROBE_TOKEN_BYTES);
      ok = bytesEqual(mac, token) || ok;
    }
    return ok;
  }

  // ---- ClassifyRequest, §5 ---------------------------------------------------------------------------

  /**
   * [NAT-CLASS-1] [NAT-CLASS-2] An attached node names a probe answered here; a second supernode (another
   * /24 or /48) sends an unsolicited reply to that probe's source, and the node learns where to probe it.
   */
  async classify(session: Session, requestId: number, b: PacketBodies['classifyRequest']): Promise<CoreAction> {
    // [NAT-CLASS-1] an active attachment on this channel.
    if (session.kind !== 'node' || session.attachment !== 'active') {
      throw new RequestRefused(ErrorCode.NOT_AUTHORIZED, 'ClassifyRequest needs an active attachment');
    }
    if (b.transactionId.length !== TRANSACTION_ID_BYTES)
      throw new DecodeError(ErrorCode.MALFORMED, 'ClassifyRequest.transaction_id: not 12 bytes');
    if (b.token.length !== PROBE_TOKEN_BYTES)
      throw new DecodeError(ErrorCode.MALFORMED, 'ClassifyRequest.token: not 8 bytes');
    const now = this.#deps.clock.now();
    // [NAT-CLASS-6] before the token is checked: tokens cannot be guessed faster than this.
    let bucket = this.#classifyBuckets.get(session);
    if (bucket === undefined) {
      bucket = fullBucket(this.#classifyRate, now);
      this.#classifyBuckets.set(session, bucket);
    }
    const wait = takeTokens(bucket, now, this.#classifyRate);
    if (wait > 0) return rateLimited(requestId, wait, 'ClassifyRequest: 6 per minute');
    // [NAT-CLASS-1] a probe answered here, and the token of its reply.
    const source = this.answeredProbe(b.transactionId, now);
    if (source === undefined || !this.#tokenValid(b.transactionId, source, b.token, now)) {
      throw new RequestRefused(ErrorCode.NOT_FOUND, 'no probe answered with this transaction id and token');
    }
    const target = wireEndpoint(source, TRANSPORT_PROTOCOL_UDP);
    // [NAT-CLASS-2] a second supernode, chosen at random among those that qualify.
    const candidates = this.secondCandidates();
    if (candidates.length === 0) throw new RequestRefused(ErrorCode.NOT_FOUND, 'no second supernode');
    for (let attempt = 0; attempt < CLASSIFY_ATTEMPTS && candidates.length > 0; attempt++) {
      const i = Math.min(candidates.length - 1, Math.floor(this.#deps.random.float() * candidates.length));
      const c = candidates.splice(i, 1)[0]!;
      const transactionId = this.#deps.random.randomBytes(TRANSACTION_ID_BYTES);
      const probeEndpoint = await this.#askSecond(c, target, transactionId);
      if (probeEndpoint === undefined) continue;
      this.stats.classified++;
      return reply(requestId, {
        case: 'classifyReply',
        value: { supernodeKeyId: c.keyId, probeEndpoint, transactionId },
      });
    }
    throw new ResourceError(ErrorCode.BUSY, 'no second supernode answered');
  }

  /**
   * [NAT-CLASS-2] The supernodes of the current list that can be the second one: not this one, not known
   * down, with a UDP endpoint outside every /24 (IPv4) or /48 (IPv6) of this supernode's own addresses
   * (its list entry's and its UDP endpoints'); each with the first such endpoint.
   */
  secondCandidates(): { keyId: Uint8Array; endpoint: WireEndpoint; udp: readonly WireEndpoint[] }[] {
    const self = this.#deps.selfKeyId;
    const own: Uint8Array[] = this.probeEndpoints().map((e) => e.address);
    const entries = this.#deps.state.list.entries;
    for (const e of entries) {
      if (!bytesEqual(e.keyId, self)) continue;
      for (const p of e.endpoints) if (validAddress(p.address)) own.push(p.address);
    }
    if (own.length === 0) return []; // where this supernode is is unknown: no other can be shown distinct
    const out: { keyId: Uint8Array; endpoint: WireEndpoint; udp: readonly WireEndpoint[] }[] = [];
    for (const e of entries) {
      if (bytesEqual(e.keyId, self) || !this.health.isUp(e.keyId)) continue;
      const udp = e.endpoints.filter(
        (p) => p.protocol === TRANSPORT_PROTOCOL_UDP && validAddress(p.address) && validPort(p.port),
      );
      const endpoint = udp.find((p) => own.every((a) => !samePrefix(canonical(a), canonical(p.address))));
      if (endpoint !== undefined) {
        out.push({
          keyId: e.keyId,
          endpoint: { protocol: TRANSPORT_PROTOCOL_UDP, address: endpoint.address, port: endpoint.port },
          udp,
        });
      }
    }
    return out;
  }

  /** Sends ClassifyProbe to `c`; the probe endpoint to give the node, or undefined when `c` failed. */
  async #askSecond(
    c: { keyId: Uint8Array; endpoint: WireEndpoint; udp: readonly WireEndpoint[] },
    target: WireEndpoint,
    transactionId: Uint8Array,
  ): Promise<WireEndpoint | undefined> {
    const deps = this.#deps;
    let p: Awaited<ReturnType<ConnectivityDeps['peers']['request']>>;
    try {
      p = await deps.peers.request(
        c.keyId,
        { case: 'classifyProbe', value: { target, transactionId } },
        this.#limits.classifyProbeTimeoutMs,
      );
    } catch (e) {
      this.health.markDown(c.keyId, deps.clock.now());
      deps.log?.('classify-probe-failed', { peer: keyHex(c.keyId).slice(0, 16), error: String(e) });
      return undefined;
    }
    this.health.markUp(c.keyId, deps.clock.now());
    if (p.body.case !== 'classifyProbeReply') {
      deps.log?.('classify-probe-refused', { peer: keyHex(c.keyId).slice(0, 16), body: p.body.case });
      return undefined;
    }
    // The endpoint it names, when the list names it too (a node probes only listed endpoints); else the listed one.
    const named = p.body.value.probeEndpoint;
    const listed =
      named !== undefined && named !== null
        ? c.udp.find((u) => u.port === named.port && bytesEqual(u.address, named.address))
        : undefined;
    const e = listed ?? c.endpoint;
    return { protocol: TRANSPORT_PROTOCOL_UDP, address: e.address, port: e.port };
  }

  // ---- ClassifyProbe, §5 -----------------------------------------------------------------------------

  /**
   * [NAT-CLASS-3] Another supernode asks for one unsolicited probe reply to `target` (a reflexive endpoint
   * it verified with a token): 64 bytes, token zero, sent from this supernode's UDP socket.
   */
  async classifyProbe(session: Session, requestId: number, b: PacketBodies['classifyProbe']): Promise<CoreAction> {
    if (session.kind !== 'supernode') {
      throw new RequestRefused(ErrorCode.NOT_AUTHORIZED, 'ClassifyProbe is for supernodes');
    }
    const target = b.target;
    if (target === undefined || target === null) throw new DecodeError(ErrorCode.MISSING_FIELD, 'ClassifyProbe.target');
    if (b.transactionId.length !== TRANSACTION_ID_BYTES)
      throw new DecodeError(ErrorCode.MALFORMED, 'ClassifyProbe.transaction_id: not 12 bytes');
    if (
      target.protocol !== TRANSPORT_PROTOCOL_UDP ||
      (target.address.length !== 4 && target.address.length !== 16) ||
      !validPort(target.port)
    ) {
      throw new DecodeError(ErrorCode.MALFORMED, 'ClassifyProbe.target: not a UDP endpoint');
    }
    // [NAT-CLASS-4] per asking supernode (its certified key, whatever channel it asks on).
    const now = this.#deps.clock.now();
    const wait = this.#peerBuckets.take(keyHex(session.peer.keyId), now);
    if (wait > 0) return rateLimited(requestId, wait, 'ClassifyProbe: 100 per second');
    const udp = this.#deps.udp;
    const own = this.probeEndpoints();
    if (udp === undefined || own.length === 0) throw new RequestRefused(ErrorCode.NOT_FOUND, 'no UDP socket');
    udp.send(
      encodeProbeReply(b.transactionId, { address: target.address, port: target.port }, ZERO_TOKEN, MIN_PROBE_LENGTH),
      netAddress(target),
    );
    this.stats.unsolicitedSent++;
    return reply(requestId, { case: 'classifyProbeReply', value: { probeEndpoint: own[0]! } });
  }

  close(): void {}
}

/** The probe limits of `limits` (the merged ConnectivityLimits), ignoring other services' fields. */
function pick(limits: Partial<ProbeLimits>): Partial<ProbeLimits> {
  const out: Partial<Record<keyof ProbeLimits, number>> = {};
  for (const k of Object.keys(DEFAULT_PROBE_LIMITS) as (keyof ProbeLimits)[]) {
    const v = limits[k];
    if (typeof v === 'number' && Number.isFinite(v) && v > 0) out[k] = v;
  }
  return out;
}

/** A map key of a 12-byte transaction id: one string, no intermediate ones. */
function txKey(t: Uint8Array): string {
  return String.fromCharCode(t[0]!, t[1]!, t[2]!, t[3]!, t[4]!, t[5]!, t[6]!, t[7]!, t[8]!, t[9]!, t[10]!, t[11]!);
}

/** An IPv4-mapped IPv6 address (::ffff:a.b.c.d) as its IPv4 address. */
function canonical(a: Uint8Array): Uint8Array {
  if (a.length !== 16 || a[10] !== 0xff || a[11] !== 0xff) return a;
  for (let i = 0; i < 10; i++) if (a[i] !== 0) return a;
  return a.subarray(12);
}
