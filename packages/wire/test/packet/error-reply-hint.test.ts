// The load-shedding hint of ErrorReply: spec/01-packets.md §8.3 (WIRE-ERRREPLY-2).
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { parley } from '../../src/gen/parley.js';
import { decodePacket, encodePacket } from '../../src/packet/index.js';

describe('ErrorReply retry hint [WIRE-ERRREPLY-2]', () => {
  it('[WIRE-ERRREPLY-2] BUSY and RATE_LIMITED carry the hint both ways', () => {
    for (const code of [ErrorCode.BUSY, ErrorCode.RATE_LIMITED]) {
      const bytes = encodePacket({
        requestId: 3,
        body: { case: 'error', value: { code, detail: '', retryAfterMs: 1500, retryJitterMs: 700 } },
      });
      const p = decodePacket(bytes);
      expect(p.body).toEqual({ case: 'error', value: { code, detail: '', retryAfterMs: 1500, retryJitterMs: 700 } });
    }
  });

  it('[WIRE-ERRREPLY-2] a sender refuses the hint with any other code; a receiver ignores it', () => {
    expect(() =>
      encodePacket({
        requestId: 3,
        body: { case: 'error', value: { code: ErrorCode.AUTH_FAILED, detail: '', retryAfterMs: 10 } },
      }),
    ).toThrow(/retry hint/);
    const raw = parley.v1.Packet.encode({
      requestId: 3,
      error: { code: ErrorCode.NOT_FOUND, retryAfterMs: 10, retryJitterMs: 5 },
    }).finish();
    expect(decodePacket(raw).body).toEqual({ case: 'error', value: { code: ErrorCode.NOT_FOUND, detail: '' } });
  });
});
