/**
 * A node's side of a hole punch (spec/08-connectivity.md §6, NAT-PUNCH-6..8) as a sans-I/O state machine:
 * `PunchAttempt` is given the PunchStart its supernode sent and the local time it arrived, and answers
 * timer ticks and received punch datagrams with actions (send these bytes there; wake me at T; the path
 * is found; no path). Nothing here reads a clock, sets a timer or touches a socket.
 *
 *   time                         caller (PunchReply)                   callee (PunchOffer, answer sent)
 *   receivedAt + start_in_ms     start: a punch to one peer candidate every `punch-pace` (50 ms),
 *                                round-robin, until a path is selected
 *   a valid punch arrives        one echo to its source;               one echo to its source; the first
 *                                its source joins the round-robin      valid datagram of the caller
 *                                (a peer-reflexive candidate)          (punch or echo) selects its source
 *   a valid echo arrives         the first selects its source          —
 *   start + timeout_ms           no path: `failed` (the relay, NAT-PUNCH-8); nothing is sent after
 *
 * Why the roles differ. If both sides selected the first valid datagram of any kind, two paths could
 * each win on one side (A hears B over path 1 while B hears A over path 2). Here the callee decides: it
 * selects the source of the first caller datagram it receives and, from then on, echoes only the punches
 * that come over that path; the caller selects only on an echo, and every echo the callee sends goes
 * over the callee's path. Both therefore end on the same pair of endpoints. A callee punch that reaches
 * the caller from a source it did not know (a symmetric NAT's new mapping) is echoed, which lets the
 * callee select, and its source is punched by the caller in turn (RFC 8445 §7.3.1.3-4: peer-reflexive
 * candidates and triggered checks), which gets the caller its echo.
 *
 * A punch datagram carries no nonce: every punch of one attempt and role is the same 30 bytes, and so is
 * every echo. A datagram is judged in the order of [NAT-DGRAM-2] — length, type, punch id, flags, then the
 * MAC — and one that fails, or arrives outside [start, start + timeout), changes nothing.
 */
import { bytesEqual } from '../codec/bytes.js';
import type { CryptoSuite } from '../crypto/suite.js';
import { ApiMisuse, DecodeError, ErrorCode } from '../errors.js';
import { parley } from '../gen/parley.js';
import type { PacketBodies } from '../packet/packet.js';
import {
  DATAGRAM_TYPE_PUNCH,
  encodePunch,
  PUNCH_FLAG_CALLEE,
  PUNCH_FLAG_ECHO,
  PUNCH_LENGTH,
  punchAuthentic,
  type WireAddress,
} from './datagrams.js';
import { CONNECTIVITY_KEY_BYTES, MAX_CANDIDATES, PUNCH_ID_BYTES } from './messages.js';
import { sameEndpoint } from './nat.js';

/** What a candidate is: a host address of the device, or the reflexive endpoint a supernode observed. */
export const CandidateKind = parley.v1.CandidateKind;
export type CandidateKind = parley.v1.CandidateKind;

/** [NAT-PUNCH-7] [NAT-LIMIT-2] `punch-pace`: one punch every 50 ms (RFC 8445 Ta). */
export const PUNCH_PACE_MS = 50;
/** [NAT-PUNCH-3] [NAT-LIMIT-2] `punch-timeout`: how long a punch lasts before the relay takes over. */
export const PUNCH_TIMEOUT_MS = 3_000;
/** Peer-reflexive sources a caller adds to its round-robin, at most (beyond the peer's candidates). */
export const MAX_PEER_REFLEXIVE = MAX_CANDIDATES;

/** The agreed punch as each party receives it (PunchReply.start, PunchOffer.start). */
export type PunchStart = NonNullable<PacketBodies['punchReply']['start']>;
/** A candidate as PunchRequest, PunchStart and PunchOfferReply carry it. */
export type PunchCandidate = PunchStart['candidates'][number];

const TRANSPORT_PROTOCOL_UDP = parley.v1.TransportProtocol.TRANSPORT_PROTOCOL_UDP;

