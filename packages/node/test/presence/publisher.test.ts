/**
 * Publishing presence (spec/09-node.md §9): statuses, the sequence across a restart (SQLite store
 * reopened), sealed endpoints only when visible, refresh at half the lifetime — published through a real
 * supernode of the simulator and read back by a contact and a stranger.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite, T0, World } from '@parley/supernode/testing';
import { PresenceStatus, seededRandom } from '@parley/wire';
import { afterAll, describe, expect, it } from 'vitest';
import {
  MemorySequenceFloors,
  newPresenceKey,
  PresencePublisher,
  readLookup,
  recordStatus,
} from '../../src/presence/index.js';
import { MemoryNodeStore, SqliteNodeStore } from '../../src/store/index.js';

const random = seededRandom('publisher tests');
const EPS = [{ protocol: 1, address: Uint8Array.of(203, 0, 113, 9), port: 40_001 }];
const dir = mkdtempSync(join(tmpdir(), 'parley-publisher-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('presence publisher', () => {
  it('[NODE-PRES-1] maps user statuses onto record statuses (busy is do-not-disturb; invisible and offline are OFFLINE)', () => {
    expect(recordStatus('online')).toBe(PresenceStatus.PRESENCE_STATUS_ONLINE);
    expect(recordStatus('away')).toBe(PresenceStatus.PRESENCE_STATUS_AWAY);
    expect(recordStatus('busy')).toBe(PresenceStatus.PRESENCE_STATUS_DO_NOT_DISTURB);
    expect(recordStatus('invisible')).toBe(PresenceStatus.PRESENCE_STATUS_OFFLINE);
    expect(recordStatus('offline')).toBe(PresenceStatus.PRESENCE_STATUS_OFFLINE);
  });

  it('[NODE-PRES-2] [NODE-STORE-2] sequences go up across a restart even when the clock went back', () => {
    const w = new World({ seed: 'publisher restart' });
    const me = w.user('alice');
    const path = join(dir, 'restart.db');
    const mk = (store: SqliteNodeStore) =>
      new PresencePublisher({
        suite,
        random,
        store,
        username: 'alice',
        deviceId: me.deviceId,
        seed: () => me.seed,
        certificate: () => me.chain[0]!,
      });
    const s1 = new SqliteNodeStore(path);
    const home = new Uint8Array(32).fill(1);
    const a = mk(s1).next({ nowMs: T0 + 10_000, status: 'online', home, lifetimeMs: 600_000 });
    const b = mk(s1).next({ nowMs: T0 + 10_000, status: 'away', home, lifetimeMs: 600_000 });
    expect(a.sequence).toBe(T0 + 10_000);
    expect(b.sequence).toBe(a.sequence + 1);
    s1.close();
    const s2 = new SqliteNodeStore(path);
    const c = mk(s2).next({ nowMs: T0, status: 'online', home, lifetimeMs: 600_000 }); // clock went back 10 s
    expect(c.sequence).toBe(b.sequence + 1);
    s2.close();
  });

  it('[NODE-PRES-3] [NODE-PRES-4] [NODE-SEAL-1] through a supernode: a contact sees endpoints when visible, nobody when invisible; refresh at half life', async () => {
    const w = new World({ seed: 'publisher world' });
    const sn = await w.addSupernode();
    w.publishList();
    const me = w.user('alice');
    const home = await w.connect(sn, me);
    await w.run(home.attach());
    const key = newPresenceKey(random, 7);
    const pub = new PresencePublisher({
      suite,
      random,
      store: new MemoryNodeStore(),
      username: 'alice',
      deviceId: me.deviceId,
      seed: () => me.seed,
      certificate: () => me.chain[0]!,
    });
    const trust = { trustAnchors: [w.net.root.publicKey], loginCertificates: [w.net.loginCertificate], nowMs: T0 + 1 };
    const looker = await w.connect(sn, w.user('bob'));
    await w.run(looker.attach());
    const look = async (withKey: boolean) =>
      readLookup(await w.run(looker.lookup('alice')), {
        suite,
        username: 'alice',
        trust,
        floors: new MemorySequenceFloors(),
        ...(withKey ? { presenceKey: (_u: string, id: number) => (id === 7 ? key : undefined) } : {}),
      });

    const r1 = pub.next({
      nowMs: T0,
      status: 'online',
      home: sn.identity.keyId,
      lifetimeMs: 600_000,
      key,
      endpoints: EPS,
    });
    expect(r1.refreshAt).toBe(T0 + 300_000);
    await w.run(home.publish(r1));
    const seen = await look(true);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.status).toBe(PresenceStatus.PRESENCE_STATUS_ONLINE);
    expect(seen[0]!.endpoints).toEqual(EPS);
    expect((await look(false))[0]!.endpoints).toBeUndefined(); // a stranger: no endpoints

    const r2 = pub.next({
      nowMs: T0 + 1,
      status: 'invisible',
      home: sn.identity.keyId,
      lifetimeMs: 600_000,
      key,
      endpoints: EPS,
    });
    await w.run(home.publish(r2));
    const hidden = await look(true);
    expect(hidden[0]!.status).toBe(PresenceStatus.PRESENCE_STATUS_OFFLINE);
    expect(hidden[0]!.endpoints).toBeUndefined(); // not even the contact
  });
});
