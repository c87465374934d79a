/**
 * Crash safety of the login server as a process ([LOGIN-STORE-3], [LOGIN-STORE-4]): `serve` runs from
 * source in a child process; several client processes (fixtures/register-burst.ts, over real TCP) register
 * accounts concurrently and print every registration the server acknowledged (RegisterFinishReply
 * received); after a seeded number of acknowledgements the test SIGKILLs the server in the middle of the
 * burst. Then the database must be intact (SQLite: PRAGMA integrity_check) and hold every acknowledged
 * account: `serve` starts again on the same data directory, a seeded sample of the accounts logs in over
 * TCP, and the store, read directly, has all of them.
 *
 * SQLite: the file and WAL the killed process leaves. PostgreSQL (when available, see
 * ../../src/testing/pg-cluster.ts): the killed process is a client of the database, whose open transactions the
 * server must roll back while keeping every commit.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { opaqueReady } from '../../src/accounts/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import {
  type PgDatabase,
  type PgServer,
  pgAvailability,
  startPg,
  waitForSessionsToEnd,
} from '../../src/testing/pg-cluster.js';
import { cli, cliJson, connect, device, LOADER, PASSWORD, type ServeProcess, serve } from './fixtures.js';

const BURST = fileURLToPath(new URL('./fixtures/register-burst.ts', import.meta.url));
/** Client processes, channels per process, and the most registrations one process attempts. */
const PROCESSES = 3;
const CHANNELS = 2;
const PER_PROCESS = 20;
/** How many of the acknowledged accounts log in again after the restart (each costs ~0.4 s of Argon2id). */
const SAMPLE = 3;

/** A small generator seeded from fast-check's global seed (PARLEY_SEED): the kill point and the sample. */
function seeded(salt: number): () => number {
  let x = (Number(fc.readConfigureGlobal().seed ?? 1) ^ salt) >>> 0 || 1;
  return () => {
    x = (Math.imul(x, 1_103_515_245) + 12_345) >>> 0;
    return x;
  };
}

interface Burst {
  readonly acked: string[];
  /** Acknowledgements when the kill was sent. */
  readonly atKill: number;
}

/**
 * Starts PROCESSES client processes registering against `server`, SIGKILLs the server after `killAfter`
 * acknowledgements, and resolves once every client process has ended, with every acknowledgement.
 */
