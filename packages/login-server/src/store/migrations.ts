/**
 * Versioned schema migrations of the login server's store, one ordered list per SQL dialect
 * (spec/06-login-server.md §13, [LOGIN-STORE-9]..[LOGIN-STORE-12]).
 *
 * Rules for whoever adds a migration:
 * - Append only: never edit or renumber a migration that has shipped; version N+1 follows N.
 * - Forward-only: there is no "down". A database migrated by newer software is refused by older
 *   software (StoreError 'schema-newer'); going back means restoring a backup.
 * - Each migration runs in one transaction together with the row that records it in
 *   `schema_migrations`, so it must be transactional DDL (both SQLite and PostgreSQL roll back DDL;
 *   avoid PostgreSQL's `CREATE INDEX CONCURRENTLY` and `ALTER TYPE ... ADD VALUE`, which cannot run in
 *   a transaction). SQLite cannot change `PRAGMA foreign_keys` inside a transaction: a table rebuild
 *   must keep every foreign key valid on its own.
 * - Keep both dialects' lists the same length and meaning: version N is the same change in both.
 *
 * `schema_migrations (version, name)` itself is created by `migrate()` before the first migration, and
 * is not part of any migration.
 */

/** One versioned schema change. */
export interface Migration {
  /** 1 for the first; each next one is one more. */
  readonly version: number;
  /** A short name for operators and logs (`create-schema`). */
  readonly name: string;
  /** The statements, run as one script inside the migration's transaction. */
  readonly sql: string;
}

export type SqlDialect = 'sqlite' | 'postgres';

/**
 * SQLite (better-sqlite3). STRICT tables make SQLite reject a value of the wrong type instead of
 * storing it; every lookup a store method makes is by a primary key or an index declared here
 * ([LOGIN-STORE-19]).
 */
export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'create-schema',
    sql: `
CREATE TABLE counters (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) STRICT;
-- certificate_serial: the last serial allocated ([LOGIN-STORE-7]); accounts: kept by triggers so that
-- countAccounts reads one row instead of scanning the table ([LOGIN-STORE-19]).
INSERT INTO counters (name, value) VALUES ('certificate_serial', 0), ('accounts', 0);

CREATE TABLE accounts (
  username TEXT PRIMARY KEY,
  registration_record BLOB NOT NULL,
  created_at_ms INTEGER NOT NULL,
  password_changed_at_ms INTEGER NOT NULL,
  disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1))
) STRICT;
CREATE TRIGGER accounts_count_insert AFTER INSERT ON accounts BEGIN
  UPDATE counters SET value = value + 1 WHERE name = 'accounts';
END;
CREATE TRIGGER accounts_count_delete AFTER DELETE ON accounts BEGIN
  UPDATE counters SET value = value - 1 WHERE name = 'accounts';
END;

CREATE TABLE login_failures (
  username TEXT PRIMARY KEY,
  count INTEGER NOT NULL CHECK (count > 0),
  window_start_ms INTEGER NOT NULL,
  last_failure_at_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX login_failures_window ON login_failures (window_start_ms);

CREATE TABLE certificates (
  serial INTEGER PRIMARY KEY CHECK (serial > 0),
  role TEXT NOT NULL CHECK (role IN ('user', 'supernode', 'login')),
  subject TEXT NOT NULL,
  subject_key BLOB NOT NULL,
  device_id BLOB NOT NULL,
  not_before_ms INTEGER NOT NULL,
  not_after_ms INTEGER NOT NULL,
  issued_at_ms INTEGER NOT NULL,
  certificate BLOB NOT NULL
) STRICT;

CREATE TABLE revocations (
  serial INTEGER PRIMARY KEY REFERENCES certificates (serial),
  revoked_at_ms INTEGER NOT NULL,
  not_after_ms INTEGER NOT NULL,
  reason TEXT NOT NULL
) STRICT;
CREATE INDEX revocations_not_after ON revocations (not_after_ms);

CREATE TABLE published (
  kind TEXT PRIMARY KEY CHECK (kind IN ('policy', 'supernode-list', 'revocation-list')),
  version INTEGER NOT NULL,
  published_at_ms INTEGER NOT NULL
) STRICT;
CREATE TABLE published_pages (
  kind TEXT NOT NULL REFERENCES published (kind) ON DELETE CASCADE,
  page_index INTEGER NOT NULL,
  page BLOB NOT NULL,
  PRIMARY KEY (kind, page_index)
) STRICT;

CREATE TABLE supernodes (
  key_id BLOB PRIMARY KEY,
  certificate BLOB NOT NULL,
  serial INTEGER NOT NULL,
  not_after_ms INTEGER NOT NULL,
  entry BLOB NOT NULL,
  software TEXT NOT NULL,
  registered_at_ms INTEGER NOT NULL,
  last_heartbeat_at_ms INTEGER NOT NULL,
  load INTEGER NOT NULL,
  capacity INTEGER NOT NULL
) STRICT;
CREATE INDEX supernodes_heartbeat ON supernodes (last_heartbeat_at_ms);
CREATE INDEX supernodes_not_after ON supernodes (not_after_ms);

CREATE TABLE signed_prekeys (
  username TEXT NOT NULL,
  device_id BLOB NOT NULL,
  certificate BLOB NOT NULL,
  signed_prekey BLOB NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  PRIMARY KEY (username, device_id)
) STRICT;
CREATE TABLE one_time_prekeys (
  username TEXT NOT NULL,
  device_id BLOB NOT NULL,
  key_id INTEGER NOT NULL,
  public_key BLOB NOT NULL,
  PRIMARY KEY (username, device_id, key_id),
  FOREIGN KEY (username, device_id) REFERENCES signed_prekeys (username, device_id) ON DELETE CASCADE
) STRICT;

CREATE TABLE contact_blobs (
  username TEXT PRIMARY KEY,
  version INTEGER NOT NULL CHECK (version > 0),
  blob BLOB NOT NULL,
  updated_at_ms INTEGER NOT NULL
) STRICT;
`,
  },
];

