// The spec's tables against the code and the schemas, so that they can never drift apart:
// spec/00-conventions.md §3-§5 (error codes GEN-ERR-*, parameters GEN-PARAM-1, versioning GEN-VER-*) and
// spec/01-packets.md §2.3 and §6.2 (body numbers WIRE-PKT-5, limits WIRE-LIMIT-2).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MAX_DATAGRAM_LENGTH } from '../../src/datagram/channel.js';
import {
  type ChannelEffect,
  ERROR_CODE_RANGES,
  ErrorCode,
  errorCodeName,
  errorEffect,
  isWireCode,
  kindOf,
} from '../../src/errors.js';
import { MAX_FRAME_LENGTH } from '../../src/framing/stream.js';
import {
  BODY_NUMBER_RANGES,
  MAX_STREAM_PACKET_SIZE,
  PACKET_PROTO_RULES,
  PACKET_RULES,
  PING_RATE,
  PROTOCOL_VERSION,
  REQUEST_TIMEOUT_MS,
  SUPPORTED_PROTOCOL_VERSIONS,
} from '../../src/packet/index.js';

const read = (path: string): string => readFileSync(new URL(`../../../../${path}`, import.meta.url), 'utf8');
const conventions = read('spec/00-conventions.md');
const packets = read('spec/01-packets.md');