/**
 * [NAT-PUNCH-1] A list of punch candidates: 1..8, each a UDP endpoint with a 4- or 16-byte address, a
 * port 1..65535 and a kind (host or reflexive). Throws DecodeError MALFORMED naming `what` otherwise.
 */
export function checkPunchCandidates(candidates: readonly PunchCandidate[], what: string): void {
  if (candidates.length < 1 || candidates.length > MAX_CANDIDATES) {
    throw new DecodeError(ErrorCode.MALFORMED, `${what}: ${candidates.length} candidates, want 1..${MAX_CANDIDATES}`);
  }
  for (let i = 0; i < candidates.length; i++) {
    const c = candidates[i]!;
    const e = c.endpoint;
    if (e === undefined || e === null) throw new DecodeError(ErrorCode.MALFORMED, `${what}[${i}]: no endpoint`);
    if (e.protocol !== TRANSPORT_PROTOCOL_UDP) {
      throw new DecodeError(ErrorCode.MALFORMED, `${what}[${i}]: protocol ${e.protocol}, want UDP`);
    }
    if (e.address.length !== 4 && e.address.length !== 16) {
      throw new DecodeError(ErrorCode.MALFORMED, `${what}[${i}]: an address of ${e.address.length} bytes`);
    }
    if (!Number.isInteger(e.port) || e.port < 1 || e.port > 65_535) {
      throw new DecodeError(ErrorCode.MALFORMED, `${what}[${i}]: port ${e.port}`);
    }
    if (c.kind !== CandidateKind.CANDIDATE_KIND_HOST && c.kind !== CandidateKind.CANDIDATE_KIND_REFLEXIVE) {
      throw new DecodeError(ErrorCode.MALFORMED, `${what}[${i}]: kind ${c.kind}`);
    }
  }
}

/** [NAT-PUNCH-3] A PunchStart as a node receives it: a 12-byte id, a 32-byte key, 1..8 candidates. */
export function checkPunchStart(start: PunchStart, what = 'PunchStart'): void {
  if (start.punchId.length !== PUNCH_ID_BYTES) {
    throw new DecodeError(ErrorCode.MALFORMED, `${what}.punch_id: ${start.punchId.length} bytes`);
  }
  if (start.punchKey.length !== CONNECTIVITY_KEY_BYTES) {
    throw new DecodeError(ErrorCode.MALFORMED, `${what}.punch_key: ${start.punchKey.length} bytes`);
  }
  checkPunchCandidates(start.candidates, `${what}.candidates`);
}

/** A reflexive endpoint as a probe revealed it, with the local endpoint of the socket the probe went from. */
export interface ReflexiveObservation {
  /** The local endpoint of the socket that sent the probe (its bound address, maybe unspecified, and port). */
  readonly socket: WireAddress;
  /** The reflexive endpoint the probe reply named (ProbeAnswer.observed). */
  readonly reflexive: WireAddress;
}

export interface SocketCandidatesOptions {
  /**
   * The local endpoint of the UDP socket the node punches from: the address it is bound to (the
   * unspecified address 0.0.0.0 or :: for every interface) and its port.
   */
  readonly socket: WireAddress;
  /** The addresses of the device's interfaces (4 or 16 bytes each). */
  readonly interfaces: readonly Uint8Array[];
  /** The latest probe of a socket (§4); it must be of `socket`. Omitted: host candidates only. */
  readonly reflexive?: ReflexiveObservation | undefined;
}

const isUnspecified = (a: Uint8Array): boolean => a.every((b) => b === 0);
/** The IPv4 address of an IPv4-mapped IPv6 address (::ffff:a.b.c.d); undefined for any other 16 bytes. */
function mappedV4(a: Uint8Array): Uint8Array | undefined {
  if (a.length !== 16) return undefined;
  for (let i = 0; i < 10; i++) if (a[i] !== 0) return undefined;
  return a[10] === 0xff && a[11] === 0xff ? a.subarray(12) : undefined;
}
/** Loopback (127/8, ::1) or link-local (169.254/16, fe80::/10), which [NAT-PUNCH-9] leaves out. */
function isLoopbackOrLinkLocal(address: Uint8Array): boolean {
  const a = mappedV4(address) ?? address;
  if (a.length === 4) return a[0] === 127 || (a[0] === 169 && a[1] === 254);
  const loopback = a.subarray(0, 15).every((b) => b === 0) && a[15] === 1;
  return loopback || (a[0] === 0xfe && (a[1]! & 0xc0) === 0x80);
}

