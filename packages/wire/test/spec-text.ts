// Reading the spec's Markdown tables and .proto files, shared by the spec-table tests of login.proto and
// supernode.proto (test/login/spec-tables.test.ts, test/supernode/spec-tables.test.ts).
import { readFileSync } from 'node:fs';
import type { MessageRules } from '../src/codec/rules.js';

const root = new URL('../../../', import.meta.url);

/** A file of the repository, by its path from the repository root. */
export const read = (path: string): string => readFileSync(new URL(path, root), 'utf8');
/** The URL of a file of the repository, by its path from the repository root. */
export const repoUrl = (path: string): URL => new URL(path, root);

/**
 * The rows of the first Markdown table after the first heading whose text contains `heading`, without the
 * header row; `specPath` names the file in errors.
 */
export function table(markdown: string, heading: string, specPath: string): string[][] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => /^#+\s/.test(l) && l.includes(heading));
  if (start < 0) throw new Error(`${specPath}: no heading containing "${heading}"`);
  const rows: string[][] = [];
  let inTable = false;
  for (const line of lines.slice(start + 1)) {
    if (/^#+\s/.test(line)) break;
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
  if (rows.length < 2) throw new Error(`${specPath}: no table after "${heading}"`);
  return rows.slice(1); // without the header row
}
export const unquote = (s: string): string => s.replace(/`/g, '');
export const n = (x: number): string => x.toLocaleString('en');

export interface ProtoField {
  message: string;
  name: string;
  number: number;
  type: string;
  repeated: boolean;
}

/** The fields of every message of a .proto file, and its enum names (enough grammar for Parley's schemas). */
export function parseProto(proto: string): { fields: ProtoField[]; enums: Set<string>; messages: Set<string> } {
  const text = proto.replace(/\/\/.*$/gm, '');
  const enums = new Set([...text.matchAll(/enum\s+(\w+)\s*\{/g)].map((m) => m[1]!));
  const messages = new Set([...text.matchAll(/message\s+(\w+)\s*\{/g)].map((m) => m[1]!));
  const fields: ProtoField[] = [];
  // a message body up to its own closing brace (oneofs nest one level)
  for (const m of text.matchAll(/message\s+(\w+)\s*\{([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}/g)) {
    for (const f of m[2]!.matchAll(/^\s*(repeated\s+)?([\w.]+)\s+(\w+)\s*=\s*(\d+)\s*;/gm)) {
      fields.push({ message: m[1]!, name: f[3]!, number: Number(f[4]), type: f[2]!, repeated: f[1] !== undefined });
    }
  }
  return { fields, enums, messages };
}

/**
 * The fields of every message of `protoRules` as sorted `name=number:[repeated ]kind[<Message>]` lines, once
 * from the rules and once from the parsed .proto (`parseProto`), by message name: equal when the rules
 * describe the .proto's numbers, types and repetition exactly.
 */
export function fieldsByMessage(
  protoRules: readonly MessageRules[],
  proto: ReturnType<typeof parseProto>,
): { fromRules: Map<string, string[]>; fromProto: Map<string, string[]> } {
  const kind = (type: string): string =>
    ['uint32', 'uint64', 'string', 'bytes', 'bool'].includes(type) ? type : proto.enums.has(type) ? 'enum' : 'message';
  const describe = (name: string, number: number, k: string, repeated: boolean, message?: string) =>
    `${name}=${number}:${repeated ? 'repeated ' : ''}${k}${message ? `<${message}>` : ''}`;
  const fromRules = new Map<string, string[]>();
  const fromProto = new Map<string, string[]>();
  for (const rules of protoRules) {
    fromRules.set(
      rules.name,
      rules.fields.map((f) => describe(f.name, f.number, f.kind, f.repeated === true, f.message?.name)).sort(),
    );
    fromProto.set(
      rules.name,
      proto.fields
        .filter((f) => f.message === rules.name)
        .map((f) =>
          describe(f.name, f.number, kind(f.type), f.repeated, kind(f.type) === 'message' ? f.type : undefined),
        )
        .sort(),
    );
  }
  return { fromRules, fromProto };
}

/** The rows of a limits table (`Message.field | type | maximum`), from the table's cells. */
export const limitRowsFromSpec = (rows: string[][]): string[] =>
  rows.map(([m, f, type, max]) => `${unquote(m!)}.${unquote(f!)} | ${type} | ${max}`);

/** The rows a limits table must have: every field of `protoRules` with a maximum, its type and maximum. */
export function limitRowsFromRules(protoRules: readonly MessageRules[]): string[] {
  const out: string[] = [];
  for (const rules of protoRules) {
    for (const f of rules.fields) {
      if (f.maxLength === undefined && f.maxCount === undefined) continue;
      const type = f.repeated ? `repeated ${f.kind === 'message' ? f.message!.name : f.kind}` : f.kind;
      const max = !f.repeated
        ? `${n(f.maxLength!)} bytes`
        : f.maxLength === undefined
          ? `${n(f.maxCount!)} elements`
          : `${n(f.maxCount!)} elements of at most ${n(f.maxLength)} bytes`;
      out.push(`${rules.name}.${f.name} | ${type} | ${max}`);
    }
  }
  return out;
}
