// spec/01-packets.md §6 (WIRE-LIMIT-*): field maximums, packet sizes on streams and datagrams, and
// bounded decoding; spec/00-conventions.md §3 (GEN-VER-3: unknown fields count towards the limits).
import { describe, expect, it } from 'vitest';
import { checkEncoding, MAX_NESTING_DEPTH } from '../../src/codec/check.js';
import { defineMessage, type MessageRules } from '../../src/codec/rules.js';
import { MAX_DATAGRAM_LENGTH } from '../../src/datagram/channel.js';
import { ApiMisuse, DecodeError, ErrorCode } from '../../src/errors.js';
import {
  decodePacket,
  encodePacket,
  MAX_DATAGRAM_PACKET_SIZE,
  MAX_DETAIL_LENGTH,
  MAX_PING_DATA_LENGTH,
  MAX_STREAM_PACKET_SIZE,
  type Packet,
} from '../../src/packet/index.js';
import { bytes, ld, utf8, varint, vf } from './wire-bytes.js';

function codeOf(f: () => unknown): ErrorCode | 'accepted' {
  try {
    f();
    return 'accepted';
  } catch (e) {
    if (e instanceof DecodeError || e instanceof ApiMisuse) return e.code;
    throw e;
  }
}

const close = (detail: string): Packet => ({ requestId: 0, body: { case: 'close', value: { code: 100, detail } } });
const pingWith = (n: number): Uint8Array => bytes(vf(1, 1), ld(17, [...vf(1, 1), ...ld(2, new Uint8Array(n))]));
/** A packet padded to exactly `size` bytes with an unknown field (number 600) after a Ping body. */
function padded(size: number): Uint8Array {
  const head = [...ld(17, [])];
  for (let width = 1; width <= 3; width++) {
    const payload = size - head.length - 2 /* tag of field 600 */ - width;
    const len = varint(payload);
    if (len.length === width) return bytes(head, ld(600, new Uint8Array(payload)));
  }
  throw new Error(`cannot pad to ${size}`);
}

describe('field limits [WIRE-LIMIT-1] [WIRE-LIMIT-2]', () => {
  it('[WIRE-LIMIT-2] accepts a detail of 256 bytes and rejects 257 with FIELD_LIMIT', () => {
    expect(MAX_DETAIL_LENGTH).toBe(256);
    expect(codeOf(() => decodePacket(bytes(ld(16, ld(2, utf8('a'.repeat(256)))))))).toBe('accepted');
    expect(codeOf(() => decodePacket(bytes(ld(16, ld(2, utf8('a'.repeat(257)))))))).toBe(ErrorCode.FIELD_LIMIT);
    expect(codeOf(() => decodePacket(bytes(ld(19, [...vf(1, 100), ...ld(2, utf8('a'.repeat(257)))]))))).toBe(
      ErrorCode.FIELD_LIMIT,
    );
  });

  it('[WIRE-LIMIT-1] counts string limits in UTF-8 bytes, not characters', () => {
    const euros = '€'.repeat(86); // 86 characters, 258 bytes
    expect(codeOf(() => decodePacket(bytes(ld(16, ld(2, utf8(euros))))))).toBe(ErrorCode.FIELD_LIMIT);
    expect(codeOf(() => encodePacket(close(euros)))).toBe(ErrorCode.API_MISUSE);
    expect(codeOf(() => encodePacket(close('€'.repeat(85))))).toBe('accepted');
  });

  it('[WIRE-LIMIT-2] accepts Ping and Pong data of 256 bytes and rejects 257 with FIELD_LIMIT', () => {
    expect(MAX_PING_DATA_LENGTH).toBe(256);
    expect(codeOf(() => decodePacket(pingWith(256)))).toBe('accepted');
    expect(codeOf(() => decodePacket(pingWith(257)))).toBe(ErrorCode.FIELD_LIMIT);
    expect(codeOf(() => decodePacket(bytes(ld(18, ld(2, new Uint8Array(300))))))).toBe(ErrorCode.FIELD_LIMIT);
  });

  it('[WIRE-LIMIT-1] a sender refuses a field above its maximum', () => {
    expect(codeOf(() => encodePacket(close('a'.repeat(257))))).toBe(ErrorCode.API_MISUSE);
    const big = { requestId: 1, body: { case: 'ping', value: { sequence: 1, data: new Uint8Array(257) } } } as const;
    expect(codeOf(() => encodePacket(big))).toBe(ErrorCode.API_MISUSE);
  });

  it('[WIRE-LIMIT-1] every string, bytes and repeated field must have a maximum', () => {
    expect(() => defineMessage({ name: 'X', fields: [{ number: 1, name: 's', kind: 'string' }] })).toThrow(/maxLength/);
    expect(() => defineMessage({ name: 'X', fields: [{ number: 1, name: 'b', kind: 'bytes' }] })).toThrow(/maxLength/);
    expect(() =>
      defineMessage({ name: 'X', fields: [{ number: 1, name: 'r', kind: 'uint32', repeated: true }] }),
    ).toThrow(/maxCount/);
  });

  it('[WIRE-LIMIT-1] limits each element and the count of a repeated field', () => {
    const rules = defineMessage({
      name: 'R',
      fields: [{ number: 1, name: 'names', kind: 'string', repeated: true, maxCount: 2, maxLength: 3 }],
    });
    expect(codeOf(() => checkEncoding(bytes(ld(1, utf8('abc')), ld(1, utf8('d'))), rules))).toBe('accepted');
    expect(codeOf(() => checkEncoding(bytes(ld(1, utf8('abcd'))), rules))).toBe(ErrorCode.FIELD_LIMIT);
    expect(codeOf(() => checkEncoding(bytes(ld(1, []), ld(1, []), ld(1, [])), rules))).toBe(ErrorCode.FIELD_LIMIT);
  });
});