/**
 * [NAT-PUNCH-9] A node's punch candidates, all endpoints of the one UDP socket it punches from: the
 * reflexive endpoint its latest probe of that socket revealed (first: the likeliest to work across
 * NATs), then its host endpoints — one per interface address the socket receives at (all of the
 * socket's family when it is bound to the unspecified address, else only its own), at the socket's
 * port, leaving out loopback, link-local and unspecified addresses — each at most once (a reflexive
 * endpoint equal to a host endpoint is that host endpoint: no NAT), at most 8. Throws ApiMisuse when
 * `reflexive` was learnt on another socket: its NAT mapping is another one, which a peer's punches do not
 * reach through this socket's (a port-restricted cone filters them; see the supernode's punch test), so
 * offering it would make the punch fail. Throws ApiMisuse when no candidate is left (a punch needs one,
 * [NAT-PUNCH-1]).
 */
export function candidatesFor(o: SocketCandidatesOptions): PunchCandidate[] {
  const { socket } = o;
  if (socket.address.length !== 4 && socket.address.length !== 16) throw new ApiMisuse('candidates: socket address');
  if (!Number.isInteger(socket.port) || socket.port < 1 || socket.port > 65_535) {
    throw new ApiMisuse(`candidates: socket port ${socket.port}`);
  }
  if (o.reflexive !== undefined) {
    const s = o.reflexive.socket;
    if (s.port !== socket.port || !bytesEqual(s.address, socket.address)) {
      throw new ApiMisuse('candidates: the reflexive endpoint was learnt on another socket ([NAT-PUNCH-9])');
    }
  }
  const hosts: WireAddress[] = [];
  const wildcard = isUnspecified(socket.address);
  for (const address of wildcard ? o.interfaces : [socket.address]) {
    if (address.length !== 4 && address.length !== 16) throw new ApiMisuse('candidates: an interface address');
    if (isUnspecified(address) || isLoopbackOrLinkLocal(address)) continue;
    // A socket bound to 0.0.0.0 receives IPv4 only; one bound to :: (dual-stack) both families.
    if (wildcard && socket.address.length === 4 && address.length === 16 && mappedV4(address) === undefined) continue;
    const e: WireAddress = { address: Uint8Array.from(address), port: socket.port };
    if (!hosts.some((h) => sameEndpoint(h, e))) hosts.push(e);
  }
  const out: PunchCandidate[] = [];
  const add = (e: WireAddress, kind: CandidateKind) => {
    if (out.length < MAX_CANDIDATES) {
      out.push({ endpoint: { protocol: TRANSPORT_PROTOCOL_UDP, address: e.address, port: e.port }, kind });
    }
  };
  const r = o.reflexive?.reflexive;
  if (r !== undefined && !hosts.some((h) => sameEndpoint(h, r))) {
    add({ address: Uint8Array.from(r.address), port: r.port }, CandidateKind.CANDIDATE_KIND_REFLEXIVE);
  }
  for (const h of hosts) add(h, CandidateKind.CANDIDATE_KIND_HOST);
  if (out.length === 0) throw new ApiMisuse('candidates: none (no usable interface address and no reflexive endpoint)');
  checkPunchCandidates(out, 'candidates');
  return out;
}

export type PunchRole = 'caller' | 'callee';

/** What a PunchAttempt asks of its driver. */
export type PunchAction =
  /** Send `datagram` (a punch or an echo, 30 bytes) from the node's UDP socket to `to`, now. */
  | { readonly kind: 'send'; readonly datagram: Uint8Array; readonly to: WireAddress; readonly echo: boolean }
  /** Call `onTimer` at `at` (replaces any earlier request). */
  | { readonly kind: 'timer'; readonly at: number }
  /** [NAT-PUNCH-7] A path: send the peer's datagrams to `path` (the source its datagram came from). */
  | { readonly kind: 'succeeded'; readonly path: WireAddress }
  /** [NAT-PUNCH-8] No path within the timeout: use the relay PunchStart names. */
  | { readonly kind: 'failed' };

