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
  | 'resource'; // a limit, rate or timeout was reached

/** The name of an error code, e.g. `FRAME_TOO_LARGE`, for logs and reports. */
export function errorCodeName(code: ErrorCode): string {
  return (ErrorCode as unknown as Record<number, string>)[code] ?? `ERROR_${code}`;
}

/** Maps a code to its kind by the ranges of GEN-ERR-2. */
export function kindOf(code: ErrorCode): ErrorKind {
  if (code >= 100 && code < 200) return 'decode';
  if (code >= 200 && code < 300) return 'protocol';
  if (code >= 300 && code < 400) return 'identity';
  if (code >= 400 && code < 500) return 'decrypt';
  if (code >= 500 && code < 600) return 'incompatible';
  if (code >= 600 && code < 700) return 'misuse';
  return 'resource';
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

export class DecodeError extends ParleyError {
  override readonly name = 'DecodeError';
}
export class ProtocolViolation extends ParleyError {
  override readonly name = 'ProtocolViolation';
}
export class IdentityError extends ParleyError {
  override readonly name = 'IdentityError';
}
export class DecryptError extends ParleyError {
  override readonly name = 'DecryptError';
}
export class IncompatiblePeer extends ParleyError {
  override readonly name = 'IncompatiblePeer';
}
export class ApiMisuse extends ParleyError {
  override readonly name = 'ApiMisuse';
  constructor(detail: string) {
    super(ErrorCode.API_MISUSE, detail);
  }
}
export class ResourceError extends ParleyError {
  override readonly name = 'ResourceError';
}

/** True when `e` is a Parley error with the given code. */
export function isParleyError(e: unknown, code?: ErrorCode): e is ParleyError {
  return e instanceof ParleyError && (code === undefined || e.code === code);
}
