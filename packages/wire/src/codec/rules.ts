/**
 * Declarative field rules for a protobuf message: the limits of spec/01-packets.md §6 (WIRE-LIMIT-*)
 * and the encoding rules of §3-§5 (WIRE-ENC-*, WIRE-INT-*, WIRE-UTF8-*), written once per message
 * and enforced by `checkEncoding` (receiver) and `checkFields` (sender) in ./check.ts.
 *
 * A chapter's limits table and its rules object say the same thing; a test compares them. Every
 * string, bytes and repeated field must have a maximum: `defineMessage` refuses a rule without one.
 */

/** The proto3 scalar or composite type of a field, as it matters for validation. */
export type FieldKind =
  | 'uint32' // varint, value at most 2^32-1
  | 'enum' // varint, value 0..2^31-1 (negative enum values are never sent)
  | 'uint64' // varint, value at most 2^53-1 (WIRE-INT-1)
  | 'bool' // varint, 0 or 1
  | 'fixed32' // 4 bytes
  | 'fixed64' // 8 bytes
  | 'string' // length-delimited, UTF-8, at most `maxLength` bytes
  | 'bytes' // length-delimited, at most `maxLength` bytes
  | 'message'; // length-delimited, checked against `message`

export interface FieldRule {
  /** The field number in the .proto file. */
  readonly number: number;
  /** The field name as written in the .proto file and in the spec's limits table (snake_case). */
  readonly name: string;
  readonly kind: FieldKind;
  /** string and bytes: the maximum length in bytes (of each element when repeated). */
  readonly maxLength?: number;
  /** repeated fields: the maximum number of elements. */
  readonly maxCount?: number;
  readonly repeated?: boolean;
  /** The name of the `oneof` the field belongs to: at most one member may occur (WIRE-ENC-4). */
  readonly oneof?: string;
  /** kind 'message': the rules of the embedded message. */
  readonly message?: MessageRules;
}

/**
 * Field numbers reserved for `oneof` members that later chapters define: a receiver that does not know
 * such a member counts it as a member of `oneof` (so it cannot occur beside another member) and skips it.
 * Every member in the range is a message (wire type 2).
 */
export interface ReservedOneofRange {
  readonly oneof: string;
  readonly from: number;
  readonly to: number;
}

export interface MessageRulesInput {
  /** The message name in the .proto file (`Packet`, `Close`, ...). */
  readonly name: string;
  readonly fields: readonly FieldRule[];
  readonly reservedOneofRanges?: readonly ReservedOneofRange[];
}

/** A compiled field: the rule plus what the checker needs at hand. */
export interface CompiledField extends FieldRule {
  /** The protobuf wire type of one element: 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32. */
  readonly wireType: number;
  /** For varint kinds: how many low bits may be set (32, 31, 53 or 1). */
  readonly valueBits: number;
  /** Singular fields and oneof members: the bit in the occurrence mask (members of a oneof share one). */
  readonly slotBit: number;
  /** Repeated fields: the index of the element counter. */
  readonly counter: number;
  /** The JavaScript property protobufjs uses for the field (camelCase). */
  readonly property: string;
}

export interface MessageRules {
  readonly name: string;
  readonly fields: readonly CompiledField[];
  /** Indexed by field number; undefined for unknown numbers. */
  readonly byNumber: readonly (CompiledField | undefined)[];
  readonly reservedOneofRanges: readonly ReservedOneofRange[];
  /** The occurrence-mask bit of each oneof, by oneof name. */
  readonly oneofBits: Readonly<Record<string, number>>;
  /** How many repeated fields (element counters) the message has. */
  readonly counters: number;
}

const WIRE_TYPE: Record<FieldKind, number> = {
  uint32: 0,
  enum: 0,
  uint64: 0,
  bool: 0,
  fixed32: 5,
  fixed64: 1,
  string: 2,
  bytes: 2,
  message: 2,
};
const VALUE_BITS: Record<FieldKind, number> = {
  uint32: 32,
  enum: 31,
  uint64: 53,
  bool: 1,
  fixed32: 32,
  fixed64: 64,
  string: 0,
  bytes: 0,
  message: 0,
};

function camelCase(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/**
 * Compiles the rules of one message. Throws (at module load, a programming error) when a string,
 * bytes or repeated field has no maximum [WIRE-LIMIT-1], a number repeats, or a oneof member is repeated.
 */
export function defineMessage(input: MessageRulesInput): MessageRules {
  const byNumber: (CompiledField | undefined)[] = [];
  const oneofBits: Record<string, number> = {};
  const fields: CompiledField[] = [];
  let slots = 0;
  let counters = 0;
  const slot = (): number => {
    if (slots >= 31) throw new Error(`${input.name}: more than 31 singular fields`);
    return 1 << slots++;
  };
  for (const r of input.reservedOneofRanges ?? []) oneofBits[r.oneof] ??= slot();
  for (const f of input.fields) {
    const where = `${input.name}.${f.name}`;
    if (!Number.isInteger(f.number) || f.number < 1 || f.number > 536_870_911) throw new Error(`${where}: bad number`);
    if (byNumber[f.number] !== undefined) throw new Error(`${where}: number ${f.number} used twice`);
    if ((f.kind === 'string' || f.kind === 'bytes') && f.maxLength === undefined) {
      throw new Error(`${where}: a ${f.kind} field needs maxLength`);
    }
    if (f.repeated && f.maxCount === undefined) throw new Error(`${where}: a repeated field needs maxCount`);
    if (f.repeated && f.oneof !== undefined) throw new Error(`${where}: a oneof member cannot be repeated`);
    if (f.kind === 'message' && f.message === undefined) throw new Error(`${where}: a message field needs its rules`);
    let slotBit = 0;
    if (f.oneof !== undefined) slotBit = oneofBits[f.oneof] ??= slot();
    else if (!f.repeated) slotBit = slot();
    // One object shape for every field, whatever the rule listed: keeps the checker's property reads
    // monomorphic (a spread of differently-shaped rules made them megamorphic and 3x slower).
    const compiled: CompiledField = {
      number: f.number,
      name: f.name,
      kind: f.kind,
      maxLength: f.maxLength,
      maxCount: f.maxCount,
      repeated: f.repeated === true,
      oneof: f.oneof,
      message: f.message,
      wireType: WIRE_TYPE[f.kind],
      valueBits: VALUE_BITS[f.kind],
      slotBit,
      counter: f.repeated ? counters++ : -1,
      property: camelCase(f.name),
    };
    byNumber[f.number] = compiled;
    fields.push(compiled);
  }
  for (const r of input.reservedOneofRanges ?? []) {
    for (let n = r.from; n <= r.to; n++) {
      const f = byNumber[n];
      if (f !== undefined && f.oneof !== r.oneof)
        throw new Error(`${input.name}.${f.name}: in a range reserved for ${r.oneof}`);
    }
  }
  return Object.freeze({
    name: input.name,
    fields: Object.freeze(fields),
    byNumber: Object.freeze(byNumber),
    reservedOneofRanges: Object.freeze([...(input.reservedOneofRanges ?? [])]),
    oneofBits: Object.freeze(oneofBits),
    counters,
  });
}