export interface PunchAttemptOptions {
  readonly suite: CryptoSuite;
  readonly role: PunchRole;
  readonly start: PunchStart;
  /**
   * When the node received the PunchStart (the caller: the PunchReply; the callee: when it sent its
   * PunchOfferReply), on the clock `onTimer` and `onDatagram` are given.
   */
  readonly receivedAt: number;
  /** The punch pace (default PUNCH_PACE_MS). */
  readonly paceMs?: number;
}

type State =
  | { readonly kind: 'punching' }
  | { readonly kind: 'succeeded'; readonly path: WireAddress }
  | { readonly kind: 'failed' };

const copy = (a: WireAddress): WireAddress => ({ address: Uint8Array.from(a.address), port: a.port });

export class PunchAttempt {
  readonly role: PunchRole;
  /** [NAT-PUNCH-7] The first moment a punch may be sent. */
  readonly startAt: number;
  /** [NAT-PUNCH-8] The end: nothing is sent from this moment on. */
  readonly endAt: number;
  readonly #suite: CryptoSuite;
  readonly #id: Uint8Array;
  readonly #key: Uint8Array;
  readonly #peerFlag: number;
  readonly #punch: Uint8Array;
  readonly #echo: Uint8Array;
  readonly #paceMs: number;
  /** The round-robin: the peer's candidates, then (caller) peer-reflexive sources. */
  readonly #remotes: WireAddress[] = [];
  readonly #candidateCount: number;
  /** Peer-reflexive sources not punched yet: they go before the round-robin's next turn (triggered checks). */
  readonly #triggered: WireAddress[] = [];
  #next = 0;
  #nextSendAt: number;
  #state: State = { kind: 'punching' };

