/** NodeMessage, the E2E plaintext between nodes (spec/09-node.md §3): codec, padding, refusals, fuzz. */
import { ErrorCode, isParleyError, parley } from '@parley/wire';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeNodeMessage, encodeNodeMessage, MAX_CHAT_TEXT_BYTES, PADDING_BLOCK } from '../../src/messaging/index.js';

const id = (n: number) => new Uint8Array(16).fill(n);
const code = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    if (isParleyError(e)) return e.code;
    throw e;
  }
  return undefined;
};

describe('NodeMessage', () => {
  it('[NODE-MSG-1] [NODE-MSG-4] chat and receipts round-trip, padded to a multiple of 64 bytes (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 500 }).map((text) => ({ kind: 'chat' as const, text })),
          fc
            .array(fc.uint8Array({ minLength: 16, maxLength: 16 }), { minLength: 1, maxLength: 64 })
            .map((messageIds) => ({ kind: 'receipt' as const, messageIds })),
        ),
        fc.integer({ min: 1, max: 2 ** 48 }),
        (body, sentAt) => {
          const bytes = encodeNodeMessage({ messageId: id(1), sentAt, body });
          expect(bytes.length % PADDING_BLOCK).toBe(0);
          const m = decodeNodeMessage(bytes);
          expect(m.sentAt).toBe(sentAt);
          expect(m.body).toEqual(body);
        },
      ),
    );
  });

  it('[NODE-MSG-1] version, id, time and body are checked; text above 8,192 bytes is FIELD_LIMIT', () => {
    const raw = (p: Record<string, unknown>) =>
      parley.v1.NodeMessage.encode(parley.v1.NodeMessage.create(p as parley.v1.INodeMessage)).finish();
    const ok = { version: 1, messageId: id(2), sentAt: 5, chat: { text: 'hi' } };
    expect(decodeNodeMessage(raw(ok)).body).toEqual({ kind: 'chat', text: 'hi' });
    expect(code(() => decodeNodeMessage(raw({ ...ok, version: 0 })))).toBe(ErrorCode.MISSING_FIELD);
    expect(code(() => decodeNodeMessage(raw({ ...ok, version: 2 })))).toBe(ErrorCode.MALFORMED);
    expect(code(() => decodeNodeMessage(raw({ ...ok, messageId: id(3).subarray(0, 15) })))).toBe(ErrorCode.MALFORMED);
    expect(code(() => decodeNodeMessage(raw({ ...ok, sentAt: 0 })))).toBe(ErrorCode.MISSING_FIELD);
    expect(code(() => decodeNodeMessage(raw({ version: 1, messageId: id(2), sentAt: 5 })))).toBe(
      ErrorCode.MISSING_FIELD,
    );
    expect(code(() => decodeNodeMessage(raw({ ...ok, chat: { text: 'a'.repeat(MAX_CHAT_TEXT_BYTES + 1) } })))).toBe(
      ErrorCode.FIELD_LIMIT,
    );
    const shortId = { version: 1, messageId: id(2), sentAt: 5, receipt: { messageIds: [new Uint8Array(15)] } };
    expect(code(() => decodeNodeMessage(raw(shortId)))).toBe(ErrorCode.MALFORMED);
  });

  it('[NODE-MSG-1] random bytes: decodeNodeMessage returns or throws a ParleyError, nothing else (property)', () => {
    const good = encodeNodeMessage({ messageId: id(4), sentAt: 9, body: { kind: 'chat', text: 'fuzz' } });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(), fc.nat(255), (random, at, v) => {
        const mutated = Uint8Array.from(good);
        mutated[at % mutated.length] = v;
        for (const input of [random, mutated]) {
          try {
            decodeNodeMessage(input);
          } catch (e) {
            expect(isParleyError(e)).toBe(true);
          }
        }
      }),
    );
  });
});
