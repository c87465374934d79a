/**
 * The node's side of probing and NAT classification (spec/08-connectivity.md §4-5): a probe's
 * retransmission schedule as a sans-I/O transaction ([NAT-OBS-6]) and the classification of
 * [NAT-CLASS-5] from what the probes and the unsolicited reply showed. Pure: time comes in as arguments;
 * nothing here sends, reads a clock or sets a timer.
 *
 * A classification, as a node runs it:
 *   1. ObserveRequest to the home supernode: its probe endpoints ([NAT-OBS-1]).
 *   2. A probe from the node's UDP socket to the home supernode (ProbeTransaction): the reply names the
 *      reflexive endpoint R1 and carries a token ([NAT-OBS-2]).
 *   3. ClassifyRequest {transaction id, token}: the home supernode has a second supernode send one
 *      unsolicited probe reply to R1 ([NAT-CLASS-2], [NAT-CLASS-3]) and answers with the second supernode's
 *      probe endpoint and the transaction id of that unsolicited reply.
 *   4. Wait `classify-wait` (CLASSIFY_WAIT_MS) for the unsolicited reply: the filtering test.
 *   5. Only then a probe from the same socket to the second supernode: its reply names R2, the mapping test.
 * Step 5 must come after step 4: a probe to the second supernode opens the node's NAT filter towards that
 * address (address-dependent filtering) and even that port (address-and-port-dependent filtering, the
 * unsolicited reply comes from the port probed), after which any NAT lets the unsolicited reply through
 * and looks endpoint-independent.
 */
import { bytesEqual } from '../codec/bytes.js';
import { ApiMisuse } from '../errors.js';
import { parley } from '../gen/parley.js';
import {
  DATAGRAM_TYPE_PROBE_REPLY,
  decodeConnectivityDatagram,
  encodeProbe,
  MIN_PROBE_LENGTH,
  type ProbeReplyDatagram,
  type WireAddress,
} from './datagrams.js';
import { TRANSACTION_ID_BYTES } from './messages.js';

/** How a NAT maps one local UDP socket to public endpoints (RFC 4787 §4.1), as a node found it. */
export const NatMapping = parley.v1.NatMapping;
export type NatMapping = parley.v1.NatMapping;
/** Which inbound datagrams a NAT lets through to a mapping (RFC 4787 §5). */
export const NatFiltering = parley.v1.NatFiltering;
export type NatFiltering = parley.v1.NatFiltering;

/** [NAT-OBS-6] [NAT-LIMIT-2] An unanswered probe is sent again after 500 ms, the wait doubling each time. */
export const PROBE_RETRANSMIT_MS = 500;
/** [NAT-OBS-6] [NAT-LIMIT-2] Transmissions of one probe: 3 (at 0, 0.5 and 1.5 s; given up at 3.5 s). */
export const PROBE_TRIES = 3;
/** [NAT-CLASS-5] [NAT-LIMIT-2] `classify-wait`: how long a node waits for the unsolicited reply. */
export const CLASSIFY_WAIT_MS = 1_000;

/** What a node saw during one classification, for one local UDP socket. */
export interface NatObservation {
  /** The socket's host endpoints: its local address(es) and port. */
  readonly hostEndpoints: readonly WireAddress[];
  /** The reflexive endpoint in the home supernode's probe reply; undefined when no probe was answered. */
  readonly first?: WireAddress | undefined;
  /** The reflexive endpoint in the second supernode's probe reply; undefined when none was answered. */
  readonly second?: WireAddress | undefined;
  /** Whether the second supernode's unsolicited reply arrived within CLASSIFY_WAIT_MS. */
  readonly unsolicitedReplyReceived: boolean;
}

export interface NatClassification {
  readonly mapping: NatMapping;
  readonly filtering: NatFiltering;
}

