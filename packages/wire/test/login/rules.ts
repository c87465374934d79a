/**
 * Helpers for the login tests, driven by the rules of spec/proto/parley/v1/login.proto
 * (packages/wire/src/login/messages.ts) rather than written by hand per field: arbitrary valid values
 * of any message, the path from a packet body (or a signed object) down to any message, and plain
 * forms of decoded values for deep comparison.
 */
import fc from 'fast-check';
import { stringArbitrary } from '../../fuzz/arbitraries.js';
import type { CompiledField, MessageRules } from '../../src/codec/rules.js';
import { parley } from '../../src/gen/parley.js';
import { LOGIN_BODIES } from '../../src/login/messages.js';
import { PACKET_RULES, type Packet } from '../../src/packet/index.js';

const MAX_UINT32 = 0xffff_ffff;
const MAX_ENUM = 0x7fff_ffff;

/** A valid value of one element of `f` (a scalar, or a message of its rules). */
function elementArbitrary(f: CompiledField): fc.Arbitrary<unknown> {
  switch (f.kind) {
    case 'uint32':
    case 'fixed32':
      return fc.oneof(fc.constant(0), fc.nat({ max: 300 }), fc.constant(MAX_UINT32), fc.nat({ max: MAX_UINT32 }));
    case 'enum':
      return fc.oneof(fc.constant(0), fc.nat({ max: 3 }), fc.nat({ max: MAX_ENUM }));
    case 'uint64':
    case 'fixed64':
      // [WIRE-INT-1] 64-bit fields are numbers of at most 2^53-1
      return fc.oneof(fc.constant(0), fc.nat({ max: 2 ** 32 }), fc.constant(Number.MAX_SAFE_INTEGER), fc.maxSafeNat());
    case 'bool':
      return fc.boolean();
    case 'string':
      return stringArbitrary(f.maxLength!);
    case 'bytes':
      return fc.oneof(
        { weight: 8, arbitrary: fc.uint8Array({ maxLength: Math.min(f.maxLength!, 40) }) },
        { weight: 1, arbitrary: fc.uint8Array({ minLength: f.maxLength!, maxLength: f.maxLength! }) },
      );
    case 'message':
      return messageArbitrary(f.message!);
  }
}

/**
 * Every valid value of a message as `decodePacket` returns it: each field an own property, its zero value
 * when absent, nested messages undefined when absent, repeated fields up to their maximum count.
 */
export function messageArbitrary(rules: MessageRules): fc.Arbitrary<Record<string, unknown>> {
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of rules.fields) {
    const one = elementArbitrary(f);
    if (f.repeated) {
      model[f.property] = fc.oneof(
        { weight: 8, arbitrary: fc.array(one, { maxLength: Math.min(f.maxCount!, 3) }) },
        { weight: 1, arbitrary: fc.array(one, { minLength: f.maxCount!, maxLength: f.maxCount! }) },
      );
    } else if (f.kind === 'message') {
      model[f.property] = fc.option(one, { nil: undefined, freq: 3 });
    } else model[f.property] = one;
  }
  return fc.record(model);
}

/** The `oneof body` property of a login body (camelCase of its name). */
export function bodyProperty(number: number): string {
  return PACKET_RULES.byNumber[number]!.property;
}

/** Every valid login packet (bodies 100-131). */
export function loginPacketArbitrary(): fc.Arbitrary<Packet> {
  return fc
    .tuple(
      fc.oneof(fc.constant(0), fc.nat({ max: MAX_UINT32 })),
      fc.oneof(
        ...LOGIN_BODIES.map((b) => messageArbitrary(b.rules).map((value) => ({ case: bodyProperty(b.number), value }))),
      ),
    )
    .map(([requestId, body]) => ({ requestId, body }) as unknown as Packet);
}

/** A value with byte strings as hex and every level a plain object: for deep, strict comparison. */
export function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) return `hex:${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}`;
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

/** Where a message sits: the root it is reached from, and the message fields leading down to it. */
export interface MessagePath {
  /** A packet body number, or the name of a signed object's root message. */
  readonly root: number | string;
  readonly rootRules: MessageRules;
  readonly steps: readonly CompiledField[];
}

/** The shortest path from one of `roots` down to `target` (undefined when none reaches it). */
export function pathTo(
  target: MessageRules,
  roots: readonly { root: number | string; rules: MessageRules }[],
): MessagePath | undefined {
  const queue: MessagePath[] = roots.map((r) => ({ root: r.root, rootRules: r.rules, steps: [] }));
  while (queue.length > 0) {
    const p = queue.shift()!;
    const at = p.steps.length === 0 ? p.rootRules : p.steps[p.steps.length - 1]!.message!;
    if (at === target) return p;
    for (const f of at.fields) if (f.kind === 'message') queue.push({ ...p, steps: [...p.steps, f] });
  }
  return undefined;
}

/** `value` (of the path's last message) wrapped in its parents up to the root message. */
export function wrap(path: MessagePath, value: Record<string, unknown>): Record<string, unknown> {
  let v = value;
  for (const step of [...path.steps].reverse()) v = { [step.property]: step.repeated ? [v] : v };
  return v;
}

/** The generated protobufjs type of a message of login.proto, by name. */
export function protoType(name: string): { encode(m: unknown): { finish(): Uint8Array } } {
  const t = (parley.v1 as unknown as Record<string, { encode(m: unknown): { finish(): Uint8Array } }>)[name];
  if (t === undefined) throw new Error(`no generated type ${name}`);
  return t;
}

/** The zero value of one element of `f`. */
export function zeroElement(f: CompiledField): unknown {
  switch (f.kind) {
    case 'string':
      return '';
    case 'bytes':
      return new Uint8Array(0);
    case 'message':
      return {};
    case 'bool':
      return false;
    default:
      return 0;
  }
}
