/**
 * Rendezvous stability (spec/07-supernode.md §4, informative, and DIR-HAND-1's cost): adding one
 * supernode to a list of n moves the first place of about 1/(n+1) of the names and changes the
 * responsible set of about k/(n+1), always by the newcomer taking the place of the old k-th. Checked on a
 * fixed sample (deterministic key ids and names) against a binomial tolerance of 5 standard deviations.
 */
import { describe, expect, it } from 'vitest';
import { SupernodeView } from '../../src/overlay/view.js';
import { hex, keyId, keyIds, placed } from './keys.js';

const SAMPLE = 8_000;
const NAMES = Array.from({ length: SAMPLE }, (_, i) => `user${i}`);

function within(observed: number, p: number): void {
  const sigma = Math.sqrt((p * (1 - p)) / SAMPLE);
  expect(Math.abs(observed - p)).toBeLessThan(5 * sigma);
}

describe('rendezvous stability', () => {
  for (const n of [9, 49]) {
    it(`adding one supernode to ${n} moves about 1/${n + 1} of the first places and k/${n + 1} of the sets`, () => {
      const k = 3;
      const keys = keyIds(`stable${n}`, n);
      const newcomer = keyId(`newcomer${n}`, 0);
      const before = new SupernodeView({ epoch: 1, ...placed(keys), replicationFactor: k, cacheSize: 8 });
      const after = new SupernodeView({ epoch: 2, ...placed([...keys, newcomer]), replicationFactor: k, cacheSize: 8 });
      let firstMoved = 0;
      let setChanged = 0;
      for (const name of NAMES) {
        const b = before.responsibleFor(name).map(hex);
        const a = after.responsibleFor(name).map(hex);
        if (a[0] !== b[0]) firstMoved++;
        if (a.join() !== b.join()) {
          setChanged++;
          // The only change: the newcomer enters, the old k-th leaves, the others keep their order.
          expect(a).toContain(hex(newcomer));
          expect(a.filter((x) => x !== hex(newcomer))).toEqual(b.slice(0, k - 1));
        }
      }
      within(firstMoved / SAMPLE, 1 / (n + 1));
      within(setChanged / SAMPLE, k / (n + 1));
    });
  }
});
