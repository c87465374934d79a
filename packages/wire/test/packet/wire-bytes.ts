/**
 * Hand-built protobuf encodings for tests of spec/01-packets.md §3-§6: what a non-canonical or hostile
 * sender may put on the wire, written byte by byte so that no encoder smooths it over.
 */

/** A varint of `value` (a non-negative integer or bigint), padded to `width` bytes when given. */
export function varint(value: number | bigint, width?: number): number[] {
  let v = BigInt(value);
  const out: number[] = [];
  do {
    out.push(Number(v & 0x7fn));
    v >>= 7n;
  } while (v > 0n);
  while (width !== undefined && out.length < width) out.push(0);
  for (let i = 0; i < out.length - 1; i++) out[i]! |= 0x80;
  return out;
}

export function tag(field: number, wireType: number): number[] {
  return varint(field * 8 + wireType);
}

/** A length-delimited field. */
export function ld(field: number, payload: ArrayLike<number>): number[] {
  return [...tag(field, 2), ...varint(payload.length), ...Array.from(payload)];
}

/** A varint field. */
export function vf(field: number, value: number | bigint): number[] {
  return [...tag(field, 0), ...varint(value)];
}

export function bytes(...parts: (number | number[] | Uint8Array)[]): Uint8Array {
  const out: number[] = [];
  for (const p of parts) {
    if (typeof p === 'number') out.push(p);
    else out.push(...Array.from(p));
  }
  return Uint8Array.from(out);
}

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
