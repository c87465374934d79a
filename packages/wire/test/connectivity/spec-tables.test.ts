// The tables of spec/08-connectivity.md against the code and the schema, so that they cannot drift apart: the
// limits table ([NAT-LIMIT-1]) against CONNECTIVITY_PROTO_RULES, the signed attestation's maximum against the
// context registry, the rules against connectivity.proto, the bodies against packet.proto, the datagram
// constants against §3, and the requirement ids the wire tests cite against the chapter.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ATTESTATION_LIFETIME_MS,
  CLASSIFY_WAIT_MS,
  CONNECTIVITY_BODIES,
  CONNECTIVITY_PROTO_RULES,
  MAX_CANDIDATES,
  MAX_PROBE_ENDPOINTS,
  MAX_PROBE_LENGTH,
  MAX_RELAY_DATA_LENGTH,
  MAX_SIGNED_ATTESTATION_BYTES,
  MIN_PROBE_LENGTH,
  MIN_RELAY_DATA_LENGTH,
  PROBE_RETRANSMIT_MS,
  PROBE_TRIES,
  PUNCH_LENGTH,
  RELAY_BIND_LENGTH,
} from '../../src/connectivity/index.js';
import { MAX_ATTESTATION_BYTES, SIGNATURE_CONTEXTS, SignatureContext } from '../../src/identity/signed.js';
import { MAX_ENCODED_CERTIFICATE_BYTES, POLICY_DEFAULTS } from '../../src/login/index.js';
import {
  fieldsByMessage,
  limitRowsFromRules,
  limitRowsFromSpec,
  parseProto,
  read,
  table as specTable,
} from '../spec-text.js';

const specPath = 'spec/08-connectivity.md';
const spec = read(specPath);

const table = (markdown: string, heading: string): string[][] => specTable(markdown, heading, specPath);

describe(`the limits table of ${specPath} [NAT-LIMIT-1]`, () => {
  it('[NAT-LIMIT-1] lists exactly the maximums of CONNECTIVITY_PROTO_RULES, with their types', () => {
    const rows = table(spec, 'Limits of connectivity.proto');
    const fromSpec = limitRowsFromSpec(rows);
    const fromRules = limitRowsFromRules(CONNECTIVITY_PROTO_RULES);
    expect(new Set(fromSpec).size).toBe(fromSpec.length);
    expect([...fromSpec].sort()).toEqual([...fromRules].sort());
  });

  it('[NAT-LIMIT-1] the signed attestation: a body of 512 bytes, the envelope field 256 more, a certificate 1,024', () => {
    const context = SIGNATURE_CONTEXTS.get(SignatureContext.SIGNATURE_CONTEXT_ATTESTATION)!;
    expect(context.name).toBe('parley/v1 attestation');
    expect(context.maxBodyBytes).toBe(MAX_ATTESTATION_BYTES);
    expect(MAX_ATTESTATION_BYTES).toBe(512);
    expect(MAX_SIGNED_ATTESTATION_BYTES).toBe(512 + 256);
    expect(MAX_ENCODED_CERTIFICATE_BYTES).toBe(1_024);
    expect(spec.replace(/\s+/g, ' ')).toContain('an `Attestation` body of at most 512 bytes');
    // The largest attestation fits: every field at its maximum, with its tag and length.
    const largest = 2 + (2 + 32) + (2 + 64) + (2 + 16) + (2 + 16) + 4 + 2 + 4 + 2 + (2 + 32) + 11 + 11;
    expect(largest).toBeLessThan(MAX_ATTESTATION_BYTES);
  });
});

describe('connectivity.proto against the rules [NAT-LIMIT-1] [WIRE-LIMIT-1]', () => {
  const parsed = parseProto(read('spec/proto/parley/v1/connectivity.proto'));
  const { messages } = parsed;

  it('[NAT-LIMIT-1] the rules describe every message and field of connectivity.proto, number, type and repetition', () => {
    expect(messages.size).toBe(21);
    expect(new Set(CONNECTIVITY_PROTO_RULES.map((r) => r.name))).toEqual(messages);
    expect(CONNECTIVITY_PROTO_RULES.length).toBe(messages.size);
    const { fromRules, fromProto } = fieldsByMessage(CONNECTIVITY_PROTO_RULES, parsed);
    for (const rules of CONNECTIVITY_PROTO_RULES)
      expect(fromRules.get(rules.name), rules.name).toEqual(fromProto.get(rules.name));
  });

  it('[WIRE-PKT-5] the bodies 240-299 are the members of Packet.body of packet.proto with the same message types', () => {
    const packet = read('spec/proto/parley/v1/packet.proto').replace(/\/\/.*$/gm, '');
    const members = new Map(
      [...packet.matchAll(/^\s*(\w+)\s+(\w+)\s*=\s*(\d+)\s*;/gm)]
        .filter((m) => Number(m[3]) >= 240 && Number(m[3]) <= 299)
        .map((m) => [Number(m[3]), `${m[2]}:${m[1]}`]),
    );
    expect(new Map(CONNECTIVITY_BODIES.map((b) => [b.number, `${b.name}:${b.rules.name}`]))).toEqual(members);
  });

  it('[WIRE-PKT-5] the chapter lists every body with its number', () => {
    for (const b of CONNECTIVITY_BODIES)
      expect(spec, `${b.rules.name} ${b.number}`).toContain(`| ${b.number} | \`${b.rules.name}\``);
  });
});

