/**
 * The durable offline store: SQLite through better-sqlite3 (spec/07-supernode.md §8, STORE-PERSIST-*),
 * what an operator-hosted supernode runs ([STORE-PERSIST-1]).
 *
 * - Durability: WAL journal with `synchronous = FULL`, so every commit is flushed to disk before the
 *   method's promise resolves ([STORE-PERSIST-1]), and a process killed at any point leaves a database
 *   that SQLite recovers on the next open with every completed call in it ([STORE-PERSIST-5]).
 * - Atomicity: every writing method is one better-sqlite3 transaction (BEGIN IMMEDIATE), so the duplicate
 *   check, the quota check and the insert of `put` are one step, and a rejected call leaves nothing.
 * - The totals (messages, bytes, tombstones) are kept by triggers inside the same transactions
 *   (migrations.ts), so they can never disagree with the rows, even after a kill.
 * - Every statement goes through an index; per-recipient statements touch that recipient's rows only,
 *   which the quotas bound. better-sqlite3 is synchronous: calls run on the caller's thread.
 * - `:memory:` works, for tests (nothing durable; not for production).
 */

import { applyMigrations, openDurable, readSchemaVersion } from '@parley/login-server/sqlite';
import { ApiMisuse } from '@parley/wire';
import type Database from 'better-sqlite3';
import {
  checkInt,
  checkMessage,
  checkName,
  checkPage,
  checkRef,
  checkRefs,
  closedError,
  resolveLimits,
} from './internal.js';
import { checkOfflineMigrations, OFFLINE_SQLITE_MIGRATIONS, type OfflineMigration } from './migrations.js';
import {
  type FetchResult,
  type MessageRef,
  type OfflineMessageInput,
  OfflineQuotaExceeded,
  type OfflineQuotas,
  type OfflineStore,
  OfflineStoreError,
  OfflineStoreFull,
  type OfflineStoreLimits,
  type OfflineStoreStats,
  type PruneCounts,
  type PutResult,
  type StoredOfflineMessage,
} from './store.js';

export interface SqliteOfflineStoreOptions {
  readonly limits?: Partial<OfflineStoreLimits>;
  /** How long a statement waits for another process's write lock (SQLite `busy_timeout`); default 5,000 ms. */
  readonly busyTimeoutMs?: number;
  /** The migration list (default OFFLINE_SQLITE_MIGRATIONS); tests inject others. */
  readonly migrations?: readonly OfflineMigration[];
}

type Row = Record<string, unknown>;
type Stmt = Database.Statement<unknown[], Row>;
type Transaction<F extends (...args: never[]) => unknown> = Database.Transaction<F>;

/** A better-sqlite3 Buffer as a plain Uint8Array, without a copy when it owns its memory. */
function own(b: unknown): Uint8Array {
  const buf = b as Buffer;
  if (buf.byteOffset === 0 && buf.buffer.byteLength === buf.byteLength) {
    return new Uint8Array(buf.buffer, 0, buf.byteLength);
  }
  return new Uint8Array(buf);
}

const num = (v: unknown): number => v as number;

const COLUMNS = 'recipient, sender, message_id, sender_device_id, created_at, expires_at, size, envelope';

function message(row: Row): StoredOfflineMessage {
  return {
    messageId: own(row.message_id),
    sender: row.sender as string,
    senderDeviceId: own(row.sender_device_id),
    recipient: row.recipient as string,
    createdAt: num(row.created_at),
    expiresAt: num(row.expires_at),
    size: num(row.size),
    envelope: own(row.envelope),
  };
}

const NO_BYTES = new Uint8Array(0);

export class SqliteOfflineStore implements OfflineStore {
  readonly kind = 'sqlite';
  #limits: OfflineStoreLimits;
  get limits(): OfflineStoreLimits {
    return this.#limits;
  }
  /** The database file (or `:memory:`). */
  readonly path: string;
  private readonly db: Database.Database;
  private readonly migrations: readonly OfflineMigration[];
  private readonly latest: number;
  private statements: Statements | undefined;
  private closed = false;

  /** Opens the database at `path` and migrates it to the newest schema; closes it again if that fails. */
  static async open(path: string, options: SqliteOfflineStoreOptions = {}): Promise<SqliteOfflineStore> {
    const store = new SqliteOfflineStore(path, options);
    try {
      await store.migrate();
    } catch (e) {
      await store.close();
      throw e;
    }
    return store;
  }

