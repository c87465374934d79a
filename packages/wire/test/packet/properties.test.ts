// Property tests of spec/01-packets.md (fast-check; the seed is fixed in scripts/vitest-setup.ts and
// printed on failure; replay with PARLEY_SEED=<seed>). The same arbitraries feed `pnpm fuzz`.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyMutation,
  fuzzInputArbitrary,
  hex,
  lengthFields,
  mutatedArbitrary,
  packetArbitrary,
} from '../../fuzz/arbitraries.js';
import { checkEncoding } from '../../src/codec/check.js';
import { DecodeError, ErrorCode, isParleyError } from '../../src/errors.js';
import { parley } from '../../src/gen/parley.js';
import {
  decodePacket,
  encodePacket,
  MAX_DETAIL_LENGTH,
  MAX_PING_DATA_LENGTH,
  PACKET_RULES,
  type Packet,
} from '../../src/packet/index.js';

/** A packet with byte fields as plain arrays, for deep comparison. */
function plain(p: Packet): unknown {
  const value = Object.fromEntries(
    Object.entries(p.body.value).map(([k, v]) => [k, v instanceof Uint8Array ? [...v] : v]),
  );
  return { requestId: p.requestId, case: p.body.case, value };
}

/** Decodes; returns the packet or the DecodeError; any other exception fails the property. */
function decodeOrError(bytes: Uint8Array): Packet | DecodeError {
  try {
    return decodePacket(bytes);
  } catch (e) {
    if (e instanceof DecodeError) return e;
    throw e;
  }
}

const validEncodings = packetArbitrary().map((p) => encodePacket(p));

describe('packet properties', () => {
  it('[WIRE-PKT-1] [WIRE-ENC-1] encode then decode gives back every valid packet, and re-encodes to the same bytes', () => {
    fc.assert(
      fc.property(packetArbitrary(), (p) => {
        const bytes = encodePacket(p);
        const decoded = decodePacket(bytes);
        expect(plain(decoded)).toEqual(plain(p));
        expect([...encodePacket(decoded)]).toEqual([...bytes]);
      }),
      { numRuns: 3_000 },
    );
  });

  it('[WIRE-LIMIT-5] [GEN-ERR-1] arbitrary bytes give a packet or a DecodeError, nothing else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        decodeOrError(bytes);
      }),
      { numRuns: 20_000 },
    );
  });

  it('[WIRE-LIMIT-5] [WIRE-ENC-3] mutated valid encodings (bit flips, truncation, insertion, length corruption) give a packet or a DecodeError', () => {
    fc.assert(
      fc.property(mutatedArbitrary(validEncodings), (bytes) => {
        decodeOrError(bytes);
      }),
      { numRuns: 20_000 },
    );
  });

  it('[WIRE-LIMIT-5] the fuzz input mix reaches both outcomes and several codes', () => {
    const codes = new Set<number>();
    let accepted = 0;
    fc.assert(
      fc.property(fuzzInputArbitrary(validEncodings), (bytes) => {
        const r = decodeOrError(bytes);
        if (r instanceof DecodeError) codes.add(r.code);
        else accepted++;
      }),
      { numRuns: 5_000 },
    );
    expect(accepted).toBeGreaterThan(500);
    for (const code of [ErrorCode.MALFORMED, ErrorCode.TRUNCATED, ErrorCode.UNKNOWN_BODY])
      expect(codes).toContain(code);
  });

  it('[WIRE-ENC-3] a corrupted length field gives TRUNCATED, MALFORMED or another decode code, never a crash', () => {
    fc.assert(
      fc.property(
        validEncodings,
        fc.nat(),
        fc.nat({ max: 2 ** 32 + 10 }),
        fc.integer({ min: 1, max: 10 }),
        (bytes, which, value, width) => {
          const corrupted = applyMutation(bytes, { kind: 'length', which, value, width });
          const r = decodeOrError(corrupted);
          if (r instanceof DecodeError) expect(isParleyError(r)).toBe(true);
          expect(lengthFields(bytes).length).toBeGreaterThan(0);
        },
      ),
      { numRuns: 5_000 },
    );
  });

  it('[WIRE-LIMIT-1] [WIRE-LIMIT-2] every field above its maximum gives FIELD_LIMIT', () => {
    // Built with protobufjs directly: encodePacket would refuse them (the sender side of WIRE-LIMIT-1).
    const over = fc.integer({ min: 1, max: 300 });
    const cases = fc.oneof(
      over.map((n) => ({ requestId: 1, close: { code: 100, detail: 'x'.repeat(MAX_DETAIL_LENGTH + n) } })),
      over.map((n) => ({
        requestId: 1,
        error: { code: 100, detail: 'é'.repeat(Math.ceil((MAX_DETAIL_LENGTH + n) / 2)) },
      })),
      over.map((n) => ({ ping: { sequence: 1, data: new Uint8Array(MAX_PING_DATA_LENGTH + n) } })),
      over.map((n) => ({ pong: { sequence: 1, data: new Uint8Array(MAX_PING_DATA_LENGTH + n) } })),
    );
    fc.assert(
      fc.property(cases, (message) => {
        const bytes = parley.v1.Packet.encode(message).finish();
        const r = decodeOrError(bytes);
        expect(r instanceof DecodeError && r.code).toBe(ErrorCode.FIELD_LIMIT);
      }),
      { numRuns: 1_000 },
    );
  });

  it('[WIRE-UTF8-1] a string with an invalid sequence anywhere is MALFORMED', () => {
    const invalid = fc.constantFrom(
      [0x80],
      [0xc0, 0x80],
      [0xc3],
      [0xed, 0xa0, 0x80],
      [0xf4, 0x90, 0x80, 0x80],
      [0xff],
      [0xe2, 0x28, 0xa1],
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 100 }), invalid, fc.nat(), fc.boolean(), (text, seq, at, close) => {
        const good = new TextEncoder().encode(text);
        const i = at % (good.length + 1);
        const detail = Uint8Array.from([...good.subarray(0, i), ...seq, ...good.subarray(i)]);
        const body = [0x08, 0x64, 0x12, detail.length, ...detail]; // code 100, detail (length < 128)
        const bytes = Uint8Array.from([close ? 0x82 : 0x9a, 0x01, body.length, ...body]);
        const r = decodeOrError(bytes);
        expect(r instanceof DecodeError && r.code).toBe(ErrorCode.MALFORMED);
      }),
      { numRuns: 2_000 },
    );
  });

  it('[WIRE-LIMIT-2] the packet decoder accepts exactly what the limits table (PACKET_RULES) accepts', () => {
    fc.assert(
      fc.property(fuzzInputArbitrary(validEncodings), (bytes) => {
        let generic = true;
        try {
          checkEncoding(bytes, PACKET_RULES);
        } catch {
          generic = false;
        }
        const r = decodeOrError(bytes);
        if (!(r instanceof DecodeError)) expect(generic).toBe(true);
        else if (generic)
          expect([ErrorCode.UNKNOWN_BODY, ErrorCode.MISSING_FIELD], `${hex(bytes)} ${r.message}`).toContain(r.code);
      }),
      { numRuns: 10_000 },
    );
  });
});