describe('packet sizes [WIRE-LIMIT-3] [WIRE-LIMIT-4]', () => {
  it('[WIRE-LIMIT-3] a stream packet is at most 65,519 bytes: the Noise maximum less the AEAD tag', () => {
    expect(MAX_STREAM_PACKET_SIZE).toBe(65_535 - 16);
    expect(decodePacket(padded(MAX_STREAM_PACKET_SIZE)).body.case).toBe('ping');
    expect(codeOf(() => decodePacket(padded(MAX_STREAM_PACKET_SIZE + 1)))).toBe(ErrorCode.FRAME_TOO_LARGE);
  });

  it('[WIRE-LIMIT-3] rejects an oversized packet before decoding it, whatever it holds', () => {
    expect(codeOf(() => decodePacket(new Uint8Array(MAX_STREAM_PACKET_SIZE + 1).fill(0xff)))).toBe(
      ErrorCode.FRAME_TOO_LARGE,
    );
  });

  it('[WIRE-LIMIT-3] a sender refuses to produce a packet larger than its channel carries', () => {
    expect(codeOf(() => encodePacket(close('a'.repeat(200)), { maxSize: 100 }))).toBe(ErrorCode.API_MISUSE);
  });

  it('[WIRE-LIMIT-4] a datagram packet above the datagram maximum is DATAGRAM_TOO_LARGE, before decoding', () => {
    expect(MAX_DATAGRAM_LENGTH).toBe(1_200);
    expect(MAX_DATAGRAM_PACKET_SIZE).toBeLessThan(1_200);
    const max = MAX_DATAGRAM_PACKET_SIZE;
    expect(decodePacket(padded(max), { channel: 'datagram' }).body.case).toBe('ping');
    expect(codeOf(() => decodePacket(padded(max + 1), { channel: 'datagram' }))).toBe(ErrorCode.DATAGRAM_TOO_LARGE);
    expect(codeOf(() => decodePacket(new Uint8Array(1_101).fill(0xff), { channel: 'datagram', maxSize: 1_100 }))).toBe(
      ErrorCode.DATAGRAM_TOO_LARGE,
    );
  });

  it('[GEN-VER-3] unknown fields count towards the size limit', () => {
    expect(codeOf(() => decodePacket(padded(1_000), { maxSize: 999 }))).toBe(ErrorCode.FRAME_TOO_LARGE);
  });
});

describe('bounded decoding [WIRE-LIMIT-5]', () => {
  it('[WIRE-LIMIT-5] refuses nesting deeper than 16 messages', () => {
    let rules: MessageRules = defineMessage({ name: 'Leaf', fields: [{ number: 1, name: 'n', kind: 'uint32' }] });
    for (let i = 0; i < MAX_NESTING_DEPTH + 4; i++) {
      rules = defineMessage({
        name: `Level${i}`,
        fields: [{ number: 1, name: 'inner', kind: 'message', message: rules }],
      });
    }
    let encoding: number[] = [];
    for (let i = 0; i < MAX_NESTING_DEPTH; i++) encoding = ld(1, encoding);
    expect(codeOf(() => checkEncoding(Uint8Array.from(encoding), rules))).toBe('accepted');
    for (let i = 0; i < 2; i++) encoding = ld(1, encoding);
    expect(codeOf(() => checkEncoding(Uint8Array.from(encoding), rules))).toBe(ErrorCode.MALFORMED);
  });

  it('[WIRE-LIMIT-5] rejecting is cheap: a DecodeError captures no stack trace unless asked to', () => {
    const e = new DecodeError(ErrorCode.MALFORMED, 'x');
    expect(e.stack?.split('\n').filter((l) => l.trim().startsWith('at ')).length ?? 0).toBe(0);
    DecodeError.stackTraces = true;
    try {
      expect(new DecodeError(ErrorCode.MALFORMED).stack).toMatch(/\n\s+at /);
    } finally {
      DecodeError.stackTraces = false;
    }
  });

  it('[WIRE-LIMIT-5] decodes a maximal packet of tiny unknown fields in linear time', () => {
    const body = ld(17, []);
    const pairs = Math.floor((MAX_STREAM_PACKET_SIZE - body.length) / 2);
    const input = new Uint8Array(body.length + 2 * pairs);
    input.set(body, 0);
    for (let i = 0; i < pairs; i++) input.set([0x28, 0x01], body.length + 2 * i); // field 5, varint 1
    const t0 = performance.now();
    for (let i = 0; i < 10; i++) decodePacket(input);
    expect((performance.now() - t0) / 10).toBeLessThan(50);
  });
});
