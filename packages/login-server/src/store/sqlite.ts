/**
 * The embedded store: SQLite through better-sqlite3 (spec/06-login-server.md §13, LOGIN-STORE-*).
 *
 * - Durability ([LOGIN-STORE-2], [LOGIN-STORE-4]): WAL journal with `synchronous = FULL`, so every
 *   commit is flushed to disk before the method's promise resolves, and a process killed at any point
 *   leaves a database that SQLite recovers on the next open. Foreign keys are enforced.
 * - Atomicity: every method is one statement or one better-sqlite3 `db.transaction` (BEGIN IMMEDIATE for
 *   writes, so two processes on one file never deadlock on a lock upgrade); an exception inside rolls
 *   it back.
 * - better-sqlite3 is synchronous: each method runs on the caller's thread, so every statement is an
 *   indexed lookup or touches a bounded set of rows ([LOGIN-STORE-19]); `countAccounts` reads a counter
 *   row kept by triggers instead of scanning. Statements are prepared once, on first use after the
 *   schema check. `busyTimeoutMs` only matters when another process holds the write lock (an
 *   operator's backup, a second server on the same file, which [LOGIN-STORE-13] advises against); the
 *   thread waits for it up to that long.
 * - `:memory:` works, for tests (one connection, nothing durable).
 */
import { ApiMisuse } from '@parley/wire';
import type Database from 'better-sqlite3';
import { applyMigrations, openDurable, readSchemaVersion } from '../sqlite/index.js';
import {
  checkBytes,
  checkInt,
  checkKind,
  checkRole,
  checkSchema,
  checkText,
  closedError,
  migrationFailed,
} from './internal.js';
import { checkMigrations, type Migration, SQLITE_MIGRATIONS } from './migrations.js';
import {
  type AccountRecord,
  type ContactBlob,
  type CreateAccountResult,
  type DevicePrekeys,
  type IssuedCertificate,
  type LoginFailures,
  type OneTimePrekey,
  type PruneCounts,
  type Published,
  type PublishedKind,
  type PutContactBlobResult,
  type Revocation,
  type Store,
  StoreError,
  type SupernodeRecord,
} from './store.js';

export interface SqliteStoreOptions {
  /** How long a statement waits for another process's write lock (SQLite `busy_timeout`); default 5,000 ms. */
  readonly busyTimeoutMs?: number;
  /** The migration list (default SQLITE_MIGRATIONS); tests inject others. */
  readonly migrations?: readonly Migration[];
}

type Row = Record<string, unknown>;
type Stmt = Database.Statement<unknown[], Row>;

/** A better-sqlite3 Buffer as a plain Uint8Array, without a copy when it owns its memory. */
function own(b: unknown): Uint8Array {
  const buf = b as Buffer;
  if (buf.byteOffset === 0 && buf.buffer.byteLength === buf.byteLength) {
    return new Uint8Array(buf.buffer, 0, buf.byteLength);
  }
  return new Uint8Array(buf);
}

const num = (v: unknown): number => v as number;

