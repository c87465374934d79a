// Shared by the packets tests of login.proto and supernode.proto (test/login/packets.test.ts,
// test/supernode/packets.test.ts): sample values from the compiled rules, every route a message reaches a
// decoder by, and the generic limit and 64-bit range checks of spec/01-packets.md driven from the rules.
import Long from 'long';
import { expect } from 'vitest';
import { checkEncoding, checkFields } from '../../src/codec/check.js';
import type { CompiledField, MessageRules } from '../../src/codec/rules.js';
import { ErrorCode, ParleyError } from '../../src/errors.js';
import { parley } from '../../src/gen/parley.js';
import { decodePacket, encodePacket, type Packet } from '../../src/packet/index.js';
import { bodyProperty, type MessagePath, pathTo, protoType, wrap, zeroElement } from '../login/rules.js';

/** The code a call fails with ('ok' when it does not); anything but a ParleyError is a bug. */
export function codeOf(f: () => unknown): ErrorCode | 'ok' {
  try {
    f();
    return 'ok';
  } catch (e) {
    if (e instanceof ParleyError) return e.code;
    throw e;
  }
}

/** A packet of body `number` holding `value` (as the generated code's plain object). */
export const packet = (number: number, value: Record<string, unknown>, requestId = 1): Packet =>
  ({ requestId, body: { case: bodyProperty(number), value } }) as unknown as Packet;

/** At most one member of each oneof: the first one set stays. */
export function oneMemberEach(rules: MessageRules, value: Record<string, unknown>): Record<string, unknown> {
  const seen = new Set<string>();
  const out: Record<string, unknown> = {};
  for (const f of rules.fields) {
    let x = value[f.property];
    if (f.oneof !== undefined && x !== undefined) {
      if (seen.has(f.oneof)) x = undefined;
      else seen.add(f.oneof);
    }
    if (f.kind === 'message' && x !== undefined) {
      x = f.repeated
        ? (x as Record<string, unknown>[]).map((e) => oneMemberEach(f.message!, e))
        : oneMemberEach(f.message!, x as Record<string, unknown>);
    }
    out[f.property] = x;
  }
  return out;
}

/** One value with every field set to a non-zero sample (nested messages present, one member per oneof). */
export function sample(rules: MessageRules): Record<string, unknown> {
  const one = (f: CompiledField, i: number): unknown => {
    switch (f.kind) {
      case 'uint32':
        return 7 + i;
      case 'enum':
        return 1;
      case 'uint64':
        return i === 0 ? Number.MAX_SAFE_INTEGER : 1_800_000_000_000 + i;
      case 'bool':
        return true;
      case 'string':
        return `näme-${i}`;
      case 'bytes':
        return Uint8Array.from({ length: Math.min(f.maxLength!, 5 + i) }, (_, k) => k + i);
      case 'message':
        return sample(f.message!);
      default:
        throw new Error(f.kind);
    }
  };
  return oneMemberEach(
    rules,
    Object.fromEntries(rules.fields.map((f, i) => [f.property, f.repeated ? [one(f, i), one(f, i + 1)] : one(f, i)])),
  );
}

/** A value of `f` of `n` bytes (a string of ASCII, or bytes). */
export const ofLength = (f: CompiledField, n: number): unknown =>
  f.kind === 'string' ? 'x'.repeat(n) : new Uint8Array(n).fill(0xab);

/** A signed object's root message, with the decoder of objects.ts that checks it. */
export type ObjectRoot = { root: string; rules: MessageRules; decode: (body: Uint8Array) => unknown };
/** A packet body's root message, by body number. */
export type BodyRoot = { root: number; rules: MessageRules };
export type Route = { name: string; run: (value: Record<string, unknown>) => unknown };
export type Routes = { decode: Route[]; encode: Route[] };

/**
 * Every way a value of `rules` reaches a decoder: as a packet body (decodePacket / encodePacket) when a
 * body contains it, as a signed object's body when one does, and always on its own (checkEncoding /
 * checkFields, what every decoder of this package runs first).
 */
