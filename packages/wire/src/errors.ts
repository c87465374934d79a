/**
 * One error hierarchy for every rejection in Parley (spec/00-conventions.md §4, GEN-ERR-*).
 *
 * Each error carries exactly one spec error code (`ErrorCode`, generated from
 * spec/proto/parley/v1/errors.proto) and a kind that says who is at fault, in the manner of rustls:
 * an invalid message, a peer that misbehaved, an incompatible peer, a decrypt error, or local API
 * misuse. Tests assert on `code` and `kind`, never on message text.
 */
import { parley } from './gen/parley.js';

export const ErrorCode = parley.v1.ErrorCode;
export type ErrorCode = parley.v1.ErrorCode;

export type ErrorKind =
  | 'decode' // the bytes could not be decoded, or a field exceeds its spec'd limit
  | 'protocol' // the peer violated a named protocol rule
  | 'identity' // a certificate, chain, binding or signature was rejected
  | 'decrypt' // authentication of ciphertext failed, or key material is invalid
  | 'incompatible' // the peer speaks another version or belongs to another network
  | 'misuse' // the local caller used the API wrongly; never the peer's fault
  | 'resource' // a limit, rate or timeout was reached
  | 'refused'; // a well-formed request the receiver's state or rules refuse (an account, a permission, a version)

/** The name of an error code, e.g. `FRAME_TOO_LARGE`, for logs and reports. */
export function errorCodeName(code: ErrorCode): string {
  return (ErrorCode as unknown as Record<number, string>)[code] ?? `ERROR_${code}`;
}

/** The ranges of GEN-ERR-2: the kind of every code from `from` to `to` inclusive. */
export const ERROR_CODE_RANGES: readonly { readonly from: number; readonly to: number; readonly kind: ErrorKind }[] = [
  { from: 100, to: 199, kind: 'decode' },
  { from: 200, to: 299, kind: 'protocol' },
  { from: 300, to: 399, kind: 'identity' },
  { from: 400, to: 499, kind: 'decrypt' },
  { from: 500, to: 599, kind: 'incompatible' },
  { from: 600, to: 699, kind: 'misuse' },
  { from: 700, to: 799, kind: 'resource' },
  { from: 800, to: 899, kind: 'refused' },
];

/**
 * Maps a code to its kind by the ranges of GEN-ERR-2; a code this implementation does not know gets the
 * kind of its range. Codes outside every range (0, or 900 and above) have no kind; they map to
 * 'resource' for backward compatibility of this function and are never raised by this implementation.
 */
export function kindOf(code: ErrorCode): ErrorKind {
  if (code >= 100 && code < 200) return 'decode';
  if (code >= 200 && code < 300) return 'protocol';
  if (code >= 300 && code < 400) return 'identity';
  if (code >= 400 && code < 500) return 'decrypt';
  if (code >= 500 && code < 600) return 'incompatible';
  if (code >= 600 && code < 700) return 'misuse';
  if (code >= 800 && code < 900) return 'refused';
  return 'resource';
}

/**
 * What the receiver of a rejected packet does with the channel (spec/00-conventions.md §4, the
 * "channel" column of the error table; GEN-ERR-4):
 * - 'close': closes the channel (after sending Close with the code, where it can);
 * - 'stream': closes a stream channel; a datagram channel discards the datagram and stays open;
 * - 'handshake': closes the channel when raised during the handshake; otherwise refuses the request
 *   with ErrorReply and the channel stays open;
 * - 'open': the channel stays open: a request is refused with ErrorReply, anything else is discarded;
 * - 'local': never sent; reported to the local caller only.
 */
export type ChannelEffect = 'close' | 'stream' | 'handshake' | 'open' | 'local';