export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  /** The database file (or `:memory:`). */
  readonly path: string;
  private readonly db: Database.Database;
  private readonly migrations: readonly Migration[];
  private readonly latest: number;
  private statements: Statements | undefined;
  private closed = false;
  /** True while a `sign` callback runs inside issueCertificate's transaction. */
  private signing = false;

  constructor(path: string, options: SqliteStoreOptions = {}) {
    checkText('path', path);
    if (path === '') throw new ApiMisuse('the SQLite path is empty (use :memory: for a database in memory)');
    const busyTimeoutMs = options.busyTimeoutMs ?? 5_000;
    checkInt('busyTimeoutMs', busyTimeoutMs);
    this.migrations = options.migrations ?? SQLITE_MIGRATIONS;
    this.latest = checkMigrations(this.migrations);
    this.path = path;
    // [LOGIN-STORE-2] FULL: the WAL is flushed at every commit, so a resolved call survives power loss.
    this.db = openDurable(path, {
      busyTimeoutMs,
      foreignKeys: true,
      notDurable: () => new StoreError('not-durable', 'SQLite refused synchronous = FULL'),
    });
  }

  // Schema ----------------------------------------------------------------------------------------------

  async migrate(): Promise<void> {
    this.open();
    this.statements = undefined; // the schema changes: prepare again after it
    // [LOGIN-STORE-10] one transaction per migration, together with the row that records it; IMMEDIATE
    // takes the write lock before reading the version, so two processes never apply one migration twice.
    applyMigrations(this.db, this.migrations, this.latest, {
      tooNew: (current) => checkSchema('sqlite', current, this.latest), // [LOGIN-STORE-11]
      failed: (next, e) => migrationFailed('sqlite', next.version, next.name, e),
    });
  }

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

  // Accounts --------------------------------------------------------------------------------------------

  async createAccount(account: {
    username: string;
    registrationRecord: Uint8Array;
    atMs: number;
  }): Promise<CreateAccountResult> {
    const s = this.ready();
    checkText('username', account.username);
    checkBytes('registrationRecord', account.registrationRecord);
    checkInt('atMs', account.atMs);
    const r = s.insertAccount.run(account.username, account.registrationRecord, account.atMs, account.atMs);
    return r.changes === 1 ? 'created' : 'exists';
  }

  async getAccount(username: string): Promise<AccountRecord | undefined> {
    const s = this.ready();
    checkText('username', username);
    const row = s.getAccount.get(username);
    if (row === undefined) return undefined;
    return {
      username: row.username as string,
      registrationRecord: own(row.registration_record),
      createdAtMs: num(row.created_at_ms),
      passwordChangedAtMs: num(row.password_changed_at_ms),
      disabled: row.disabled === 1,
    };
  }

  async replaceRegistrationRecord(username: string, registrationRecord: Uint8Array, atMs: number): Promise<boolean> {
    const s = this.ready();
    checkText('username', username);
    checkBytes('registrationRecord', registrationRecord);
    checkInt('atMs', atMs);
    return s.replaceRecord.run(registrationRecord, atMs, username).changes === 1;
  }

  async setAccountDisabled(username: string, disabled: boolean): Promise<boolean> {
    const s = this.ready();
    checkText('username', username);
    if (typeof disabled !== 'boolean') throw new ApiMisuse('disabled must be a boolean');
    return s.setDisabled.run(disabled ? 1 : 0, username).changes === 1;
  }

  async countAccounts(): Promise<number> {
    const s = this.ready();
    return num(s.countAccounts.get()?.value);
  }

  // Failed logins ---------------------------------------------------------------------------------------

  async recordLoginFailure(username: string, atMs: number, windowMs: number): Promise<LoginFailures> {
    const s = this.ready();
    checkText('username', username);
    checkInt('atMs', atMs);
    checkInt('windowMs', windowMs);
    // [LOGIN-STORE-5] [LOGIN-STORE-17] one upsert decides the window and counts.
    return failures(s.recordFailure.get({ u: username, at: atMs, w: windowMs })!);
  }

  async getLoginFailures(username: string): Promise<LoginFailures | undefined> {
    const s = this.ready();
    checkText('username', username);
    const row = s.getFailures.get(username);
    return row === undefined ? undefined : failures(row);
  }

  async clearLoginFailures(username: string): Promise<void> {
    const s = this.ready();
    checkText('username', username);
    s.clearFailures.run(username);
  }

  // Certificates and revocation -------------------------------------------------------------------------

  async issueCertificate(
    info: Omit<IssuedCertificate, 'serial' | 'certificate'>,
    sign: (serial: number) => Uint8Array,
  ): Promise<IssuedCertificate> {
    const s = this.ready();
    checkRole(info.role);
    checkText('subject', info.subject);
    checkBytes('subjectKey', info.subjectKey);
    checkBytes('deviceId', info.deviceId);
    checkInt('notBeforeMs', info.notBeforeMs);
    checkInt('notAfterMs', info.notAfterMs);
    checkInt('issuedAtMs', info.issuedAtMs);
    if (typeof sign !== 'function') throw new ApiMisuse('sign must be a function');
    return s.issue.immediate(info, sign);
  }

  async getCertificate(serial: number): Promise<IssuedCertificate | undefined> {
    const s = this.ready();
    checkInt('serial', serial);
    const row = s.getCertificate.get(serial);
    return row === undefined ? undefined : certificate(row);
  }

  async revoke(serial: number, reason: string, atMs: number): Promise<'revoked' | 'already' | 'unknown'> {
    const s = this.ready();
    checkInt('serial', serial);
    checkText('reason', reason);
    checkInt('atMs', atMs);
    return s.revoke.immediate(serial, reason, atMs);
  }

  async listRevocations(nowMs: number): Promise<Revocation[]> {
    const s = this.ready();
    checkInt('nowMs', nowMs);
    // [LOGIN-STORE-16] listed until the certificate's not_after.
    return s.listRevocations.all(nowMs).map((row) => ({
      serial: num(row.serial),
      revokedAtMs: num(row.revoked_at_ms),
      notAfterMs: num(row.not_after_ms),
      reason: row.reason as string,
    }));
  }

  async isRevoked(serial: number): Promise<boolean> {
    const s = this.ready();
    checkInt('serial', serial);
    return s.isRevoked.get(serial) !== undefined;
  }

  // Published objects -----------------------------------------------------------------------------------

  async publish(kind: PublishedKind, published: Published): Promise<boolean> {
    const s = this.ready();
    checkKind(kind);
    checkInt('version', published.version);
    checkInt('publishedAtMs', published.publishedAtMs);
    if (!Array.isArray(published.pages)) throw new ApiMisuse('pages must be an array');
    published.pages.forEach((p, i) => {
      checkBytes(`pages[${i}]`, p);
    });
    return s.publish.immediate(kind, published);
  }

  async getPublished(kind: PublishedKind): Promise<Published | undefined> {
    const s = this.ready();
    checkKind(kind);
    return s.getPublished.deferred(kind);
  }

  // Supernodes ------------------------------------------------------------------------------------------

  async upsertSupernode(r: SupernodeRecord): Promise<void> {
    const s = this.ready();
    checkBytes('keyId', r.keyId);
    checkBytes('certificate', r.certificate);
    checkInt('serial', r.serial);
    checkInt('notAfterMs', r.notAfterMs);
    checkBytes('entry', r.entry);
    checkText('software', r.software);
    checkInt('registeredAtMs', r.registeredAtMs);
    checkInt('lastHeartbeatAtMs', r.lastHeartbeatAtMs);
    checkInt('load', r.load);
    checkInt('capacity', r.capacity);
    s.upsertSupernode.run(
      r.keyId,
      r.certificate,
      r.serial,
      r.notAfterMs,
      r.entry,
      r.software,
      r.registeredAtMs,
      r.lastHeartbeatAtMs,
      r.load,
      r.capacity,
    );
  }

  async supernodeHeartbeat(keyId: Uint8Array, load: number, atMs: number): Promise<boolean> {
    const s = this.ready();
    checkBytes('keyId', keyId);
    checkInt('load', load);
    checkInt('atMs', atMs);
    return s.heartbeat.run(load, atMs, keyId).changes === 1;
  }

  async removeSupernode(keyId: Uint8Array): Promise<boolean> {
    const s = this.ready();
    checkBytes('keyId', keyId);
    return s.removeSupernode.run(keyId).changes === 1;
  }

  async listLiveSupernodes(sinceMs: number, nowMs: number): Promise<SupernodeRecord[]> {
    const s = this.ready();
    checkInt('sinceMs', sinceMs);
    checkInt('nowMs', nowMs);
    return s.liveSupernodes.all(sinceMs, nowMs).map((row) => ({
      keyId: own(row.key_id),
      certificate: own(row.certificate),
      serial: num(row.serial),
      notAfterMs: num(row.not_after_ms),
      entry: own(row.entry),
      software: row.software as string,
      registeredAtMs: num(row.registered_at_ms),
      lastHeartbeatAtMs: num(row.last_heartbeat_at_ms),
      load: num(row.load),
      capacity: num(row.capacity),
    }));
  }

  // Prekeys ---------------------------------------------------------------------------------------------

  async putSignedPrekey(
    username: string,
    deviceId: Uint8Array,
    certificate: Uint8Array,
    signedPrekey: Uint8Array,
    atMs: number,
  ): Promise<void> {
    const s = this.ready();
    checkText('username', username);
    checkBytes('deviceId', deviceId);
    checkBytes('certificate', certificate);
    checkBytes('signedPrekey', signedPrekey);
    checkInt('atMs', atMs);
    // An upsert, not INSERT OR REPLACE: a replace would delete the row and cascade to the one-time prekeys.
    s.putSignedPrekey.run(username, deviceId, certificate, signedPrekey, atMs);
  }

  async addOneTimePrekeys(
    username: string,
    deviceId: Uint8Array,
    keys: readonly OneTimePrekey[],
    max: number,
  ): Promise<number | undefined> {
    const s = this.ready();
    checkText('username', username);
    checkBytes('deviceId', deviceId);
    checkInt('max', max);
    if (!Array.isArray(keys)) throw new ApiMisuse('keys must be an array');
    keys.forEach((k, i) => {
      checkInt(`keys[${i}].id`, k.id);
      checkBytes(`keys[${i}].publicKey`, k.publicKey);
    });
    return s.addOneTimePrekeys.immediate(username, deviceId, keys, max);
  }

  async countOneTimePrekeys(username: string, deviceId: Uint8Array): Promise<number> {
    const s = this.ready();
    checkText('username', username);
    checkBytes('deviceId', deviceId);
    return num(s.countOneTimePrekeys.get(username, deviceId)?.n);
  }

  async takePrekeyBundles(username: string, maxDevices: number): Promise<DevicePrekeys[]> {
    const s = this.ready();
    checkText('username', username);
    checkInt('maxDevices', maxDevices);
    return s.takePrekeyBundles.immediate(username, maxDevices);
  }

  async deleteDevicePrekeys(username: string, deviceId: Uint8Array): Promise<void> {
    const s = this.ready();
    checkText('username', username);
    checkBytes('deviceId', deviceId);
    s.deleteSignedPrekey.run(username, deviceId); // the one-time prekeys go by ON DELETE CASCADE
  }

  // Retention -------------------------------------------------------------------------------------------

  async prune(nowMs: number, loginFailureWindowMs: number, limit: number): Promise<PruneCounts> {
    const s = this.ready();
    checkInt('nowMs', nowMs);
    checkInt('loginFailureWindowMs', loginFailureWindowMs);
    checkInt('limit', limit, 1);
    return s.prune.immediate(nowMs, loginFailureWindowMs, limit);
  }

  // Contact blobs ---------------------------------------------------------------------------------------

  async getContactBlob(username: string): Promise<ContactBlob | undefined> {
    const s = this.ready();
    checkText('username', username);
    const row = s.getContactBlob.get(username);
    if (row === undefined) return undefined;
    return { version: num(row.version), blob: own(row.blob), updatedAtMs: num(row.updated_at_ms) };
  }

  async putContactBlob(
    username: string,
    expectedVersion: number,
    blob: Uint8Array,
    atMs: number,
  ): Promise<PutContactBlobResult> {
    const s = this.ready();
    checkText('username', username);
    checkInt('expectedVersion', expectedVersion);
    checkBytes('blob', blob);
    checkInt('atMs', atMs);
    return s.putContactBlob.immediate(username, expectedVersion, blob, atMs);
  }

  // Internals -------------------------------------------------------------------------------------------

  private open(): void {
    if (this.closed) throw closedError('sqlite');
    if (this.signing) throw new ApiMisuse('the sign callback of issueCertificate must not call the store');
  }

  private readVersion(): number {
    return readSchemaVersion(this.db);
  }

  /** The prepared statements, after checking (once) that the schema is the expected one. */
  private ready(): Statements {
    this.open();
    if (this.statements === undefined) {
      checkSchema('sqlite', this.readVersion(), this.latest);
      this.statements = this.prepare();
    }
    return this.statements;
  }

  private prepare(): Statements {
    const db = this.db;
    const p = (sql: string): Stmt => db.prepare<unknown[], Row>(sql);

    const nextSerial = p(
      "UPDATE counters SET value = value + 1 WHERE name = 'certificate_serial' RETURNING value",
    ).pluck();
    const insertCertificate = p(
      `INSERT INTO certificates (serial, role, subject, subject_key, device_id, not_before_ms, not_after_ms,
         issued_at_ms, certificate) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const certificateNotAfter = p('SELECT not_after_ms FROM certificates WHERE serial = ?').pluck();
    const insertRevocation = p(
      `INSERT INTO revocations (serial, revoked_at_ms, not_after_ms, reason) VALUES (?, ?, ?, ?)
       ON CONFLICT (serial) DO NOTHING`,
    );
    const publishedVersion = p('SELECT version FROM published WHERE kind = ?').pluck();
    const upsertPublished = p(
      `INSERT INTO published (kind, version, published_at_ms) VALUES (?, ?, ?)
       ON CONFLICT (kind) DO UPDATE SET version = excluded.version, published_at_ms = excluded.published_at_ms`,
    );
    const deletePages = p('DELETE FROM published_pages WHERE kind = ?');
    const insertPage = p('INSERT INTO published_pages (kind, page_index, page) VALUES (?, ?, ?)');
    const getPublishedRow = p('SELECT version, published_at_ms FROM published WHERE kind = ?');
    const getPages = p('SELECT page FROM published_pages WHERE kind = ? ORDER BY page_index').pluck();
    const hasSignedPrekey = p('SELECT 1 FROM signed_prekeys WHERE username = ? AND device_id = ?').pluck();
    const countOneTimePrekeys = p('SELECT count(*) AS n FROM one_time_prekeys WHERE username = ? AND device_id = ?');
    const insertOneTimePrekey = p(
      `INSERT INTO one_time_prekeys (username, device_id, key_id, public_key) VALUES (?, ?, ?, ?)
       ON CONFLICT DO NOTHING`,
    );
    const devices = p(
      `SELECT device_id, certificate, signed_prekey FROM signed_prekeys WHERE username = ?
       ORDER BY device_id LIMIT ?`,
    );
    // [LOGIN-STORE-6] the key is deleted by the statement that hands it out.
    const takeOneTimePrekey = p(
      `DELETE FROM one_time_prekeys WHERE username = @u AND device_id = @d
         AND key_id = (SELECT min(key_id) FROM one_time_prekeys WHERE username = @u AND device_id = @d)
       RETURNING key_id, public_key`,
    );
    const contactVersion = p('SELECT version FROM contact_blobs WHERE username = ?').pluck();
    const insertContactBlob = p(
      'INSERT INTO contact_blobs (username, version, blob, updated_at_ms) VALUES (?, 1, ?, ?)',
    );
    const updateContactBlob = p(
      'UPDATE contact_blobs SET version = version + 1, blob = ?, updated_at_ms = ? WHERE username = ? AND version = ?',
    );
    const pruneRevocations = p(
      `DELETE FROM revocations WHERE serial IN
         (SELECT serial FROM revocations WHERE not_after_ms <= ? LIMIT ?)`,
    );
    const pruneFailures = p(
      `DELETE FROM login_failures WHERE username IN
         (SELECT username FROM login_failures WHERE window_start_ms < ? LIMIT ?)`,
    );
    const pruneSupernodes = p(
      `DELETE FROM supernodes WHERE key_id IN
         (SELECT key_id FROM supernodes WHERE not_after_ms <= ? LIMIT ?)`,
    );

    return {
      insertAccount: p(
        `INSERT INTO accounts (username, registration_record, created_at_ms, password_changed_at_ms, disabled)
         VALUES (?, ?, ?, ?, 0) ON CONFLICT (username) DO NOTHING`,
      ),
      getAccount: p(
        `SELECT username, registration_record, created_at_ms, password_changed_at_ms, disabled
         FROM accounts WHERE username = ?`,
      ),
      replaceRecord: p('UPDATE accounts SET registration_record = ?, password_changed_at_ms = ? WHERE username = ?'),
      setDisabled: p('UPDATE accounts SET disabled = ? WHERE username = ?'),
      countAccounts: p("SELECT value FROM counters WHERE name = 'accounts'"),

      recordFailure: p(
        `INSERT INTO login_failures (username, count, window_start_ms, last_failure_at_ms) VALUES (@u, 1, @at, @at)
         ON CONFLICT (username) DO UPDATE SET
           count = CASE WHEN window_start_ms < @at - @w THEN 1 ELSE count + 1 END,
           last_failure_at_ms = CASE WHEN window_start_ms < @at - @w THEN @at
                                     ELSE max(last_failure_at_ms, @at) END,
           window_start_ms = CASE WHEN window_start_ms < @at - @w THEN @at ELSE window_start_ms END
         RETURNING count, window_start_ms, last_failure_at_ms`,
      ),
      getFailures: p('SELECT count, window_start_ms, last_failure_at_ms FROM login_failures WHERE username = ?'),
      clearFailures: p('DELETE FROM login_failures WHERE username = ?'),

      // [LOGIN-STORE-7] [LOGIN-STORE-8] the serial and the record in one transaction: a throwing `sign`
      // rolls the counter back with everything else, and the counter never goes down.
      issue: db.transaction(
        (info: Omit<IssuedCertificate, 'serial' | 'certificate'>, sign: (serial: number) => Uint8Array) => {
          const serial = num(nextSerial.get());
          let signed: Uint8Array;
          this.signing = true;
          try {
            signed = sign(serial);
          } finally {
            this.signing = false;
          }
          checkBytes('the certificate returned by sign', signed);
          insertCertificate.run(
            serial,
            info.role,
            info.subject,
            info.subjectKey,
            info.deviceId,
            info.notBeforeMs,
            info.notAfterMs,
            info.issuedAtMs,
            signed,
          );
          return {
            serial,
            role: info.role,
            subject: info.subject,
            subjectKey: new Uint8Array(info.subjectKey),
            deviceId: new Uint8Array(info.deviceId),
            notBeforeMs: info.notBeforeMs,
            notAfterMs: info.notAfterMs,
            issuedAtMs: info.issuedAtMs,
            certificate: new Uint8Array(signed),
          } satisfies IssuedCertificate;
        },
      ),
      getCertificate: p(
        `SELECT serial, role, subject, subject_key, device_id, not_before_ms, not_after_ms, issued_at_ms, certificate
         FROM certificates WHERE serial = ?`,
      ),
      revoke: db.transaction((serial: number, reason: string, atMs: number): 'revoked' | 'already' | 'unknown' => {
        const notAfter = certificateNotAfter.get(serial);
        if (notAfter === undefined) return 'unknown';
        return insertRevocation.run(serial, atMs, notAfter, reason).changes === 1 ? 'revoked' : 'already';
      }),
      listRevocations: p(
        // INDEXED BY: SQLite would rather walk the whole table in serial order than sort the range.
        `SELECT serial, revoked_at_ms, not_after_ms, reason FROM revocations INDEXED BY revocations_not_after
         WHERE not_after_ms > ? ORDER BY serial`,
      ),
      isRevoked: p('SELECT 1 FROM revocations WHERE serial = ?'),

      // [LOGIN-STORE-5] [LOGIN-STORE-21] compare and write under the write lock.
      publish: db.transaction((kind: PublishedKind, published: Published): boolean => {
        const current = publishedVersion.get(kind);
        if (current !== undefined && num(current) >= published.version) return false;
        upsertPublished.run(kind, published.version, published.publishedAtMs);
        deletePages.run(kind);
        published.pages.forEach((page, i) => {
          insertPage.run(kind, i, page);
        });
        return true;
      }),
      getPublished: db.transaction((kind: PublishedKind): Published | undefined => {
        const row = getPublishedRow.get(kind);
        if (row === undefined) return undefined;
        return {
          version: num(row.version),
          pages: getPages.all(kind).map(own),
          publishedAtMs: num(row.published_at_ms),
        };
      }),

      upsertSupernode: p(
        `INSERT INTO supernodes (key_id, certificate, serial, not_after_ms, entry, software, registered_at_ms,
           last_heartbeat_at_ms, load, capacity) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (key_id) DO UPDATE SET certificate = excluded.certificate, serial = excluded.serial,
           not_after_ms = excluded.not_after_ms, entry = excluded.entry, software = excluded.software,
           registered_at_ms = excluded.registered_at_ms, last_heartbeat_at_ms = excluded.last_heartbeat_at_ms,
           load = excluded.load, capacity = excluded.capacity`,
      ),
      heartbeat: p('UPDATE supernodes SET load = ?, last_heartbeat_at_ms = ? WHERE key_id = ?'),
      removeSupernode: p('DELETE FROM supernodes WHERE key_id = ?'),
      // INDEXED BY: the heartbeat range skips silent supernodes; SQLite would rather walk the key order.
      liveSupernodes: p(
        `SELECT key_id, certificate, serial, not_after_ms, entry, software, registered_at_ms, last_heartbeat_at_ms,
           load, capacity FROM supernodes INDEXED BY supernodes_heartbeat
         WHERE last_heartbeat_at_ms >= ? AND not_after_ms > ? ORDER BY key_id`,
      ),

      putSignedPrekey: p(
        `INSERT INTO signed_prekeys (username, device_id, certificate, signed_prekey, updated_at_ms)
         VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (username, device_id) DO UPDATE SET certificate = excluded.certificate,
           signed_prekey = excluded.signed_prekey, updated_at_ms = excluded.updated_at_ms`,
      ),
      // [LOGIN-STORE-20] never more than `max` for one device; [LOGIN-STORE-5] counted under the write lock.
      addOneTimePrekeys: db.transaction(
        (username: string, deviceId: Uint8Array, keys: readonly OneTimePrekey[], max: number): number | undefined => {
          if (hasSignedPrekey.get(username, deviceId) === undefined) return undefined;
          let held = num(countOneTimePrekeys.get(username, deviceId)?.n);
          for (const key of keys) {
            if (held >= max) break;
            held += insertOneTimePrekey.run(username, deviceId, key.id, key.publicKey).changes;
          }
          return held;
        },
      ),
      countOneTimePrekeys,
      takePrekeyBundles: db.transaction((username: string, maxDevices: number): DevicePrekeys[] => {
        return devices.all(username, maxDevices).map((d) => {
          const key = takeOneTimePrekey.get({ u: username, d: d.device_id });
          const bundle: DevicePrekeys = {
            deviceId: own(d.device_id),
            certificate: own(d.certificate),
            signedPrekey: own(d.signed_prekey),
          };
          if (key === undefined) return bundle;
          return { ...bundle, oneTimePrekey: { id: num(key.key_id), publicKey: own(key.public_key) } };
        });
      }),
      deleteSignedPrekey: p('DELETE FROM signed_prekeys WHERE username = ? AND device_id = ?'),

      // [LOGIN-STORE-18] bounded deletes ([LOGIN-STORE-19]).
      prune: db.transaction((nowMs: number, windowMs: number, limit: number): PruneCounts => {
        return {
          revocations: pruneRevocations.run(nowMs, limit).changes,
          loginFailures: pruneFailures.run(nowMs - windowMs, limit).changes,
          supernodes: pruneSupernodes.run(nowMs, limit).changes,
        };
      }),

      getContactBlob: p('SELECT version, blob, updated_at_ms FROM contact_blobs WHERE username = ?'),
      // [LOGIN-STORE-5] [LOGIN-STORE-22] compare-and-set under the write lock.
      putContactBlob: db.transaction(
        (username: string, expected: number, blob: Uint8Array, atMs: number): PutContactBlobResult => {
          const stored = contactVersion.get(username);
          const current = stored === undefined ? 0 : num(stored);
          if (current !== expected) return { ok: false, current };
          if (current === 0) insertContactBlob.run(username, blob, atMs);
          else updateContactBlob.run(blob, atMs, username, current);
          return { ok: true, version: current + 1 };
        },
      ),
    };
  }
}

function failures(row: Row): LoginFailures {
  return {
    count: num(row.count),
    windowStartMs: num(row.window_start_ms),
    lastFailureAtMs: num(row.last_failure_at_ms),
  };
}

function certificate(row: Row): IssuedCertificate {
  return {
    serial: num(row.serial),
    role: row.role as IssuedCertificate['role'],
    subject: row.subject as string,
    subjectKey: own(row.subject_key),
    deviceId: own(row.device_id),
    notBeforeMs: num(row.not_before_ms),
    notAfterMs: num(row.not_after_ms),
    issuedAtMs: num(row.issued_at_ms),
    certificate: own(row.certificate),
  };
}

type Transaction<F extends (...args: never[]) => unknown> = Database.Transaction<F>;

interface Statements {
  readonly insertAccount: Stmt;
  readonly getAccount: Stmt;
  readonly replaceRecord: Stmt;
  readonly setDisabled: Stmt;
  readonly countAccounts: Stmt;
  readonly recordFailure: Stmt;
  readonly getFailures: Stmt;
  readonly clearFailures: Stmt;
  readonly issue: Transaction<
    (info: Omit<IssuedCertificate, 'serial' | 'certificate'>, sign: (serial: number) => Uint8Array) => IssuedCertificate
  >;
  readonly getCertificate: Stmt;
  readonly revoke: Transaction<(serial: number, reason: string, atMs: number) => 'revoked' | 'already' | 'unknown'>;
  readonly listRevocations: Stmt;
  readonly isRevoked: Stmt;
  readonly publish: Transaction<(kind: PublishedKind, published: Published) => boolean>;
  readonly getPublished: Transaction<(kind: PublishedKind) => Published | undefined>;
  readonly upsertSupernode: Stmt;
  readonly heartbeat: Stmt;
  readonly removeSupernode: Stmt;
  readonly liveSupernodes: Stmt;
  readonly putSignedPrekey: Stmt;
  readonly addOneTimePrekeys: Transaction<
    (username: string, deviceId: Uint8Array, keys: readonly OneTimePrekey[], max: number) => number | undefined
  >;
  readonly countOneTimePrekeys: Stmt;
  readonly takePrekeyBundles: Transaction<(username: string, maxDevices: number) => DevicePrekeys[]>;
  readonly deleteSignedPrekey: Stmt;
  readonly prune: Transaction<(nowMs: number, windowMs: number, limit: number) => PruneCounts>;
  readonly getContactBlob: Stmt;
  readonly putContactBlob: Transaction<
    (username: string, expected: number, blob: Uint8Array, atMs: number) => PutContactBlobResult
  >;
}
