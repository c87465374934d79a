/**
 * The host cache and the order of home candidates (spec/09-node.md §8): the stored signed list is verified
 * again on load, the order puts the previous home first and recent failures last, and spreads devices
 * over equally loaded supernodes.
 */
import { HOUR, suite, T0, testNetwork } from '@parley/supernode/testing';
import { type SupernodeListEntryInput, signSupernodeList } from '@parley/wire';
import { describe, expect, it } from 'vitest';
import {
  type Candidate,
  orderCandidates,
  preferAnswering,
  recordAttempt,
  verifyStoredList,
} from '../../src/bootstrap/host-cache.js';
import { MemoryNodeStore, SqliteNodeStore } from '../../src/store/index.js';

const net = testNetwork('host cache');
const policy = { trustAnchors: [net.root.publicKey], nowMs: T0 };
const key = (n: number) => new Uint8Array(32).fill(n);
const dev = (n: number) => {
  const d = new Uint8Array(16);
  new DataView(d.buffer).setUint32(0, n);
  return d;
};

function entry(n: number, load = 0, o: Partial<SupernodeListEntryInput> = {}): SupernodeListEntryInput {
  return {
    keyId: key(n),
    endpoints: [
      { protocol: 2, address: Uint8Array.of(30, 0, 0, n), port: 7500 },
      { protocol: 1, address: Uint8Array.of(30, 0, 0, n), port: 7500 },
    ],
    software: 'sn',
    loadPercent: load,
    hosted: true,
    notAfterMs: T0 + 24 * HOUR,
    ...o,
  };
}

function signed(epoch: number, entries: SupernodeListEntryInput[]) {
  const pages = signSupernodeList(suite, net.login, { epoch, issuedAtMs: T0, expiresAtMs: T0 + HOUR, entries });
  return { epoch, pages, loginCertificates: pages.map(() => net.loginCertificate) };
}