/** The rows of the first Markdown table after the heading that starts with `heading`. */
function table(markdown: string, heading: string): string[][] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => l.startsWith('#') && l.replace(/^#+\s*/, '').startsWith(heading));
  if (start < 0) throw new Error(`no heading ${heading}`);
  const rows: string[][] = [];
  let inTable = false;
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith('#')) break;
    const t = line.trim();
    if (t.startsWith('|')) {
      inTable = true;
      const cells = t
        .slice(1, -1)
        .split('|')
        .map((c) => c.trim());
      if (cells.every((c) => /^-+$/.test(c))) continue;
      rows.push(cells);
    } else if (inTable) break;
  }
  return rows.slice(1); // without the header row
}
const unquote = (s: string): string => s.replace(/`/g, '');

/** The enum values of the generated ErrorCode: name -> number. */
const enumCodes = new Map(Object.entries(ErrorCode).filter((e): e is [string, number] => typeof e[1] === 'number'));

describe('error code table [GEN-ERR-3]', () => {
  const rows = table(conventions, '4.3');

  it('[GEN-ERR-3] lists every code of errors.proto with its name and number, and nothing else', () => {
    const fromTable = new Map(rows.map((r) => [unquote(r[1]!), Number(r[0])]));
    expect(fromTable.size).toBe(rows.length);
    expect(Object.fromEntries(fromTable)).toEqual(Object.fromEntries(enumCodes));
  });

  it('[GEN-ERR-2] gives every code the kind of its range', () => {
    for (const [code, name, kind] of rows) {
      if (Number(code) === 0) {
        expect(kind).toBe('—');
        continue;
      }
      expect(kind, name).toBe(kindOf(Number(code) as ErrorCode));
    }
  });

  it('[GEN-ERR-4] gives every code the channel effect the implementation applies', () => {
    for (const [code, name, , effect] of rows) {
      if (Number(code) === 0) continue;
      expect(effect as ChannelEffect, name).toBe(errorEffect(Number(code) as ErrorCode));
    }
  });

  it('[GEN-ERR-4] defines every channel effect the table uses', () => {
    const defined = new Set(table(conventions, '4.4').map((r) => r[0]));
    for (const [code, , , effect] of rows) if (Number(code) !== 0) expect(defined).toContain(effect);
  });

  it('[GEN-ERR-2] the kinds table gives the ranges of the implementation, and unknown codes take their range', () => {
    const kinds = table(conventions, '4.2').map(([range, kind]) => {
      const [from, to] = range!.split('-').map(Number);
      return { from, to, kind };
    });
    expect(kinds).toEqual(ERROR_CODE_RANGES.map((r) => ({ ...r })));
    expect(kindOf(150 as ErrorCode)).toBe('decode');
    expect(kindOf(299 as ErrorCode)).toBe('protocol');
    expect(errorEffect(399 as ErrorCode)).toBe('handshake');
    expect(errorEffect(250 as ErrorCode)).toBe('close');
    expect(errorEffect(180 as ErrorCode)).toBe('stream');
    expect(errorEffect(650 as ErrorCode)).toBe('local');
    expect(errorEffect(780 as ErrorCode)).toBe('open');
  });

  it('[GEN-ERR-5] only the misuse range and code 0 are never sent as rejections', () => {
    for (const [name, code] of enumCodes) {
      expect(isWireCode(code), name).toBe(code !== 0 && kindOf(code as ErrorCode) !== 'misuse');
    }
  });

  it('[GEN-ERR-1] every code has a name for reports', () => {
    for (const [name, code] of enumCodes) expect(errorCodeName(code as ErrorCode)).toBe(name);
  });
});

describe('default parameters [GEN-PARAM-1]', () => {
  const rows = new Map(table(conventions, '5.').map((r) => [unquote(r[0]!), { value: r[1]!, setBy: r[2]! }]));
  const firstNumber = (s: string): number => Number(/[\d,]+/.exec(s)![0].replaceAll(',', ''));

  it('[GEN-PARAM-1] [WIRE-PING-2] the fixed sizes, request-timeout and ping-rate of the table are the implementation constants', () => {
    expect(rows.get('stream-frame-max')).toMatchObject({ setBy: 'fixed' });
    expect(firstNumber(rows.get('stream-frame-max')!.value)).toBe(MAX_FRAME_LENGTH);
    expect(firstNumber(rows.get('stream-packet-max')!.value)).toBe(MAX_STREAM_PACKET_SIZE);
    expect(firstNumber(rows.get('datagram-max')!.value)).toBe(MAX_DATAGRAM_LENGTH);
    expect(firstNumber(rows.get('request-timeout')!.value) * 1000).toBe(REQUEST_TIMEOUT_MS);
    expect(firstNumber(rows.get('ping-rate')!.value)).toBe(PING_RATE);
  });

  it('[GEN-PARAM-1] every parameter says who sets it', () => {
    for (const [name, row] of rows) expect(['fixed', 'policy', 'local'], name).toContain(row.setBy);
    expect(rows.size).toBeGreaterThanOrEqual(25);
  });
});

describe('versioning [GEN-VER-1] [GEN-VER-2]', () => {
  it('[GEN-VER-1] this implementation speaks protocol version 1 only', () => {
    expect(PROTOCOL_VERSION).toBe(1);
    expect(SUPPORTED_PROTOCOL_VERSIONS).toEqual([1]);
  });

  // The v1 schema of packet.proto, frozen: a field may be added, never renumbered, retyped or removed.
  const V1_PACKET_PROTO = [
    'Packet.request_id = 1 : uint32',
    'Packet.close = 16 : Close',
    'Packet.ping = 17 : Ping',
    'Packet.pong = 18 : Pong',
    'Packet.error = 19 : ErrorReply',
    'Close.code = 1 : ErrorCode',
    'Close.detail = 2 : string',
    'Ping.sequence = 1 : uint32',
    'Ping.data = 2 : bytes',
    'Pong.sequence = 1 : uint32',
    'Pong.data = 2 : bytes',
    'ErrorReply.code = 1 : ErrorCode',
    'ErrorReply.detail = 2 : string',
  ];

  it('[GEN-VER-2] packet.proto keeps every v1 field with its number and type', () => {
    const fields = protoFields(read('spec/proto/parley/v1/packet.proto'));
    const have = new Set(fields.map((f) => `${f.message}.${f.name} = ${f.number} : ${f.type}`));
    for (const f of V1_PACKET_PROTO) expect(have, f).toContain(f);
  });
});

interface ProtoField {
  message: string;
  name: string;
  number: number;
  type: string;
  oneof?: string;
}

/** The fields of every message of a .proto file (enough of the grammar for Parley's schemas). */
function protoFields(proto: string): ProtoField[] {
  const out: ProtoField[] = [];
  const text = proto.replace(/\/\/.*$/gm, '');
  for (const m of text.matchAll(/message\s+(\w+)\s*\{([\s\S]*?)\n\}/g)) {
    const [, message, body] = m;
    let oneof: string | undefined;
    for (const line of body!.split('\n')) {
      const o = /oneof\s+(\w+)\s*\{/.exec(line);
      if (o) {
        oneof = o[1];
        continue;
      }
      if (/^\s*\}/.test(line)) oneof = undefined;
      const f = /^\s*(repeated\s+)?([\w.]+)\s+(\w+)\s*=\s*(\d+)\s*;/.exec(line);
      if (f)
        out.push({
          message: message!,
          name: f[3]!,
          number: Number(f[4]),
          type: (f[1] ? 'repeated ' : '') + f[2]!,
          ...(oneof ? { oneof } : {}),
        });
    }
  }
  return out;
}

describe('packet.proto against the rules and the spec [WIRE-PKT-5] [WIRE-LIMIT-2]', () => {
  const fields = protoFields(read('spec/proto/parley/v1/packet.proto'));

  it('[WIRE-PKT-5] numbers every body inside the range of its chapter, and the rules know every body', () => {
    const bodies = fields.filter((f) => f.message === 'Packet' && f.oneof === 'body');
    expect(bodies.length).toBeGreaterThan(0);
    for (const b of bodies) {
      expect(
        BODY_NUMBER_RANGES.some((r) => b.number >= r.from && b.number <= r.to),
        b.name,
      ).toBe(true);
      expect(PACKET_RULES.byNumber[b.number]?.name, b.name).toBe(b.name);
    }
    const envelope = fields.filter((f) => f.message === 'Packet' && f.oneof === undefined);
    for (const f of envelope) expect(f.number).toBeLessThanOrEqual(15);
  });

  it('[WIRE-PKT-5] the spec table of body numbers is the implementation table', () => {
    const rows = table(packets, '2.3').filter((r) => /^\d+-\d+$/.test(r[0]!));
    const ranges = rows.map((r) => r[0]!.split('-').map(Number)).filter(([from]) => from! >= 16);
    expect(ranges).toEqual(BODY_NUMBER_RANGES.map((r) => [r.from, r.to]));
  });

  it('[WIRE-LIMIT-2] the rules describe every field of every message of packet.proto', () => {
    const kind = (type: string): string =>
      ({ uint32: 'uint32', string: 'string', bytes: 'bytes', uint64: 'uint64', bool: 'bool', ErrorCode: 'enum' })[
        type
      ] ?? 'message';
    const messages = new Set(fields.map((f) => f.message));
    expect(new Set(PACKET_PROTO_RULES.map((r) => r.name))).toEqual(messages);
    for (const rules of PACKET_PROTO_RULES) {
      const protoOf = fields.filter((f) => f.message === rules.name);
      expect(rules.fields.map((f) => `${f.name}=${f.number}:${f.kind}`).sort()).toEqual(
        protoOf.map((f) => `${f.name}=${f.number}:${kind(f.type)}`).sort(),
      );
    }
  });

  it('[WIRE-LIMIT-2] the limits table of §6.2 is exactly the maximums of the rules', () => {
    const rows = table(packets, '6.2').map(
      ([message, field, type, max]) => `${unquote(message!)}.${unquote(field!)} ${type} ${max}`,
    );
    const fromRules: string[] = [];
    for (const rules of PACKET_PROTO_RULES) {
      for (const f of rules.fields) {
        if (f.maxLength !== undefined)
          fromRules.push(`${rules.name}.${f.name} ${f.kind} ${f.maxLength.toLocaleString('en')} bytes`);
        if (f.maxCount !== undefined)
          fromRules.push(`${rules.name}.${f.name} ${f.kind} ${f.maxCount.toLocaleString('en')} elements`);
      }
    }
    expect(rows.sort()).toEqual(fromRules.sort());
  });
});
