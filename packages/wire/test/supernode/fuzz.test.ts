// The supernode fuzz targets behind `pnpm fuzz` (spec/01-packets.md WIRE-LIMIT-5; spec/07-supernode.md
// DIR-REC-4, STORE-MSG-4): registered, and a short seeded run of each finds nothing but ParleyErrors.
import { describe, expect, it } from 'vitest';
import { runTarget } from '../../fuzz/runner.js';
import { matchTargets, targets } from '../../fuzz/targets.js';

describe('supernode fuzz targets [WIRE-LIMIT-5]', () => {
  it('[WIRE-LIMIT-5] registers the supernode packet decoder and both envelope verifiers', () => {
    const names = targets.map((t) => t.name);
    for (const n of ['supernode-packet', 'presence-envelope', 'offline-envelope']) expect(names).toContain(n);
  });

  for (const [name, ids] of [
    ['supernode-packet', '[WIRE-LIMIT-5] [SN-LIMIT-1]'],
    ['presence-envelope', '[WIRE-LIMIT-5] [DIR-REC-4]'],
    ['offline-envelope', '[WIRE-LIMIT-5] [STORE-MSG-4]'],
  ] as const) {
    it(`${ids} ${name}: a seeded run allows only ParleyError`, () => {
      const r = runTarget(matchTargets(name)[0]!, { budget: 400, seed: 7 });
      expect(r.failure).toBeUndefined();
      expect(r.executions).toBe(400);
    });
  }
});
