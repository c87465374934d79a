/**
 * Inputs for fuzzing decoders (spec/01-packets.md §6, WIRE-LIMIT-5: for any input a decoder returns a
 * value or a rejection): arbitrary bytes, and mutations of valid encodings that reach deep into a
 * decoder (bit flips, truncation, insertion, deletion, duplication, and corrupted length fields).
 * Shared by the fuzz runner (targets.ts) and the property tests (test/packet/properties.test.ts).
 */
import fc from 'fast-check';
import { utf8Length } from '../src/codec/utf8.js';
import { ErrorCode } from '../src/errors.js';
import { MAX_DETAIL_LENGTH, MAX_PING_DATA_LENGTH } from '../src/packet/limits.js';
import type { Packet, PacketBody } from '../src/packet/packet.js';

/** One edit of an encoding. Positions are taken modulo the length, so any value applies to any input. */
export type Mutation =
  | { readonly kind: 'flip'; readonly at: number; readonly bit: number }
  | { readonly kind: 'set'; readonly at: number; readonly byte: number }
  | { readonly kind: 'truncate'; readonly at: number }
  | { readonly kind: 'insert'; readonly at: number; readonly bytes: Uint8Array }
  | { readonly kind: 'delete'; readonly at: number; readonly count: number }
  | { readonly kind: 'duplicate'; readonly at: number; readonly count: number }
  | { readonly kind: 'length'; readonly which: number; readonly value: number; readonly width: number };

function varintBytes(value: number, width: number): number[] {
  const out: number[] = [];
  let v = value;
  do {
    out.push(v % 128);
    v = Math.floor(v / 128);
  } while (v > 0);
  while (out.length < width) out.push(0);
  for (let i = 0; i < out.length - 1; i++) out[i]! |= 0x80;
  return out;
}

/**
 * The offsets and widths of the length prefixes of length-delimited fields in `bytes`, at every depth
 * where the payload parses as a message. Best effort: stops at the first thing it cannot parse.
 */
export function lengthFields(
  bytes: Uint8Array,
  start = 0,
  end = bytes.length,
  depth = 0,
  out: [number, number][] = [],
): [number, number][] {
  let pos = start;
  while (pos < end && depth < 8) {
    let tag = 0;
    let shift = 1;
    for (;;) {
      if (pos >= end || shift > 2 ** 35) return out;
      const b = bytes[pos++]!;
      tag += (b & 0x7f) * shift;
      shift *= 128;
      if (b < 0x80) break;
    }
    const wireType = tag % 8;
    if (wireType === 0) {
      while (pos < end && bytes[pos]! >= 0x80) pos++;
      pos++;
    } else if (wireType === 1) pos += 8;
    else if (wireType === 5) pos += 4;
    else if (wireType === 2) {
      const at = pos;
      let length = 0;
      shift = 1;
      for (;;) {
        if (pos >= end || shift > 2 ** 35) return out;
        const b = bytes[pos++]!;
        length += (b & 0x7f) * shift;
        shift *= 128;
        if (b < 0x80) break;
      }
      out.push([at, pos - at]);
      if (pos + length > end) return out;
      lengthFields(bytes, pos, pos + length, depth + 1, out);
      pos += length;
    } else return out;
  }
  return out;
}

/** Applies one mutation; never throws. */
export function applyMutation(input: Uint8Array, m: Mutation): Uint8Array {
  const n = input.length;
  switch (m.kind) {
    case 'flip': {
      if (n === 0) return input;
      const out = input.slice();
      out[m.at % n]! ^= 1 << (m.bit & 7);
      return out;
    }
    case 'set': {
      if (n === 0) return input;
      const out = input.slice();
      out[m.at % n] = m.byte & 0xff;
      return out;
    }
    case 'truncate':
      return input.slice(0, n === 0 ? 0 : m.at % n);
    case 'insert': {
      const at = m.at % (n + 1);
      const out = new Uint8Array(n + m.bytes.length);
      out.set(input.subarray(0, at), 0);
      out.set(m.bytes, at);
      out.set(input.subarray(at), at + m.bytes.length);
      return out;
    }
    case 'delete': {
      if (n === 0) return input;
      const at = m.at % n;
      const out = new Uint8Array(n - Math.min(m.count, n - at));
      out.set(input.subarray(0, at), 0);
      out.set(input.subarray(at + Math.min(m.count, n - at)), at);
      return out;
    }
    case 'duplicate': {
      if (n === 0) return input;
      const at = m.at % n;
      const piece = input.subarray(at, Math.min(n, at + m.count));
      const out = new Uint8Array(n + piece.length);
      out.set(input.subarray(0, at + piece.length), 0);
      out.set(piece, at + piece.length);
      out.set(input.subarray(at + piece.length), at + 2 * piece.length);
      return out;
    }
    case 'length': {
      // Corrupts one length prefix: a new value (often just off by a little), possibly wider or narrower.
      const fields = lengthFields(input);
      if (fields.length === 0) return input;
      const [at, width] = fields[m.which % fields.length]!;
      const replacement = varintBytes(m.value, m.width);
      const out = new Uint8Array(n - width + replacement.length);
      out.set(input.subarray(0, at), 0);
      out.set(replacement, at);
      out.set(input.subarray(at + width), at + replacement.length);
      return out;
    }
  }
}

