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
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/index.js';
import {
  type PgDatabase,
  type PgServer,
  pgAvailability,
  startPg,
  waitForSessionsToEnd,
} from '../../src/testing/pg-cluster.js';
import { certificate, contactBlob, registrationRecord, username } from './fixtures/crash-data.js';

const LOADER = pathToFileURL(fileURLToPath(new URL('../../../../scripts/ts-loader.mjs', import.meta.url))).href;
const WRITER = fileURLToPath(new URL('./fixtures/crash-writer.ts', import.meta.url));

/** How many acknowledgements each round waits for before the kill: seeded from fast-check's global seed. */
function killPoints(rounds: number): number[] {
  let x = Number(fc.readConfigureGlobal().seed ?? 1) >>> 0 || 1;
  return Array.from({ length: rounds }, () => {
    x = (Math.imul(x, 1_103_515_245) + 12_345) >>> 0;
    return 20 + (x % 100);
  });
}

interface Ack {
  readonly i: number;
  readonly serial: number;
}

/**
 * Runs the writer from iteration `start` until it has acknowledged `killAfter` iterations, then SIGKILLs
 * it. Resolves with every acknowledgement it printed (a few may arrive after the kill was sent).
 */
function runUntilKilled(env: Record<string, string>, start: number, killAfter: number): Promise<Ack[]> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, ['--import', LOADER, WRITER, String(start)], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const acks: Ack[] = [];
    let stderr = '';
    let killed = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the writer did not reach ${killAfter} acknowledgements in time: ${stderr}`));
    }, 50_000);
    child.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4_000);
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line === 'ready') return;
      const [i, serial] = line.split(' ').map(Number);
      acks.push({ i: i!, serial: serial! });
      if (acks.length >= killAfter && !killed) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL' && killed) resolve(acks);
      else reject(new Error(`the writer exited by itself (code ${code}, signal ${signal}): ${stderr}`));
    });
  });
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
  for (const killAfter of killPoints(opts.rounds)) {
    const before = await opts.open();
    const next = await before.countAccounts();
    await before.close();
    const serialBefore = await opts.maxSerial();
    const got = await runUntilKilled(opts.env, next, killAfter);
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
