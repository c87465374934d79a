/**
 * PostgreSQL for tests and benchmarks (not part of the server): the server named by `PARLEY_PG_URL` when set, otherwise a private,
 * throwaway cluster started here when PostgreSQL 15's binaries are installed and we are root (initdb as
 * user `postgres` into a fresh temporary directory, trust authentication, 127.0.0.1 on a free port, a
 * private socket directory). Each test file gets its own database, dropped at the end; a private cluster
 * is stopped (`pg_ctl -m fast stop`) and its directory deleted, also when tests fail, and stopped
 * immediately if the test process exits without cleaning up. A cluster left behind by a test process that
 * was killed outright is stopped and deleted by the next start (each cluster directory names its owner).
 *
 * With PARLEY_PG_URL, its user needs the CREATEDB privilege; the databases are created on that server.
 *
 * Where neither is possible, `pgAvailability()` says why, and the test files skip with that reason.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

const PG_BIN = '/usr/lib/postgresql/15/bin';

export type PgAvailability = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** Whether PostgreSQL tests can run here, and if not, why not. Synchronous, so files can decide at load. */
export function pgAvailability(): PgAvailability {
  if (process.env.PARLEY_PG_URL) return { ok: true };
  if (!existsSync(join(PG_BIN, 'initdb')) || !existsSync(join(PG_BIN, 'pg_ctl'))) {
    return {
      ok: false,
      reason: `PostgreSQL 15 is not installed (no ${PG_BIN}/initdb; apt-get install postgresql) and PARLEY_PG_URL is not set`,
    };
  }
  if (process.getuid?.() !== 0) {
    return {
      ok: false,
      reason: 'not root: a private cluster runs as user postgres, which only root can switch to; set PARLEY_PG_URL',
    };
  }
  if (postgresUser() === undefined)
    return { ok: false, reason: 'there is no user "postgres" to run a private cluster' };
  return { ok: true };
}

function postgresUser(): { uid: number; gid: number } | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : undefined;
  } catch {
    return undefined;
  }
}

export interface PgDatabase {
  readonly name: string;
  /** A connection URL for this database. */
  readonly url: string;
  /** Drops the database, closing every connection still open to it. */
  drop(): Promise<void>;
}

export interface PgServer {
  /** 'private cluster in DIR, port N' or 'PARLEY_PG_URL'. */
  readonly description: string;
  /** Creates a fresh database named `parley_<label>_<random>`. */
  createDatabase(label: string): Promise<PgDatabase>;
  /** Drops what this server object created and, for a private cluster, stops it and deletes its files. */
  stop(): Promise<void>;
}

/** Starts a private cluster, or connects to PARLEY_PG_URL. Call pgAvailability() first. */
export async function startPg(options: { fsync?: boolean } = {}): Promise<PgServer> {
  const external = process.env.PARLEY_PG_URL;
  if (external) return server(external, 'PARLEY_PG_URL', async () => {});
  const cluster = await startCluster(options.fsync ?? false);
  return server(cluster.adminUrl, cluster.description, cluster.stop);
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

function server(adminUrl: string, description: string, stopCluster: () => Promise<void>): PgServer {
  const created = new Set<string>();
  const admin = async <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => {
    const c = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 10_000 });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };
  const drop = (name: string) =>
    admin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => {
      created.delete(name);
    });
  return {
    description,
    async createDatabase(label) {
      const name = `parley_${label.replace(/[^a-z0-9_]/g, '_')}_${randomBytes(6).toString('hex')}`;
      await admin((c) => c.query(`CREATE DATABASE "${name}"`));
      created.add(name);
      return { name, url: withDatabase(adminUrl, name), drop: () => drop(name) };
    },
    async stop() {
      try {
        for (const name of [...created]) await drop(name);
      } finally {
        await stopCluster();
      }
    },
  };
}

