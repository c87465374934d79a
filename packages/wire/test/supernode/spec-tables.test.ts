// The tables of spec/07-supernode.md against the code and the schema, so that they cannot drift apart: the
// limits table ([SN-LIMIT-1]) against SUPERNODE_PROTO_RULES, the signed-object maxima ([SN-LIMIT-2])
// against the context registry, the rules against supernode.proto, the bodies against packet.proto, and
// the requirement ids of these sections against the tests that cite them.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MAX_CERTIFICATE_BYTES, SIGNATURE_CONTEXTS, SignatureContext } from '../../src/identity/signed.js';
import {
  MAX_OFFLINE_CIPHERTEXT_BYTES,
  MAX_SEALED_ENDPOINTS_BYTES,
  SUPERNODE_BODIES,
  SUPERNODE_PROTO_RULES,
} from '../../src/supernode/index.js';
import {
  fieldsByMessage,
  limitRowsFromRules,
  limitRowsFromSpec,
  parseProto,
  read,
  table as specTable,
} from '../spec-text.js';

const specPath = 'spec/07-supernode.md';
const spec = read(specPath);

const table = (markdown: string, heading: string): string[][] => specTable(markdown, heading, specPath);

describe(`the limits table of ${specPath} [SN-LIMIT-1] [SN-LIMIT-2]`, () => {
  it('[SN-LIMIT-1] lists exactly the maximums of SUPERNODE_PROTO_RULES, with their types', () => {
    const rows = table(spec, 'Limits of supernode.proto');
    const fromSpec = limitRowsFromSpec(rows);
    const fromRules = limitRowsFromRules(SUPERNODE_PROTO_RULES);
    expect(new Set(fromSpec).size).toBe(fromSpec.length);
    expect([...fromSpec].sort()).toEqual([...fromRules].sort());
  });

  it('[SN-LIMIT-2] the signed bodies have their context maximum; envelope fields allow it plus 256 bytes', () => {
    const body = (c: SignatureContext) => SIGNATURE_CONTEXTS.get(c)!.maxBodyBytes;
    const max = (m: string, f: string) =>
      SUPERNODE_PROTO_RULES.find((r) => r.name === m)!.fields.find((x) => x.name === f)!.maxLength!;
    expect(body(SignatureContext.SIGNATURE_CONTEXT_PRESENCE_RECORD)).toBe(1_024);
    expect(body(SignatureContext.SIGNATURE_CONTEXT_OFFLINE_MESSAGE)).toBe(17_408);
    expect(SIGNATURE_CONTEXTS.get(SignatureContext.SIGNATURE_CONTEXT_OFFLINE_MESSAGE)!.name).toBe(
      'parley/v1 offline-message',
    );
    expect(max('PresenceEnvelope', 'record')).toBe(body(SignatureContext.SIGNATURE_CONTEXT_PRESENCE_RECORD) + 256);
    expect(max('OfflineEnvelope', 'message')).toBe(body(SignatureContext.SIGNATURE_CONTEXT_OFFLINE_MESSAGE) + 256);
    expect(max('PresenceEnvelope', 'certificate')).toBe(2 * MAX_CERTIFICATE_BYTES);
    expect(max('OfflineEnvelope', 'certificate')).toBe(2 * MAX_CERTIFICATE_BYTES);
    expect(spec).toContain('a `PresenceRecord` 1,024 bytes, an `OfflineMessage` 17,408 bytes');
    // the largest record and message fit their context with room for their other fields
    expect(MAX_SEALED_ENDPOINTS_BYTES + 3 + 2 * 66 + 18 + 34 + 3 * 11 + 6).toBeLessThan(1_024);
    expect(MAX_OFFLINE_CIPHERTEXT_BYTES + 3 + 2 * 66 + 2 * 18 + 2 * 11 + 6).toBeLessThan(17_408);
  });

  it('[SN-LIMIT-2] the context registry of 02-identity.md names contexts 3 and 11 with these maxima', () => {
    const identity = read('spec/02-identity.md');
    expect(identity).toMatch(
      /\| 3 \| `SIGNATURE_CONTEXT_PRESENCE_RECORD` \| `parley\/v1 presence-record` \| [^|]+ \| 1,024 \| 07 \|/,
    );
    expect(identity).toMatch(
      /\| 11 \| `SIGNATURE_CONTEXT_OFFLINE_MESSAGE` \| `parley\/v1 offline-message` \| [^|]+ \| 17,408 \| 07 \|/,
    );
  });
});

describe('supernode.proto against the rules [SN-LIMIT-1] [WIRE-LIMIT-1]', () => {
  const parsed = parseProto(read('spec/proto/parley/v1/supernode.proto'));
  const { messages } = parsed;

  it('[SN-LIMIT-1] the rules describe every message and field of supernode.proto, number, type and repetition', () => {
    expect(messages.size).toBe(23);
    expect(new Set(SUPERNODE_PROTO_RULES.map((r) => r.name))).toEqual(messages);
    expect(SUPERNODE_PROTO_RULES.length).toBe(messages.size);
    const { fromRules, fromProto } = fieldsByMessage(SUPERNODE_PROTO_RULES, parsed);
    for (const rules of SUPERNODE_PROTO_RULES)
      expect(fromRules.get(rules.name), rules.name).toEqual(fromProto.get(rules.name));
    // the oneof of AttachReply is a oneof in the rules
    const reply = SUPERNODE_PROTO_RULES.find((r) => r.name === 'AttachReply')!;
    expect(reply.fields.map((f) => f.oneof)).toEqual(['result', 'result']);
  });

  it('[WIRE-PKT-5] the bodies 200-239 are the members of Packet.body of packet.proto with the same message types', () => {
    const packet = read('spec/proto/parley/v1/packet.proto').replace(/\/\/.*$/gm, '');
    const members = new Map(
      [...packet.matchAll(/^\s*(\w+)\s+(\w+)\s*=\s*(\d+)\s*;/gm)]
        .filter((m) => Number(m[3]) >= 200 && Number(m[3]) <= 239)
        .map((m) => [Number(m[3]), `${m[2]}:${m[1]}`]),
    );
    expect(new Map(SUPERNODE_BODIES.map((b) => [b.number, `${b.name}:${b.rules.name}`]))).toEqual(members);
  });
});

describe('requirement ids of the wire sections of chapter 07', () => {
  const ID = /\[((?:SN-PLACE|SN-LIMIT|DIR-REC|STORE-MSG)-\d+)\]/g;
  const defined = [...spec.matchAll(/^\s*(?:[-*+]|\d+\.)?\s*\[((?:SN-PLACE|SN-LIMIT|DIR-REC|STORE-MSG)-\d+)\]/gm)].map(
    (m) => m[1]!,
  );
  const here = new URL('./', import.meta.url);
  const cited = new Set<string>();
  for (const f of readdirSync(here).filter((x) => x.endsWith('.test.ts'))) {
    for (const m of readFileSync(new URL(f, here), 'utf8').matchAll(ID)) cited.add(m[1]!);
  }

  it('every id is defined once, and every id a test here cites is defined', () => {
    expect(new Set(defined).size).toBe(defined.length);
    expect(defined.length).toBeGreaterThanOrEqual(25);
    expect([...cited].filter((id) => !defined.includes(id))).toEqual([]);
  });

  it('every requirement of these sections is cited by a test', () => {
    expect(defined.filter((id) => !cited.has(id))).toEqual([]);
  });
});
