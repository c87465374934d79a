/**
 * Checks a protobuf encoding against its message rules before protobufjs decodes it (spec/01-packets.md
 * §3-§6: WIRE-ENC-*, WIRE-INT-*, WIRE-UTF8-*, WIRE-LIMIT-*), and a value against them before it is
 * encoded (`checkFields`).
 *
 * `checkEncoding` walks the raw bytes once, linearly, allocating nothing (except one small counter array
 * for messages with repeated fields): it validates tags and wire types, skips unknown fields, counts
 * repeated elements, applies every length limit, checks UTF-8 on the raw bytes of every string, and
 * rejects a singular field or a second `oneof` member occurring twice. What it accepts, protobufjs
 * decodes without error and without ambiguity.
 */
import Long from 'long';
import { ApiMisuse, DecodeError, ErrorCode } from '../errors.js';
import type { CompiledField, MessageRules } from './rules.js';
import { isUtf8, utf8Length } from './utf8.js';

/** Embedded messages nest at most this deep (the schemas nest far less; this only bounds recursion). */
export const MAX_NESTING_DEPTH = 16;

// The last varint read by scanVarint: its value (exact up to 2^53) and whether it has a bit set at or
// above `bits`. Module state instead of a returned object: no allocation per field.
let varintValue = 0;
let varintTooWide = false;

/** The value of the varint the last successful `scanVarint` read (exact up to 2^53). */
export function lastVarintValue(): number {
  return varintValue;
}
/** Whether the varint the last successful `scanVarint` read has a bit set at or above its `bits`. */
export function lastVarintTooWide(): boolean {
  return varintTooWide;
}

/**
 * Reads one varint at `pos` (at most `end`); returns the position after it, -1 when the input ends inside
 * it, or -2 when it is longer than 10 bytes or its 10th byte is above 1 (not a 64-bit value). The value
 * is then `lastVarintValue()`; `lastVarintTooWide()` says whether it needs more than `bits` bits.
 */
export function scanVarint(b: Uint8Array, pos: number, end: number, bits: number): number {
  if (pos >= end) return -1;
  const first = b[pos]!;
  if (first < 0x80) {
    // The common case: one byte, value below 128.
    varintValue = first;
    varintTooWide = bits < 7 && first >>> bits !== 0;
    return pos + 1;
  }
  let value = 0;
  let scale = 1;
  let tooWide = false;
  for (let k = 0; k < 10; k++) {
    if (pos >= end) return -1;
    const byte = b[pos++]!;
    const payload = byte & 0x7f;
    const shift = 7 * k;
    if (shift + 7 > bits) {
      const keep = bits - shift;
      if (keep <= 0 ? payload !== 0 : payload >>> keep !== 0) tooWide = true;
    }
    if (shift < 53) value += payload * scale;
    scale *= 128;
    if (byte < 0x80) {
      if (k === 9 && byte > 1) return -2;
      varintValue = value;
      varintTooWide = tooWide;
      return pos;
    }
  }
  return -2;
}

/** Throws DecodeError(code) naming the message. */
export function fail(code: ErrorCode, rules: MessageRules, what: string): never {
  throw new DecodeError(code, `${rules.name}: ${what}`);
}

/** Throws for a `scanVarint` result below 0: TRUNCATED (-1) or MALFORMED (-2). */
export function varintFailure(r: number, rules: MessageRules, what: string): never {
  return r === -1
    ? fail(ErrorCode.TRUNCATED, rules, `${what} ends inside a varint`)
    : fail(ErrorCode.MALFORMED, rules, `${what}: bad varint`);
}

/**
 * Checks `bytes[start, end)` as an encoding of the message `rules` describes; throws DecodeError with
 * the code of the first violation. Returns the number of the last field that was accepted as an unknown
 * member of a reserved `oneof` range (0 when there was none), so that the caller can say which body it
 * did not know.
 */
