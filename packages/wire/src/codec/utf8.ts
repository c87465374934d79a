/**
 * UTF-8 well-formedness on raw bytes (spec/01-packets.md §5, WIRE-UTF8-*; RFC 3629 §4).
 *
 * protobufjs decodes `string` fields loosely: invalid sequences become U+FFFD or other characters
 * without an error. Parley rejects them instead, so every decoder checks the bytes it received, not
 * the string protobufjs made of them. The check allocates nothing and has an ASCII fast path.
 */
import { ApiMisuse, DecodeError, ErrorCode } from '../errors.js';

/**
 * True when `bytes[start, end)` is well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates
 * (U+D800..U+DFFF), nothing above U+10FFFF, no truncated sequence.
 */
export function isUtf8(bytes: Uint8Array, start = 0, end: number = bytes.length): boolean {
  let i = start;
  while (i < end) {
    // ASCII fast path, eight bytes at a time (twice as fast as byte by byte on V8).
    while (
      i + 8 <= end &&
      ((bytes[i]! |
        bytes[i + 1]! |
        bytes[i + 2]! |
        bytes[i + 3]! |
        bytes[i + 4]! |
        bytes[i + 5]! |
        bytes[i + 6]! |
        bytes[i + 7]!) &
        0x80) ===
        0
    )
      i += 8;
    if (i >= end) break;
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    if (b < 0xc2) return false; // a continuation byte, or an overlong 2-byte lead (C0, C1)
    if (b < 0xe0) {
      if (i + 1 >= end || (bytes[i + 1]! & 0xc0) !== 0x80) return false;
      i += 2;
      continue;
    }
    if (b < 0xf0) {
      if (i + 2 >= end) return false;
      const b1 = bytes[i + 1]!;
      if ((b1 & 0xc0) !== 0x80 || (bytes[i + 2]! & 0xc0) !== 0x80) return false;
      if (b === 0xe0 && b1 < 0xa0) return false; // overlong 3-byte form
      if (b === 0xed && b1 > 0x9f) return false; // UTF-16 surrogates
      i += 3;
      continue;
    }
    if (b < 0xf5) {
      if (i + 3 >= end) return false;
      const b1 = bytes[i + 1]!;
      if ((b1 & 0xc0) !== 0x80 || (bytes[i + 2]! & 0xc0) !== 0x80 || (bytes[i + 3]! & 0xc0) !== 0x80) return false;
      if (b === 0xf0 && b1 < 0x90) return false; // overlong 4-byte form
      if (b === 0xf4 && b1 > 0x8f) return false; // above U+10FFFF
      i += 4;
      continue;
    }
    return false; // F5..FF never occur in UTF-8
  }
  return true;
}

/** Throws DecodeError(MALFORMED) unless `bytes[start, end)` is well-formed UTF-8. [WIRE-UTF8-1] */
export function assertUtf8(bytes: Uint8Array, what: string, start = 0, end: number = bytes.length): void {
  if (!isUtf8(bytes, start, end)) throw new DecodeError(ErrorCode.MALFORMED, `${what}: invalid UTF-8`);
}

/**
 * The length in bytes of the UTF-8 encoding of `s`, or -1 when `s` holds a lone surrogate and so has
 * no UTF-8 encoding (a sender must not send it: WIRE-UTF8-2).
 */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdfff) {
      const d = c <= 0xdbff && i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (d < 0xdc00 || d > 0xdfff) return -1;
      i++;
      n += 4;
    } else n += 3;
  }
  return n;
}

/** Sender side: throws ApiMisuse unless `s` has a UTF-8 encoding of at most `maxLength` bytes. */
export function assertEncodableString(s: string, maxLength: number, what: string): void {
  const n = utf8Length(s);
  if (n < 0) throw new ApiMisuse(`${what}: lone UTF-16 surrogate, no UTF-8 encoding`); // [WIRE-UTF8-2]
  if (n > maxLength) throw new ApiMisuse(`${what}: ${n} bytes, limit ${maxLength}`); // [WIRE-LIMIT-1]
}