  constructor(path: string, options: SqliteOfflineStoreOptions = {}) {
    if (typeof path !== 'string' || path === '') {
      throw new ApiMisuse('the SQLite path must be a non-empty string (use :memory: for a database in memory)');
    }
    this.#limits = resolveLimits(options.limits);
    const busyTimeoutMs = options.busyTimeoutMs ?? 5_000;
    checkInt('busyTimeoutMs', busyTimeoutMs);
    this.migrations = options.migrations ?? OFFLINE_SQLITE_MIGRATIONS;
    this.latest = checkOfflineMigrations(this.migrations);
    this.path = path;
    // [STORE-PERSIST-1] FULL: the WAL is flushed at every commit, so a resolved call survives power loss.
    this.db = openDurable(path, {
      busyTimeoutMs,
      notDurable: () => new OfflineStoreError('not-durable', 'SQLite refused synchronous = FULL'),
    });
  }

  // Schema --------------------------------------------------------------------------------------------------

  /** Applies every pending migration, each in its own transaction with the row that records it. */
  async migrate(): Promise<void> {
    this.open();
    this.statements = undefined;
    applyMigrations(this.db, this.migrations, this.latest, {
      tooNew: (current) => this.checkSchema(current),
      failed: (next, e) => {
        const why = e instanceof Error ? e.message : String(e);
        return new OfflineStoreError(
          'migration-failed',
          `offline-store migration ${next.version} (${next.name}) failed and was rolled back: ${why}`,
          { cause: e },
        );
      },
    });
  }

  /** The number of the last migration applied (0 for an empty database). */
  async schemaVersion(): Promise<number> {
    this.open();
    return this.readVersion();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.statements = undefined;
    this.db.close();
  }

  // Messages ------------------------------------------------------------------------------------------------

  setQuotas(quotas: OfflineQuotas): void {
    this.#limits = resolveLimits({ ...this.#limits, ...quotas });
  }

  async put(msg: OfflineMessageInput, now: number): Promise<PutResult> {
    const s = this.ready();
    checkMessage(msg);
    checkInt('now', now);
    return s.put.immediate(msg, now);
  }

  async fetch(recipient: string, max: number, now: number, maxBytes = Number.MAX_SAFE_INTEGER): Promise<FetchResult> {
    const s = this.ready();
    checkName('recipient', recipient);
    checkPage('max', max);
    checkInt('now', now);
    checkInt('maxBytes', maxBytes);
    // [STORE-ACK-1] oldest first; one row more than asked tells whether more are held.
    const rows = s.fetch.all(recipient, now, max + 1);
    const messages: StoredOfflineMessage[] = [];
    let bytes = 0;
    for (const row of rows) {
      if (messages.length === max) break;
      const size = num(row.size);
      if (messages.length > 0 && bytes + size > maxBytes) break;
      bytes += size;
      messages.push(message(row));
    }
    return { messages, more: rows.length > messages.length };
  }

  async ack(recipient: string, refs: readonly MessageRef[], now: number): Promise<number> {
    const s = this.ready();
    checkName('recipient', recipient);
    checkRefs(refs);
    checkInt('now', now);
    return s.ack.immediate(recipient, refs, now);
  }

  async pending(recipient: string, now: number): Promise<number> {
    const s = this.ready();
    checkName('recipient', recipient);
    checkInt('now', now);
    return num(s.pending.get(recipient, now));
  }

  async recipients(after: string | undefined, limit: number, now: number): Promise<string[]> {
    const s = this.ready();
    if (after !== undefined) checkName('after', after);
    checkPage('limit', limit);
    checkInt('now', now);
    // Names are non-empty: every one is greater than ''.
    return s.recipients.all(after ?? '', now, limit) as unknown as string[];
  }

  async scan(
    recipient: string,
    after: MessageRef | undefined,
    limit: number,
    now: number,
  ): Promise<StoredOfflineMessage[]> {
    const s = this.ready();
    checkName('recipient', recipient);
    if (after !== undefined) checkRef('after', after);
    checkPage('limit', limit);
    checkInt('now', now);
    return s.scan.all(recipient, after?.sender ?? '', after?.messageId ?? NO_BYTES, now, limit).map(message);
  }