/**
 * PostgreSQL (pg). Serials come from a SEQUENCE, so processes sharing the database never allocate the
 * same one ([LOGIN-STORE-7]); times are bigint milliseconds, bytes are bytea.
 */
export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'create-schema',
    sql: `
CREATE SEQUENCE certificate_serial AS bigint START WITH 1 MINVALUE 1 NO CYCLE;

CREATE TABLE accounts (
  username text PRIMARY KEY,
  registration_record bytea NOT NULL,
  created_at_ms bigint NOT NULL,
  password_changed_at_ms bigint NOT NULL,
  disabled boolean NOT NULL DEFAULT false
);

CREATE TABLE login_failures (
  username text PRIMARY KEY,
  count integer NOT NULL CHECK (count > 0),
  window_start_ms bigint NOT NULL,
  last_failure_at_ms bigint NOT NULL
);
CREATE INDEX login_failures_window ON login_failures (window_start_ms);

CREATE TABLE certificates (
  serial bigint PRIMARY KEY CHECK (serial > 0),
  role text NOT NULL CHECK (role IN ('user', 'supernode', 'login')),
  subject text NOT NULL,
  subject_key bytea NOT NULL,
  device_id bytea NOT NULL,
  not_before_ms bigint NOT NULL,
  not_after_ms bigint NOT NULL,
  issued_at_ms bigint NOT NULL,
  certificate bytea NOT NULL
);

CREATE TABLE revocations (
  serial bigint PRIMARY KEY REFERENCES certificates (serial),
  revoked_at_ms bigint NOT NULL,
  not_after_ms bigint NOT NULL,
  reason text NOT NULL
);
CREATE INDEX revocations_not_after ON revocations (not_after_ms);

CREATE TABLE published (
  kind text PRIMARY KEY CHECK (kind IN ('policy', 'supernode-list', 'revocation-list')),
  version bigint NOT NULL,
  pages bytea[] NOT NULL,
  published_at_ms bigint NOT NULL
);

CREATE TABLE supernodes (
  key_id bytea PRIMARY KEY,
  certificate bytea NOT NULL,
  serial bigint NOT NULL,
  not_after_ms bigint NOT NULL,
  entry bytea NOT NULL,
  software text NOT NULL,
  registered_at_ms bigint NOT NULL,
  last_heartbeat_at_ms bigint NOT NULL,
  load bigint NOT NULL,
  capacity bigint NOT NULL
);
CREATE INDEX supernodes_heartbeat ON supernodes (last_heartbeat_at_ms);
CREATE INDEX supernodes_not_after ON supernodes (not_after_ms);

CREATE TABLE signed_prekeys (
  username text NOT NULL,
  device_id bytea NOT NULL,
  certificate bytea NOT NULL,
  signed_prekey bytea NOT NULL,
  updated_at_ms bigint NOT NULL,
  PRIMARY KEY (username, device_id)
);
CREATE TABLE one_time_prekeys (
  username text NOT NULL,
  device_id bytea NOT NULL,
  key_id bigint NOT NULL,
  public_key bytea NOT NULL,
  PRIMARY KEY (username, device_id, key_id),
  FOREIGN KEY (username, device_id) REFERENCES signed_prekeys (username, device_id) ON DELETE CASCADE
);

CREATE TABLE contact_blobs (
  username text PRIMARY KEY,
  version bigint NOT NULL CHECK (version > 0),
  blob bytea NOT NULL,
  updated_at_ms bigint NOT NULL
);
`,
  },
];

/** Every dialect's list. */
export const MIGRATIONS: Readonly<Record<SqlDialect, readonly Migration[]>> = {
  sqlite: SQLITE_MIGRATIONS,
  postgres: POSTGRES_MIGRATIONS,
};

export { checkMigrations } from '../sqlite/index.js';
