/**
 * Presence from the node's side (src/presence/, spec/09-node.md §6): endpoints sealed for contacts, and
 * what a node keeps of a lookup answer — through real supernodes of the simulator, and against a lying
 * holder that forges, rewrites or replays records.
 */
import { presenceOf, suite, T0, World } from '@parley/supernode/testing';
import { ErrorCode, isParleyError, seededRandom } from '@parley/wire';
import { describe, expect, it } from 'vitest';
import {
  MAX_SEALED_BYTES,
  MemorySequenceFloors,
  newPresenceKey,
  openEndpoints,
  readLookup,
  sealEndpoints,
} from '../../src/presence/index.js';

const random = seededRandom('presence tests');
const udp = (a: number[], port: number) => ({ protocol: 1, address: Uint8Array.from(a), port });
const EPS = [udp([203, 0, 113, 7], 40_000), udp([10, 0, 0, 5], 40_000)];

function setup() {
  const w = new World({ seed: 'presence' });
  const trust = {
    trustAnchors: [w.net.root.publicKey],
    loginCertificates: [w.net.loginCertificate],
    nowMs: T0 + 1_000,
  };
  return { w, trust };
}

describe('sealed endpoints', () => {
  it('[NODE-SEAL-1] [NODE-SEAL-2] open only with the presence key, for the record they were sealed for; 8 IPv6 endpoints fit 512 bytes', () => {
    const key = newPresenceKey(random, 1);
    const ctx = { username: 'alice', deviceId: new Uint8Array(16).fill(1), sequence: 42 };
    const sealed = sealEndpoints(suite, random, key, ctx, EPS);
    expect(openEndpoints(suite, key, ctx, sealed)).toEqual(EPS);
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        if (isParleyError(e)) return e.code;
        throw e;
      }
      return undefined;
    };
    expect(code(() => openEndpoints(suite, newPresenceKey(random, 1), ctx, sealed))).toBe(ErrorCode.DECRYPT_FAILED);
    expect(code(() => openEndpoints(suite, { ...key, keyId: 2 }, ctx, sealed))).toBe(ErrorCode.DECRYPT_FAILED);
    // moved into another record (another sequence, another device): refused
    expect(code(() => openEndpoints(suite, key, { ...ctx, sequence: 43 }, sealed))).toBe(ErrorCode.DECRYPT_FAILED);
    expect(code(() => openEndpoints(suite, key, { ...ctx, deviceId: new Uint8Array(16) }, sealed))).toBe(
      ErrorCode.DECRYPT_FAILED,
    );
    const v6 = Array.from({ length: 8 }, (_, i) => ({
      protocol: 1,
      address: new Uint8Array(16).fill(i + 1),
      port: 65_535,
    }));
    expect(sealEndpoints(suite, random, key, ctx, v6).length).toBeLessThanOrEqual(MAX_SEALED_BYTES);
  });
});

describe('lookups from the node side', () => {
  it('[NODE-LOOK-1] [NODE-LOOK-2] [NODE-LOOK-3] forged, rewritten, foreign and replayed records are dropped; the floor rises', () => {
    const { w, trust } = setup();
    const alice = w.user('alice', 1);
    const mallory = w.user('mallory', 9);
    const home = new Uint8Array(32).fill(7);
    const floors = new MemorySequenceFloors();
    const read = (records: { certificate: Uint8Array; record: Uint8Array }[]) =>
      readLookup(records, { suite, username: 'alice', trust, floors });
    const r5 = presenceOf(alice, home, { sequence: 5, issuedAt: T0 });
    const r9 = presenceOf(alice, home, { sequence: 9, issuedAt: T0 });
    // forged: mallory's record put under alice's certificate; rewritten: a byte of the record changed
    const forged = { certificate: alice.chain[0]!, record: presenceOf(mallory, home, { issuedAt: T0 }).record };
    const rewritten = { ...r9, record: Uint8Array.from(r9.record) };
    rewritten.record[rewritten.record.length - 40]! ^= 1;
    const foreign = presenceOf(mallory, home, { issuedAt: T0 });
    expect(read([forged, rewritten, foreign])).toEqual([]);
    expect(read([r9]).map((d) => d.sequence)).toEqual([9]);
    // a holder replaying the older record: dropped now that 9 was seen; the same record again: kept
    expect(read([r5])).toEqual([]);
    expect(read([r9]).map((d) => d.sequence)).toEqual([9]);
  });

  it('[NODE-SEAL-2] [DIR-LOOK-1] through real supernodes: a contact holding the presence key sees the endpoints, a stranger only the home supernode', async () => {
    const { w } = setup();
    const s1 = await w.addSupernode({ address: '30.0.1.1' });
    const s2 = await w.addSupernode({ address: '30.0.2.1' });
    w.publishList();
    const alice = w.user('alice', 1);
    const key = newPresenceKey(random, 3);
    const client = await w.connect(s1, alice);
    await w.run(client.attach());
    const issuedAt = T0 + w.sim.now;
    const sealed = sealEndpoints(
      suite,
      random,
      key,
      { username: 'alice', deviceId: alice.deviceId, sequence: 77 },
      EPS,
    );
    await w.run(client.publish(presenceOf(alice, s1.identity.keyId, { sequence: 77, issuedAt, sealed })));
    const bob = await w.connect(s2, w.user('bob', 2));
    await w.run(bob.attach());
    const records = await w.run(bob.lookup('alice'));
    const trust = {
      trustAnchors: [w.net.root.publicKey],
      loginCertificates: [w.net.loginCertificate],
      nowMs: T0 + w.sim.now,
    };
    const asContact = readLookup(records, {
      suite,
      username: 'alice',
      trust,
      floors: new MemorySequenceFloors(),
      presenceKey: (u, id) => (u === 'alice' && id === 3 ? key : undefined),
    });
    expect(asContact.length).toBe(1);
    expect(asContact[0]!.endpoints).toEqual(EPS);
    expect(Buffer.from(asContact[0]!.homeSupernode)).toEqual(Buffer.from(s1.identity.keyId));
    const asStranger = readLookup(records, { suite, username: 'alice', trust, floors: new MemorySequenceFloors() });
    expect(asStranger.length).toBe(1);
    expect(asStranger[0]!.endpoints).toBeUndefined();
    expect(Buffer.from(asStranger[0]!.homeSupernode)).toEqual(Buffer.from(s1.identity.keyId));
  });
});
