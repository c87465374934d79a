/**
 * SupernodeView and PeerHealth (spec/07-supernode.md §4, §9): placement over the signed list with a
 * bounded cache, roles, and the forwarding targets under liveness (DIR-HAND-4, DIR-HAND-5, DIR-HAND-7).
 */
import type { VerifiedList } from '@parley/login-server/client';
import type { SupernodeListEntry } from '@parley/wire';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PeerHealth } from '../../src/overlay/health.js';
import { SupernodeView } from '../../src/overlay/view.js';
import { hex, keyId, keyIds, orderOf, placed, placedEntry, placementKeyOf, responsibleOf } from './keys.js';

const arbName = fc.stringMatching(/^[a-z][a-z0-9]{2,12}$/);
const arbKeys = fc.uniqueArray(fc.uint8Array({ minLength: 32, maxLength: 32 }), {
  minLength: 1,
  maxLength: 24,
  selector: (k) => hex(k),
});

describe('SupernodeView: placement', () => {
  it('[SN-PLACE-3] the responsible set is the first k of the rendezvous order of @parley/wire', () => {
    fc.assert(
      fc.property(arbKeys, fc.integer({ min: 1, max: 5 }), fc.array(arbName, { maxLength: 8 }), (keys, k, names) => {
        const view = new SupernodeView({ epoch: 1, ...placed(keys), replicationFactor: k, cacheSize: 4 });
        for (const name of [...names, ...names]) {
          const want = responsibleOf(name, keys, k).map(hex);
          expect(view.responsibleFor(name).map(hex)).toEqual(want);
          expect(view.candidates(name).map(hex)).toEqual(
            orderOf(name, keys)
              .slice(0, 2 * k)
              .map(hex),
          );
          for (const key of keys) expect(view.isResponsible(name, key)).toBe(want.includes(hex(key)));
        }
      }),
    );
  });

  it('[DIR-HAND-4] role: responsible in the first k, fallback in the next k, none further or when unlisted', () => {
    fc.assert(
      fc.property(arbKeys, fc.integer({ min: 1, max: 4 }), arbName, (keys, k, name) => {
        const order = orderOf(name, keys);
        keys.forEach((self) => {
          const view = new SupernodeView({ epoch: 1, ...placed(keys), self, replicationFactor: k });
          const rank = order.findIndex((x) => hex(x) === hex(self));
          expect(view.role(name)).toBe(rank < k ? 'responsible' : rank < 2 * k ? 'fallback' : 'none');
          expect(view.isResponsible(name)).toBe(rank < k);
        });
        const outsider = new SupernodeView({
          epoch: 1,
          ...placed(keys),
          self: keyId('outsider', 0),
          replicationFactor: k,
        });
        expect(outsider.role(name)).toBe('none');
        expect(outsider.isResponsible(name)).toBe(false);
      }),
    );
  });

  it('a list with fewer than k supernodes makes all of them responsible; a repeated key id counts once', () => {
    const keys = keyIds('small', 2);
    const view = new SupernodeView({ epoch: 1, ...placed([...keys, keys[0]!]), replicationFactor: 3 });
    expect(view.size).toBe(2);
    expect(view.responsibleFor('alice').map(hex).sort()).toEqual(keys.map(hex).sort());
    expect(view.has(keys[1]!)).toBe(true);
    expect(view.has(hex(keyId('small', 5)))).toBe(false);
  });

  it('caches placements in a bounded LRU: a name placed again is a hit, and the cache never exceeds its size', () => {
    const view = new SupernodeView({ epoch: 1, ...placed(keyIds('lru', 200)), replicationFactor: 3, cacheSize: 16 });
    const first = view.responsibleFor('alice').map(hex);
    expect(view.cacheStats()).toMatchObject({ hits: 0, misses: 1, size: 1 });
    expect(view.responsibleFor('alice').map(hex)).toEqual(first);
    expect(view.isResponsible('alice', first[0])).toBe(true);
    expect(view.cacheStats()).toMatchObject({ hits: 2, misses: 1 });
    for (let i = 0; i < 100; i++) view.responsibleFor(`user${i}`);
    expect(view.cacheStats().size).toBe(16);
    // alice was evicted: placing her again is a miss with the same answer.
    expect(view.responsibleFor('alice').map(hex)).toEqual(first);
    expect(view.cacheStats().misses).toBe(102);
  });

  it('fromList takes the epoch and key ids of a verified list', () => {
    const keys = keyIds('list', 5);
    // The shape LoginClient.getSupernodeList returns.
    const list: VerifiedList<SupernodeListEntry> = {
      version: 42,
      issuedAtMs: 0,
      expiresAtMs: 1,
      entries: keys.map((keyId) => ({
        keyId,
        placementKey: placementKeyOf(keyId),
        endpoints: [],
        software: 'x',
        loadPercent: 0,
        hosted: false,
        notAfterMs: 1,
      })),
      pages: [],
      loginCertificates: [],
    };
    const view = SupernodeView.fromList(list, keys[2], 2);
    expect(view.epoch).toBe(42);
    expect(view.k).toBe(2);
    expect(view.self).toBe(hex(keys[2]!));
    expect(() => new SupernodeView({ epoch: 1, ...placed(keys), replicationFactor: 0 })).toThrow(RangeError);
  });
});