export function checkEncoding(
  bytes: Uint8Array,
  rules: MessageRules,
  start = 0,
  end: number = bytes.length,
  depth = 0,
): number {
  // [WIRE-LIMIT-5] recursion is bounded whatever the input.
  if (depth > MAX_NESTING_DEPTH) fail(ErrorCode.MALFORMED, rules, 'nested too deep');
  const byNumber = rules.byNumber;
  let seen = 0;
  let counts: Uint32Array | undefined;
  let unknownMember = 0;
  let pos = start;
  while (pos < end) {
    // Tag: field number and wire type, a varint of at most 32 bits. [WIRE-ENC-3]
    let r = scanVarint(bytes, pos, end, 32);
    if (r < 0) varintFailure(r, rules, 'tag');
    if (varintTooWide) fail(ErrorCode.MALFORMED, rules, 'tag above 32 bits');
    pos = r;
    const tag = varintValue;
    const number = tag >>> 3;
    const wireType = tag & 7;
    if (number === 0) fail(ErrorCode.MALFORMED, rules, 'field number 0');
    const f = number < byNumber.length ? byNumber[number] : undefined;
    if (f === undefined) {
      // An unknown field: skipped (GEN-VER-3), unless it cannot be skipped or is a second oneof member.
      for (const range of rules.reservedOneofRanges) {
        if (number >= range.from && number <= range.to) {
          const bit = rules.oneofBits[range.oneof]!;
          if (seen & bit) fail(ErrorCode.MALFORMED, rules, `second member of oneof ${range.oneof} (field ${number})`); // [WIRE-ENC-4]
          seen |= bit;
          // [WIRE-PKT-5] members of a reserved range are messages.
          if (wireType !== 2) fail(ErrorCode.MALFORMED, rules, `field ${number}: wire type ${wireType}, expected 2`);
          unknownMember = number;
        }
      }
      pos = skipField(bytes, pos, end, wireType, rules, number);
      continue;
    }
    if (f.slotBit !== 0) {
      // [WIRE-ENC-4] a singular field, or a oneof, occurs at most once.
      if (seen & f.slotBit) fail(ErrorCode.MALFORMED, rules, `${f.name} occurs twice`);
      seen |= f.slotBit;
    }
    if (wireType !== f.wireType) {
      // A repeated scalar may come packed (WIRE-ENC-2): one length-delimited run of elements.
      if (f.repeated && wireType === 2 && f.wireType !== 2) {
        r = scanVarint(bytes, pos, end, 32);
        if (r < 0) varintFailure(r, rules, f.name);
        pos = r;
        const runEnd = pos + varintValue;
        if (varintTooWide || runEnd > end) fail(ErrorCode.TRUNCATED, rules, `${f.name}: length past the end`);
        let n = 0;
        while (pos < runEnd) {
          pos = checkScalar(bytes, pos, runEnd, f, rules);
          n++;
        }
        counts ??= new Uint32Array(rules.counters);
        counts[f.counter]! += n;
        if (counts[f.counter]! > f.maxCount!)
          fail(ErrorCode.FIELD_LIMIT, rules, `${f.name}: more than ${f.maxCount} elements`); // [WIRE-LIMIT-1]
        continue;
      }
      fail(ErrorCode.MALFORMED, rules, `${f.name}: wire type ${wireType}, expected ${f.wireType}`); // [WIRE-ENC-3]
    }
    if (f.repeated) {
      counts ??= new Uint32Array(rules.counters);
      if (++counts[f.counter]! > f.maxCount!)
        fail(ErrorCode.FIELD_LIMIT, rules, `${f.name}: more than ${f.maxCount} elements`); // [WIRE-LIMIT-1]
    }
    if (f.wireType !== 2) {
      pos = checkScalar(bytes, pos, end, f, rules);
      continue;
    }
    r = scanVarint(bytes, pos, end, 32);
    if (r < 0) varintFailure(r, rules, f.name);
    pos = r;
    const length = varintValue;
    if (varintTooWide || pos + length > end) fail(ErrorCode.TRUNCATED, rules, `${f.name}: length past the end`);
    const fieldEnd = pos + length;
    if (f.kind === 'message') {
      checkEncoding(bytes, f.message!, pos, fieldEnd, depth + 1);
    } else {
      // [WIRE-LIMIT-1] lengths in bytes, strings counted in UTF-8 bytes.
      if (length > f.maxLength!) fail(ErrorCode.FIELD_LIMIT, rules, `${f.name}: ${length} bytes, limit ${f.maxLength}`);
      // [WIRE-UTF8-1] checked on the bytes received, never on protobufjs's lossy string.
      if (f.kind === 'string' && !isUtf8(bytes, pos, fieldEnd))
        fail(ErrorCode.MALFORMED, rules, `${f.name}: invalid UTF-8`);
    }
    pos = fieldEnd;
  }
  return unknownMember;
}

/** Checks one varint or fixed-width element of `f` at `pos`; returns the position after it. */
function checkScalar(bytes: Uint8Array, pos: number, end: number, f: CompiledField, rules: MessageRules): number {
  if (f.wireType === 5 || f.wireType === 1) {
    const next = pos + (f.wireType === 5 ? 4 : 8);
    if (next > end) fail(ErrorCode.TRUNCATED, rules, `${f.name} ends early`);
    return next;
  }
  const r = scanVarint(bytes, pos, end, f.valueBits);
  if (r < 0) varintFailure(r, rules, f.name);
  // [WIRE-INT-1] [WIRE-INT-2] a value wider than its field is refused, never truncated.
  if (varintTooWide) fail(ErrorCode.INTEGER_RANGE, rules, `${f.name}: above 2^${f.valueBits}-1`);
  return r;
}

