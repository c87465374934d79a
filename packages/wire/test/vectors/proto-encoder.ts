// A canonical protobuf encoder (WIRE-ENC-1) for the independent vector consumers, written from the .proto
// files and spec/01-packets.md, not from the implementation: each consumer states its own schema (the
// messages of the vectors it reads, as the .proto files number them) and gets an encoder of it. Nothing here
// imports from src/.
import { tohex, unhex, utf8 } from './independent.js';

// biome-ignore lint/suspicious/noExplicitAny: untyped JSON
type J = any;

/** One field of a message: number, property name, type (a scalar or a message of the schema), repetition. */
export type Field = [number: number, name: string, type: string, repeated?: 'repeated'];
export type Schema = Record<string, Field[]>;

const SCALARS = new Set(['uint32', 'uint64', 'bool', 'enum', 'string', 'bytes']);
export const isScalar = (type: string): boolean => SCALARS.has(type);

export function varint(value: number | bigint): number[] {
  let v = BigInt(value);
  const out: number[] = [];
  do {
    out.push(Number(v & 0x7fn) | (v > 0x7fn ? 0x80 : 0));
    v >>= 7n;
  } while (v > 0n);
  return out;
}
export const tagged = (n: number, wireType: number, payload: number[] = []): number[] => [
  ...varint(n * 8 + wireType),
  ...payload,
];
export const delimited = (n: number, bytes: ArrayLike<number>): number[] =>
  tagged(n, 2, [...varint(bytes.length), ...Array.from(bytes)]);

function scalarBytes(type: string, v: J): number[] {
  if (type === 'bool') return varint(v ? 1 : 0);
  return varint(v);
}

/**
 * The encoder of `schema`'s messages from their vector JSON (bytes in hex): WIRE-ENC-1, fields in number
 * order, zero values omitted, repeated scalars packed, set messages kept.
 */
export function encoder(schema: Schema): (message: string, value: J) => Uint8Array {
  const encode = (message: string, value: J): Uint8Array => {
    const out: number[] = [];
    for (const [n, name, type, repeated] of [...schema[message]!].sort((a, b) => a[0] - b[0])) {
      const v = value?.[name];
      if (v === undefined || v === null) continue;
      if (repeated) {
        if (v.length === 0) continue;
        if (type === 'string') for (const s of v) out.push(...delimited(n, utf8(s)));
        else if (type === 'bytes') for (const b of v) out.push(...delimited(n, unhex(b)));
        else if (SCALARS.has(type))
          out.push(
            ...delimited(
              n,
              v.flatMap((x: J) => scalarBytes(type, x)),
            ),
          );
        else for (const m of v) out.push(...delimited(n, encode(type, m)));
      } else if (type === 'string') {
        if (v !== '') out.push(...delimited(n, utf8(v)));
      } else if (type === 'bytes') {
        if (v !== '') out.push(...delimited(n, unhex(v)));
      } else if (SCALARS.has(type)) {
        if (v !== 0 && v !== false) out.push(...tagged(n, 0, scalarBytes(type, v)));
      } else out.push(...delimited(n, encode(type, v)));
    }
    return Uint8Array.from(out);
  };
  return encode;
}

/** A value as the vector writes it: bytes in hex, an absent nested message as null. */
export function json(v: unknown): unknown {
  if (v === undefined) return null;
  if (v instanceof Uint8Array) return tohex(v);
  if (Array.isArray(v)) return v.map(json);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, json(x)]));
  return v;
}