describe('SupernodeView: forwarding under liveness', () => {
  it('[DIR-HAND-5] targets are the first k of the order not known down, within the first 2k; self always counts', () => {
    fc.assert(
      fc.property(
        arbKeys,
        fc.integer({ min: 1, max: 4 }),
        arbName,
        fc.array(fc.boolean(), { minLength: 24, maxLength: 24 }),
        fc.nat({ max: 23 }),
        (keys, k, name, downFlags, selfAt) => {
          const self = keys[selfAt % keys.length]!;
          const view = new SupernodeView({ epoch: 1, ...placed(keys), self, replicationFactor: k });
          const health = new PeerHealth();
          keys.forEach((key, i) => {
            if (downFlags[i]) health.markDown(key, 1000);
            else if (i % 2 === 0) health.markUp(key, 1000);
          });
          const down = new Set(keys.filter((_, i) => downFlags[i]).map(hex));
          const head = orderOf(name, keys).slice(0, 2 * k);
          const want = head
            .filter((key) => hex(key) === hex(self) || !down.has(hex(key)))
            .slice(0, k)
            .map(hex);
          expect(view.forwardTargets(name, health).map(hex)).toEqual(want);
        },
      ),
    );
  });

  it('[DIR-HAND-5] with every responsible supernode up the targets are the responsible set; one down brings in the (k+1)-th', () => {
    const keys = keyIds('fwd', 30);
    const view = new SupernodeView({ epoch: 1, ...placed(keys), replicationFactor: 3 });
    const health = new PeerHealth();
    const order = orderOf('alice', keys).map(hex);
    expect(view.forwardTargets('alice', health).map(hex)).toEqual(order.slice(0, 3));
    health.markDown(order[1]!, 5);
    expect(view.forwardTargets('alice', health).map(hex)).toEqual([order[0], order[2], order[3]]);
    // Every one of the first 2k down: nothing to send to.
    for (const h of order.slice(0, 6)) health.markDown(h, 6);
    expect(view.forwardTargets('alice', health)).toEqual([]);
  });
});

describe('PeerHealth', () => {
  it('[DIR-HAND-7] a peer is up until a failure marks it down, and up again when it answers', () => {
    const h = new PeerHealth();
    const a = keyId('peer', 1);
    expect(h.isUp(a)).toBe(true);
    expect(h.state(a)).toBeUndefined();
    expect(h.markUp(a, 10)).toBe(false);
    h.markDown(a, 20);
    h.markDown(hex(a), 25);
    expect(h.isUp(hex(a))).toBe(false);
    expect(h.state(a)).toEqual({ up: false, lastSeenMs: 10, sinceMs: 20 });
    expect(h.downCount).toBe(1);
    expect(h.markUp(a, 30)).toBe(true);
    expect(h.markUp(a, 40)).toBe(false);
    expect(h.state(a)).toEqual({ up: true, lastSeenMs: 40, sinceMs: 30 });
    expect(h.downCount).toBe(0);
  });

  it('prune forgets peers a new list no longer names', () => {
    const h = new PeerHealth();
    const keys = keyIds('prune', 4);
    h.markDown(keys[0]!, 1);
    h.markUp(keys[1]!, 1);
    h.markDown(keys[2]!, 1);
    const view = new SupernodeView({ epoch: 2, ...placed([keys[1]!, keys[2]!]), replicationFactor: 1 });
    expect(h.prune((k) => view.has(k))).toBe(1);
    expect(h.size).toBe(2);
    expect(h.downCount).toBe(1);
  });
});

