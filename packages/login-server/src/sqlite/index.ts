/**
 * Generic SQLite plumbing shared by the daemons' embedded stores (the login server's store, a supernode's
 * offline store; exported as `@parley/login-server/sqlite`): opening a durable better-sqlite3 database
 * (WAL, `synchronous = FULL`), checking a list of forward-only migrations, reading the schema version and
 * applying pending migrations one transaction each. Nothing here is specific to the login server: the
 * callers supply their own errors.
 */
import { ApiMisuse } from '@parley/wire';
import Database from 'better-sqlite3';

/** One forward-only schema migration. */
export interface SqliteMigration {
  /** 1 for the first; each next one is one more. */
  readonly version: number;
  /** A short name for operators and logs. */
  readonly name: string;
  /** The statements, run as one script inside the migration's transaction. */
  readonly sql: string;
}

/** The largest WAL file kept after a checkpoint (SQLite `journal_size_limit`): 64 MiB. */
export const WAL_SIZE_LIMIT = 64 * 1024 * 1024;

/**
 * Checks that `migrations` is a usable list (versions 1, 2, ... in order, each with a name and SQL) and
 * returns its last version; throws ApiMisuse otherwise. An empty list is allowed (version 0), for tests.
 */
export function checkMigrations(migrations: readonly SqliteMigration[]): number {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new ApiMisuse(`migration #${i} has version ${m.version}; versions must be 1, 2, 3, ... in order`);
    }
    if (typeof m.name !== 'string' || m.name.length === 0 || typeof m.sql !== 'string' || m.sql.trim() === '') {
      throw new ApiMisuse(`migration ${m.version} needs a name and SQL`);
    }
  });
  return migrations.length;
}

export interface DurableOptions {
  /** SQLite `busy_timeout`: how long a statement waits for another process's write lock. */
  readonly busyTimeoutMs: number;
  /** Whether to enforce foreign keys (`foreign_keys = ON`). */
  readonly foreignKeys?: boolean;
  /** The error when SQLite refuses `synchronous = FULL`. */
  readonly notDurable: () => Error;
}

/**
 * Opens `path` durably: `busy_timeout`, WAL journal, `synchronous = FULL` (the WAL is flushed at every
 * commit, so a resolved call survives power loss), optionally foreign keys, and a bounded WAL. Closes the
 * database and rethrows when any of it fails.
 */
export function openDurable(path: string, options: DurableOptions): Database.Database {
  const db = new Database(path);
  try {
    db.pragma(`busy_timeout = ${options.busyTimeoutMs}`);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    if (options.foreignKeys) db.pragma('foreign_keys = ON');
    db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT}`);
    if (db.pragma('synchronous', { simple: true }) !== 2) throw options.notDurable();
  } catch (e) {
    db.close();
    throw e;
  }
  return db;
}

/** The number of the last migration applied (0 for a database without `schema_migrations`). */
export function readSchemaVersion(db: Database.Database): number {
  const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
  if (exists === undefined) return 0;
  return db.prepare('SELECT coalesce(max(version), 0) AS v FROM schema_migrations').pluck().get() as number;
}

export interface MigrateHooks<M extends SqliteMigration> {
  /** Called with the database's version when it is newer than the list's last; throws. */
  readonly tooNew: (current: number) => void;
  /** The error for a migration whose SQL failed (its transaction is rolled back). */
  readonly failed: (migration: M, cause: unknown) => Error;
}

/**
 * Applies every pending migration of `migrations` (whose last version is `latest`): one transaction per
 * migration, together with the row of `schema_migrations` that records it; IMMEDIATE takes the write
 * lock before reading the version, so two processes never apply one migration twice.
 */
export function applyMigrations<M extends SqliteMigration>(
  db: Database.Database,
  migrations: readonly M[],
  latest: number,
  hooks: MigrateHooks<M>,
): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL) STRICT');
  const insertVersion = db.prepare('INSERT INTO schema_migrations (version, name) VALUES (?, ?)');
  const step = db.transaction((): M | undefined => {
    const current = readSchemaVersion(db);
    if (current > latest) hooks.tooNew(current);
    const next = migrations[current];
    if (next === undefined) return undefined;
    try {
      db.exec(next.sql);
      insertVersion.run(next.version, next.name);
    } catch (e) {
      throw hooks.failed(next, e);
    }
    return next;
  });
  while (step.immediate() !== undefined) {
    // one migration per transaction, until none is pending
  }
}
