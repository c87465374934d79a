/**
 * The Store contract (contract.ts) against SqliteStore on a fresh temporary database file per test (WAL,
 * synchronous = FULL, as in production), and a subset against `:memory:`; the migration contract on
 * temporary files; openStore's URL forms; and what only SQLite has (pragmas, the account counter).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiMisuse } from '@parley/wire';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore, SQLITE_MIGRATIONS, SqliteStore, STORE_URL_FORMS, type Store } from '../../src/store/index.js';
import { fullTableScans } from '../../src/testing/sqlite-plans.js';
import { migrationContract, type StoreHandle, storeContract } from './contract.js';

const dir = mkdtempSync(join(tmpdir(), 'parley-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const freshPath = () => join(dir, `store-${++files}.db`);

async function fileStore(): Promise<StoreHandle> {
  const path = freshPath();
  const store = new SqliteStore(path);
  await store.migrate();
  return {
    store,
    async cleanup() {
      await store.close();
      for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
    },
  };
}

storeContract('SqliteStore (file)', fileStore);

migrationContract('SqliteStore (file)', {
  migrations: SQLITE_MIGRATIONS,
  async fresh() {
    const path = freshPath();
    const opened: Store[] = [];
    return {
      open(migrations) {
        const s = new SqliteStore(path, { migrations });
        opened.push(s);
        return s;
      },
      async cleanup() {
        for (const s of opened) await s.close();
        for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
      },
    };
  },
});

describe('SqliteStore (:memory:)', () => {
  it('[LOGIN-STORE-9] openStore("sqlite::memory:") gives a migrated, working store', async () => {
    const s = await openStore('sqlite::memory:');
    try {
      expect(s.kind).toBe('sqlite');
      expect(await s.schemaVersion()).toBe(SQLITE_MIGRATIONS.length);
      expect(await s.createAccount({ username: 'a', registrationRecord: new Uint8Array([1]), atMs: 1 })).toBe(
        'created',
      );
      expect(await s.countAccounts()).toBe(1);
      await s.putSignedPrekey('a', new Uint8Array(16), new Uint8Array([1]), new Uint8Array([2]), 1);
      expect(await s.addOneTimePrekeys('a', new Uint8Array(16), [{ id: 1, publicKey: new Uint8Array(32) }], 5)).toBe(1);
      expect((await s.takePrekeyBundles('a', 1))[0]?.oneTimePrekey?.id).toBe(1);
    } finally {
      await s.close();
    }
  });

  it('two :memory: stores are separate databases', async () => {
    const a = await openStore('sqlite::memory:');
    const b = await openStore('sqlite::memory:');
    await a.createAccount({ username: 'x', registrationRecord: new Uint8Array([1]), atMs: 1 });
    expect(await b.countAccounts()).toBe(0);
    await a.close();
    await b.close();
  });
});

describe('SqliteStore specifics', () => {
  it('[LOGIN-STORE-2] [LOGIN-STORE-4] a file database runs in WAL mode with synchronous = FULL and foreign keys on', async () => {
    const path = freshPath();
    const s = await openStore(`sqlite:${path}`);
    try {
      expect(s).toBeInstanceOf(SqliteStore);
      // The pragmas are per connection except journal_mode, which is stored in the file: read it from another.
      const other = new Database(path, { readonly: true });
      expect(other.pragma('journal_mode', { simple: true })).toBe('wal');
      other.close();
      const inner = (s as unknown as { db: Database.Database }).db;
      expect(inner.pragma('synchronous', { simple: true })).toBe(2);
      expect(inner.pragma('foreign_keys', { simple: true })).toBe(1);
      expect(inner.pragma('busy_timeout', { simple: true })).toBe(5_000);
    } finally {
      await s.close();
    }
  });

  it('[LOGIN-STORE-19] no statement the store prepares scans a whole table (each uses a primary key or an index)', async () => {
    const s = new SqliteStore(':memory:');
    try {
      // Every statement the store prepares (migration, schema check, methods), planned.
      const db = (s as unknown as { db: Database.Database }).db;
      const { statements, fullScans } = await fullTableScans(
        db,
        async () => {
          await s.migrate();
          await s.countAccounts(); // prepares every method's statements
        },
        /sqlite_master|schema_migrations/, // once per open, tiny tables
      );
      expect(statements).toBeGreaterThan(30);
      expect(fullScans).toEqual([]);
    } finally {
      await s.close();
    }
  });

  it('[LOGIN-STORE-14] an account row holds the OPAQUE registration record and metadata, nothing else', async () => {
    const s = await openStore('sqlite::memory:');
    try {
      await s.createAccount({ username: 'alice', registrationRecord: new Uint8Array([1, 2, 3]), atMs: 5 });
      await s.replaceRegistrationRecord('alice', new Uint8Array([4, 5]), 6);
      const db = (s as unknown as { db: Database.Database }).db;
      expect(db.prepare('SELECT * FROM accounts').all()).toEqual([
        {
          username: 'alice',
          registration_record: Buffer.from([4, 5]),
          created_at_ms: 5,
          password_changed_at_ms: 6,
          disabled: 0,
        },
      ]);
    } finally {
      await s.close();
    }
  });

  it('countAccounts reads the trigger-kept counter, which matches count(*)', async () => {
    const s = await openStore('sqlite::memory:');
    try {
      for (let i = 0; i < 20; i++) {
        await s.createAccount({ username: `u${i % 15}`, registrationRecord: new Uint8Array([i]), atMs: i });
      }
      const db = (s as unknown as { db: Database.Database }).db;
      expect(await s.countAccounts()).toBe(15);
      expect(db.prepare('SELECT count(*) FROM accounts').pluck().get()).toBe(15);
    } finally {
      await s.close();
    }
  });

  it('the sign callback of issueCertificate cannot call the store (ApiMisuse), and nothing is recorded', async () => {
    const s = await openStore('sqlite::memory:');
    try {
      let inner: Promise<unknown> | undefined;
      const info = {
        role: 'user' as const,
        subject: 'a',
        subjectKey: new Uint8Array(32),
        deviceId: new Uint8Array(16),
        notBeforeMs: 0,
        notAfterMs: 10,
        issuedAtMs: 0,
      };
      const c = await s.issueCertificate(info, () => {
        inner = s.countAccounts();
        return new Uint8Array([1]);
      });
      await expect(inner).rejects.toBeInstanceOf(ApiMisuse);
      expect((await s.getCertificate(c.serial))?.serial).toBe(c.serial);
      expect(await s.countAccounts()).toBe(0);
    } finally {
      await s.close();
    }
  });
});

describe('openStore', () => {
  it('refuses URLs of other forms with ApiMisuse naming the accepted forms, without echoing the URL', async () => {
    for (const url of ['mysql://root:secret@db/x', 'sqlite:', 'sqlite:///var/db', 'login.db', '', 'postgres:/x']) {
      const e = await openStore(url).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(e, url).toBeInstanceOf(ApiMisuse);
      expect((e as Error).message).not.toContain('secret');
      if (url !== 'sqlite:///var/db') expect((e as Error).message).toContain(STORE_URL_FORMS);
    }
  });

  it('[LOGIN-STORE-9] sqlite:PATH opens a file and migrates it; reopening finds the data', async () => {
    const path = freshPath();
    const a = await openStore(`sqlite:${path}`);
    await a.createAccount({ username: 'a', registrationRecord: new Uint8Array([7]), atMs: 3 });
    await a.close();
    const b = await openStore(`sqlite:${path}`);
    expect((await b.getAccount('a'))?.createdAtMs).toBe(3);
    expect(await b.schemaVersion()).toBe(SQLITE_MIGRATIONS.length);
    await b.close();
  });

  it('[LOGIN-STORE-11] closes the store again when migrate() fails (a newer schema)', async () => {
    const path = freshPath();
    const newer = new SqliteStore(path, {
      migrations: [
        ...SQLITE_MIGRATIONS,
        { version: SQLITE_MIGRATIONS.length + 1, name: 'x', sql: 'CREATE TABLE x (a)' },
      ],
    });
    await newer.migrate();
    await newer.close();
    await expect(openStore(`sqlite:${path}`)).rejects.toMatchObject({ name: 'StoreError', reason: 'schema-newer' });
  });
});
