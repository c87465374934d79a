// The tables of spec/02-identity.md and the reference implementation say the same thing: the context
// registry (§4.2), the maximum lifetimes (§5.1, ID-CERT-10) and the field maxima of the rules objects.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parley } from '../../src/gen/parley.js';
import {
  CERTIFICATE_RULES,
  HANDSHAKE_PAYLOAD_RULES,
  MAX_LIFETIME_MS,
  Role,
  SIGNATURE_CONTEXTS,
  SIGNED_RULES,
} from '../../src/identity/index.js';

const spec = readFileSync(new URL('../../../../spec/02-identity.md', import.meta.url), 'utf8');

function tableAfter(heading: string): string[][] {
  const at = spec.indexOf(heading);
  expect(at, heading).toBeGreaterThan(0);
  const rows: string[][] = [];
  let started = false;
  for (const line of spec.slice(at).split('\n').slice(1)) {
    const t = line.trim();
    if (!t.startsWith('|')) {
      if (started) break;
      continue;
    }
    started = true;
    if (/^\|[-| ]+\|$/.test(t)) continue;
    rows.push(
      t
        .split('|')
        .slice(1, -1)
        .map((c) => c.trim()),
    );
  }
  return rows.slice(1); // without the header row
}

describe('spec tables match the implementation (spec/02-identity.md)', () => {
  it('[ID-SIG-3] the context registry table lists exactly SIGNATURE_CONTEXTS', () => {
    const rows = tableAfter('### 4.2 Context registry').filter((r) => r[0] !== '0');
    expect(
      rows.map((r) => [
        Number(r[0]),
        r[1]!.replace(/`/g, ''),
        r[2]!.replace(/`/g, ''),
        Number.parseInt(r[4]!.replace(/,/g, ''), 10),
      ]),
    ).toEqual(
      [...SIGNATURE_CONTEXTS.values()].map((c) => [c.id, parley.v1.SignatureContext[c.id], c.name, c.maxBodyBytes]),
    );
  });

  it('[ID-CERT-10] the maximum lifetime table matches MAX_LIFETIME_MS', () => {
    const rows = tableAfter('- [ID-CERT-10]');
    const ms = (r: string[]) => Number(/\(([\d,]+) ms\)/.exec(r[1]!)![1]!.replace(/,/g, ''));
    expect(rows.map((r) => [r[0]!.replace(/`/g, ''), ms(r)])).toEqual([
      ['ROLE_USER', MAX_LIFETIME_MS[Role.ROLE_USER]],
      ['ROLE_SUPERNODE', MAX_LIFETIME_MS[Role.ROLE_SUPERNODE]],
      ['ROLE_LOGIN', MAX_LIFETIME_MS[Role.ROLE_LOGIN]],
    ]);
  });

  it('[ID-CERT-1] [ID-SIG-5] [ID-HS-1] the rules objects carry the maxima the chapter states', () => {
    const max = (rules: typeof SIGNED_RULES, name: string) => {
      const f = rules.fields.find((x) => x.name === name)!;
      return f.repeated ? f.maxCount : f.maxLength;
    };
    expect(max(SIGNED_RULES, 'body')).toBe(65_535);
    expect(max(SIGNED_RULES, 'signature')).toBe(64);
    expect(max(SIGNED_RULES, 'signer_key_id')).toBe(32);
    expect(max(CERTIFICATE_RULES, 'subject')).toBe(64);
    expect(max(CERTIFICATE_RULES, 'subject_key')).toBe(32);
    expect(max(CERTIFICATE_RULES, 'device_id')).toBe(16);
    expect(max(CERTIFICATE_RULES, 'issuer_key_id')).toBe(32);
    expect(max(HANDSHAKE_PAYLOAD_RULES, 'certificates')).toBe(2);
    expect(max(HANDSHAKE_PAYLOAD_RULES, 'static_key_signature')).toBe(64);
    expect(max(HANDSHAKE_PAYLOAD_RULES, 'protocol_versions')).toBe(16);
    expect(max(HANDSHAKE_PAYLOAD_RULES, 'software')).toBe(64);
    // every field of the schema has a rule, and no rule names a field the schema lacks
    for (const [rules, type] of [
      [SIGNED_RULES, parley.v1.Signed],
      [CERTIFICATE_RULES, parley.v1.Certificate],
      [HANDSHAKE_PAYLOAD_RULES, parley.v1.HandshakePayload],
    ] as const) {
      const props = Object.keys(type.prototype).filter((k) => !k.startsWith('$') && k !== 'constructor');
      expect(rules.fields.map((f) => f.property).sort()).toEqual(props.sort());
    }
  });
});