const CHANNEL_EFFECT: Readonly<Record<number, ChannelEffect>> = {
  100: 'stream', // MALFORMED
  101: 'close', // FRAME_TOO_LARGE
  102: 'open', // DATAGRAM_TOO_LARGE
  103: 'stream', // FIELD_LIMIT
  104: 'stream', // MISSING_FIELD
  105: 'open', // UNKNOWN_BODY
  106: 'stream', // INTEGER_RANGE
  107: 'stream', // TRUNCATED
  200: 'close', // UNEXPECTED_MESSAGE
  201: 'close', // NONCE_EXHAUSTED
  202: 'open', // REPLAYED
  203: 'open', // TOO_OLD
  204: 'close', // HANDSHAKE_INCOMPLETE
  300: 'handshake', // BAD_SIGNATURE
  301: 'handshake', // CERT_EXPIRED
  302: 'handshake', // CERT_NOT_YET_VALID
  303: 'handshake', // CERT_WRONG_ROLE
  304: 'handshake', // CERT_UNKNOWN_ISSUER
  305: 'handshake', // CERT_REVOKED
  306: 'handshake', // CERT_INVALID
  307: 'handshake', // BINDING_INVALID
  308: 'handshake', // CHAIN_INVALID
  309: 'handshake', // WRONG_CONTEXT
  400: 'stream', // DECRYPT_FAILED
  401: 'handshake', // INVALID_KEY
  500: 'close', // VERSION_UNSUPPORTED
  501: 'close', // NETWORK_MISMATCH
  502: 'close', // SOFTWARE_DENIED
  600: 'local', // API_MISUSE
  700: 'open', // BUSY
  701: 'open', // RATE_LIMITED
  702: 'handshake', // TIMEOUT
  703: 'open', // RESOURCE_LIMIT
  800: 'open', // USERNAME_INVALID
  801: 'open', // USERNAME_TAKEN
  802: 'open', // AUTH_FAILED
  803: 'open', // NOT_AUTHORIZED
  804: 'open', // CONFLICT
  805: 'open', // NOT_FOUND
  806: 'open', // STALE
  807: 'open', // QUOTA_EXCEEDED
  808: 'open', // NOT_RESPONSIBLE
};

/**
 * The channel effect of `code` [GEN-ERR-4]. A code this implementation does not know gets its range's
 * default (GEN-ERR-2): 'stream' for decode and decrypt, 'close' for protocol and incompatible,
 * 'handshake' for identity, 'local' for misuse, 'open' otherwise.
 */
export function errorEffect(code: ErrorCode): ChannelEffect {
  const known = CHANNEL_EFFECT[code];
  if (known !== undefined) return known;
  switch (kindOf(code)) {
    case 'decode':
    case 'decrypt':
      return 'stream';
    case 'misuse':
      return 'local';
    case 'protocol':
    case 'incompatible':
      return 'close';
    case 'identity':
      return 'handshake';
    default:
      return 'open';
  }
}

/** True when `code` may be sent to a peer: every code of the table except the local 600-699 range. [GEN-ERR-5] */
export function isWireCode(code: number): boolean {
  return code >= 100 && code < 900 && !(code >= 600 && code < 700);
}

export class ParleyError extends Error {
  readonly code: ErrorCode;
  readonly kind: ErrorKind;
  constructor(code: ErrorCode, detail?: string, options?: { cause?: unknown }) {
    super(detail ? `${errorCodeName(code)}: ${detail}` : errorCodeName(code), options);
    this.code = code;
    this.kind = kindOf(code);
  }
}

/**
 * The bytes could not be decoded, or broke a limit (codes 100-199). Peers cause these routinely, so by
 * default they carry no stack trace: capturing one costs about ten times decoding a valid packet, which a
 * hostile peer could exploit. Set `DecodeError.stackTraces = true` while debugging a decoder.
 */
export class DecodeError extends ParleyError {
  static stackTraces = false;
  override readonly name: string = 'DecodeError';
  constructor(code: ErrorCode, detail?: string, options?: { cause?: unknown }) {
    const limit = Error.stackTraceLimit;
    if (!DecodeError.stackTraces) Error.stackTraceLimit = 0;
    super(code, detail, options);
    Error.stackTraceLimit = limit;
  }
}
export class ProtocolViolation extends ParleyError {
  override readonly name: string = 'ProtocolViolation';
}
export class IdentityError extends ParleyError {
  override readonly name: string = 'IdentityError';
}
export class DecryptError extends ParleyError {
  override readonly name: string = 'DecryptError';
}
export class IncompatiblePeer extends ParleyError {
  override readonly name: string = 'IncompatiblePeer';
}
export class ApiMisuse extends ParleyError {
  override readonly name: string = 'ApiMisuse';
  constructor(detail: string) {
    super(ErrorCode.API_MISUSE, detail);
  }
}
export class ResourceError extends ParleyError {
  override readonly name: string = 'ResourceError';
}
/** A well-formed request refused by the receiver's state or rules (codes 800-899). */
export class RequestRefused extends ParleyError {
  override readonly name: string = 'RequestRefused';
}

/** True when `e` is a Parley error with the given code. */
export function isParleyError(e: unknown, code?: ErrorCode): e is ParleyError {
  return e instanceof ParleyError && (code === undefined || e.code === code);
}