describe('SupernodeView.next: placements derived from the previous list', () => {
  const UNIVERSE = keyIds('derive', 20);
  const NAMES = Array.from({ length: 30 }, (_, i) => `name${i}`);
  const arbList = fc
    .array(fc.boolean(), { minLength: 20, maxLength: 20 })
    .map((mask) => UNIVERSE.filter((_, i) => mask[i]));
  type Touch = 'responsible' | 'candidates' | 'role' | 'none';
  const arbTouches = fc.array(fc.constantFrom<Touch>('responsible', 'candidates', 'role', 'none'), {
    minLength: 30,
    maxLength: 30,
  });

  function touch(view: SupernodeView, touches: readonly Touch[]): void {
    NAMES.forEach((name, i) => {
      if (touches[i] === 'responsible') view.responsibleFor(name);
      else if (touches[i] === 'candidates') view.candidates(name);
      else if (touches[i] === 'role') view.role(name);
    });
  }

  it('[DIR-HAND-4][DIR-HAND-5] answers exactly as a fresh view of the same list, across two list changes', () => {
    fc.assert(
      fc.property(
        arbList,
        arbList,
        arbList,
        fc.integer({ min: 1, max: 4 }),
        fc.nat({ max: 19 }),
        arbTouches,
        arbTouches,
        (l0, l1, l2, k, selfAt, t0, t1) => {
          const self = UNIVERSE[selfAt]!;
          const v0 = new SupernodeView({ epoch: 1, ...placed(l0), self, replicationFactor: k });
          touch(v0, t0);
          const v1 = v0.next({ version: 2, entries: l1.map(placedEntry) });
          touch(v1, t1);
          const v2 = v1.next({ version: 3, entries: l2.map(placedEntry) });
          for (const [view, list] of [
            [v2, l2],
            [v1, l1],
          ] as const) {
            const fresh = new SupernodeView({ epoch: 9, ...placed(list), self, replicationFactor: k });
            for (const name of NAMES) {
              expect(view.responsibleFor(name).map(hex)).toEqual(fresh.responsibleFor(name).map(hex));
              expect(view.role(name)).toBe(fresh.role(name));
              expect(view.isResponsible(name)).toBe(fresh.isResponsible(name));
              expect(view.forwardTargets(name, new PeerHealth()).map(hex)).toEqual(
                fresh.forwardTargets(name, new PeerHealth()).map(hex),
              );
              expect(view.candidates(name).map(hex)).toEqual(fresh.candidates(name).map(hex));
            }
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('one supernode joining costs one hash per name already placed', async () => {
    const { nodeCrypto } = await import('@parley/wire');
    let hashes = 0;
    const suite = {
      ...nodeCrypto,
      sha256: (d: Uint8Array) => {
        hashes++;
        return nodeCrypto.sha256(d);
      },
    };
    const keys = keyIds('cost', 100);
    const v0 = new SupernodeView({ epoch: 1, ...placed(keys), self: keys[0], replicationFactor: 3, suite });
    for (const name of NAMES) v0.responsibleFor(name);
    expect(hashes).toBe(NAMES.length);
    hashes = 0;
    const v1 = v0.next({ version: 2, entries: [...keys, keyId('cost', 100)].map(placedEntry) });
    for (const name of NAMES) v1.responsibleFor(name);
    expect(hashes).toBe(NAMES.length);
    expect(v1.cacheStats()).toMatchObject({ derived: NAMES.length, misses: NAMES.length });
    for (const name of NAMES) {
      expect(v1.responsibleFor(name).map(hex)).toEqual(responsibleOf(name, v1.keyIds, 3).map(hex));
    }
  });
});