  constructor(o: PunchAttemptOptions) {
    checkPunchStart(o.start);
    const paceMs = o.paceMs ?? PUNCH_PACE_MS;
    if (!(paceMs > 0)) throw new ApiMisuse('punch: pace must be positive');
    if (!Number.isFinite(o.receivedAt)) throw new ApiMisuse('punch: receivedAt');
    this.role = o.role;
    this.#suite = o.suite;
    this.#id = Uint8Array.from(o.start.punchId);
    this.#key = Uint8Array.from(o.start.punchKey);
    this.#paceMs = paceMs;
    this.startAt = o.receivedAt + o.start.startInMs;
    this.endAt = this.startAt + o.start.timeoutMs;
    this.#nextSendAt = this.startAt;
    const own = o.role === 'callee' ? PUNCH_FLAG_CALLEE : 0;
    this.#peerFlag = o.role === 'callee' ? 0 : PUNCH_FLAG_CALLEE;
    this.#punch = encodePunch(o.suite, this.#key, this.#id, own);
    this.#echo = encodePunch(o.suite, this.#key, this.#id, own | PUNCH_FLAG_ECHO);
    for (const c of o.start.candidates) {
      const e = c.endpoint!;
      const a: WireAddress = { address: Uint8Array.from(e.address), port: e.port };
      if (!this.#remotes.some((r) => sameEndpoint(r, a))) this.#remotes.push(a);
    }
    this.#candidateCount = this.#remotes.length;
  }

  get state(): 'punching' | 'succeeded' | 'failed' {
    return this.#state.kind;
  }
  /** The selected path, once succeeded. */
  get path(): WireAddress | undefined {
    return this.#state.kind === 'succeeded' ? this.#state.path : undefined;
  }
  /** The endpoints punched in turn (the peer's candidates, then peer-reflexive ones). */
  get remotes(): readonly WireAddress[] {
    return this.#remotes;
  }

  /**
   * Time passed (call it first right after construction, then at every `timer` action's `at`): the next
   * punch when one is due, the next wake-up, or `failed` once the timeout passed without a path.
   */
  onTimer(now: number): PunchAction[] {
    const s = this.#state;
    if (s.kind !== 'punching') return [];
    // [NAT-PUNCH-8] nothing before the start.
    if (now < this.startAt) return [{ kind: 'timer', at: this.startAt }];
    if (now >= this.endAt) {
      this.#state = { kind: 'failed' };
      return [{ kind: 'failed' }];
    }
    const out: PunchAction[] = [];
    if (now >= this.#nextSendAt) {
      // [NAT-PUNCH-7] one punch per pace, to the peer's endpoints in turn.
      let to = this.#triggered.shift();
      if (to === undefined) {
        to = this.#remotes[this.#next % this.#remotes.length]!;
        this.#next++;
      }
      this.#nextSendAt = now + this.#paceMs;
      out.push({ kind: 'send', datagram: this.#punch, to, echo: false });
    }
    out.push({ kind: 'timer', at: Math.min(this.#nextSendAt, this.endAt) });
    return out;
  }

  /**
   * A datagram of type 0x07 arrived from `from` at `now`. [NAT-PUNCH-6] [NAT-DGRAM-2] one that fails a
   * check (length, type, punch id, flags, MAC), comes from this side's own role, or arrives outside the
   * attempt's window is discarded with no action and no change.
   */
  onDatagram(bytes: Uint8Array, from: WireAddress, now: number): PunchAction[] {
    if (now < this.startAt || now >= this.endAt) return [];
    if (bytes.length !== PUNCH_LENGTH || bytes[0] !== DATAGRAM_TYPE_PUNCH) return [];
    if (!bytesEqual(bytes.subarray(1, 1 + PUNCH_ID_BYTES), this.#id)) return [];
    const flags = bytes[13]!;
    if ((flags & ~(PUNCH_FLAG_CALLEE | PUNCH_FLAG_ECHO)) !== 0) return [];
    // A datagram of this side's own role (its own punch reflected back) is not the peer's.
    if ((flags & PUNCH_FLAG_CALLEE) !== this.#peerFlag) return [];
    if (!punchAuthentic(this.#suite, this.#key, bytes)) return [];
    const echo = (flags & PUNCH_FLAG_ECHO) !== 0;
    return this.role === 'callee' ? this.#calleeReceives(echo, from) : this.#callerReceives(echo, from);
  }

  /** The callee: the first valid caller datagram selects its source; afterwards only that path is echoed. */
  #calleeReceives(echo: boolean, from: WireAddress): PunchAction[] {
    const s = this.#state;
    const out: PunchAction[] = [];
    if (s.kind === 'succeeded') {
      // [NAT-PUNCH-7] one echo per punch, over the selected path only: the caller then selects it too.
      if (!echo && sameEndpoint(s.path, from)) out.push({ kind: 'send', datagram: this.#echo, to: s.path, echo: true });
      return out;
    }
    if (s.kind !== 'punching') return out;
    const path = copy(from);
    this.#state = { kind: 'succeeded', path };
    if (!echo) out.push({ kind: 'send', datagram: this.#echo, to: path, echo: true });
    out.push({ kind: 'succeeded', path });
    return out;
  }

  /** The caller: a punch is echoed (and its source punched in turn); the first valid echo selects. */
  #callerReceives(echo: boolean, from: WireAddress): PunchAction[] {
    const s = this.#state;
    if (echo) {
      if (s.kind !== 'punching') return [];
      const path = copy(from);
      this.#state = { kind: 'succeeded', path };
      return [{ kind: 'succeeded', path }];
    }
    // [NAT-PUNCH-7] a valid punch is answered with one echo to its source.
    const to = copy(from);
    if (
      s.kind === 'punching' &&
      this.#remotes.length < this.#candidateCount + MAX_PEER_REFLEXIVE &&
      !this.#remotes.some((r) => sameEndpoint(r, from))
    ) {
      this.#remotes.push(to);
      this.#triggered.push(to);
    }
    return [{ kind: 'send', datagram: this.#echo, to, echo: true }];
  }
}
