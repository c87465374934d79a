// The tables of spec/06-login-server.md against the code and the schema, so that they cannot drift
// apart: the limits table ([LOGIN-LIMIT-1]) against LOGIN_PROTO_RULES, the defaults and bounds of the
// network policy ([POLICY-GEN-3], [POLICY-GEN-4]) against POLICY_DEFAULTS and POLICY_BOUNDS, the published
// objects against the context registry, and the rules against login.proto.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { MessageRules } from '../../src/codec/rules.js';
import { parley } from '../../src/gen/parley.js';
import { SIGNATURE_CONTEXTS, SignatureContext } from '../../src/identity/signed.js';
import {
  LOGIN_BODIES,
  LOGIN_PROTO_RULES,
  MAX_LIST_PAGES,
  POLICY_BOUNDS,
  POLICY_DEFAULTS,
} from '../../src/login/index.js';
import {
  fieldsByMessage,
  limitRowsFromRules,
  limitRowsFromSpec,
  n,
  parseProto,
  read,
  table as specTable,
  unquote,
} from '../spec-text.js';

const CHAPTER = 'spec/06-login-server.md';
const specPath = CHAPTER;
const spec = read(specPath);

const table = (markdown: string, heading: string): string[][] => specTable(markdown, heading, specPath);
/** The first number of a cell (commas allowed), or undefined. */
const firstNumber = (s: string): number | undefined => {
  const m = /\d[\d,]*/.exec(unquote(s).replace(/^[a-z_.]+/, ''));
  return m ? Number(m[0].replaceAll(',', '')) : undefined;
};

describe(`the limits table of ${specPath} [LOGIN-LIMIT-1]`, () => {
  const rows = table(spec, 'Limits of login.proto');

  it('[LOGIN-LIMIT-1] lists exactly the maximums of LOGIN_PROTO_RULES, with their types', () => {
    const fromSpec = limitRowsFromSpec(rows);
    const fromRules = limitRowsFromRules(LOGIN_PROTO_RULES);
    expect(new Set(fromSpec).size).toBe(fromSpec.length);
    expect([...fromSpec].sort()).toEqual([...fromRules].sort());
  });

  it('[LOGIN-LIMIT-1] [LOGIN-PUB-1] the Signed fields allow their context maximum plus the 256-byte envelope', () => {
    const max = (m: string, f: string) =>
      LOGIN_PROTO_RULES.find((r) => r.name === m)!.fields.find((x) => x.name === f)!.maxLength!;
    const body = (c: SignatureContext) => SIGNATURE_CONTEXTS.get(c)!.maxBodyBytes;
    expect(max('PolicyReply', 'policy')).toBe(body(SignatureContext.SIGNATURE_CONTEXT_NETWORK_POLICY) + 256);
    expect(max('SupernodeListReply', 'page')).toBe(body(SignatureContext.SIGNATURE_CONTEXT_SUPERNODE_LIST) + 256);
    expect(max('RevocationListReply', 'page')).toBe(body(SignatureContext.SIGNATURE_CONTEXT_REVOCATION_LIST) + 256);
    expect(max('UploadPrekeys', 'signed_prekey')).toBe(body(SignatureContext.SIGNATURE_CONTEXT_PREKEY_BUNDLE) + 256);
    expect(max('CertificateReply', 'certificate')).toBe(2 * body(SignatureContext.SIGNATURE_CONTEXT_CERTIFICATE));
  });
});

describe('login.proto against the rules [LOGIN-LIMIT-1] [WIRE-LIMIT-1]', () => {
  const parsed = parseProto(read('spec/proto/parley/v1/login.proto'));
  const { messages } = parsed;

  it('[LOGIN-LIMIT-1] the rules describe every message and field of login.proto, number, type and repetition', () => {
    expect(messages.size).toBeGreaterThan(40);
    expect(new Set(LOGIN_PROTO_RULES.map((r) => r.name))).toEqual(messages);
    expect(LOGIN_PROTO_RULES.length).toBe(messages.size);
    const { fromRules, fromProto } = fieldsByMessage(LOGIN_PROTO_RULES, parsed);
    for (const rules of LOGIN_PROTO_RULES)
      expect(fromRules.get(rules.name), rules.name).toEqual(fromProto.get(rules.name));
  });

  it('[WIRE-PKT-5] the bodies 100-131 are the members of Packet.body of packet.proto with the same message types', () => {
    const packet = read('spec/proto/parley/v1/packet.proto').replace(/\/\/.*$/gm, '');
    const members = new Map(
      [...packet.matchAll(/^\s*(\w+)\s+(\w+)\s*=\s*(\d+)\s*;/gm)]
        .filter((m) => Number(m[3]) >= 100 && Number(m[3]) <= 199)
        .map((m) => [Number(m[3]), `${m[2]}:${m[1]}`]),
    );
    expect(new Map(LOGIN_BODIES.map((b) => [b.number, `${b.name}:${b.rules.name}`]))).toEqual(members);
  });
});

