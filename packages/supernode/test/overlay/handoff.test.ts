/**
 * The handoff planner (spec/07-supernode.md §9, DIR-HAND-1..3, DIR-HAND-6) run over a whole simulated
 * overlay: every supernode of the new list plans from its own views and holdings, the sends are
 * delivered, the drops applied; afterwards each name is held by exactly its new responsible set.
 */

import { MAX_REPLICATE_BATCH } from '@parley/wire';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planHandoff, planRecovery, replicationBatches } from '../../src/overlay/handoff.js';
import { SupernodeView } from '../../src/overlay/view.js';
import { hex, keyIds, placed, placedEntry } from './keys.js';

const NAMES = Array.from({ length: 24 }, (_, i) => `user${i}`);
const UNIVERSE = keyIds('handoff', 14);

interface Scenario {
  k: number;
  oldList: Uint8Array[];
  newList: Uint8Array[];
  /** Extra holders: supernodes of the old fallback range that also hold a name (DIR-HAND-5). */
  fallbackHolds: [number, number][];
}

const arbScenario: fc.Arbitrary<Scenario> = fc
  .record({
    k: fc.integer({ min: 1, max: 4 }),
    oldMask: fc.array(fc.boolean(), { minLength: 14, maxLength: 14 }),
    newMask: fc.array(fc.boolean(), { minLength: 14, maxLength: 14 }),
    fallbackHolds: fc.array(fc.tuple(fc.nat({ max: 23 }), fc.nat({ max: 13 })), { maxLength: 10 }),
  })
  .map(({ k, oldMask, newMask, fallbackHolds }) => ({
    k,
    oldList: UNIVERSE.filter((_, i) => oldMask[i]),
    newList: UNIVERSE.filter((_, i) => newMask[i]),
    fallbackHolds,
  }))
  .filter((s) => s.oldList.length > 0 && s.newList.length > 0);

/** Holdings per supernode (hex) before the change: the old responsible sets, plus fallback holders. */
function initialHoldings(s: Scenario): Map<string, Set<string>> {
  const held = new Map<string, Set<string>>();
  const view = new SupernodeView({ epoch: 1, ...placed(s.oldList), replicationFactor: s.k });
  for (const name of NAMES) {
    for (const key of view.responsibleFor(name)) {
      const h = hex(key);
      if (!held.has(h)) held.set(h, new Set());
      held.get(h)!.add(name);
    }
  }
  for (const [n, at] of s.fallbackHolds) {
    const name = NAMES[n]!;
    const candidate = view.candidates(name)[s.k + (at % s.k)];
    if (candidate === undefined) continue;
    const h = hex(candidate);
    if (!held.has(h)) held.set(h, new Set());
    held.get(h)!.add(name);
  }
  return held;
}