function burstAndKill(server: ServeProcess, anchorHex: string, killAfter: number): Promise<Burst> {
  return new Promise((resolve, reject) => {
    const acked: string[] = [];
    let atKill = -1;
    let running = PROCESSES;
    const children: ChildProcess[] = [];
    const fail = (message: string) => {
      clearTimeout(timer);
      for (const c of children) c.kill('SIGKILL');
      server.child.kill('SIGKILL');
      reject(new Error(message));
    };
    const timer = setTimeout(() => fail(`no kill after 40 s: ${acked.length} acknowledgements`), 40_000);
    for (let p = 0; p < PROCESSES; p++) {
      const child = spawn(
        process.execPath,
        [
          '--import',
          LOADER,
          BURST,
          String(server.ready.port),
          anchorHex,
          `user${p}`,
          String(PER_PROCESS),
          String(CHANNELS),
        ],
        { env: process.env, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      children.push(child);
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => {
        stderr = (stderr + d.toString()).slice(-2_000);
      });
      createInterface({ input: child.stdout! }).on('line', (line) => {
        if (line.startsWith('error ')) return fail(`client ${p}: ${line}\n${stderr}`);
        if (!line.startsWith('ack ')) return;
        acked.push(line.slice(4));
        if (acked.length >= killAfter && atKill < 0) {
          atKill = acked.length;
          server.child.kill('SIGKILL');
        }
      });
      child.on('close', (code) => {
        if (code !== 0) return fail(`client ${p} exited with ${code}: ${stderr}`);
        if (--running > 0) return;
        clearTimeout(timer);
        if (atKill < 0) return fail(`the clients finished before the kill (${acked.length} acknowledgements)`);
        resolve({ acked, atKill });
      });
    }
  });
}

/** The whole scenario against one data directory; `env` names the store for every process. */
async function crashScenario(o: {
  dir: string;
  env: Record<string, string>;
  salt: number;
  /** How the restarted server is stopped: either signal is an orderly shutdown. */
  stopWith: NodeJS.Signals;
  openStore(): Promise<Store>;
  afterKill(): Promise<void>;
}): Promise<void> {
  await opaqueReady();
  const init = await cliJson<{ rootPublicKey: string }>(['init', '--data', o.dir, '--network', 'crash.test']);
  // Every registration of the burst comes from 127.0.0.1: lift the per-address bucket (policy, LOGIN-RATE-20).
  const policy = await cli(
    [
      'policy',
      'set',
      '--data',
      o.dir,
      '--set',
      'rateLimits.addressBucketCapacity=10000',
      '--set',
      'rateLimits.addressRefillPerMinute=100000',
    ],
    { env: o.env },
  );
  expect(policy.code, policy.stderr).toBe(0);

  const random = seeded(o.salt);
  const killAfter = 6 + (random() % 12);
  const first = await serve(o.dir, [], o.env);
  const burst = await burstAndKill(first, init.rootPublicKey, killAfter);
  expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });
  expect(burst.acked.length).toBeGreaterThanOrEqual(killAfter);
  expect(new Set(burst.acked).size).toBe(burst.acked.length);
  await o.afterKill();

  // Restarted on the same data directory: a seeded sample of the acknowledged accounts logs in.
  const second = await serve(o.dir, [], o.env);
  try {
    const pool = [...burst.acked];
    const sample: string[] = [];
    while (sample.length < SAMPLE && pool.length > 0) sample.push(pool.splice(random() % pool.length, 1)[0]!);
    for (const name of sample) {
      const { client, close } = await connect(o.dir, second.ready.port);
      try {
        const r = await client.login(name, PASSWORD, device(1));
        expect(r.leaf.subject).toBe(name);
      } finally {
        close();
      }
    }
  } finally {
    expect(await second.stop(o.stopWith)).toEqual({ code: 0, signal: null });
  }

  // Every acknowledged account is in the store.
  const store = await o.openStore();
  try {
    const missing: string[] = [];
    for (const name of burst.acked) if ((await store.getAccount(name)) === undefined) missing.push(name);
    expect(missing).toEqual([]);
    expect(await store.countAccounts()).toBeGreaterThanOrEqual(burst.acked.length);
  } finally {
    await store.close();
  }
}

describe('crash safety of serve: SQLite', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'parley-cli-crash-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('[LOGIN-STORE-3] [LOGIN-STORE-4] serve SIGKILLed during concurrent registrations over TCP: every acknowledged account survives, integrity_check ok', async () => {
    const dir = join(tmp, 'data');
    const path = join(dir, 'login.db');
    const integrity = () => {
      const db = new Database(path);
      try {
        expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
        expect(db.pragma('foreign_key_check')).toEqual([]);
      } finally {
        db.close();
      }
    };
    await crashScenario({
      dir,
      env: {},
      salt: 0x51,
      stopWith: 'SIGINT',
      openStore: () => openStore(`sqlite:${path}`),
      async afterKill() {
        // The killed process leaves its WAL behind; opening the file recovers from it.
        expect(existsSync(`${path}-wal`)).toBe(true);
        integrity();
      },
    });
    integrity();
  }, 90_000);
});

const available = pgAvailability();

describe.runIf(available.ok)('crash safety of serve: PostgreSQL', () => {
  let server: PgServer | undefined;
  let db: PgDatabase;
  const tmp = mkdtempSync(join(tmpdir(), 'parley-cli-crash-pg-'));

  beforeAll(async () => {
    server = await startPg();
    db = await server.createDatabase('cli_crash');
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    rmSync(tmp, { recursive: true, force: true });
  }, 60_000);

  it('[LOGIN-STORE-3] [LOGIN-STORE-4] serve SIGKILLed during concurrent registrations over TCP: every acknowledged account survives; the database stays usable', async () => {
    const admin = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      await crashScenario({
        dir: join(tmp, 'data'),
        env: { PARLEY_LOGIN_DB: db.url },
        salt: 0x9a,
        stopWith: 'SIGTERM',
        openStore: () => openStore(db.url),
        afterKill: () => waitForSessionsToEnd(admin, 'parley-login-server'),
      });
    } finally {
      await admin.end();
    }
  }, 90_000);
});

if (!available.ok) {
  console.warn(`PostgreSQL CLI crash test skipped: ${available.reason}`);
  it.skip(`PostgreSQL CLI crash test skipped: ${available.reason}`, () => {});
}