/** Skips an unknown field's value; groups (wire types 3, 4) and wire types 6, 7 are refused. [WIRE-ENC-3] */
export function skipField(
  bytes: Uint8Array,
  pos: number,
  end: number,
  wireType: number,
  rules: MessageRules,
  n: number,
): number {
  switch (wireType) {
    case 0: {
      const r = scanVarint(bytes, pos, end, 64);
      if (r < 0) varintFailure(r, rules, `field ${n}`);
      return r;
    }
    case 1:
    case 5: {
      const next = pos + (wireType === 5 ? 4 : 8);
      if (next > end) fail(ErrorCode.TRUNCATED, rules, `field ${n} ends early`);
      return next;
    }
    case 2: {
      const r = scanVarint(bytes, pos, end, 32);
      if (r < 0) varintFailure(r, rules, `field ${n}`);
      if (varintTooWide || r + varintValue > end) fail(ErrorCode.TRUNCATED, rules, `field ${n}: length past the end`);
      return r + varintValue;
    }
    default:
      return fail(ErrorCode.MALFORMED, rules, `field ${n}: wire type ${wireType}`);
  }
}

const UINT32_MAX = 0xffff_ffff;
const INT32_MAX = 0x7fff_ffff;

/**
 * Sender side: checks that `value` (a protobufjs-shaped object: camelCase properties) obeys `rules`
 * before it is encoded: integers in range, strings with a UTF-8 encoding, every limit, at most one member
 * of each oneof. Throws ApiMisuse: sending what a receiver must refuse is the local caller's mistake.
 */
export function checkFields(value: object, rules: MessageRules, what: string = rules.name): void {
  const v = value as Record<string, unknown>;
  let oneofs = 0;
  for (const f of rules.fields) {
    const x = v[f.property];
    if (x === undefined || x === null) continue;
    if (f.oneof !== undefined) {
      const bit = rules.oneofBits[f.oneof]!;
      if (oneofs & bit) throw new ApiMisuse(`${what}: two members of oneof ${f.oneof}`); // [WIRE-ENC-4]
      oneofs |= bit;
    }
    const where = `${what}.${f.name}`;
    if (f.repeated) {
      if (!Array.isArray(x)) throw new ApiMisuse(`${where}: not an array`);
      if (x.length > f.maxCount!) throw new ApiMisuse(`${where}: ${x.length} elements, limit ${f.maxCount}`); // [WIRE-LIMIT-1]
      for (let i = 0; i < x.length; i++) checkOne(x[i], f, `${where}[${i}]`);
    } else checkOne(x, f, where);
  }
}

function checkOne(x: unknown, f: CompiledField, where: string): void {
  switch (f.kind) {
    case 'uint32':
    case 'fixed32':
    case 'enum': {
      const max = f.kind === 'enum' ? INT32_MAX : UINT32_MAX;
      if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x > max)
        throw new ApiMisuse(`${where}: not an integer in 0..${max}`);
      return;
    }
    case 'uint64':
    case 'fixed64': {
      // [WIRE-INT-1] 64-bit fields carry at most 2^53-1.
      const ok =
        typeof x === 'number'
          ? Number.isSafeInteger(x) && x >= 0
          : Long.isLong(x) && !x.isNegative() && x.lessThanOrEqual(Number.MAX_SAFE_INTEGER);
      if (!ok) throw new ApiMisuse(`${where}: not an integer in 0..2^53-1`);
      return;
    }
    case 'bool':
      if (typeof x !== 'boolean') throw new ApiMisuse(`${where}: not a boolean`);
      return;
    case 'string': {
      if (typeof x !== 'string') throw new ApiMisuse(`${where}: not a string`);
      const n = utf8Length(x);
      if (n < 0) throw new ApiMisuse(`${where}: lone UTF-16 surrogate, no UTF-8 encoding`); // [WIRE-UTF8-2]
      if (n > f.maxLength!) throw new ApiMisuse(`${where}: ${n} bytes, limit ${f.maxLength}`); // [WIRE-LIMIT-1]
      return;
    }
    case 'bytes':
      if (!(x instanceof Uint8Array)) throw new ApiMisuse(`${where}: not a Uint8Array`);
      if (x.length > f.maxLength!) throw new ApiMisuse(`${where}: ${x.length} bytes, limit ${f.maxLength}`); // [WIRE-LIMIT-1]
      return;
    case 'message':
      if (typeof x !== 'object') throw new ApiMisuse(`${where}: not an object`);
      checkFields(x as object, f.message!, where);
      return;
  }
}