/** The address bytes compared: an IPv4-mapped IPv6 address (::ffff:a.b.c.d) is its IPv4 address. */
function canonical(address: Uint8Array): Uint8Array {
  if (address.length !== 16) return address;
  for (let i = 0; i < 10; i++) if (address[i] !== 0) return address;
  return address[10] === 0xff && address[11] === 0xff ? address.subarray(12) : address;
}

/** Whether two endpoints are the same address and port. */
export function sameEndpoint(a: WireAddress, b: WireAddress): boolean {
  return a.port === b.port && bytesEqual(canonical(a.address), canonical(b.address));
}

/**
 * [NAT-CLASS-5] The node's classification. Mapping: UDP_BLOCKED when neither supernode answered a probe;
 * NONE when the reflexive endpoint equals a host endpoint (and the two supernodes agree, where both
 * answered); ENDPOINT_INDEPENDENT when both supernodes saw the same reflexive endpoint; DEPENDENT
 * otherwise (they differ, or only one answered: the conservative answer, a punch then plans for the worse
 * case). Filtering: ENDPOINT_INDEPENDENT when the unsolicited reply arrived within `classify-wait`, else
 * DEPENDENT; UNKNOWN when UDP is blocked.
 */
export function classifyNat(o: NatObservation): NatClassification {
  const { first, second } = o;
  if (first === undefined && second === undefined) {
    return { mapping: NatMapping.NAT_MAPPING_UDP_BLOCKED, filtering: NatFiltering.NAT_FILTERING_UNKNOWN };
  }
  const filtering = o.unsolicitedReplyReceived
    ? NatFiltering.NAT_FILTERING_ENDPOINT_INDEPENDENT
    : NatFiltering.NAT_FILTERING_DEPENDENT;
  const agree = first === undefined || second === undefined || sameEndpoint(first, second);
  const reflexive = (first ?? second)!;
  if (agree && o.hostEndpoints.some((h) => sameEndpoint(h, reflexive))) {
    return { mapping: NatMapping.NAT_MAPPING_NONE, filtering };
  }
  if (first !== undefined && second !== undefined && agree) {
    return { mapping: NatMapping.NAT_MAPPING_ENDPOINT_INDEPENDENT, filtering };
  }
  return { mapping: NatMapping.NAT_MAPPING_DEPENDENT, filtering };
}

/** A probe reply that answered a transaction, copied out of the received bytes. */
export interface ProbeAnswer {
  readonly transactionId: Uint8Array;
  /** The reflexive endpoint: the source the supernode saw the probe come from. */
  readonly observed: WireAddress;
  /** The token to prove it with in a ClassifyRequest (zeros in an unsolicited reply). */
  readonly token: Uint8Array;
}

/** What a ProbeTransaction asks of its driver at a given time. */
export type ProbeStep =
  /** Send `datagram` to the probed endpoint now, then poll again at `deadline`. */
  | { readonly kind: 'send'; readonly datagram: Uint8Array; readonly deadline: number }
  /** Nothing to do before `deadline`. */
  | { readonly kind: 'wait'; readonly deadline: number }
  | { readonly kind: 'answered'; readonly answer: ProbeAnswer }
  /** [NAT-OBS-6] Every transmission went unanswered: UDP to this endpoint is blocked. */
  | { readonly kind: 'failed' };

export interface ProbeTransactionOptions {
  /** The probe's length, 64..1,200 (default 64). */
  readonly length?: number;
  /** The first retransmission wait (default PROBE_RETRANSMIT_MS). */
  readonly retransmitMs?: number;
  /** Transmissions in all (default PROBE_TRIES). */
  readonly tries?: number;
}

/** The probe reply in `bytes` when it is one with transaction id `transactionId`; never throws. */
export function matchProbeReply(bytes: Uint8Array, transactionId: Uint8Array): ProbeAnswer | undefined {
  if (bytes.length === 0 || bytes[0] !== DATAGRAM_TYPE_PROBE_REPLY) return undefined;
  let d: ProbeReplyDatagram;
  try {
    d = decodeConnectivityDatagram(bytes) as ProbeReplyDatagram;
  } catch {
    return undefined; // [NAT-DGRAM-2] a datagram that fails its checks is discarded
  }
  if (!bytesEqual(d.transactionId, transactionId)) return undefined;
  return {
    transactionId: Uint8Array.from(d.transactionId),
    observed: { address: Uint8Array.from(d.observed.address), port: d.observed.port },
    token: Uint8Array.from(d.token),
  };
}

