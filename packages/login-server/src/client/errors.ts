/**
 * What a login-server client makes of a refusal: the ErrorReply of spec/01-packets.md §8.3 as a typed
 * ParleyError (one class per kind of spec/00-conventions.md GEN-ERR-2), and the retry delays of
 * WIRE-ERRREPLY-3 and spec/06-login-server.md §7.4 (LOGIN-RATE-18, LOGIN-RATE-19).
 */
import {
  DecodeError,
  DecryptError,
  ErrorCode,
  type ErrorReply,
  errorCodeName,
  IdentityError,
  IncompatiblePeer,
  kindOf,
  ParleyError,
  ProtocolViolation,
  RequestRefused,
  ResourceError,
} from '@parley/wire';
import { BusyError } from '../server/errors.js';

/**
 * The error a refusal stands for, of wire's class for the code's kind (RequestRefused for 800-899,
 * ResourceError for 700-799, ...). BUSY and RATE_LIMITED give a BusyError carrying the hint
 * (`retryAfterMs`, `retryJitterMs`; 0 when absent); with any other code a hint is ignored
 * ([WIRE-ERRREPLY-2]). The server's `detail` is untrusted text: it is quoted, never interpreted.
 */
export function errorFromReply(reply: ErrorReply): ParleyError {
  const code = reply.code;
  if (code === ErrorCode.BUSY || code === ErrorCode.RATE_LIMITED) {
    return new BusyError(code, reply.retryAfterMs ?? 0, reply.retryJitterMs ?? 0);
  }
  const detail =
    reply.detail === '' ? 'refused by the server' : `refused by the server: ${JSON.stringify(reply.detail)}`;
  switch (kindOf(code)) {
    case 'decode':
      return new DecodeError(code, detail);
    case 'protocol':
      return new ProtocolViolation(code, detail);
    case 'identity':
      return new IdentityError(code, detail);
    case 'decrypt':
      return new DecryptError(code, detail);
    case 'incompatible':
      return new IncompatiblePeer(code, detail);
    case 'refused':
      return new RequestRefused(code, detail);
    case 'resource':
      // 700-799, and codes outside every range (GEN-ERR-2 gives them no kind)
      return code >= 700 && code < 800 ? new ResourceError(code, detail) : new ParleyError(code, detail);
    default:
      // 600-699 are local codes a peer never sends (GEN-ERR-5): reported as they came, with no class.
      return new ParleyError(code, `${detail} (${errorCodeName(code)} is not a wire code)`);
  }
}

/** True for the refusals a client waits out and repeats: BUSY and RATE_LIMITED ([WIRE-ERRREPLY-3]). */
export function isRetryable(error: unknown): error is BusyError {
  return error instanceof BusyError && (error.code === ErrorCode.BUSY || error.code === ErrorCode.RATE_LIMITED);
}

/** `reconnect-backoff` (spec/00-conventions.md §5): the first delay bound and the cap ([LOGIN-RATE-19]). */
export const BACKOFF_BASE_MS = 1_000;
export const BACKOFF_MAX_MS = 5 * 60_000;

/**
 * How long to wait before the `n`-th consecutive retry (n >= 1) after `refusal`, drawn afresh with
 * `random` (a uniform float in [0, 1)), in whole milliseconds:
 * - [WIRE-ERRREPLY-3] [LOGIN-RATE-18] with a hint, `retryAfterMs` plus a uniform draw from
 *   [0, `retryJitterMs`];
 * - [LOGIN-RATE-19] without one (`retryAfterMs` = 0), a uniform draw from [0, min(5 min, 1 s x 2^(n-1))]
 *   (exponential backoff with full jitter).
 */
export function retryDelayMs(
  refusal: { readonly retryAfterMs: number; readonly retryJitterMs: number },
  n: number,
  random: { float(): number },
): number {
  if (refusal.retryAfterMs > 0) {
    const jitter = Math.max(0, Math.floor(refusal.retryJitterMs));
    return Math.ceil(refusal.retryAfterMs) + Math.min(jitter, Math.floor(random.float() * (jitter + 1)));
  }
  const bound = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, n - 1));
  return Math.min(bound, Math.floor(random.float() * (bound + 1)));
}
