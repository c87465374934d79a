/**
 * The OfflineStore contract (contract.ts) against SqliteOfflineStore on a fresh temporary file per test
 * (WAL, synchronous = FULL, as an operator-hosted supernode runs it), and what only the durable store has:
 * durability across reopen, the pragmas, migrations, index use. The crash test is crash.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fullTableScans } from '@parley/login-server/testing';
import { ApiMisuse } from '@parley/wire';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import {
  MemoryOfflineStore,
  OFFLINE_SQLITE_MIGRATIONS,
  OfflineStoreError,
  openOfflineStore,
  SqliteOfflineStore,
} from '../../src/offline/index.js';
import { messageId, msg, offlineStoreContract } from './contract.js';
import { plain } from './model.js';

const dir = mkdtempSync(join(tmpdir(), 'parley-offline-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const freshPath = () => join(dir, `offline-${++files}.db`);
const removeFiles = (path: string) => {
  for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
};
const inner = (s: SqliteOfflineStore) => (s as unknown as { db: Database.Database }).db;

offlineStoreContract('SqliteOfflineStore (file)', async (limits) => {
  const path = freshPath();
  const store = await SqliteOfflineStore.open(path, limits === undefined ? {} : { limits });
  return {
    store,
    async cleanup() {
      await store.close();
      removeFiles(path);
    },
  };
});

describe('SqliteOfflineStore specifics', () => {
  it('[STORE-PERSIST-1] [STORE-PERSIST-3] everything a completed call did is there after close and reopen, byte for byte', async () => {
    const path = freshPath();
    const a = await SqliteOfflineStore.open(path);
    const kept = [msg({ id: 1, size: 500 }), msg({ id: 2, sender: 'carol', createdAt: 5 }), msg({ recipient: 'dave' })];
    const acked = msg({ id: 3, expiresAt: 9_000 });
    for (const m of [...kept, acked]) expect(await a.put(m, 0)).toBe('stored');
    expect(await a.ack('bob', [{ sender: acked.sender, messageId: acked.messageId }], 1)).toBe(1);
    await a.close();

    const b = await SqliteOfflineStore.open(path);
    try {
      expect(await b.stats()).toEqual({
        messages: 3,
        bytes: kept.reduce((n, m) => n + m.envelope.length, 0),
        tombstones: 1,
      });
      expect((await b.fetch('bob', 64, 2)).messages.map(plain)).toEqual([kept[1]!, kept[0]!].map(plain));
      expect((await b.fetch('dave', 64, 2)).messages.map(plain)).toEqual([plain(kept[2]!)]);
      // The tombstone survived too: no resurrection after a restart.
      expect(await b.put(acked, 3)).toBe('duplicate');
    } finally {
      await b.close();
      removeFiles(path);
    }
  });

  it('[STORE-PERSIST-1] a file database runs in WAL mode with synchronous = FULL', async () => {
    const path = freshPath();
    const s = await SqliteOfflineStore.open(path);
    try {
      const other = new Database(path, { readonly: true });
      expect(other.pragma('journal_mode', { simple: true })).toBe('wal');
      other.close();
      expect(inner(s).pragma('synchronous', { simple: true })).toBe(2);
      expect(inner(s).pragma('busy_timeout', { simple: true })).toBe(5_000);
    } finally {
      await s.close();
      removeFiles(path);
    }
  });

  it('[STORE-PERSIST-4] the schema is versioned: migrate is idempotent, an unmigrated database is refused, a newer one too', async () => {
    const path = freshPath();
    const fresh = new SqliteOfflineStore(path);
    expect(await fresh.schemaVersion()).toBe(0);
    await expect(fresh.put(msg(), 0)).rejects.toMatchObject({ name: 'OfflineStoreError', reason: 'schema-outdated' });
    await fresh.migrate();
    await fresh.migrate();
    expect(await fresh.schemaVersion()).toBe(OFFLINE_SQLITE_MIGRATIONS.length);
    expect(await fresh.put(msg(), 0)).toBe('stored');
    await fresh.close();

    const newer = new SqliteOfflineStore(path, {
      migrations: [
        ...OFFLINE_SQLITE_MIGRATIONS,
        { version: OFFLINE_SQLITE_MIGRATIONS.length + 1, name: 'x', sql: 'CREATE TABLE x (a)' },
      ],
    });
    await newer.migrate();
    await newer.close();
    const e = await SqliteOfflineStore.open(path).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(OfflineStoreError);
    expect((e as OfflineStoreError).reason).toBe('schema-newer');
    removeFiles(path);
  });

  it('[STORE-PERSIST-4] a failing migration is rolled back whole and leaves the previous version', async () => {
    const path = freshPath();
    const bad = new SqliteOfflineStore(path, {
      migrations: [
        ...OFFLINE_SQLITE_MIGRATIONS,
        {
          version: OFFLINE_SQLITE_MIGRATIONS.length + 1,
          name: 'bad',
          sql: 'CREATE TABLE y (a); INSERT INTO nope VALUES (1);',
        },
      ],
    });
    await expect(bad.migrate()).rejects.toMatchObject({ reason: 'migration-failed' });
    expect(await bad.schemaVersion()).toBe(OFFLINE_SQLITE_MIGRATIONS.length);
    expect(inner(bad).prepare("SELECT 1 FROM sqlite_master WHERE name = 'y'").get()).toBeUndefined();
    await bad.close();
    removeFiles(path);
  });

  it('no statement the store prepares scans a whole table (each uses an index)', async () => {
    const s = new SqliteOfflineStore(':memory:');
    try {
      const { statements, fullScans } = await fullTableScans(
        inner(s),
        async () => {
          await s.migrate();
          await s.stats(); // prepares every method's statements
        },
        /sqlite_master|schema_migrations|FROM totals/, // tiny tables
      );
      expect(statements).toBeGreaterThan(15);
      expect(fullScans).toEqual([]);
    } finally {
      await s.close();
    }
  });

  it('the totals kept by triggers equal the rows after a mixed workload', async () => {
    const s = await SqliteOfflineStore.open(':memory:');
    try {
      for (let i = 0; i < 40; i++) await s.put(msg({ id: i, sender: `s${i % 5}`, expiresAt: 100 + i, size: i }), 0);
      await s.ack(
        'bob',
        [0, 3, 7, 11].map((i) => ({ sender: `s${i % 5}`, messageId: messageId(i) })),
        1,
      );
      await s.prune(120, 5);
      await s.remove('nobody');
      const db = inner(s);
      const rows = db
        .prepare('SELECT count(*) AS messages, coalesce(sum(length(envelope)), 0) AS bytes FROM messages')
        .get();
      const tombstones = db.prepare('SELECT count(*) FROM tombstones').pluck().get();
      expect(await s.stats()).toEqual({ ...(rows as object), tombstones });
    } finally {
      await s.close();
    }
  });
});

describe('openOfflineStore', () => {
  it('[STORE-PERSIST-1] [STORE-PERSIST-2] opens memory or a migrated SQLite file, and refuses other forms', async () => {
    const memory = await openOfflineStore('memory', { limits: { maxMessagesPerSender: 7 } });
    expect(memory).toBeInstanceOf(MemoryOfflineStore);
    expect(memory.limits.maxMessagesPerSender).toBe(7);
    await memory.close();
    const path = freshPath();
    const file = await openOfflineStore(`sqlite:${path}`);
    expect(file).toBeInstanceOf(SqliteOfflineStore);
    expect(await file.put(msg(), 0)).toBe('stored');
    await file.close();
    const again = await openOfflineStore(`sqlite:${path}`);
    expect(await again.pending('bob', 0)).toBe(1);
    await again.close();
    removeFiles(path);
    for (const bad of ['', 'sqlite:', 'mem', 'postgres://x', 'sqlite:///var/x']) {
      await expect(openOfflineStore(bad)).rejects.toBeInstanceOf(ApiMisuse);
    }
  });
});