/**
 * One probe of a node to one endpoint ([NAT-OBS-6]): sent at `start`, sent again after 500 ms, then after
 * a further 1 s (the wait doubling), given up 2 s after the third transmission. The driver sends what
 * `start` and `poll` return, calls `poll` at each `deadline`, and hands every probe reply that arrives
 * from the probed endpoint to `receive`. A reply with another transaction id, or bytes that are not a
 * probe reply, change nothing.
 */
export class ProbeTransaction {
  readonly transactionId: Uint8Array;
  readonly datagram: Uint8Array;
  readonly #retransmitMs: number;
  readonly #tries: number;
  #sent = 0;
  #deadline = 0;
  #answer: ProbeAnswer | undefined;
  #failed = false;

  constructor(transactionId: Uint8Array, options: ProbeTransactionOptions = {}) {
    if (transactionId.length !== TRANSACTION_ID_BYTES) throw new ApiMisuse('probe: transaction id of 12 bytes');
    const retransmitMs = options.retransmitMs ?? PROBE_RETRANSMIT_MS;
    const tries = options.tries ?? PROBE_TRIES;
    if (!(retransmitMs > 0) || !Number.isInteger(tries) || tries < 1) throw new ApiMisuse('probe: schedule');
    this.transactionId = Uint8Array.from(transactionId);
    this.datagram = encodeProbe(this.transactionId, options.length ?? MIN_PROBE_LENGTH);
    this.#retransmitMs = retransmitMs;
    this.#tries = tries;
  }

  get state(): 'idle' | 'waiting' | 'answered' | 'failed' {
    if (this.#answer !== undefined) return 'answered';
    if (this.#failed) return 'failed';
    return this.#sent === 0 ? 'idle' : 'waiting';
  }
  /** Transmissions so far. */
  get sent(): number {
    return this.#sent;
  }
  /** When `poll` next has something to do; undefined once answered or failed. */
  get deadline(): number | undefined {
    return this.state === 'waiting' ? this.#deadline : undefined;
  }
  get answer(): ProbeAnswer | undefined {
    return this.#answer;
  }

  /** The first transmission. */
  start(nowMs: number): ProbeStep {
    if (this.#sent !== 0) throw new ApiMisuse('probe: started twice');
    return this.#send(nowMs);
  }

  /** Time passed: a retransmission, the verdict, or nothing yet. */
  poll(nowMs: number): ProbeStep {
    if (this.#answer !== undefined) return { kind: 'answered', answer: this.#answer };
    if (this.#failed) return { kind: 'failed' };
    if (this.#sent === 0) return this.#send(nowMs);
    if (nowMs < this.#deadline) return { kind: 'wait', deadline: this.#deadline };
    if (this.#sent < this.#tries) return this.#send(nowMs);
    this.#failed = true;
    return { kind: 'failed' };
  }

  /** A datagram from the probed endpoint: the answer when it is the probe reply of this transaction. */
  receive(bytes: Uint8Array): ProbeAnswer | undefined {
    if (this.#answer !== undefined || this.#failed || this.#sent === 0) return undefined;
    const a = matchProbeReply(bytes, this.transactionId);
    if (a === undefined) return undefined;
    this.#answer = a;
    return a;
  }

  #send(nowMs: number): ProbeStep {
    // [NAT-OBS-6] waits of 500 ms, 1 s, 2 s after the 1st, 2nd and 3rd transmissions.
    this.#deadline = nowMs + this.#retransmitMs * 2 ** this.#sent;
    this.#sent++;
    return { kind: 'send', datagram: this.datagram, deadline: this.#deadline };
  }
}
