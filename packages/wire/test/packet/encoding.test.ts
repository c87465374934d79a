// spec/01-packets.md §3-§5 (WIRE-ENC-*, WIRE-INT-*, WIRE-UTF8-*) and spec/00-conventions.md §3
// (GEN-VER-3): what senders produce and what receivers accept and reject, byte by byte.
import fc from 'fast-check';
import Long from 'long';
import { describe, expect, it } from 'vitest';
import { checkEncoding, checkFields } from '../../src/codec/check.js';
import { fromSafeInteger, toSafeInteger } from '../../src/codec/proto.js';
import { defineMessage } from '../../src/codec/rules.js';
import { assertUtf8, isUtf8, utf8Length } from '../../src/codec/utf8.js';
import { ApiMisuse, DecodeError, ErrorCode } from '../../src/errors.js';
import { decodePacket, encodePacket, type Packet } from '../../src/packet/index.js';
import { bytes, ld, tag, utf8, varint, vf } from './wire-bytes.js';

function codeOf(f: () => unknown): ErrorCode | 'accepted' {
  try {
    f();
    return 'accepted';
  } catch (e) {
    if (e instanceof DecodeError || e instanceof ApiMisuse) return e.code;
    throw e;
  }
}

const errorReply = (requestId: number, code: number, detail: string): Packet => ({
  requestId,
  body: { case: 'error', value: { code, detail } },
});

describe('canonical encoding [WIRE-ENC-1]', () => {
  it('[WIRE-ENC-1] writes fields in number order, omits zero values, shortest varints', () => {
    expect([...encodePacket(errorReply(300, 103, 'ab'))]).toEqual([
      ...bytes(vf(1, 300), ld(19, [...vf(1, 103), ...ld(2, utf8('ab'))])),
    ]);
    // request_id 0 and an empty detail are omitted
    expect([...encodePacket(errorReply(0, 700, ''))]).toEqual([...bytes(ld(19, vf(1, 700)))]);
  });

  it('[WIRE-ENC-1] re-encoding a decoded canonical packet gives the same bytes', () => {
    const once = encodePacket({
      requestId: 5,
      body: { case: 'pong', value: { sequence: 2 ** 32 - 1, data: new Uint8Array([0, 255]) } },
    });
    expect([...encodePacket(decodePacket(once))]).toEqual([...once]);
  });
});

describe('what receivers accept [WIRE-ENC-2] [GEN-VER-3]', () => {
  it('[WIRE-ENC-2] accepts fields out of order, padded varints and explicit zero values', () => {
    const p = decodePacket(bytes(ld(19, [...ld(2, utf8('x')), ...vf(1, 103)]), tag(1, 0), varint(9, 10)));
    expect(p.requestId).toBe(9);
    expect(p.body).toEqual({ case: 'error', value: expect.objectContaining({ code: 103, detail: 'x' }) });
    const zeros = decodePacket(bytes(vf(1, 0), ld(17, [...vf(1, 0), ...ld(2, [])])));
    expect(zeros.requestId).toBe(0);
    expect(zeros.body.case).toBe('ping');
  });

  it('[WIRE-ENC-2] accepts a repeated scalar packed or not (checked against rules with a repeated field)', () => {
    const rules = defineMessage({
      name: 'R',
      fields: [{ number: 3, name: 'versions', kind: 'uint32', repeated: true, maxCount: 4 }],
    });
    expect(codeOf(() => checkEncoding(bytes(ld(3, [1, 2, 3])), rules))).toBe('accepted');
    expect(codeOf(() => checkEncoding(bytes(vf(3, 1), vf(3, 2), ld(3, [3, 4])), rules))).toBe('accepted');
    expect(codeOf(() => checkEncoding(bytes(vf(3, 1), ld(3, [2, 3, 4, 5])), rules))).toBe(ErrorCode.FIELD_LIMIT);
  });

  it('[GEN-VER-3] skips unknown fields of every proto3 wire type, at the top and inside a body', () => {
    const unknown = (n: number): number[] => [
      ...vf(n, 2 ** 40),
      ...tag(n + 1, 1),
      ...[1, 2, 3, 4, 5, 6, 7, 8],
      ...ld(n + 2, [9, 9]),
      ...tag(n + 3, 5),
      ...[1, 2, 3, 4],
    ];
    const p = decodePacket(
      bytes(unknown(2), vf(1, 6), unknown(600), ld(17, [...unknown(5), ...vf(1, 4), ...unknown(100)])),
    );
    expect(p.requestId).toBe(6);
    expect(p.body.case === 'ping' && p.body.value.sequence).toBe(4);
  });
});

