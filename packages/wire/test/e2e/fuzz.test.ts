// The fuzz targets of spec/10-e2e.md behind `pnpm fuzz` (01 WIRE-LIMIT-5): registered, and a short seeded run
// of each finds nothing but ParleyErrors (and, for decryption, no refused input that changed the store).
import { describe, expect, it } from 'vitest';
import { decryptFixed, e2eDecryptValidInputs } from '../../fuzz/e2e-targets.js';
import { runTarget } from '../../fuzz/runner.js';
import { matchTargets, targets } from '../../fuzz/targets.js';
import { ParleyError } from '../../src/errors.js';

describe('e2e fuzz targets [WIRE-LIMIT-5]', () => {
  it('[WIRE-LIMIT-5] registers the bundle and header decoders and decryption', () => {
    const names = targets.map((t) => t.name);
    for (const n of ['e2e-bundle', 'e2e-header', 'e2e-decrypt']) expect(names).toContain(n);
  });

  for (const [name, ids, budget] of [
    ['e2e-bundle', '[E2E-BUNDLE-1] [E2E-MSG-1]', 500],
    ['e2e-header', '[E2E-RATCHET-6]', 500],
    ['e2e-decrypt', '[E2E-MSG-1] [E2E-RATCHET-7]', 300],
  ] as const) {
    it(`${ids} ${name}: a seeded run allows only ParleyError`, () => {
      const r = runTarget(matchTargets(name)[0]!, { budget, seed: 10 });
      expect(r.failure).toBeUndefined();
      expect(r.executions).toBe(budget);
    });
  }

  it('[E2E-RATCHET-7] e2e-decrypt starts from inputs that decrypt, and from each its mutations are refused without a change', () => {
    const valid = e2eDecryptValidInputs();
    expect(valid.length).toBe(5);
    const texts = valid.map((v) => new TextDecoder().decode(decryptFixed(v)));
    expect(texts).toEqual(['second', 'a second session', 'r1', 'r2', 'r3']);
    for (const v of valid) {
      const m = Uint8Array.from(v);
      m[m.length - 1]! ^= 1; // the last byte of the AEAD tag
      expect(() => decryptFixed(m)).toThrow(ParleyError);
    }
  });
});