  async remove(recipient: string): Promise<number> {
    const s = this.ready();
    checkName('recipient', recipient);
    return s.remove.run(recipient).changes;
  }

  async prune(now: number, limit = Number.MAX_SAFE_INTEGER): Promise<PruneCounts> {
    const s = this.ready();
    checkInt('now', now);
    checkInt('limit', limit);
    return s.prune.immediate(now, limit);
  }

  async stats(): Promise<OfflineStoreStats> {
    const s = this.ready();
    return s.stats.deferred();
  }

  // Internals -----------------------------------------------------------------------------------------------

  private open(): void {
    if (this.closed) throw closedError('sqlite');
  }

  private readVersion(): number {
    return readSchemaVersion(this.db);
  }

  private checkSchema(actual: number): void {
    if (actual > this.latest) {
      throw new OfflineStoreError(
        'schema-newer',
        `the offline-store database has schema version ${actual}, newer than this software's ${this.latest}; ` +
          'migrations are forward-only: run newer software or restore a backup',
      );
    }
    if (actual < this.latest) {
      throw new OfflineStoreError(
        'schema-outdated',
        `the offline-store database has schema version ${actual}, this software needs ${this.latest}: call migrate()`,
      );
    }
  }

  /** The prepared statements, after checking (once) that the schema is the expected one. */
  private ready(): Statements {
    this.open();
    if (this.statements === undefined) {
      this.checkSchema(this.readVersion());
      this.statements = this.prepare();
    }
    return this.statements;
  }