export function mutationArbitrary(): fc.Arbitrary<Mutation> {
  const at = fc.nat({ max: 0xffff });
  return fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at, bit: fc.nat({ max: 7 }) }),
    fc.record({
      kind: fc.constant('set' as const),
      at,
      byte: fc.oneof(fc.constantFrom(0x00, 0x7f, 0x80, 0xff, 0xc0, 0xed, 0xf4, 0xf5), fc.nat({ max: 255 })),
    }),
    fc.record({ kind: fc.constant('truncate' as const), at }),
    fc.record({ kind: fc.constant('insert' as const), at, bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }) }),
    fc.record({ kind: fc.constant('delete' as const), at, count: fc.integer({ min: 1, max: 16 }) }),
    fc.record({ kind: fc.constant('duplicate' as const), at, count: fc.integer({ min: 1, max: 32 }) }),
    fc.record({
      kind: fc.constant('length' as const),
      which: fc.nat({ max: 63 }),
      value: fc.oneof(
        fc.nat({ max: 300 }),
        fc.constantFrom(0, 1, 127, 128, 255, 256, 65_535, 65_536, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 35),
      ),
      width: fc.integer({ min: 1, max: 10 }),
    }),
  );
}

/** Valid encodings with one to four mutations applied. */
export function mutatedArbitrary(valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(valid, fc.array(mutationArbitrary(), { minLength: 1, maxLength: 4 }))
    .map(([bytes, ms]) => ms.reduce(applyMutation, bytes));
}

/** What a decoder is fuzzed with: random bytes (1 in 4), valid encodings (1 in 8), mutated ones (the rest). */
export function fuzzInputArbitrary(valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    { arbitrary: fc.uint8Array({ maxLength: 512 }), weight: 2 },
    { arbitrary: valid, weight: 1 },
    { arbitrary: mutatedArbitrary(valid), weight: 5 },
  );
}

/** A well-formed string of at most `maxBytes` UTF-8 bytes: mostly ASCII, or any code points. */
export function stringArbitrary(maxBytes: number): fc.Arbitrary<string> {
  return fc
    .oneof(fc.string({ maxLength: maxBytes }), fc.string({ unit: 'binary', maxLength: Math.floor(maxBytes / 4) }))
    .filter((s) => {
      const n = utf8Length(s);
      return n >= 0 && n <= maxBytes;
    });
}

const wireCode = fc.oneof(
  fc.constantFrom(
    ...(Object.values(ErrorCode).filter((v) => typeof v === 'number' && v >= 100 && (v < 600 || v >= 700)) as number[]),
  ),
  fc.integer({ min: 100, max: 599 }),
  fc.integer({ min: 700, max: 799 }),
);

/** Every valid body of packet.proto. */
export function packetBodyArbitrary(): fc.Arbitrary<PacketBody> {
  const data = fc.uint8Array({ maxLength: MAX_PING_DATA_LENGTH });
  const detail = stringArbitrary(MAX_DETAIL_LENGTH);
  const sequence = fc.nat({ max: 0xffff_ffff });
  return fc.oneof(
    fc.record({
      case: fc.constant('close' as const),
      value: fc.record({ code: fc.oneof(fc.constant(0), wireCode), detail }),
    }),
    fc.record({ case: fc.constant('ping' as const), value: fc.record({ sequence, data }) }),
    fc.record({ case: fc.constant('pong' as const), value: fc.record({ sequence, data }) }),
    fc.record({ case: fc.constant('error' as const), value: fc.record({ code: wireCode, detail }) }),
  ) as fc.Arbitrary<PacketBody>;
}

/** Every valid packet of packet.proto. */
export function packetArbitrary(): fc.Arbitrary<Packet> {
  return fc.record({
    requestId: fc.oneof(fc.constant(0), fc.nat({ max: 0xffff_ffff })),
    body: packetBodyArbitrary(),
  });
}

/** Hexadecimal, for printing counterexamples. */
export function hex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}
