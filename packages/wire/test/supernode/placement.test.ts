// Placement of user names on supernodes by rendezvous hashing (spec/07-supernode.md §4, SN-PLACE-*):
// the score against an independent restatement over node:crypto, the order and its ties, the responsible
// set, and the properties that make placement stable when the list changes.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nobleCrypto, nodeCrypto } from '../../src/crypto/index.js';
import { seededRandom } from '../../src/crypto/random.js';
import { ErrorCode } from '../../src/errors.js';
import {
  compareKeyIds,
  DEFAULT_REPLICATION_FACTOR,
  mix64,
  RENDEZVOUS_CONTEXT,
  rendezvousOrder,
  rendezvousScore,
  responsibleSupernodes,
} from '../../src/supernode/index.js';
import { expectCode } from '../identity/fixtures.js';

const MASK = (1n << 64n) - 1n;
/** SplitMix64's finaliser restated with BigInt, from the paper's constants. */
function restatedMix(x: bigint): bigint {
  let z = x & MASK;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK;
  return z ^ (z >> 31n);
}

/** SN-PLACE-1 restated with node:crypto and BigInt, by hand. */
function restatedScore(name: string, placementKey: Uint8Array): bigint {
  const digest = createHash('sha256')
    .update(Buffer.from('parley/v1 rendezvous', 'utf8'))
    .update(Buffer.from([0]))
    .update(Buffer.from(name, 'utf8'))
    .digest();
  return restatedMix(digest.readBigUInt64BE(0) ^ Buffer.from(placementKey).readBigUInt64BE(0));
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const keyIdArb = fc.uint8Array({ minLength: 32, maxLength: 32 });
const nameArb = fc.stringMatching(/^[a-z][a-z0-9]{2,12}$/);
const random = seededRandom('placement tests');
const list = Array.from({ length: 50 }, () => random.randomBytes(32));

describe('rendezvous placement [SN-PLACE-1] .. [SN-PLACE-4]', () => {
  it('[SN-PLACE-1] mix64 is the SplitMix64 finaliser: known outputs, and BigInt arithmetic on random inputs', () => {
    const out = { hi: 0, lo: 0 };
    const mixed = (x: bigint): bigint => {
      mix64(Number(x >> 32n), Number(x & 0xffffffffn), out);
      return (BigInt(out.hi) << 32n) | BigInt(out.lo);
    };
    // SplitMix64 seeded with 0 returns mix64(0x9e3779b97f4a7c15) first: 0xe220a8397b1dcdaf.
    expect(mixed(0x9e3779b97f4a7c15n)).toBe(0xe220a8397b1dcdafn);
    expect(mixed(0n)).toBe(0n);
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: MASK }), (x) => {
        expect(mixed(x)).toBe(restatedMix(x));
      }),
      { numRuns: 2_000 },
    );
  });

  it('[SN-PLACE-1] the score is mix64 of the name hash XOR the first 8 bytes of the placement key', () => {
    expect(RENDEZVOUS_CONTEXT).toBe('parley/v1 rendezvous');
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), keyIdArb, (name, keyId) => {
        const s = rendezvousScore(name, keyId);
        expect(s).toBe(restatedScore(name, keyId));
        expect(rendezvousScore(name, keyId, nodeCrypto)).toBe(s);
        expect(rendezvousScore(name, keyId, nobleCrypto)).toBe(s);
        expect(s >= 0n && s < 2n ** 64n).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('[SN-PLACE-1] placement keys are 32 bytes: any other length is ApiMisuse', () => {
    expectCode(() => rendezvousScore('alice', new Uint8Array(31)), ErrorCode.API_MISUSE);
    expectCode(() => rendezvousOrder('alice', [list[0]!, new Uint8Array(33)]), ErrorCode.API_MISUSE);
    expectCode(() => responsibleSupernodes('alice', [new Uint8Array(0)], 3), ErrorCode.API_MISUSE);
  });

  it('[SN-PLACE-2] the order is by score descending, ties by placement key ascending, a permutation of the input', () => {
    fc.assert(
      fc.property(nameArb, fc.array(keyIdArb, { maxLength: 20 }), (name, keyIds) => {
        const order = rendezvousOrder(name, keyIds);
        expect(order.map(hex).sort()).toEqual(keyIds.map(hex).sort());
        for (let i = 1; i < order.length; i++) {
          const a = rendezvousScore(name, order[i - 1]!);
          const b = rendezvousScore(name, order[i]!);
          expect(a > b || (a === b && compareKeyIds(order[i - 1]!, order[i]!) <= 0)).toBe(true);
        }
        // the input's own order does not matter
        expect(rendezvousOrder(name, [...keyIds].reverse()).map(hex)).toEqual(order.map(hex));
      }),
      { numRuns: 200 },
    );
  });

  it('[SN-PLACE-2] equal scores are ordered by placement key bytes ascending', () => {
    // A repeated placement key has an equal score: the tie rule alone decides, and the order stays stable.
    const [a, b] = [list[0]!, list[1]!];
    const order = rendezvousOrder('alice', [a, b, a]);
    expect(order.filter((k) => k === a).length).toBe(2);
    expect(compareKeyIds(new Uint8Array([1, 2]), new Uint8Array([1, 3]))).toBeLessThan(0);
    expect(compareKeyIds(new Uint8Array([2]), new Uint8Array([1, 3]))).toBeGreaterThan(0);
    expect(compareKeyIds(a, a)).toBe(0);
  });

  it('[SN-PLACE-3] the responsible set is the first k of the order, all of them when fewer than k', () => {
    fc.assert(
      fc.property(nameArb, fc.array(keyIdArb, { maxLength: 30 }), fc.nat({ max: 8 }), (name, keyIds, k) => {
        const set = responsibleSupernodes(name, keyIds, k);
        expect(set.map(hex)).toEqual(rendezvousOrder(name, keyIds).slice(0, k).map(hex));
        expect(set.length).toBe(Math.min(k, keyIds.length));
      }),
      { numRuns: 300 },
    );
    expect(DEFAULT_REPLICATION_FACTOR).toBe(3);
    expect(responsibleSupernodes('alice', list, 0)).toEqual([]);
    expectCode(() => responsibleSupernodes('alice', list, -1), ErrorCode.API_MISUSE);
    expectCode(() => responsibleSupernodes('alice', list, 1.5), ErrorCode.API_MISUSE);
  });

  it('[SN-PLACE-3] removing a supernode moves only the names it held; adding one takes names only onto it', () => {
    fc.assert(
      fc.property(nameArb, fc.nat({ max: list.length - 1 }), keyIdArb, (name, drop, added) => {
        const before = responsibleSupernodes(name, list, 3).map(hex);
        const without = list.filter((_, i) => i !== drop);
        const after = responsibleSupernodes(name, without, 3).map(hex);
        // every holder that is still listed stays a holder
        for (const h of before) if (h !== hex(list[drop]!)) expect(after).toContain(h);
        const grown = responsibleSupernodes(name, [...list, added], 3).map(hex);
        for (const h of grown) if (h !== hex(added)) expect(before).toContain(h);
      }),
      { numRuns: 200 },
    );
  });

  it('[SN-PLACE-3] names spread evenly: over 3,000 names and 50 supernodes, no supernode holds twice its share', () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 3000; i++) {
      for (const k of responsibleSupernodes(`user${i}`, list, 3)) counts.set(hex(k), (counts.get(hex(k)) ?? 0) + 1);
    }
    const share = (3000 * 3) / list.length; // 180
    expect(counts.size).toBe(list.length);
    for (const c of counts.values()) {
      expect(c).toBeGreaterThan(share / 2);
      expect(c).toBeLessThan(share * 2);
    }
  });

  it('[SN-PLACE-4] the name is hashed as given: the caller normalises, so case changes the placement', () => {
    const a = rendezvousOrder('alice', list).map(hex);
    expect(rendezvousOrder('Alice', list).map(hex)).not.toEqual(a);
    expect(rendezvousOrder('alice', list).map(hex)).toEqual(a);
  });
});