  private prepare(): Statements {
    const db = this.db;
    const p = (sql: string): Stmt => db.prepare<unknown[], Row>(sql);

    const isHeld = p('SELECT 1 FROM messages WHERE recipient = ? AND sender = ? AND message_id = ?').pluck();
    const isTombstoned = p('SELECT 1 FROM tombstones WHERE recipient = ? AND sender = ? AND message_id = ?').pluck();
    // [STORE-QUOTA-1] [STORE-QUOTA-2] unexpired messages only; INDEXED BY: through the recipient's rows,
    // never the expiry index (which would walk every unexpired message of the store).
    const usage = p(
      `SELECT count(*) AS n, coalesce(sum(size), 0) AS b, coalesce(sum(sender = @s), 0) AS f
       FROM messages INDEXED BY messages_delivery WHERE recipient = @r AND expires_at > @now`,
    );
    const totals = p("SELECT name, value FROM totals WHERE name IN ('messages', 'bytes', 'tombstones')");
    const expiredUsage = p('SELECT count(*) AS n, coalesce(sum(size), 0) AS b FROM messages WHERE expires_at <= ?');
    const insert = p(`INSERT INTO messages (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
    const deleteHeld = p(
      'DELETE FROM messages WHERE recipient = ? AND sender = ? AND message_id = ? RETURNING expires_at',
    ).pluck();
    const insertTombstone = p(
      `INSERT INTO tombstones (recipient, sender, message_id, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT DO NOTHING`,
    );
    // [STORE-EXP-2] earliest expiry first, through the expiry indexes.
    const pruneMessages = p(
      `DELETE FROM messages WHERE id IN
         (SELECT id FROM messages WHERE expires_at <= ? ORDER BY expires_at, recipient, sender, message_id LIMIT ?)`,
    );
    const pruneTombstones = p(
      `DELETE FROM tombstones WHERE (recipient, sender, message_id) IN
         (SELECT recipient, sender, message_id FROM tombstones WHERE expires_at <= ?
          ORDER BY expires_at, recipient, sender, message_id LIMIT ?)`,
    );

    const readTotals = (): OfflineStoreStats => {
      const t: Record<string, number> = {};
      for (const row of totals.all()) t[row.name as string] = num(row.value);
      return { messages: t.messages ?? 0, bytes: t.bytes ?? 0, tombstones: t.tombstones ?? 0 };
    };
    // The limits are read at each call: setQuotas may have replaced them ([STORE-QUOTA-5]).
    const overCapacity = (t: OfflineStoreStats, size: number): boolean =>
      t.messages + 1 > this.limits.maxTotalMessages || t.bytes + size > this.limits.maxTotalBytes;

    return {
      put: db.transaction((msg: OfflineMessageInput, now: number): PutResult => {
        // [STORE-EXP-1]
        if (msg.expiresAt <= now) return 'expired';
        const limits = this.limits;
        const key = [msg.recipient, msg.sender, msg.messageId];
        // [STORE-ACK-4] held or tombstoned: an idempotent success, the first bytes stay.
        if (isHeld.get(...key) !== undefined || isTombstoned.get(...key) !== undefined) return 'duplicate';
        const size = msg.envelope.byteLength;
        // [STORE-QUOTA-1] [STORE-QUOTA-2] [STORE-QUOTA-3] decided under the write lock with the insert.
        const u = usage.get({ r: msg.recipient, s: msg.sender, now })!;
        const count = num(u.n);
        const bytes = num(u.b);
        const fromSender = num(u.f);
        if (count + 1 > limits.maxMessagesPerRecipient) {
          throw new OfflineQuotaExceeded('recipient-messages', `the recipient has ${count} messages waiting`);
        }
        if (bytes + size > limits.maxBytesPerRecipient) {
          throw new OfflineQuotaExceeded('recipient-bytes', `the recipient has ${bytes} bytes waiting`);
        }
        if (fromSender + 1 > limits.maxMessagesPerSender) {
          throw new OfflineQuotaExceeded(
            'sender-messages',
            `the recipient has ${fromSender} messages from this sender`,
          );
        }
        // [STORE-QUOTA-4] the capacity counts everything held; expired messages make room first, and a
        // refusal rolls the deletion back with the rest of the transaction.
        const t = readTotals();
        if (overCapacity(t, size)) {
          const e = expiredUsage.get(now)!;
          if (overCapacity({ ...t, messages: t.messages - num(e.n), bytes: t.bytes - num(e.b) }, size)) {
            throw new OfflineStoreFull(
              `the offline store holds ${t.messages} messages and ${t.bytes} bytes, its capacity`,
            );
          }
          pruneMessages.run(now, Number.MAX_SAFE_INTEGER);
        }
        insert.run(
          msg.recipient,
          msg.sender,
          msg.messageId,
          msg.senderDeviceId,
          msg.createdAt,
          msg.expiresAt,
          size,
          msg.envelope,
        );
        return 'stored';
      }),
      fetch: p(
        `SELECT ${COLUMNS} FROM messages INDEXED BY messages_delivery WHERE recipient = ? AND expires_at > ?
         ORDER BY created_at, sender, message_id LIMIT ?`,
      ),
      // [STORE-ACK-2] [STORE-ACK-3] delete and tombstone in one transaction.
      ack: db.transaction((recipient: string, refs: readonly MessageRef[], now: number): number => {
        let deleted = 0;
        for (const ref of refs) {
          const expiresAt = deleteHeld.get(recipient, ref.sender, ref.messageId);
          if (expiresAt === undefined || num(expiresAt) <= now) continue;
          insertTombstone.run(recipient, ref.sender, ref.messageId, expiresAt);
          deleted += 1;
        }
        return deleted;
      }),
      pending: p(
        'SELECT count(*) FROM messages INDEXED BY messages_delivery WHERE recipient = ? AND expires_at > ?',
      ).pluck(),
      recipients: p(
        `SELECT DISTINCT recipient FROM messages INDEXED BY messages_identity WHERE recipient > ? AND expires_at > ?
         ORDER BY recipient LIMIT ?`,
      ).pluck(),
      scan: p(
        `SELECT ${COLUMNS} FROM messages INDEXED BY messages_identity
         WHERE recipient = ? AND (sender, message_id) > (?, ?) AND expires_at > ?
         ORDER BY sender, message_id LIMIT ?`,
      ),
      remove: p('DELETE FROM messages WHERE recipient = ?'),
      prune: db.transaction(
        (now: number, limit: number): PruneCounts => ({
          messages: pruneMessages.run(now, limit).changes,
          tombstones: pruneTombstones.run(now, limit).changes,
        }),
      ),
      stats: db.transaction(readTotals),
    };
  }
}

interface Statements {
  readonly put: Transaction<(msg: OfflineMessageInput, now: number) => PutResult>;
  readonly fetch: Stmt;
  readonly ack: Transaction<(recipient: string, refs: readonly MessageRef[], now: number) => number>;
  readonly pending: Stmt;
  readonly recipients: Stmt;
  readonly scan: Stmt;
  readonly remove: Stmt;
  readonly prune: Transaction<(now: number, limit: number) => PruneCounts>;
  readonly stats: Transaction<() => OfflineStoreStats>;
}
