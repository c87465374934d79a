/**
 * What a receiver does with packets of this chapter and with rejected packets (spec/01-packets.md §2,
 * §7, §8: WIRE-PKT-2, WIRE-RECV-*, WIRE-PING-*, WIRE-ERRREPLY-*; the channel column of the error table,
 * spec/00-conventions.md §4, GEN-ERR-4). Pure functions: the channel driver performs the action.
 */
import { ErrorCode, errorEffect, isParleyError, isWireCode, ResourceError } from '../errors.js';
import type { ChannelKind, Packet, Ping } from './packet.js';
import { UnknownBodyError } from './packet.js';

/** What to do after a rejection. */
export type RejectionAction =
  /** Send `close` (when the channel can still carry it), then close the channel. */
  | { readonly action: 'close'; readonly close: Packet }
  /** Send `reply` (an ErrorReply); the channel stays open. */
  | { readonly action: 'reply'; readonly reply: Packet }
  /** Drop the packet or datagram silently; the channel stays open. */
  | { readonly action: 'discard' }
  /** Close the connection and send nothing: a failure during the handshake (03-channels.md CHAN-HS-6). */
  | { readonly action: 'abort' };

export interface RejectionContext {
  readonly channel: ChannelKind;
  /** The request_id of the rejected packet, when it was decoded far enough to know it; else 0. */
  readonly requestId?: number;
  /** True while the channel's handshake is not complete. */
  readonly handshake?: boolean;
}

/**
 * The action for `error`, raised while receiving a packet or handling a request on a channel. Anything
 * but a ParleyError is a bug in the receiver and is rethrown; so is an error with a local-only code
 * (API_MISUSE, GEN-ERR-5), which is never sent to the peer.
 */
export function rejectionAction(error: unknown, context: RejectionContext): RejectionAction {
  if (!isParleyError(error)) throw error;
  // [WIRE-PKT-6] an unknown or missing body: ErrorReply when the peer asked, else nothing; stays open.
  const requestId = error instanceof UnknownBodyError ? error.requestId : (context.requestId ?? 0);
  const code = error.code;
  const effect = errorEffect(code);
  if (effect === 'local' || !isWireCode(code)) throw error;
  // [GEN-ERR-4] with [CHAN-HS-6]: no message of any kind follows a failed handshake, whatever the code.
  if (context.handshake) return { action: 'abort' };
  const close = (): RejectionAction => ({
    action: 'close',
    close: { requestId: 0, body: { case: 'close', value: { code, detail: '' } } },
  });
  const refuse = (): RejectionAction =>
    requestId !== 0
      ? { action: 'reply', reply: { requestId, body: { case: 'error', value: { code, detail: '' } } } }
      : { action: 'discard' };
  switch (effect) {
    case 'close':
      return close(); // [WIRE-RECV-1]
    case 'stream':
      // [WIRE-RECV-1] a stream closes; [WIRE-RECV-2] a datagram channel drops the datagram.
      return context.channel === 'stream' ? close() : { action: 'discard' };
    case 'handshake':
      return refuse(); // after the handshake: the request is refused, the channel stays open
    case 'open':
      // [WIRE-RECV-3] the request is refused; the channel stays open.
      return refuse();
  }
}

/** [WIRE-PING-1] The Pong answering `ping`: same request_id, sequence and data. */
export function pongFor(requestId: number, ping: Ping): Packet {
  return { requestId, body: { case: 'pong', value: { sequence: ping.sequence, data: ping.data } } };
}

/**
 * [WIRE-PKT-2] The request_id for a new request: the next after `previous` in 1..2^32-1 (wrapping, never 0)
 * that is not among the sender's outstanding requests on this channel. Throws when all are outstanding.
 */
export function nextRequestId(previous: number, outstanding: { has(id: number): boolean }): number {
  let id = previous;
  for (let tries = 0; tries < 0xffff_ffff; tries++) {
    id = id >= 0xffff_ffff ? 1 : id + 1;
    if (!outstanding.has(id)) return id;
  }
  throw new ResourceError(ErrorCode.RESOURCE_LIMIT, 'every request_id is outstanding');
}

/** `request-timeout` (spec/00-conventions.md §5): how long a request stays outstanding, in ms. */
export const REQUEST_TIMEOUT_MS = 30_000;
/** `ping-rate` (spec/00-conventions.md §5): Pings answered per second per channel. */
export const PING_RATE = 10;

/**
 * The requests one sender has outstanding on one channel (WIRE-PKT-2, WIRE-PKT-3). Sans-I/O: the caller
 * passes the current time in milliseconds and sets its own timer for `nextDeadline()`.
 */
export class OutstandingRequests {
  readonly #deadlines = new Map<number, number>();
  #last = 0;
  readonly #timeoutMs: number;
  readonly #max: number;

  /** `max`: the most requests outstanding at once; beyond it `open` throws ResourceError(RESOURCE_LIMIT). */
  constructor(options?: { readonly timeoutMs?: number; readonly max?: number }) {
    this.#timeoutMs = options?.timeoutMs ?? REQUEST_TIMEOUT_MS;
    this.#max = options?.max ?? 1024;
  }

  /** [WIRE-PKT-2] Allocates the request_id of a new request sent at `now`. */
  open(now: number): number {
    if (this.#deadlines.size >= this.#max) {
      throw new ResourceError(ErrorCode.RESOURCE_LIMIT, `${this.#max} requests outstanding`);
    }
    const id = nextRequestId(this.#last, this.#deadlines);
    this.#deadlines.set(id, now + this.#timeoutMs);
    this.#last = id;
    return id;
  }

  /**
   * [WIRE-PKT-3] Settles the request a response names: true when `requestId` was outstanding (the response
   * is handled); false when it matches none (a late or duplicate response: discard it).
   */
  settle(requestId: number): boolean {
    return requestId !== 0 && this.#deadlines.delete(requestId);
  }

  /** [WIRE-PKT-2] Removes and returns the requests whose `request-timeout` has passed at `now` (TIMEOUT). */
  expire(now: number): number[] {
    const expired: number[] = [];
    for (const [id, deadline] of this.#deadlines) if (deadline <= now) expired.push(id);
    for (const id of expired) this.#deadlines.delete(id);
    return expired;
  }

  /** The earliest deadline among outstanding requests, or undefined when there are none. */
  nextDeadline(): number | undefined {
    let next: number | undefined;
    for (const d of this.#deadlines.values()) if (next === undefined || d < next) next = d;
    return next;
  }

  get size(): number {
    return this.#deadlines.size;
  }
}