describe('the datagrams and parameters of the chapter [NAT-DGRAM-3] [NAT-LIMIT-2]', () => {
  it('[NAT-DGRAM-3] the datagram table of §3 gives the lengths of datagrams.ts', () => {
    const rows = new Map(table(spec, '3.2 Datagram layouts').map((r) => [unquoteType(r[0]!), r[r.length - 1]!]));
    expect(rows.get('0x02')).toBe(`${MIN_PROBE_LENGTH}..${MAX_PROBE_LENGTH.toLocaleString('en')}`);
    expect(rows.get('0x03')).toBe(`${MIN_PROBE_LENGTH}..${MAX_PROBE_LENGTH.toLocaleString('en')}`);
    expect(rows.get('0x04')).toBe(String(RELAY_BIND_LENGTH));
    expect(rows.get('0x05')).toBe(String(RELAY_BIND_LENGTH));
    expect(rows.get('0x06')).toBe(`${MIN_RELAY_DATA_LENGTH}..${MAX_RELAY_DATA_LENGTH.toLocaleString('en')}`);
    expect(rows.get('0x07')).toBe(String(PUNCH_LENGTH));
  });

  it('[NAT-LIMIT-2] the parameters the wire package implements have the values of the table', () => {
    const rows = new Map(table(spec, '10.2 Parameters').map((r) => [unquoteType(r[0]!), r[1]!]));
    expect(rows.get('probe-min')).toBe(`${MIN_PROBE_LENGTH} bytes`);
    expect(rows.get('classify-wait')).toBe(`${CLASSIFY_WAIT_MS.toLocaleString('en')} ms`);
    expect(rows.get('probe-retransmit')).toBe(`${PROBE_RETRANSMIT_MS} ms, doubling; ${PROBE_TRIES} transmissions`);
    expect(rows.get('attestation-lifetime')).toBe(`${ATTESTATION_LIFETIME_MS.toLocaleString('en')} ms (1 h)`);
    expect(rows.get('candidates')).toBe(`1..${MAX_CANDIDATES}`);
    expect(rows.get('probe endpoints')).toBe(`0..${MAX_PROBE_ENDPOINTS}`);
    const relay = POLICY_DEFAULTS.relay;
    expect(rows.get('relay lifetime')).toContain(`${(relay.allocationLifetimeMs / 1_000).toLocaleString('en')} s`);
    expect(rows.get('relay bytes')).toContain(`${relay.allocationBytes.toLocaleString('en')} bytes`);
    expect(rows.get('relay rate')).toContain(`${relay.allocationBytesPerS.toLocaleString('en')} bytes/s`);
    expect(rows.get('relay allocations per user')).toContain(String(relay.allocationsPerUser));
  });
});

const unquoteType = (s: string): string => s.replace(/`/g, '');

describe('requirement ids of chapter 08 cited by the wire tests', () => {
  const PREFIXES = '(?:NAT|RELAY|ATTEST)-[A-Z]+-\\d+';
  const defined = [...spec.matchAll(new RegExp(`^\\s*(?:[-*+]|\\d+\\.)?\\s*\\[(${PREFIXES})\\]`, 'gm'))].map(
    (m) => m[1]!,
  );
  const here = new URL('./', import.meta.url);
  const cited = new Set<string>();
  for (const f of readdirSync(here).filter((x) => x.endsWith('.test.ts'))) {
    for (const m of readFileSync(new URL(f, here), 'utf8').matchAll(new RegExp(`\\[(${PREFIXES})\\]`, 'g')))
      cited.add(m[1]!);
  }

  it('every id is defined once, and every id a test here cites is defined', () => {
    expect(new Set(defined).size).toBe(defined.length);
    expect(defined.length).toBeGreaterThanOrEqual(50);
    expect([...cited].filter((id) => !defined.includes(id))).toEqual([]);
  });

  it('the requirements of the wire package (datagrams, limits, classification, attestations) are cited here', () => {
    const wire = ['NAT-DGRAM-1', 'NAT-DGRAM-2', 'NAT-DGRAM-3', 'NAT-LIMIT-1', 'NAT-LIMIT-2', 'NAT-OBS-3', 'NAT-OBS-6'];
    wire.push('NAT-CLASS-5', 'NAT-PUNCH-6', 'RELAY-BIND-1', 'ATTEST-SIGN-1', 'ATTEST-VERIFY-1');
    expect(wire.filter((id) => !cited.has(id))).toEqual([]);
  });
});
