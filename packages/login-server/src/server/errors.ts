/**
 * Errors the login server answers with that carry more than a code: BUSY and RATE_LIMITED with the
 * retry hint of spec/01-packets.md WIRE-ERRREPLY-2/3 (spec/06-login-server.md §7).
 */
import { type ErrorCode, ResourceError } from '@parley/wire';

export class BusyError extends ResourceError {
  override readonly name: string = 'BusyError';
  constructor(
    code: ErrorCode,
    readonly retryAfterMs: number,
    readonly retryJitterMs: number,
  ) {
    super(code, `retry after ${retryAfterMs} ms (+ up to ${retryJitterMs} ms)`);
  }
}
