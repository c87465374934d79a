/**
 * Crash safety at the store level ([LOGIN-STORE-2], [LOGIN-STORE-3], [LOGIN-STORE-4], [LOGIN-STORE-7]):
 * a child process (fixtures/crash-writer.ts, run from source through scripts/ts-loader.mjs) writes
 * accounts, certificates and contact blobs in a tight loop and prints each iteration once its store
 * calls have resolved; the test SIGKILLs it after a seeded number of acknowledgements, in the middle of
 * whatever it was writing, then reopens the database and checks that it is intact and that every
 * acknowledged write is there, byte for byte. Several rounds run on one database, each continuing where
 * the last one's data ends, so recovery after a kill is itself followed by more kills.
 *
 * SQLite: the file (with its WAL) is what the killed process leaves. PostgreSQL (when available, see
 * src/testing/pg-cluster.ts): the killed process is a client; the server must roll back its open transaction and
 * lose nothing it committed.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/index.js';
import { killPoints, runUntilKilled } from '../../src/testing/crash.js';
import {
  type PgDatabase,
  type PgServer,
  pgAvailability,
  startPg,
  waitForSessionsToEnd,
} from '../../src/testing/pg-cluster.js';
import { certificate, contactBlob, registrationRecord, username } from './fixtures/crash-data.js';

const WRITER = fileURLToPath(new URL('./fixtures/crash-writer.ts', import.meta.url));

interface Ack {
  readonly i: number;
  readonly serial: number;
}

/** Every acknowledged iteration's account, certificate and contact blob are there, exactly. */
async function expectAcknowledged(store: Store, acks: readonly Ack[]): Promise<void> {
  const hex = (b: Uint8Array | undefined) => (b === undefined ? 'missing' : Buffer.from(b).toString('hex'));
  for (const { i, serial } of acks) {
    const account = await store.getAccount(username(i));
    expect(hex(account?.registrationRecord), username(i)).toBe(hex(registrationRecord(i)));
    expect(account?.createdAtMs).toBe(i);
    const cert = await store.getCertificate(serial);
    expect(cert?.subject).toBe(username(i));
    expect(hex(cert?.certificate)).toBe(hex(certificate(serial, i)));
    const blob = await store.getContactBlob(username(i));
    expect(blob?.version).toBe(1);
    expect(hex(blob?.blob)).toBe(hex(contactBlob(i)));
  }
}

/**
 * The rounds, for either database: before each, the next iteration (accounts are written in order, so it
 * is the account count) and the highest serial so far; after each, the checks. Serials acknowledged in a
 * round must all be above every serial that existed before it: a crash never makes a serial be reused.
 */
async function crashRounds(opts: {
  rounds: number;
  env: Record<string, string>;
  open(): Promise<Store>;
  maxSerial(): Promise<number>;
  afterKill(): Promise<void>;
}): Promise<void> {
  const acked: Ack[] = [];
  for (const killAfter of killPoints(Number(fc.readConfigureGlobal().seed ?? 1), opts.rounds, 20, 100)) {
    const before = await opts.open();
    const next = await before.countAccounts();
    await before.close();
    const serialBefore = await opts.maxSerial();
    const got = (await runUntilKilled({ script: WRITER, args: [String(next)], env: opts.env, killAfter })).map(
      (line): Ack => {
        const [i, serial] = line.split(' ').map(Number);
        return { i: i!, serial: serial! };
      },
    );
    expect(got.length).toBeGreaterThanOrEqual(killAfter);
    expect(got[0]?.i).toBe(next);
    await opts.afterKill();
    const store = await opts.open();
    try {
      await expectAcknowledged(store, [...acked, ...got]);
      for (const a of got) expect(a.serial).toBeGreaterThan(serialBefore);
      expect(await store.countAccounts()).toBeGreaterThanOrEqual(next + got.length);
      // Still fully usable: one more write of every kind succeeds.
      expect(
        await store.createAccount({ username: 'after-crash', registrationRecord: new Uint8Array([1]), atMs: 1 }),
      ).toMatch(/created|exists/);
    } finally {
      await store.close();
    }
    acked.push(...got);
  }
  expect(new Set(acked.map((a) => a.serial)).size).toBe(acked.length);
}

describe('crash safety: SQLite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-crash-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('[LOGIN-STORE-2] [LOGIN-STORE-3] [LOGIN-STORE-4] [LOGIN-STORE-7] a writer SIGKILLed mid-burst loses nothing it acknowledged and leaves an intact file (3 rounds)', async () => {
    const path = join(dir, 'login.db');
    await crashRounds({
      rounds: 3,
      env: { PARLEY_CRASH_STORE_URL: `sqlite:${path}` },
      open: () => openStore(`sqlite:${path}`),
      async maxSerial() {
        const db = new Database(path);
        try {
          return (db.prepare('SELECT coalesce(max(serial), 0) FROM certificates').pluck().get() as number) ?? 0;
        } finally {
          db.close();
        }
      },
      async afterKill() {
        // The killed process leaves its WAL behind; the next open must recover from it.
        expect(existsSync(`${path}-wal`)).toBe(true);
        const db = new Database(path);
        try {
          expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
          expect(db.pragma('foreign_key_check')).toEqual([]);
        } finally {
          db.close();
        }
      },
    });
  }, 120_000);
});

const available = pgAvailability();

describe.runIf(available.ok)('crash safety: PostgreSQL', () => {
  let server: PgServer | undefined;
  let db: PgDatabase;

  beforeAll(async () => {
    server = await startPg();
    db = await server.createDatabase('crash');
  }, 60_000);
  afterAll(() => server?.stop(), 60_000);

  it('[LOGIN-STORE-2] [LOGIN-STORE-3] [LOGIN-STORE-4] [LOGIN-STORE-7] a client SIGKILLed mid-burst loses nothing acknowledged; the database stays usable (2 rounds)', async () => {
    const schema = 'crash';
    const admin = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      await crashRounds({
        rounds: 2,
        env: { PARLEY_CRASH_STORE_URL: db.url, PARLEY_CRASH_PG_SCHEMA: schema },
        open: () => openStore(db.url, { postgres: { schema, poolSize: 2 } }),
        async maxSerial() {
          const exists = await admin.query(`SELECT to_regclass('"${schema}".certificates') IS NOT NULL AS e`);
          if (exists.rows[0]?.e !== true) return 0;
          return Number(
            (await admin.query(`SELECT coalesce(max(serial), 0) AS m FROM "${schema}".certificates`)).rows[0]?.m,
          );
        },
        afterKill: () => waitForSessionsToEnd(admin, 'parley-login-server'),
      });
    } finally {
      await admin.end();
    }
  }, 120_000);
});

if (!available.ok) {
  console.warn(`PostgreSQL crash test skipped: ${available.reason}`);
  it.skip(`PostgreSQL crash test skipped: ${available.reason}`, () => {});
}
