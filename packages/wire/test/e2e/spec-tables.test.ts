// The tables of spec/10-e2e.md against the code: the limits table ([E2E-LIMIT-1]) against E2E_RULES and the
// parameters against the constants.
import { describe, expect, it } from 'vitest';
import {
  E2E_RULES,
  MAX_E2E_PLAINTEXT_BYTES,
  MAX_SESSIONS_PER_DEVICE,
  MAX_SKIP,
  MAX_SKIPPED_KEYS_TOTAL,
  SKIPPED_KEY_STEPS,
  STANDBY_WINDOW_MS,
} from '../../src/e2e/index.js';
import { limitRowsFromRules, limitRowsFromSpec, read, table } from '../spec-text.js';

const specPath = 'spec/10-e2e.md';
const spec = read(specPath);

describe(`the tables of ${specPath}`, () => {
  it('[E2E-LIMIT-1] the limits table lists exactly the maximums of the rules of e2e.proto', () => {
    const fromSpec = limitRowsFromSpec(table(spec, 'Limits of e2e.proto', specPath));
    const fromRules = limitRowsFromRules(E2E_RULES);
    expect([...fromSpec].sort()).toEqual([...fromRules].sort());
  });

  it('[E2E-SKIP-1] [E2E-SKIP-2] [E2E-SKIP-3] [E2E-STORE-1] [E2E-STORE-3] the parameters table gives the constants', () => {
    const rows = table(spec, 'Parameters', specPath);
    const value = (name: string) => rows.find((r) => r[0] === `\`${name}\``)?.[1];
    const num = (v: string | undefined) => Number((v ?? '').replace(/[^0-9]/g, ''));
    expect(num(value('max-skip'))).toBe(MAX_SKIP);
    expect(num(value('skipped-key-steps'))).toBe(SKIPPED_KEY_STEPS);
    expect(num(value('skipped-keys-max'))).toBe(MAX_SKIPPED_KEYS_TOTAL);
    expect(num(value('sessions-per-device'))).toBe(MAX_SESSIONS_PER_DEVICE);
    expect(num(value('standby-window')?.replace(/.*\(/, ''))).toBe(STANDBY_WINDOW_MS);
    expect(num(rows.find((r) => r[0]!.startsWith('largest plaintext'))?.[1])).toBe(MAX_E2E_PLAINTEXT_BYTES);
  });
});
