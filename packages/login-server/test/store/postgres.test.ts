/**
 * The Store contract (contract.ts) against PostgresStore: PARLEY_PG_URL when set, otherwise a private
 * throwaway cluster (src/testing/pg-cluster.ts). One fresh database for this file, dropped at the end. The store
 * contract's tests share one schema, emptied before each test; migration tests and multi-store tests get
 * a schema of their own. Then what only a shared database has: several stores (each with its own
 * pool, as separate server processes have) on one schema, racing for serials, one-time prekeys, counters
 * and compare-and-set, and openStore with postgres:// URLs.
 *
 * Skipped, with the reason in the report, where PostgreSQL is not available.
 */
import { ApiMisuse } from '@parley/wire';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, POSTGRES_MIGRATIONS, PostgresStore, type Store } from '../../src/store/index.js';
import { type PgDatabase, type PgServer, pgAvailability, startPg } from '../../src/testing/pg-cluster.js';
import { migrationContract, type StoreHandle, storeContract } from './contract.js';

const available = pgAvailability();

describe.runIf(available.ok)('PostgreSQL', () => {
  let server: PgServer | undefined;
  let db: PgDatabase;
  let admin: pg.Pool;
  let schemas = 0;

  beforeAll(async () => {
    server = await startPg();
    db = await server.createDatabase('store');
    admin = new pg.Pool({ connectionString: db.url, max: 2 });
  }, 60_000);

  afterAll(async () => {
    await admin?.end();
    await server?.stop(); // drops the database; stops a private cluster and deletes its directory
  }, 60_000);

  const freshSchema = () => `t${++schemas}_${process.pid}`;
  const dropSchema = (schema: string) => admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);

  /**
   * The contract's tests run one after another and each needs an empty database: one schema, migrated
   * once, emptied before each test (every table truncated, every sequence restarted), is that at a
   * fraction of the cost of migrating a new schema per test. Each test still runs migrate() on its store.
   */
  const contractSchema = `contract_${process.pid}`;
  let contractSchemaReady = false;
  async function emptySchema(schema: string): Promise<void> {
    const tables = await admin.query<{ t: string }>(
      "SELECT tablename AS t FROM pg_tables WHERE schemaname = $1 AND tablename <> 'schema_migrations'",
      [schema],
    );
    await admin.query(`TRUNCATE ${tables.rows.map((r) => `"${schema}"."${r.t}"`).join(', ')}`);
    const sequences = await admin.query<{ s: string }>(
      'SELECT sequencename AS s FROM pg_sequences WHERE schemaname = $1',
      [schema],
    );
    for (const r of sequences.rows) await admin.query(`ALTER SEQUENCE "${schema}"."${r.s}" RESTART`);
  }

  async function schemaStore(): Promise<StoreHandle> {
    if (contractSchemaReady) await emptySchema(contractSchema);
    const store = new PostgresStore({ connectionString: db.url, schema: contractSchema, poolSize: 4 });
    await store.migrate();
    contractSchemaReady = true;
    return { store, cleanup: () => store.close() };
  }

  storeContract('PostgresStore', schemaStore);

  migrationContract('PostgresStore', {
    migrations: POSTGRES_MIGRATIONS,
    async fresh() {
      const schema = freshSchema();
      const opened: Store[] = [];
      return {
        open(migrations) {
          const s = new PostgresStore({ connectionString: db.url, schema, poolSize: 2, migrations });
          opened.push(s);
          return s;
        },
        async cleanup() {
          for (const s of opened) await s.close();
          await dropSchema(schema);
        },
      };
    },
  });

  describe('several server processes on one database (one pool each)', () => {
    /** `n` stores on one fresh schema, as n server processes with their own pools would be. */
    async function processes(n: number): Promise<{ stores: PostgresStore[]; cleanup(): Promise<void> }> {
      const schema = freshSchema();
      const stores = Array.from(
        { length: n },
        () => new PostgresStore({ connectionString: db.url, schema, poolSize: 4 }),
      );
      await Promise.all(stores.map((s) => s.migrate())); // [LOGIN-STORE-12] all at once
      return {
        stores,
        async cleanup() {
          for (const s of stores) await s.close();
          await dropSchema(schema);
        },
      };
    }

    const info = (subject: string) => ({
      role: 'user' as const,
      subject,
      subjectKey: new Uint8Array(32).fill(1),
      deviceId: new Uint8Array(16).fill(2),
      notBeforeMs: 0,
      notAfterMs: 1_000,
      issuedAtMs: 0,
    });

    it('[LOGIN-STORE-7] [LOGIN-STORE-12] [LOGIN-STORE-13] two stores allocate disjoint, increasing serials from 1, never reused after failures', async () => {
      const { stores, cleanup } = await processes(2);
      const [a, b] = stores as [PostgresStore, PostgresStore];
      try {
        const issueMany = (s: PostgresStore, who: string) =>
          Promise.all(
            Array.from({ length: 40 }, (_, i) =>
              s.issueCertificate(info(`${who}${i}`), (serial) => {
                if (i % 10 === 9) throw new Error('signing failed'); // some fail: their serials stay unused
                return new Uint8Array([serial & 0xff]);
              }),
            ).map((p) =>
              p.then(
                (c) => c.serial,
                () => undefined,
              ),
            ),
          );
        const [fromA, fromB] = await Promise.all([issueMany(a, 'a'), issueMany(b, 'b')]);
        const serials = [...fromA, ...fromB].filter((s): s is number => s !== undefined);
        expect(serials).toHaveLength(72);
        expect(new Set(serials).size).toBe(72); // disjoint
        expect(Math.min(...serials)).toBeGreaterThanOrEqual(1);
        for (const serial of serials) expect((await a.getCertificate(serial))?.serial).toBe(serial);
        // One process's serials increase in the order it was given them.
        const later = await b.issueCertificate(info('last'), () => new Uint8Array([1]));
        expect(later.serial).toBeGreaterThan(Math.max(...serials));
      } finally {
        await cleanup();
      }
    });

    it('[LOGIN-STORE-6] two stores fetching concurrently never hand the same one-time prekey out twice, and hand out all', async () => {
      const { stores, cleanup } = await processes(3);
      try {
        const [a] = stores as [PostgresStore];
        const devices = [0x10, 0x20, 0x30].map((b) => new Uint8Array(16).fill(b));
        const all = new Set<string>();
        for (const d of devices) {
          await a.putSignedPrekey('alice', d, new Uint8Array([1]), new Uint8Array([2]), 1);
          const keys = Array.from({ length: 60 }, (_, i) => ({ id: i + 1, publicKey: new Uint8Array(32).fill(i) }));
          expect(await a.addOneTimePrekeys('alice', d, keys, 100)).toBe(60);
          for (const k of keys) all.add(`${d[0]}/${k.id}`);
        }
        const handed: string[] = [];
        // Every store runs 8 fetchers in parallel, each fetching until it gets nothing.
        const fetcher = async (s: PostgresStore) => {
          for (;;) {
            const bundles = await s.takePrekeyBundles('alice', 10);
            const got = bundles.filter((x) => x.oneTimePrekey !== undefined);
            for (const x of got) handed.push(`${x.deviceId[0]}/${x.oneTimePrekey!.id}`);
            if (got.length === 0) return;
          }
        };
        await Promise.all(stores.flatMap((s) => Array.from({ length: 8 }, () => fetcher(s))));
        expect(handed).toHaveLength(all.size);
        expect(new Set(handed)).toEqual(all);
      } finally {
        await cleanup();
      }
    });

    it('[LOGIN-STORE-1] [LOGIN-STORE-5] counters, compare-and-set, publication and the prekey cap hold across stores', async () => {
      const { stores, cleanup } = await processes(3);
      try {
        const n = 30;
        await Promise.all(
          Array.from({ length: n }, (_, i) => stores[i % 3]!.recordLoginFailure('alice', 1_000 + i, 60_000)),
        );
        expect((await stores[0]!.getLoginFailures('alice'))?.count).toBe(n);

        await stores[0]!.putContactBlob('alice', 0, new Uint8Array([0]), 1);
        const cas = await Promise.all(
          Array.from({ length: 12 }, (_, i) => stores[i % 3]!.putContactBlob('alice', 1, new Uint8Array([i]), 2)),
        );
        expect(cas.filter((r) => r.ok)).toEqual([{ ok: true, version: 2 }]);

        const published = await Promise.all(
          Array.from({ length: 12 }, (_, i) =>
            stores[i % 3]!.publish('supernode-list', {
              version: 1 + (i % 4),
              pages: [new Uint8Array([i])],
              publishedAtMs: i,
            }),
          ),
        );
        // Whatever the interleaving, the stored version is the highest offered, and it was stored by a true.
        const got = await stores[1]!.getPublished('supernode-list');
        expect(got?.version).toBe(4);
        expect(published[got!.publishedAtMs]).toBe(true);

        const device = new Uint8Array(16).fill(9);
        await stores[0]!.putSignedPrekey('bob', device, new Uint8Array([1]), new Uint8Array([2]), 1);
        await Promise.all(
          Array.from({ length: 9 }, (_, b) =>
            stores[b % 3]!.addOneTimePrekeys(
              'bob',
              device,
              Array.from({ length: 4 }, (_, i) => ({ id: b * 10 + i, publicKey: new Uint8Array(32) })),
              10,
            ),
          ),
        );
        expect(await stores[2]!.countOneTimePrekeys('bob', device)).toBe(10);

        const results = await Promise.all(
          stores.map((s, i) => s.createAccount({ username: 'same', registrationRecord: new Uint8Array([i]), atMs: i })),
        );
        expect(results.filter((r) => r === 'created')).toHaveLength(1);
      } finally {
        await cleanup();
      }
    });
  });

  describe('PostgresStore specifics', () => {
    it('[LOGIN-STORE-9] openStore accepts postgres:// and postgresql:// URLs and migrates', async () => {
      const schema = freshSchema();
      for (const url of [db.url, db.url.replace(/^postgres:/, 'postgresql:')]) {
        const s = await openStore(url, { postgres: { schema, poolSize: 2 } });
        try {
          expect(s.kind).toBe('postgres');
          expect(await s.schemaVersion()).toBe(POSTGRES_MIGRATIONS.length);
          await s.createAccount({ username: url.slice(0, 10), registrationRecord: new Uint8Array([1]), atMs: 1 });
        } finally {
          await s.close();
        }
      }
      const s = await openStore(db.url, { postgres: { schema } });
      expect(await s.countAccounts()).toBe(2);
      await s.close();
      await dropSchema(schema);
    });

    it('[LOGIN-STORE-2] refuses a session whose synchronous_commit is off (commits would be acknowledged before they are durable)', async () => {
      const schema = freshSchema();
      const ok = await openStore(db.url, { postgres: { schema } });
      await ok.close();
      try {
        // The session setting arrives through the URL's libpq `options`, as an operator's might.
        const url = new URL(db.url);
        url.searchParams.set('options', '-c synchronous_commit=off');
        const s = new PostgresStore({ connectionString: url.toString(), schema });
        await expect(s.countAccounts()).rejects.toMatchObject({ name: 'StoreError', reason: 'not-durable' });
        await s.close();
        await expect(openStore(url.toString(), { postgres: { schema } })).rejects.toMatchObject({
          reason: 'not-durable',
        });
      } finally {
        await dropSchema(schema);
      }
    });

    it('[LOGIN-STORE-14] an account row holds the OPAQUE registration record and metadata, nothing else', async () => {
      const schema = freshSchema();
      const s = await openStore(db.url, { postgres: { schema } });
      try {
        await s.createAccount({ username: 'alice', registrationRecord: new Uint8Array([1, 2, 3]), atMs: 5 });
        await s.replaceRegistrationRecord('alice', new Uint8Array([4, 5]), 6);
        const r = await admin.query(`SELECT * FROM "${schema}".accounts`);
        expect(r.fields.map((f) => f.name).sort()).toEqual([
          'created_at_ms',
          'disabled',
          'password_changed_at_ms',
          'registration_record',
          'username',
        ]);
        expect(r.rows).toEqual([
          {
            username: 'alice',
            registration_record: Buffer.from([4, 5]),
            created_at_ms: '5',
            password_changed_at_ms: '6',
            disabled: false,
          },
        ]);
      } finally {
        await s.close();
        await dropSchema(schema);
      }
    });

    it('rejects a schema name that is not a plain lower-case identifier', () => {
      expect(() => new PostgresStore({ connectionString: db.url, schema: 'x"; DROP TABLE accounts; --' })).toThrow(
        ApiMisuse,
      );
      expect(() => new PostgresStore({ connectionString: db.url, poolSize: 0 })).toThrow(ApiMisuse);
    });

    it('a pool that cannot connect rejects calls with the driver error, within the connection timeout', async () => {
      const url = new URL(db.url);
      url.port = '1'; // nothing listens there
      const s = new PostgresStore({ connectionString: url.toString(), connectionTimeoutMs: 2_000 });
      const started = Date.now();
      await expect(s.countAccounts()).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(5_000);
      await s.close();
    });
  });
});

// Where PostgreSQL cannot run, say why in the test report instead of passing silently.
if (!available.ok) {
  console.warn(`PostgreSQL store tests skipped: ${available.reason}`);
  it.skip(`PostgreSQL store tests skipped: ${available.reason}`, () => {});
}
