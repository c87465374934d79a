/**
 * Node's system error codes to the Transport's `NetError` codes (src/transport.ts, spec/05-network.md
 * "Transport contract"). Node reports the same failure under several codes depending on the platform and
 * on when it happened (ENETUNREACH vs EHOSTUNREACH, EPIPE vs ECONNRESET); callers see one stable code.
 */
import { NetError, type NetErrorCode } from '../transport.js';

const CODES: Readonly<Record<string, NetErrorCode>> = {
  EADDRINUSE: 'EADDRINUSE',
  EADDRNOTAVAIL: 'EADDRNOTAVAIL',
  ECONNREFUSED: 'ECONNREFUSED',
  ECONNRESET: 'ECONNRESET',
  EPIPE: 'ECONNRESET', // written to a stream the peer reset
  ECONNABORTED: 'ECONNRESET',
  ETIMEDOUT: 'ETIMEDOUT',
  EHOSTUNREACH: 'EHOSTUNREACH',
  ENETUNREACH: 'EHOSTUNREACH',
  EHOSTDOWN: 'EHOSTUNREACH',
  ENETDOWN: 'EHOSTUNREACH',
  EMSGSIZE: 'EMSGSIZE',
  ERR_SOCKET_DGRAM_NOT_RUNNING: 'ECLOSED',
  ERR_STREAM_DESTROYED: 'ECLOSED',
  ERR_STREAM_WRITE_AFTER_END: 'ECLOSED',
};

/**
 * The NetError for a Node error. `fallback` is the code that fits where the error happened (binding:
 * EADDRNOTAVAIL, sending: EHOSTUNREACH, an established stream: ECONNRESET) for codes the table lacks,
 * such as EACCES or EINVAL; the Node code stays in the message for logs.
 */
export function toNetError(error: unknown, fallback: NetErrorCode): NetError {
  if (error instanceof NetError) return error;
  const nodeCode = (error as { code?: unknown } | null)?.code;
  const code = typeof nodeCode === 'string' ? (CODES[nodeCode] ?? fallback) : fallback;
  const detail = error instanceof Error ? error.message : String(error);
  return new NetError(code, detail);
}