describe('what receivers reject [WIRE-ENC-3] [WIRE-ENC-4]', () => {
  const cases: [string, Uint8Array, ErrorCode][] = [
    ['field number 0', bytes(vf(0, 1), ld(17, [])), ErrorCode.MALFORMED],
    ['a tag wider than 32 bits', bytes(varint(2n ** 33n + 2n), 0), ErrorCode.MALFORMED],
    ['a group (wire type 3)', bytes(tag(5, 3), tag(5, 4), ld(17, [])), ErrorCode.MALFORMED],
    ['wire type 6', bytes(tag(5, 6), ld(17, [])), ErrorCode.MALFORMED],
    ['wire type 7 inside a body', bytes(ld(17, tag(1, 7))), ErrorCode.MALFORMED],
    ['request_id with wire type 2', bytes(ld(1, [1]), ld(17, [])), ErrorCode.MALFORMED],
    ['Ping.sequence with wire type 5', bytes(ld(17, [...tag(1, 5), 1, 0, 0, 0])), ErrorCode.MALFORMED],
    [
      'an 11-byte varint',
      bytes(tag(1, 0), [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00], ld(17, [])),
      ErrorCode.MALFORMED,
    ],
    [
      'a tenth varint byte above 1',
      bytes(ld(17, [...tag(5, 0), 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02])),
      ErrorCode.MALFORMED,
    ],
    ['the end inside a tag', bytes(ld(17, []), 0x80), ErrorCode.TRUNCATED],
    ['the end inside a varint', bytes(ld(17, []), tag(1, 0), 0xff), ErrorCode.TRUNCATED],
    ['the end inside a fixed64', bytes(ld(17, []), tag(2, 1), 1, 2, 3), ErrorCode.TRUNCATED],
    ['a length past the end', bytes(tag(17, 2), varint(3), 8, 1), ErrorCode.TRUNCATED],
    ['a nested length past its message', bytes(ld(17, [...tag(2, 2), 5, 1])), ErrorCode.TRUNCATED],
  ];
  for (const [what, input, code] of cases) {
    it(`[WIRE-ENC-3] rejects ${what} with ${ErrorCode[code]}`, () => {
      expect(codeOf(() => decodePacket(input))).toBe(code);
    });
  }

  it('[WIRE-ENC-4] rejects a singular field twice, and two body members', () => {
    expect(codeOf(() => decodePacket(bytes(vf(1, 1), vf(1, 2), ld(17, []))))).toBe(ErrorCode.MALFORMED);
    expect(codeOf(() => decodePacket(bytes(ld(17, [...vf(1, 1), ...vf(1, 1)]))))).toBe(ErrorCode.MALFORMED);
    expect(codeOf(() => decodePacket(bytes(ld(17, []), ld(17, []))))).toBe(ErrorCode.MALFORMED);
    expect(codeOf(() => decodePacket(bytes(ld(16, []), ld(17, []))))).toBe(ErrorCode.MALFORMED);
    expect(codeOf(() => decodePacket(bytes(ld(19, [...ld(2, utf8('a')), ...vf(1, 100), ...ld(2, utf8('b'))]))))).toBe(
      ErrorCode.MALFORMED,
    );
  });

  it('[WIRE-ENC-4] refuses to encode two members of a oneof', () => {
    const rules = defineMessage({
      name: 'O',
      fields: [
        { number: 1, name: 'a', kind: 'uint32', oneof: 'x' },
        { number: 2, name: 'b', kind: 'uint32', oneof: 'x' },
      ],
    });
    expect(() => checkFields({ a: 1, b: 2 }, rules)).toThrow(ApiMisuse);
    expect(() => checkFields({ a: 1, b: null }, rules)).not.toThrow();
  });
});

