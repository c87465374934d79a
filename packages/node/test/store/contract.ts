/**
 * The one contract both node stores pass (NODE-STORE-*): the memory store and the SQLite store are run
 * through the same cases, so the simulator's nodes and a real node keep the same state.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { NodeStore } from '../../src/store/index.js';

const b = (...x: number[]) => new Uint8Array(x);
const dev = (n: number) => new Uint8Array(16).fill(n);

export function nodeStoreContract(name: string, open: () => NodeStore): void {
  describe(`NodeStore contract: ${name}`, () => {
    it('[NODE-STORE-1] keeps the signed list pages and their certificates as given, never an older epoch', () => {
      const s = open();
      expect(s.getList()).toBeUndefined();
      s.putList({ epoch: 5, pages: [b(1, 2), b(3)], loginCertificates: [b(9), b(8)] });
      s.putList({ epoch: 4, pages: [b(7)], loginCertificates: [b(7)] }); // older: ignored
      expect(s.getList()).toEqual({ epoch: 5, pages: [b(1, 2), b(3)], loginCertificates: [b(9), b(8)] });
      s.putList({ epoch: 6, pages: [b(4)], loginCertificates: [b(5)] });
      expect(s.getList()).toEqual({ epoch: 6, pages: [b(4)], loginCertificates: [b(5)] });
      expect(() => s.putList({ epoch: 7, pages: [b(1)], loginCertificates: [] })).toThrow(RangeError);
      expect(s.getList()?.epoch).toBe(6);
      s.close();
    });

    it('[NODE-STORE-1] keeps per-supernode success and failure times, replacing by key id', () => {
      const s = open();
      s.putHostStat({ keyId: dev(1), lastSuccessAt: 10, failures: 0 });
      s.putHostStat({ keyId: dev(2), lastFailureAt: 20, failures: 3 });
      s.putHostStat({ keyId: dev(1), lastSuccessAt: 10, lastFailureAt: 30, failures: 1 });
      const stats = s.hostStats().sort((x, y) => x.keyId[0]! - y.keyId[0]!);
      expect(stats).toEqual([
        { keyId: dev(1), lastSuccessAt: 10, lastFailureAt: 30, failures: 1 },
        { keyId: dev(2), lastFailureAt: 20, failures: 3 },
      ]);
      s.close();
    });

    it('[NODE-STORE-2] presence sequences only go up, per device, whatever floor is asked for', () => {
      fc.assert(
        fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.nat(1_000)), { maxLength: 40 }), (ops) => {
          const s = open();
          const last = new Map<number, number>();
          for (const [d, atLeast] of ops) {
            const n = s.nextPresenceSequence(dev(d), atLeast);
            expect(n).toBeGreaterThan(last.get(d) ?? 0);
            expect(n).toBeGreaterThanOrEqual(atLeast);
            last.set(d, n);
          }
          s.close();
        }),
        { numRuns: 40 },
      );
    });

    it('[NODE-STORE-1] [NODE-LOOK-3] sequence floors keep the highest sequence set per (user, device)', () => {
      fc.assert(
        fc.property(
          fc.array(fc.tuple(fc.constantFrom('alice', 'bob'), fc.integer({ min: 0, max: 2 }), fc.nat(100)), {
            maxLength: 30,
          }),
          (ops) => {
            const s = open();
            const model = new Map<string, number>();
            for (const [u, d, q] of ops) {
              s.set(u, dev(d), q);
              model.set(`${u}/${d}`, Math.max(q, model.get(`${u}/${d}`) ?? 0));
            }
            for (const u of ['alice', 'bob'])
              for (const d of [0, 1, 2]) expect(s.get(u, dev(d))).toBe(model.get(`${u}/${d}`));
            s.close();
          },
        ),
        { numRuns: 40 },
      );
    });

    it('[NODE-STORE-1] keeps the contact list and opaque secrets byte for byte', () => {
      const s = open();
      expect(s.getContactList()).toBeUndefined();
      s.putContactList(b(1, 2, 3));
      s.putContactList(b(4, 5));
      expect(s.getContactList()).toEqual(b(4, 5));
      expect(s.getSecret('e2e/sessions')).toBeUndefined();
      s.putSecret('e2e/sessions', b(0, 255, 0));
      s.putSecret('e2e/prekeys', b());
      expect(s.getSecret('e2e/sessions')).toEqual(b(0, 255, 0));
      expect(s.getSecret('e2e/prekeys')).toEqual(b());
      s.deleteSecret('e2e/sessions');
      expect(s.getSecret('e2e/sessions')).toBeUndefined();
      // A secret named like the contact list is not the contact list.
      s.putSecret('contacts', b(9));
      expect(s.getContactList()).toEqual(b(4, 5));
      s.close();
    });

    it('[NODE-STORE-3] remembers processed (sender, message id) pairs until pruned by age', () => {
      fc.assert(
        fc.property(
          fc.array(
            fc.oneof(
              fc.record({
                op: fc.constant('add' as const),
                u: fc.constantFrom('a', 'b'),
                id: fc.nat(5),
                at: fc.nat(50),
              }),
              fc.record({ op: fc.constant('prune' as const), before: fc.nat(50) }),
            ),
            { maxLength: 40 },
          ),
          (ops) => {
            const s = open();
            const model = new Map<string, number>();
            for (const o of ops) {
              if (o.op === 'add') {
                s.addProcessed(o.u, dev(o.id), o.at);
                const k = `${o.u}/${o.id}`;
                if (!model.has(k)) model.set(k, o.at);
              } else {
                let n = 0;
                for (const [k, at] of model) {
                  if (at < o.before) {
                    model.delete(k);
                    n++;
                  }
                }
                expect(s.pruneProcessed(o.before)).toBe(n);
              }
            }
            for (const u of ['a', 'b'])
              for (let i = 0; i <= 5; i++) expect(s.has(u, dev(i))).toBe(model.has(`${u}/${i}`));
            s.close();
          },
        ),
        { numRuns: 40 },
      );
    });
  });
}
