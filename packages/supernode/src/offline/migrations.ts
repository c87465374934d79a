/**
 * Versioned schema migrations of the SQLite offline store (spec/07-supernode.md §8, [STORE-PERSIST-4]),
 * following the rules of the login server's store (spec/06 §13.4): append only, forward-only, each
 * migration applied in one transaction together with the row that records it in `schema_migrations`
 * (created by `migrate()` itself, before the first migration).
 */
import { checkMigrations, type SqliteMigration } from '@parley/login-server/sqlite';

/** One versioned schema change. */
export type OfflineMigration = SqliteMigration;

/**
 * - `messages`: one row per held message. The envelope is kept as received ([STORE-PERSIST-3]); `size`
 *   is its length, which a CHECK ties to the bytes. A rowid table (envelopes are up to ~20 KB, too big
 *   for the leaves of a WITHOUT ROWID b-tree) with a unique index on the identity, an index in delivery
 *   order ([STORE-ACK-1]) and one in expiry order ([STORE-EXP-2]).
 * - `tombstones`: the identities of acknowledged messages, until their expiry ([STORE-ACK-3]).
 * - `totals`: messages, bytes and tombstones held, kept by triggers in the transaction that changes the
 *   rows, so that the capacity check ([STORE-QUOTA-4]) and stats read one row each instead of scanning.
 */
export const OFFLINE_SQLITE_MIGRATIONS: readonly OfflineMigration[] = [
  {
    version: 1,
    name: 'create-offline-store',
    sql: `
CREATE TABLE totals (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL CHECK (value >= 0)
) STRICT;
INSERT INTO totals (name, value) VALUES ('messages', 0), ('bytes', 0), ('tombstones', 0);

CREATE TABLE messages (
  id INTEGER PRIMARY KEY,
  recipient TEXT NOT NULL,
  sender TEXT NOT NULL,
  message_id BLOB NOT NULL,
  sender_device_id BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  size INTEGER NOT NULL CHECK (size = length(envelope)),
  envelope BLOB NOT NULL
) STRICT;
CREATE UNIQUE INDEX messages_identity ON messages (recipient, sender, message_id);
CREATE INDEX messages_delivery ON messages (recipient, created_at, sender, message_id);
CREATE INDEX messages_expiry ON messages (expires_at, recipient, sender, message_id);
CREATE TRIGGER messages_totals_insert AFTER INSERT ON messages BEGIN
  UPDATE totals SET value = value + 1 WHERE name = 'messages';
  UPDATE totals SET value = value + new.size WHERE name = 'bytes';
END;
CREATE TRIGGER messages_totals_delete AFTER DELETE ON messages BEGIN
  UPDATE totals SET value = value - 1 WHERE name = 'messages';
  UPDATE totals SET value = value - old.size WHERE name = 'bytes';
END;

CREATE TABLE tombstones (
  recipient TEXT NOT NULL,
  sender TEXT NOT NULL,
  message_id BLOB NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (recipient, sender, message_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX tombstones_expiry ON tombstones (expires_at, recipient, sender, message_id);
CREATE TRIGGER tombstones_totals_insert AFTER INSERT ON tombstones BEGIN
  UPDATE totals SET value = value + 1 WHERE name = 'tombstones';
END;
CREATE TRIGGER tombstones_totals_delete AFTER DELETE ON tombstones BEGIN
  UPDATE totals SET value = value - 1 WHERE name = 'tombstones';
END;
`,
  },
];

/** Checks a migration list (versions 1, 2, 3, ... each with a name and SQL); returns the latest version. */
export const checkOfflineMigrations: (migrations: readonly OfflineMigration[]) => number = checkMigrations;