describe('integers [WIRE-INT-1] [WIRE-INT-2]', () => {
  it('[WIRE-INT-2] rejects a uint32 above 2^32-1 instead of truncating it', () => {
    expect(codeOf(() => decodePacket(bytes(vf(1, 2 ** 32), ld(17, []))))).toBe(ErrorCode.INTEGER_RANGE);
    expect(codeOf(() => decodePacket(bytes(ld(17, vf(1, 2 ** 32 + 5)))))).toBe(ErrorCode.INTEGER_RANGE);
    expect(decodePacket(bytes(vf(1, 2 ** 32 - 1), ld(17, []))).requestId).toBe(2 ** 32 - 1);
  });

  it('[WIRE-INT-2] rejects a negative or too large enum value', () => {
    expect(codeOf(() => decodePacket(bytes(ld(16, vf(1, 2n ** 64n - 1n)))))).toBe(ErrorCode.INTEGER_RANGE);
    expect(codeOf(() => decodePacket(bytes(ld(16, vf(1, 2 ** 31)))))).toBe(ErrorCode.INTEGER_RANGE);
  });

  it('[WIRE-INT-2] a sender refuses out-of-range integers', () => {
    for (const requestId of [-1, 2 ** 32, 1.5, Number.NaN]) {
      expect(
        codeOf(() =>
          encodePacket({ requestId, body: { case: 'ping', value: { sequence: 0, data: new Uint8Array() } } }),
        ),
      ).toBe(ErrorCode.API_MISUSE);
    }
    expect(
      codeOf(() =>
        encodePacket({ requestId: 1, body: { case: 'ping', value: { sequence: 2 ** 32, data: new Uint8Array() } } }),
      ),
    ).toBe(ErrorCode.API_MISUSE);
  });

  const wide = defineMessage({
    name: 'W',
    fields: [
      { number: 1, name: 'at', kind: 'uint64' },
      { number: 2, name: 'flag', kind: 'bool' },
    ],
  });

  it('[WIRE-INT-1] rejects a 64-bit value above 2^53-1 on decode, accepts 2^53-1', () => {
    expect(codeOf(() => checkEncoding(bytes(vf(1, 2 ** 53 - 1)), wide))).toBe('accepted');
    expect(codeOf(() => checkEncoding(bytes(vf(1, 2n ** 53n)), wide))).toBe(ErrorCode.INTEGER_RANGE);
    expect(codeOf(() => checkEncoding(bytes(vf(1, 2n ** 64n - 1n)), wide))).toBe(ErrorCode.INTEGER_RANGE);
    expect(codeOf(() => checkEncoding(bytes(vf(2, 2)), wide))).toBe(ErrorCode.INTEGER_RANGE);
    expect(codeOf(() => toSafeInteger(Long.fromString('9007199254740992', true), 'at'))).toBe(ErrorCode.INTEGER_RANGE);
    expect(toSafeInteger(fromSafeInteger(2 ** 53 - 1), 'at')).toBe(2 ** 53 - 1);
  });

  it('[WIRE-INT-1] a sender refuses a 64-bit value above 2^53-1 or negative', () => {
    expect(() => checkFields({ at: 2 ** 53 }, wide)).toThrow(ApiMisuse);
    expect(() => checkFields({ at: -1 }, wide)).toThrow(ApiMisuse);
    expect(() => checkFields({ at: Long.fromString('9007199254740992', true) }, wide)).toThrow(ApiMisuse);
    expect(() => checkFields({ at: Long.fromNumber(2 ** 53 - 1, true), flag: true }, wide)).not.toThrow();
  });
});

describe('strings [WIRE-UTF8-1] [WIRE-UTF8-2] [WIRE-UTF8-3]', () => {
  const invalid: [string, number[]][] = [
    ['a lone continuation byte', [0x80]],
    ['an overlong NUL (C0 80)', [0xc0, 0x80]],
    ['an overlong 3-byte form', [0xe0, 0x80, 0xaf]],
    ['an overlong 4-byte form', [0xf0, 0x8f, 0xbf, 0xbf]],
    ['a surrogate (ED A0 80)', [0xed, 0xa0, 0x80]],
    ['a code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
    ['F5', [0xf5, 0x80, 0x80, 0x80]],
    ['FF', [0xff]],
    ['a truncated sequence at the end', [0x61, 0xe2, 0x82]],
    ['a truncated sequence before ASCII', [0xe2, 0x82, 0x61]],
  ];
  for (const [what, seq] of invalid) {
    it(`[WIRE-UTF8-1] rejects ${what} in a string field with MALFORMED`, () => {
      const input = bytes(
        vf(1, 1),
        ld(19, [...vf(1, 100), ...ld(2, [0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, ...seq])]),
      );
      expect(codeOf(() => decodePacket(input))).toBe(ErrorCode.MALFORMED);
      expect(isUtf8(Uint8Array.from(seq))).toBe(false);
      expect(() => assertUtf8(Uint8Array.from(seq), 'x')).toThrow(DecodeError);
    });
  }

  it('[WIRE-UTF8-1] agrees with a fatal TextDecoder on arbitrary bytes', () => {
    const decoder = new TextDecoder('utf-8', { fatal: true });
    const valid = (b: Uint8Array): boolean => {
      try {
        decoder.decode(b);
        return true;
      } catch {
        return false;
      }
    };
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.string({ unit: 'binary' }).map(utf8)), (b) => {
        expect(isUtf8(b)).toBe(valid(b));
      }),
      { numRuns: 20_000 },
    );
  });

  it('[WIRE-UTF8-1] accepts the extremes of each sequence length', () => {
    for (const s of [
      '\u0000',
      '\u007f',
      '\u0080',
      '\u07ff',
      '\u0800',
      '\ud7ff',
      '\ue000',
      '\uffff',
      '\u{10000}',
      '\u{10ffff}',
    ]) {
      expect(isUtf8(utf8(`abcdefgh${s}`))).toBe(true);
    }
  });

  it('[WIRE-UTF8-2] an encoder refuses a string with a lone surrogate instead of replacing it', () => {
    for (const detail of ['\ud800', 'a\udc00b', 'x\ud83d']) {
      expect(utf8Length(detail)).toBe(-1);
      expect(codeOf(() => encodePacket(errorReply(1, 100, detail)))).toBe(ErrorCode.API_MISUSE);
    }
    expect(utf8Length('a😀é')).toBe(7);
  });

  it('[WIRE-UTF8-3] keeps strings byte for byte: no normalization', () => {
    for (const detail of ['e\u0301', '\u00e9', ' padded ', 'ﬁ', 'MiXeD']) {
      const p = decodePacket(encodePacket(errorReply(1, 100, detail)));
      expect(p.body.case === 'error' && p.body.value.detail).toBe(detail);
    }
  });
});