describe('host cache', () => {
  it('[NODE-BOOT-1] a stored list is verified again on load, from a SQLite store reopened', () => {
    const s = new SqliteNodeStore(':memory:');
    s.putList(signed(4, [entry(1), entry(2, 50)]));
    const v = verifyStoredList(suite, s.getList(), policy);
    expect(v?.epoch).toBe(4);
    expect(v?.entries.map((e) => e.keyId[0])).toEqual([1, 2]);
    expect(v?.entries[1]?.loadPercent).toBe(50);
    expect(verifyStoredList(suite, undefined, policy)).toBeUndefined();
  });

  it('[NODE-BOOT-1] a page altered on disk, a page of another epoch, or an untrusted signer: the list is dropped', () => {
    const good = signed(4, [entry(1)]);
    const flipped = Uint8Array.from(good.pages[0]!);
    flipped[flipped.length - 1]! ^= 1;
    expect(verifyStoredList(suite, { ...good, pages: [flipped] }, policy)).toBeUndefined();
    expect(verifyStoredList(suite, { ...good, epoch: 5 }, policy)).toBeUndefined();
    const other = testNetwork('another network');
    expect(verifyStoredList(suite, good, { trustAnchors: [other.root.publicKey], nowMs: T0 })).toBeUndefined();
    // the login certificate has expired by then
    expect(verifyStoredList(suite, good, { ...policy, nowMs: T0 + 400 * 24 * HOUR })).toBeUndefined();
  });

  it('[NODE-BOOT-3] the previous home first, recent failures last, then load band, expired entries never', () => {
    const entries = verifyStoredList(
      suite,
      signed(1, [entry(1, 90), entry(2, 30), entry(3, 30), entry(4, 0, { notAfterMs: T0 - 1 }), entry(5, 0)]),
      policy,
    )!.entries;
    const store = new MemoryNodeStore();
    recordAttempt(store, key(5), false, T0 - 1000);
    const order = orderCandidates(suite, {
      entries,
      stats: store.hostStats(),
      deviceId: dev(1),
      nowMs: T0,
      previousHome: key(1),
    }).map((c) => c.entry.keyId[0]);
    expect(order[0]).toBe(1); // previous home, though the busiest
    expect(order.at(-1)).toBe(5); // failed a second ago, though the least loaded
    expect(order).not.toContain(4);
    expect(new Set(order.slice(1, 3))).toEqual(new Set([2, 3]));

    // the previous home that failed since its last success loses its place
    recordAttempt(store, key(1), true, T0 - 5000);
    recordAttempt(store, key(1), false, T0 - 10);
    const again = orderCandidates(suite, {
      entries,
      stats: store.hostStats(),
      deviceId: dev(1),
      nowMs: T0,
      previousHome: key(1),
    });
    expect(
      again
        .slice(-2)
        .map((c) => c.entry.keyId[0])
        .sort(),
    ).toEqual([1, 5]);
    // and a failure older than the penalty no longer counts
    const later = orderCandidates(suite, { entries, stats: store.hostStats(), deviceId: dev(1), nowMs: T0 + HOUR });
    expect(later[0]!.entry.keyId[0]).toBe(5);
  });

  it('[NODE-BOOT-2] an attempt records success or failure per supernode', () => {
    const store = new MemoryNodeStore();
    recordAttempt(store, key(1), false, 10);
    recordAttempt(store, key(1), false, 20);
    expect(store.hostStats()).toEqual([{ keyId: key(1), lastSuccessAt: undefined, lastFailureAt: 20, failures: 2 }]);
    recordAttempt(store, key(1), true, 30);
    expect(store.hostStats()[0]).toMatchObject({ lastSuccessAt: 30, lastFailureAt: 20, failures: 0 });
  });

  it('[NODE-BOOT-3] 2,000 devices with the same cache spread over ten equally loaded supernodes (chi-square)', () => {
    const entries = verifyStoredList(
      suite,
      signed(
        1,
        Array.from({ length: 10 }, (_, i) => entry(i + 1, 20)),
      ),
      policy,
    )!.entries;
    const counts = new Array(10).fill(0);
    for (let d = 0; d < 2000; d++) {
      const first = orderCandidates(suite, { entries, stats: [], deviceId: dev(d), nowMs: T0 })[0]!;
      counts[first.entry.keyId[0]! - 1]++;
    }
    // chi-square with 9 degrees of freedom: 27.88 is the 0.999 quantile
    const chi = counts.reduce((a, c) => a + (c - 200) ** 2 / 200, 0);
    expect(chi).toBeLessThan(27.88);
    // and a device's order is stable
    const a = orderCandidates(suite, { entries, stats: [], deviceId: dev(7), nowMs: T0 });
    const b = orderCandidates(suite, { entries, stats: [], deviceId: dev(7), nowMs: T0 });
    expect(a.map((c) => c.entry.keyId[0])).toEqual(b.map((c) => c.entry.keyId[0]));
  });

  it('[NODE-BOOT-4] candidates that answered the probe go first, slow ones after; none answering means UDP blocked', () => {
    const entries = verifyStoredList(suite, signed(1, [entry(1), entry(2), entry(3), entry(4)]), policy)!.entries;
    const cands: Candidate[] = orderCandidates(suite, { entries, stats: [], deviceId: dev(3), nowMs: T0 });
    const h = (c: Candidate) => Buffer.from(c.entry.keyId).toString('hex');
    expect(cands[0]!.udp).toEqual({ host: `30.0.0.${cands[0]!.entry.keyId[0]}`, port: 7500 });
    const rtts = new Map<string, number | undefined>([
      [h(cands[0]!), undefined],
      [h(cands[1]!), 400],
      [h(cands[2]!), 20],
    ]);
    const { order, udpBlocked } = preferAnswering(cands, rtts);
    expect(udpBlocked).toBe(false);
    expect(order.map(h)).toEqual([cands[2]!, cands[0]!, cands[1]!, cands[3]!].map(h));
    const none = preferAnswering(cands, new Map(cands.slice(0, 3).map((c) => [h(c), undefined])));
    expect(none).toEqual({ order: cands, udpBlocked: true });
    expect(preferAnswering(cands, new Map()).udpBlocked).toBe(false);
  });
});