export function routes(rules: MessageRules, bodyRoots: BodyRoot[], objectRoots: ObjectRoot[]): Routes {
  const own = protoType(rules.name);
  const decode: Route[] = [
    { name: `checkEncoding(${rules.name})`, run: (v) => checkEncoding(own.encode(v).finish(), rules) },
  ];
  const encode: Route[] = [{ name: `checkFields(${rules.name})`, run: (v) => checkFields(v, rules) }];
  const body: MessagePath | undefined = pathTo(rules, bodyRoots);
  if (body !== undefined) {
    const n = body.root as number;
    const raw = (v: Record<string, unknown>) =>
      parley.v1.Packet.encode({ requestId: 1, [bodyProperty(n)]: wrap(body, v) } as never).finish();
    decode.push({ name: `decodePacket(body ${n})`, run: (v) => decodePacket(raw(v)) });
    encode.push({ name: `encodePacket(body ${n})`, run: (v) => encodePacket(packet(n, wrap(body, v))) });
  }
  const object = pathTo(rules, objectRoots);
  if (object !== undefined) {
    const root = objectRoots.find((r) => r.root === object.root)!;
    decode.push({
      name: `decode ${root.root}`,
      run: (v) => root.decode(protoType(root.root).encode(wrap(object, v)).finish()),
    });
  }
  return { decode, encode };
}

/** Every field of `protoRules` with a maximum length or count. */
export const limitedFields = (protoRules: readonly MessageRules[]) =>
  protoRules.flatMap((rules) =>
    rules.fields.filter((f) => f.maxLength !== undefined || f.maxCount !== undefined).map((f) => ({ rules, f })),
  );

/** Every uint64 field of `protoRules`. */
export const wideFields = (protoRules: readonly MessageRules[]) =>
  protoRules.flatMap((rules) => rules.fields.filter((f) => f.kind === 'uint64').map((f) => ({ rules, f })));

/** [WIRE-LIMIT-1]: one over the maximum of `f` is FIELD_LIMIT on every decode route and ApiMisuse on every
 * encode route; the maximum passes every encode route, checkEncoding and the packet decoder. */
export function expectLimit(f: CompiledField, { decode, encode }: Routes): void {
  const cases: { over: unknown; at: unknown; what: string }[] = [];
  if (f.repeated) {
    const element = f.maxLength !== undefined ? ofLength(f, f.maxLength) : zeroElement(f);
    cases.push({
      what: 'count',
      over: Array.from({ length: f.maxCount! + 1 }, () => element),
      at: Array.from({ length: f.maxCount! }, () => element),
    });
    if (f.maxLength !== undefined) {
      cases.push({ what: 'element', over: [ofLength(f, f.maxLength + 1)], at: [ofLength(f, f.maxLength)] });
    }
  } else cases.push({ what: 'length', over: ofLength(f, f.maxLength! + 1), at: ofLength(f, f.maxLength!) });
  for (const c of cases) {
    for (const d of decode) {
      expect(
        codeOf(() => d.run({ [f.property]: c.over })),
        `${c.what} ${d.name}`,
      ).toBe(ErrorCode.FIELD_LIMIT);
    }
    for (const e of encode) {
      expect(
        codeOf(() => e.run({ [f.property]: c.over })),
        `${c.what} ${e.name}`,
      ).toBe(ErrorCode.API_MISUSE);
      expect(
        codeOf(() => e.run({ [f.property]: c.at })),
        `${c.what} at the maximum ${e.name}`,
      ).toBe('ok');
    }
    // at the maximum the encoding rules and the packet decoder accept it (objects have more checks)
    for (const d of decode.filter((x) => !x.name.startsWith('decode '))) {
      expect(
        codeOf(() => d.run({ [f.property]: c.at })),
        `${c.what} at the maximum ${d.name}`,
      ).toBe('ok');
    }
  }
}

/** [WIRE-INT-1]: above 2^53-1 a uint64 field `f` is INTEGER_RANGE on every decode route and ApiMisuse on
 * every encode route; 2^53-1 passes checkEncoding, the packet decoder and, with `encodeMax`, every encoder. */
export function expectWide(f: CompiledField, { decode, encode }: Routes, encodeMax: boolean): void {
  for (const big of [2 ** 53, Long.MAX_UNSIGNED_VALUE]) {
    for (const d of decode)
      expect(
        codeOf(() => d.run({ [f.property]: big })),
        d.name,
      ).toBe(ErrorCode.INTEGER_RANGE);
    for (const e of encode)
      expect(
        codeOf(() => e.run({ [f.property]: big })),
        e.name,
      ).toBe(ErrorCode.API_MISUSE);
  }
  for (const d of decode.filter((x) => !x.name.startsWith('decode '))) {
    expect(
      codeOf(() => d.run({ [f.property]: Number.MAX_SAFE_INTEGER })),
      d.name,
    ).toBe('ok');
  }
  if (encodeMax)
    for (const e of encode)
      expect(
        codeOf(() => e.run({ [f.property]: Number.MAX_SAFE_INTEGER })),
        e.name,
      ).toBe('ok');
}