interface Cluster {
  readonly adminUrl: string;
  readonly description: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      s.close(() =>
        typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

const CLUSTER_PREFIX = 'parley-pg-';
const OWNER_FILE = 'owner.pid';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Stops and deletes private clusters whose test process died without cleaning up (a worker killed on a
 * timeout runs no exit handler), so that crashed runs do not pile up servers and directories.
 */
function sweepStaleClusters(asPostgres: (bin: string, args: string[]) => unknown): void {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(CLUSTER_PREFIX)) continue;
    const dir = join(tmpdir(), name);
    let owner: number;
    try {
      owner = Number(readFileSync(join(dir, OWNER_FILE), 'utf8'));
    } catch {
      continue; // not ours, or still being set up
    }
    if (!Number.isInteger(owner) || owner <= 0 || alive(owner)) continue;
    const data = join(dir, 'data');
    if (existsSync(join(data, 'postmaster.pid'))) asPostgres('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function startCluster(fsync: boolean): Promise<Cluster> {
  const user = postgresUser();
  if (user === undefined) throw new Error('no user "postgres"');
  const asUser = (bin: string, args: string[], timeoutMs = 60_000) =>
    spawnSync(join(PG_BIN, bin), args, {
      uid: user.uid,
      gid: user.gid,
      cwd: tmpdir(),
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C', LC_ALL: 'C' },
      encoding: 'utf8',
      timeout: timeoutMs,
    });
  sweepStaleClusters(asUser);
  const dir = mkdtempSync(join(tmpdir(), CLUSTER_PREFIX));
  writeFileSync(join(dir, OWNER_FILE), String(process.pid));
  const data = join(dir, 'data');
  const socketDir = join(dir, 'socket');
  const log = join(dir, 'server.log');
  mkdirSync(socketDir);
  chownSync(dir, user.uid, user.gid);
  chownSync(socketDir, user.uid, user.gid);
  const stopNow = (mode: 'fast' | 'immediate') => {
    if (existsSync(join(data, 'postmaster.pid'))) asUser('pg_ctl', ['-D', data, '-m', mode, '-w', 'stop'], 30_000);
  };
  // If the test process exits without afterAll (a crash, a kill of the worker), stop the cluster anyway.
  const onExit = () => {
    stopNow('immediate');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);
  const fail = (what: string, r: ReturnType<typeof asUser>): never => {
    const serverLog = existsSync(log) ? readFileSync(log, 'utf8').slice(-2_000) : '';
    onExit();
    process.removeListener('exit', onExit);
    throw new Error(`${what} failed (status ${r.status}): ${r.stderr}${r.stdout}\n${serverLog}`);
  };

  const init = asUser('initdb', [
    '-D',
    data,
    '-U',
    'postgres',
    '--auth=trust',
    '-E',
    'UTF8',
    '--locale=C',
    '--no-sync',
  ]);
  if (init.status !== 0) fail('initdb', init);
  // A port can be taken between freePort() and the server's bind: try a few.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    // fsync=off for tests (benchmarks pass fsync: true, so that PostgreSQL is not flattered next to SQLite
    // at synchronous=FULL): a throwaway cluster need not survive a power cut, and the tests kill clients, never the
    // server; every commit still waits for the server (synchronous_commit stays on, which the store checks).
    // Without it, DDL-heavy tests (a schema per test) spend most of their time in fsync on slow disks.
    const start = asUser('pg_ctl', [
      '-D',
      data,
      '-l',
      log,
      '-w',
      '-t',
      '30',
      '-o',
      `-p ${port} -k ${socketDir} -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=${fsync ? 'on' : 'off'}`,
      'start',
    ]);
    if (start.status === 0) {
      return {
        adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres`,
        description: `private cluster in ${dir}, port ${port}`,
        async stop() {
          try {
            stopNow('fast');
          } finally {
            rmSync(dir, { recursive: true, force: true });
            process.removeListener('exit', onExit);
          }
        },
      };
    }
    if (attempt >= 3) fail('pg_ctl start', start);
  }
}

/**
 * Waits until no session of `applicationName` is left on the server `admin` is connected to: after a
 * client process is killed, PostgreSQL notices the closed connections and rolls back what was open.
 */
export async function waitForSessionsToEnd(
  admin: pg.Client | pg.Pool,
  applicationName: string,
  timeoutMs = 10_000,
): Promise<void> {
  for (let waited = 0; waited <= timeoutMs; waited += 50) {
    const r = await admin.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [
      applicationName,
    ]);
    if (r.rows[0]?.n === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`the sessions of ${applicationName} did not end within ${timeoutMs} ms`);
}