describe(`the network policy tables of ${specPath} [POLICY-GEN-3] [POLICY-GEN-4]`, () => {
  const rows = table(spec, 'Defaults and bounds').map(([field, unit, def, max]) => ({
    field: unquote(field!),
    unit: unit!,
    def: def!,
    max: max!,
  }));
  const camel = (s: string): string => s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
  /** The EffectivePolicy path of a wire field: `_s` fields become milliseconds (`...Ms`). */
  const effectivePath = (field: string, unit: string): string[] =>
    field
      .split('.')
      .map((part, i, all) =>
        i === all.length - 1 && unit === 's' ? `${camel(part.replace(/_s$/, ''))}Ms` : camel(part),
      );
  const scale = (unit: string): number => (unit === 's' ? 1000 : 1);
  const at = (o: unknown, path: string[]): unknown => path.reduce((x, k) => (x as Record<string, unknown>)?.[k], o);

  it('[POLICY-GEN-3] the defaults of the table are POLICY_DEFAULTS, every numeric parameter listed once', () => {
    const listed = new Set<string>();
    for (const r of rows) {
      const path = effectivePath(r.field, r.unit);
      const value = at(POLICY_DEFAULTS, path);
      expect(typeof value, r.field).toBe('number');
      expect(firstNumber(r.def)! * scale(r.unit), r.field).toBe(value);
      listed.add(path.join('.'));
    }
    const leaves: string[] = [];
    const walk = (o: Record<string, unknown>, prefix: string[]) => {
      for (const [k, v] of Object.entries(o)) {
        if (typeof v === 'number') leaves.push([...prefix, k].join('.'));
        else if (v !== null && typeof v === 'object' && !Array.isArray(v))
          walk(v as Record<string, unknown>, [...prefix, k]);
      }
    };
    walk(POLICY_DEFAULTS as unknown as Record<string, unknown>, []);
    expect([...listed].sort()).toEqual(leaves.sort());
    expect(listed.size).toBe(rows.length);
    // the lists: POLICY-GEN-3 says an empty protocol_versions is {1}; denied_software has no default entry
    expect(POLICY_DEFAULTS.protocolVersions).toEqual([1]);
    expect(POLICY_DEFAULTS.deniedSoftware).toEqual([]);
    expect(spec).toMatch(/empty `protocol_versions` as the\s+list \{1\}/);
  });

  it('[POLICY-GEN-4] the maxima of the table are POLICY_BOUNDS, the mode and the two shares', () => {
    const flat = (o: object, prefix = ''): [string, number][] =>
      Object.entries(o).flatMap(([k, v]) =>
        typeof v === 'number' ? [[`${prefix}${k}`, v] as [string, number]] : flat(v as object, `${prefix}${k}.`),
      );
    const expected = new Map<string, number>([
      ...flat(POLICY_BOUNDS),
      ['election.mode', parley.v1.ElectionMode.ELECTION_MODE_HYBRID],
      ['election.maxSharePerVersionPercent', 100],
      ['election.maxSharePerPrefixPercent', 100],
    ]);
    const fromSpec = new Map<string, number>();
    for (const r of rows) {
      const max = firstNumber(r.max);
      if (max !== undefined) fromSpec.set(effectivePath(r.field, r.unit).join('.'), max * scale(r.unit));
      else if (r.max !== '—') {
        // the two maxima that are another field of the same policy
        expect(unquote(r.max), r.field).toBe(
          r.field === 'directory.offline_messages_per_sender'
            ? 'directory.offline_messages_per_recipient'
            : 'rate_limits.login_backoff_max_ms',
        );
      }
    }
    expect(fromSpec).toEqual(expected);
  });
});

describe(`the published objects of ${specPath} [LOGIN-PUB-1]`, () => {
  it('[LOGIN-PUB-1] [POLICY-GEN-1] [LOGIN-LIST-3] contexts, body maxima and page counts are those of the registry', () => {
    const rows = table(spec, 'General rules');
    const objects = rows.map(([, message, context, , bodies]) => ({
      message: unquote(message!),
      context: /`(\w+)` \((\d+)\)/.exec(context!)!,
      bodies: bodies!,
    }));
    expect(objects.map((o) => o.message)).toEqual(['NetworkPolicy', 'SupernodeListPage', 'RevocationListPage']);
    for (const o of objects) {
      const id = Number(o.context[2]);
      const info = SIGNATURE_CONTEXTS.get(id as SignatureContext)!;
      expect(SignatureContext[id], o.message).toBe(o.context[1]);
      expect(o.bodies, o.message).toContain(`at most ${n(info.maxBodyBytes)} bytes`);
      if (o.message !== 'NetworkPolicy') expect(o.bodies).toContain(`1 to ${MAX_LIST_PAGES} pages`);
    }
  });
});

describe('requirement ids of the login tests', () => {
  it('every LOGIN- and POLICY- id a login test cites is defined in the chapter or its drafts', () => {
    const sources = [spec];
    const defined = new Set(
      sources.flatMap((s) =>
        [...s.matchAll(/^\s*(?:[-*+]|\d+\.)?\s*\[((?:LOGIN|POLICY)-(?:[A-Z0-9]+-)?\d+)\]/gm)].map((m) => m[1]!),
      ),
    );
    const here = new URL('./', import.meta.url);
    const cited = new Set<string>();
    for (const f of readdirSync(here).filter((x) => x.endsWith('.test.ts'))) {
      for (const m of readFileSync(new URL(f, here), 'utf8').matchAll(/\[((?:LOGIN|POLICY)-(?:[A-Z0-9]+-)?\d+)\]/g)) {
        cited.add(m[1]!);
      }
    }
    expect(cited.size).toBeGreaterThan(15);
    expect([...cited].filter((id) => !defined.has(id))).toEqual([]);
  });

  it('the rules name every message once (a message shared by two bodies is one entry)', () => {
    const names = LOGIN_PROTO_RULES.map((r: MessageRules) => r.name);
    expect(new Set(names).size).toBe(names.length);
  });
});