describe('planHandoff', () => {
  it('[DIR-HAND-1][DIR-HAND-2][DIR-HAND-3] after the plans are applied each name is held by exactly its new responsible set', () => {
    fc.assert(
      fc.property(arbScenario, (s) => {
        const before = initialHoldings(s);
        // Supernodes that left the list are gone: only those of the new list plan and hold.
        const after = new Map<string, Set<string>>();
        for (const key of s.newList) after.set(hex(key), new Set(before.get(hex(key)) ?? []));
        const sends: [string, string][] = [];
        for (const key of s.newList) {
          const mine = new SupernodeView({ epoch: 1, ...placed(s.oldList), self: key, replicationFactor: s.k });
          for (const name of NAMES) mine.isResponsible(name);
          const next = mine.next({ version: 2, entries: s.newList.map(placedEntry) });
          const holding = after.get(hex(key))!;
          const plan = planHandoff(mine, next, [...holding]);
          expect([...plan.keep, ...plan.drop].sort()).toEqual([...holding].sort());
          for (const [target, t] of plan.sends) {
            expect(hex(t.keyId)).toBe(target);
            expect(target).not.toBe(hex(key));
            for (const name of t.names) sends.push([target, name]);
          }
          for (const name of plan.drop) holding.delete(name);
        }
        for (const [target, name] of sends) after.get(target)!.add(name);

        const next = new SupernodeView({ epoch: 2, ...placed(s.newList), replicationFactor: s.k });
        const survivors = new Set(s.newList.map(hex));
        for (const name of NAMES) {
          const holders = [...after].filter(([, names]) => names.has(name)).map(([h]) => h);
          const hadSurvivor = [...before].some(([h, names]) => names.has(name) && survivors.has(h));
          const want = hadSurvivor ? next.responsibleFor(name).map(hex) : [];
          expect(holders.sort()).toEqual(want.sort());
        }
      }),
      { numRuns: 100 },
    );
  });

  it('[DIR-HAND-1] a responsible holder sends only to the newly responsible; [DIR-HAND-2] a fallback holder sends to all', () => {
    const keys = keyIds('minimal', 10);
    const probe = new SupernodeView({ epoch: 1, ...placed(keys), replicationFactor: 3 });
    const name = 'alice';
    const order = probe.candidates(name);
    const [a, b, c, d] = [order[0]!, order[1]!, order[2]!, order[3]!];
    // c leaves: d becomes responsible.
    const newList = keys.filter((k) => k !== c);
    const plan = planHandoff(
      new SupernodeView({ epoch: 1, ...placed(keys), self: a, replicationFactor: 3 }),
      new SupernodeView({ epoch: 2, ...placed(newList), self: a, replicationFactor: 3 }),
      [name],
    );
    expect([...plan.sends.keys()]).toEqual([hex(d)]);
    expect(plan.keep).toEqual([name]);
    // d held alice as a fallback under the old list: it sends to a and b.
    const fallback = planHandoff(
      new SupernodeView({ epoch: 1, ...placed(keys), self: d, replicationFactor: 3 }),
      new SupernodeView({ epoch: 2, ...placed(newList), self: d, replicationFactor: 3 }),
      [name],
    );
    expect([...fallback.sends.keys()].sort()).toEqual([hex(a), hex(b)].sort());
    expect(fallback.drop).toEqual([]);
    // A first list (nothing placed before): everything goes to the new responsible set.
    const first = planHandoff(
      undefined,
      new SupernodeView({ epoch: 1, ...placed(keys), self: a, replicationFactor: 3 }),
      [name],
    );
    expect([...first.sends.keys()].sort()).toEqual([hex(b), hex(c)].sort());
  });

  it('[DIR-HAND-3] a supernode that is no longer responsible drops after handing off', () => {
    const keys = keyIds('drop', 8);
    const name = 'bob';
    const order = new SupernodeView({ epoch: 1, ...placed(keys), replicationFactor: 2 }).candidates(name);
    const third = order[2]!;
    const self = order[1]!;
    // A new supernode ranks first for bob: self moves to the third place.
    let extra = 0;
    let newList: Uint8Array[] = keys;
    for (;;) {
      const candidate = keyIds(`extra${extra++}`, 1)[0]!;
      newList = [...keys, candidate];
      const o = new SupernodeView({ epoch: 2, ...placed(newList), replicationFactor: 2 }).candidates(name);
      if (hex(o[0]!) === hex(candidate)) break;
    }
    const plan = planHandoff(
      new SupernodeView({ epoch: 1, ...placed(keys), self, replicationFactor: 2 }),
      new SupernodeView({ epoch: 2, ...placed(newList), self, replicationFactor: 2 }),
      [name],
    );
    expect(plan.drop).toEqual([name]);
    expect(plan.keep).toEqual([]);
    expect([...plan.sends.keys()]).toEqual([hex(newList[newList.length - 1]!)]);
    expect(hex(third)).not.toBe(hex(self));
  });
});

describe('planRecovery', () => {
  it('[DIR-HAND-6] names the held names a recovered peer is responsible for', () => {
    const keys = keyIds('recover', 9);
    const view = new SupernodeView({ epoch: 1, ...placed(keys), self: keys[0], replicationFactor: 3 });
    const names = NAMES.filter((n) => view.isResponsible(n));
    for (const peer of keys.slice(1)) {
      const got = planRecovery(view, peer, names);
      expect(got).toEqual(names.filter((n) => view.isResponsible(n, peer)));
    }
    expect(planRecovery(view, keys[0]!, names)).toEqual([]);
  });
});

describe('replicationBatches', () => {
  it('[DIR-HAND-1] keeps order, at most 32 envelopes and the byte bound per batch', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 3000 }), { maxLength: 120 }),
        fc.integer({ min: 3004, max: 70_000 }),
        (sizes, maxBytes) => {
          const envelopes = sizes.map((n, i) => new Uint8Array(n).fill(i & 0xff));
          const batches = replicationBatches(envelopes, maxBytes);
          expect(batches.flat()).toEqual(envelopes);
          for (const b of batches) {
            expect(b.length).toBeGreaterThan(0);
            expect(b.length).toBeLessThanOrEqual(MAX_REPLICATE_BATCH);
            expect(b.reduce((t, e) => t + e.length + 4, 0)).toBeLessThanOrEqual(maxBytes);
          }
        },
      ),
    );
    expect(replicationBatches([])).toEqual([]);
  });
});
