/**
 * The shared store: PostgreSQL through `pg` (spec/06-login-server.md §13, LOGIN-STORE-*), for deployments
 * where several login-server processes share one database ([LOGIN-STORE-1], [LOGIN-STORE-13]).
 *
 * - Durability ([LOGIN-STORE-2]): a call resolves after PostgreSQL has acknowledged its COMMIT (or its
 *   single autocommit statement); the store refuses to run when `synchronous_commit` is off, which would
 *   acknowledge commits before they are flushed.
 * - Concurrency: every conditional write is decided inside one statement (an upsert with a condition, a
 *   conditional UPDATE, `DELETE ... FOR UPDATE SKIP LOCKED ... RETURNING`) or under a row lock
 *   ([LOGIN-STORE-5]), so calls from any number of pools and processes behave as some serial order.
 *   Serials come from a SEQUENCE ([LOGIN-STORE-7]). Multi-statement methods run BEGIN ... COMMIT on one
 *   pooled client and ROLLBACK on any error.
 * - Migrations ([LOGIN-STORE-9]..[LOGIN-STORE-12]) each run in one transaction that first takes a
 *   transaction-scoped advisory lock, so processes starting together apply each migration once.
 * - bigint columns are parsed to numbers (every value is below 2^53; a larger one is an error, not a
 *   silent rounding); bytea is copied out of pg's pooled Buffers into plain Uint8Arrays.
 * - A call whose connection is lost during COMMIT rejects although PostgreSQL may have committed it (the
 *   outcome is unknown to any client); the server then does not acknowledge it ([LOGIN-STORE-3]).
 */
import { ApiMisuse } from '@parley/wire';
import pg from 'pg';
import {
  checkBytes,
  checkInt,
  checkKind,
  checkRole,
  checkSchema,
  checkText,
  closedError,
  copyOut,
  migrationFailed,
} from './internal.js';
import { checkMigrations, type Migration, POSTGRES_MIGRATIONS } from './migrations.js';
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

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database?...` (libpq URL). */
  readonly connectionString: string;
  /** Connections in this process's pool; default 10. */
  readonly poolSize?: number;
  /**
   * A schema to use instead of the default search path (created by migrate() when missing): several
   * independent stores in one database, as the tests use. Lower-case letters, digits and `_`.
   */
  readonly schema?: string;
  /** How long to wait for a connection; default 10,000 ms. */
  readonly connectionTimeoutMs?: number;
  /** PostgreSQL `statement_timeout` for every call except migrations; default 30,000 ms, 0 for none. */
  readonly statementTimeoutMs?: number;
  /** Called with errors of idle pooled connections (the pool drops them); default: ignored. */
  readonly onPoolError?: (error: Error) => void;
  /** The migration list (default POSTGRES_MIGRATIONS); tests inject others. */
  readonly migrations?: readonly Migration[];
}

/** The advisory lock class for migrations (any constant: "Pa" "rl" in ASCII); the object is the schema. */
const MIGRATION_LOCK_CLASS = 0x5061_726c;
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const INT8_OID = 20;

function parseInt8(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new RangeError(`bigint ${text} from PostgreSQL exceeds 2^53`);
  return n;
}

/** pg's type parsers, except bigint (int8), which becomes a number instead of a string. */
const TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary'
      ? parseInt8
      : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

type Row = Record<string, unknown>;
const num = (v: unknown): number => v as number;

export class PostgresStore implements Store {
  readonly kind = 'postgres';
  private readonly pool: pg.Pool;
  private readonly schema: string | undefined;
  private readonly migrations: readonly Migration[];
  private readonly latest: number;
  private closed = false;
  /** The once-per-store check that the schema is current and commits are durable. */
  private checked: Promise<void> | undefined;

  constructor(options: PostgresStoreOptions) {
    checkText('connectionString', options.connectionString);
    const poolSize = options.poolSize ?? 10;
    checkInt('poolSize', poolSize, 1);
    const connectionTimeoutMs = options.connectionTimeoutMs ?? 10_000;
    checkInt('connectionTimeoutMs', connectionTimeoutMs);
    const statementTimeoutMs = options.statementTimeoutMs ?? 30_000;
    checkInt('statementTimeoutMs', statementTimeoutMs);
    if (options.schema !== undefined && !SCHEMA_NAME.test(options.schema)) {
      throw new ApiMisuse(`schema must match ${SCHEMA_NAME}, got ${JSON.stringify(options.schema)}`);
    }
    this.schema = options.schema;
    this.migrations = options.migrations ?? POSTGRES_MIGRATIONS;
    this.latest = checkMigrations(this.migrations);
    const schema = this.schema;
    this.pool = new pg.Pool({
      connectionString: options.connectionString,
      max: poolSize,
      connectionTimeoutMillis: connectionTimeoutMs,
      ...(statementTimeoutMs > 0 ? { statement_timeout: statementTimeoutMs } : {}),
      types: TYPES,
      application_name: 'parley-login-server',
      ...(schema !== undefined
        ? { onConnect: async (client: pg.ClientBase) => void (await client.query(`SET search_path TO "${schema}"`)) }
        : {}),
    });
    const onPoolError = options.onPoolError;
    this.pool.on('error', (e) => onPoolError?.(e));
  }

  // Schema ----------------------------------------------------------------------------------------------

  async migrate(): Promise<void> {
    if (this.closed) throw closedError('postgres');
    for (;;) {
      // [LOGIN-STORE-10] one transaction per migration, with the row that records it;
      // [LOGIN-STORE-12] under an advisory lock, so concurrent migrators apply it once.
      const applied = await this.tx(async (c) => {
        await c.query('SET LOCAL statement_timeout = 0');
        await c.query('SELECT pg_advisory_xact_lock($1, hashtext(coalesce($2::text, current_schema())))', [
          MIGRATION_LOCK_CLASS,
          this.schema ?? null,
        ]);
        if (this.schema !== undefined) await c.query(`CREATE SCHEMA IF NOT EXISTS "${this.schema}"`);
        await c.query('CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL)');
        const current = num((await c.query('SELECT coalesce(max(version), 0) AS v FROM schema_migrations')).rows[0]?.v);
        if (current > this.latest) checkSchema('postgres', current, this.latest); // [LOGIN-STORE-11]
        const next = this.migrations[current];
        if (next === undefined) return false;
        try {
          await c.query(next.sql);
          await c.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [next.version, next.name]);
        } catch (e) {
          throw migrationFailed('postgres', next.version, next.name, e);
        }
        return true;
      });
      if (!applied) break;
    }
    // Check the schema and durability now, so that a server fails at startup, not at its first request.
    this.checked = undefined;
    await this.ready();
  }

  async schemaVersion(): Promise<number> {
    if (this.closed) throw closedError('postgres');
    const exists = await this.pool.query<Row>("SELECT to_regclass('schema_migrations') IS NOT NULL AS e");
    if (exists.rows[0]?.e !== true) return 0;
    const r = await this.pool.query<Row>('SELECT coalesce(max(version), 0) AS v FROM schema_migrations');
    return num(r.rows[0]?.v);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  // Accounts --------------------------------------------------------------------------------------------

  async createAccount(account: {
    username: string;
    registrationRecord: Uint8Array;
    atMs: number;
  }): Promise<CreateAccountResult> {
    checkText('username', account.username);
    checkBytes('registrationRecord', account.registrationRecord);
    checkInt('atMs', account.atMs);
    const r = await this.query(
      `INSERT INTO accounts (username, registration_record, created_at_ms, password_changed_at_ms)
       VALUES ($1, $2, $3, $3) ON CONFLICT (username) DO NOTHING`,
      [account.username, account.registrationRecord, account.atMs],
    );
    return r.rowCount === 1 ? 'created' : 'exists';
  }

  async getAccount(username: string): Promise<AccountRecord | undefined> {
    checkText('username', username);
    const r = await this.query(
      `SELECT username, registration_record, created_at_ms, password_changed_at_ms, disabled
       FROM accounts WHERE username = $1`,
      [username],
    );
    const row = r.rows[0];
    if (row === undefined) return undefined;
    return {
      username: row.username as string,
      registrationRecord: copyOut(row.registration_record as Buffer),
      createdAtMs: num(row.created_at_ms),
      passwordChangedAtMs: num(row.password_changed_at_ms),
      disabled: row.disabled === true,
    };
  }

  async replaceRegistrationRecord(username: string, registrationRecord: Uint8Array, atMs: number): Promise<boolean> {
    checkText('username', username);
    checkBytes('registrationRecord', registrationRecord);
    checkInt('atMs', atMs);
    const r = await this.query(
      'UPDATE accounts SET registration_record = $2, password_changed_at_ms = $3 WHERE username = $1',
      [username, registrationRecord, atMs],
    );
    return r.rowCount === 1;
  }

  async setAccountDisabled(username: string, disabled: boolean): Promise<boolean> {
    checkText('username', username);
    if (typeof disabled !== 'boolean') throw new ApiMisuse('disabled must be a boolean');
    const r = await this.query('UPDATE accounts SET disabled = $2 WHERE username = $1', [username, disabled]);
    return r.rowCount === 1;
  }

  async countAccounts(): Promise<number> {
    const r = await this.query('SELECT count(*) AS n FROM accounts', []);
    return num(r.rows[0]?.n);
  }

  // Failed logins ---------------------------------------------------------------------------------------

  async recordLoginFailure(username: string, atMs: number, windowMs: number): Promise<LoginFailures> {
    checkText('username', username);
    checkInt('atMs', atMs);
    checkInt('windowMs', windowMs);
    // [LOGIN-STORE-5] [LOGIN-STORE-17] one upsert: the conflicting row is locked while the window is decided.
    const r = await this.query(
      `INSERT INTO login_failures AS f (username, count, window_start_ms, last_failure_at_ms)
       VALUES ($1, 1, $2::bigint, $2::bigint)
       ON CONFLICT (username) DO UPDATE SET
         count = CASE WHEN f.window_start_ms < $2::bigint - $3::bigint THEN 1 ELSE f.count + 1 END,
         last_failure_at_ms = CASE WHEN f.window_start_ms < $2::bigint - $3::bigint THEN $2::bigint
                                   ELSE greatest(f.last_failure_at_ms, $2::bigint) END,
         window_start_ms = CASE WHEN f.window_start_ms < $2::bigint - $3::bigint THEN $2::bigint
                                ELSE f.window_start_ms END
       RETURNING count, window_start_ms, last_failure_at_ms`,
      [username, atMs, windowMs],
    );
    return failures(r.rows[0]!);
  }

  async getLoginFailures(username: string): Promise<LoginFailures | undefined> {
    checkText('username', username);
    const r = await this.query(
      'SELECT count, window_start_ms, last_failure_at_ms FROM login_failures WHERE username = $1',
      [username],
    );
    return r.rows[0] === undefined ? undefined : failures(r.rows[0]);
  }

  async clearLoginFailures(username: string): Promise<void> {
    checkText('username', username);
    await this.query('DELETE FROM login_failures WHERE username = $1', [username]);
  }

  // Certificates and revocation -------------------------------------------------------------------------

  async issueCertificate(
    info: Omit<IssuedCertificate, 'serial' | 'certificate'>,
    sign: (serial: number) => Uint8Array,
  ): Promise<IssuedCertificate> {
    checkRole(info.role);
    checkText('subject', info.subject);
    checkBytes('subjectKey', info.subjectKey);
    checkBytes('deviceId', info.deviceId);
    checkInt('notBeforeMs', info.notBeforeMs);
    checkInt('notAfterMs', info.notAfterMs);
    checkInt('issuedAtMs', info.issuedAtMs);
    if (typeof sign !== 'function') throw new ApiMisuse('sign must be a function');
    // [LOGIN-STORE-7] nextval never hands one value out twice, to any session, even when a transaction
    // rolls back; [LOGIN-STORE-8] the record is one INSERT, so a throwing `sign` leaves nothing (the
    // serial it was given stays unused).
    const serial = num((await this.query("SELECT nextval('certificate_serial') AS s", [])).rows[0]?.s);
    const signed = sign(serial);
    checkBytes('the certificate returned by sign', signed);
    await this.query(
      `INSERT INTO certificates (serial, role, subject, subject_key, device_id, not_before_ms, not_after_ms,
         issued_at_ms, certificate) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [
        serial,
        info.role,
        info.subject,
        info.subjectKey,
        info.deviceId,
        info.notBeforeMs,
        info.notAfterMs,
        info.issuedAtMs,
        signed,
      ],
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
    };
  }

  async getCertificate(serial: number): Promise<IssuedCertificate | undefined> {
    checkInt('serial', serial);
    const r = await this.query(
      `SELECT serial, role, subject, subject_key, device_id, not_before_ms, not_after_ms, issued_at_ms, certificate
       FROM certificates WHERE serial = $1`,
      [serial],
    );
    const row = r.rows[0];
    if (row === undefined) return undefined;
    return {
      serial: num(row.serial),
      role: row.role as IssuedCertificate['role'],
      subject: row.subject as string,
      subjectKey: copyOut(row.subject_key as Buffer),
      deviceId: copyOut(row.device_id as Buffer),
      notBeforeMs: num(row.not_before_ms),
      notAfterMs: num(row.not_after_ms),
      issuedAtMs: num(row.issued_at_ms),
      certificate: copyOut(row.certificate as Buffer),
    };
  }

  async revoke(serial: number, reason: string, atMs: number): Promise<'revoked' | 'already' | 'unknown'> {
    checkInt('serial', serial);
    checkText('reason', reason);
    checkInt('atMs', atMs);
    // One statement: of concurrent revocations of one serial, ON CONFLICT lets exactly one insert.
    const r = await this.query(
      `WITH c AS (SELECT serial, not_after_ms FROM certificates WHERE serial = $1),
            ins AS (INSERT INTO revocations (serial, revoked_at_ms, not_after_ms, reason)
                    SELECT serial, $3, not_after_ms, $2 FROM c ON CONFLICT (serial) DO NOTHING RETURNING serial)
       SELECT EXISTS (SELECT 1 FROM c) AS known, EXISTS (SELECT 1 FROM ins) AS inserted`,
      [serial, reason, atMs],
    );
    const row = r.rows[0]!;
    if (row.known !== true) return 'unknown';
    return row.inserted === true ? 'revoked' : 'already';
  }

  async listRevocations(nowMs: number): Promise<Revocation[]> {
    checkInt('nowMs', nowMs);
    // [LOGIN-STORE-16] listed until the certificate's not_after.
    const r = await this.query(
      'SELECT serial, revoked_at_ms, not_after_ms, reason FROM revocations WHERE not_after_ms > $1 ORDER BY serial',
      [nowMs],
    );
    return r.rows.map((row) => ({
      serial: num(row.serial),
      revokedAtMs: num(row.revoked_at_ms),
      notAfterMs: num(row.not_after_ms),
      reason: row.reason as string,
    }));
  }

  async isRevoked(serial: number): Promise<boolean> {
    checkInt('serial', serial);
    const r = await this.query('SELECT 1 FROM revocations WHERE serial = $1', [serial]);
    return r.rows.length > 0;
  }

  // Published objects -----------------------------------------------------------------------------------

  async publish(kind: PublishedKind, published: Published): Promise<boolean> {
    checkKind(kind);
    checkInt('version', published.version);
    checkInt('publishedAtMs', published.publishedAtMs);
    if (!Array.isArray(published.pages)) throw new ApiMisuse('pages must be an array');
    published.pages.forEach((p, i) => {
      checkBytes(`pages[${i}]`, p);
    });
    // [LOGIN-STORE-5] [LOGIN-STORE-21] the version comparison is the upsert's own condition.
    const r = await this.query(
      `INSERT INTO published AS p (kind, version, pages, published_at_ms) VALUES ($1, $2, $3::bytea[], $4)
       ON CONFLICT (kind) DO UPDATE SET version = excluded.version, pages = excluded.pages,
         published_at_ms = excluded.published_at_ms
       WHERE p.version < excluded.version`,
      [kind, published.version, published.pages, published.publishedAtMs],
    );
    return r.rowCount === 1;
  }

  async getPublished(kind: PublishedKind): Promise<Published | undefined> {
    checkKind(kind);
    const r = await this.query('SELECT version, pages, published_at_ms FROM published WHERE kind = $1', [kind]);
    const row = r.rows[0];
    if (row === undefined) return undefined;
    return {
      version: num(row.version),
      pages: (row.pages as Buffer[]).map(copyOut),
      publishedAtMs: num(row.published_at_ms),
    };
  }

  // Supernodes ------------------------------------------------------------------------------------------

  async upsertSupernode(r: SupernodeRecord): Promise<void> {
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
    await this.query(
      `INSERT INTO supernodes (key_id, certificate, serial, not_after_ms, entry, software, registered_at_ms,
         last_heartbeat_at_ms, load, capacity) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (key_id) DO UPDATE SET certificate = excluded.certificate, serial = excluded.serial,
         not_after_ms = excluded.not_after_ms, entry = excluded.entry, software = excluded.software,
         registered_at_ms = excluded.registered_at_ms, last_heartbeat_at_ms = excluded.last_heartbeat_at_ms,
         load = excluded.load, capacity = excluded.capacity`,
      [
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
      ],
    );
  }

  async supernodeHeartbeat(keyId: Uint8Array, load: number, atMs: number): Promise<boolean> {
    checkBytes('keyId', keyId);
    checkInt('load', load);
    checkInt('atMs', atMs);
    const r = await this.query('UPDATE supernodes SET load = $2, last_heartbeat_at_ms = $3 WHERE key_id = $1', [
      keyId,
      load,
      atMs,
    ]);
    return r.rowCount === 1;
  }

  async removeSupernode(keyId: Uint8Array): Promise<boolean> {
    checkBytes('keyId', keyId);
    const r = await this.query('DELETE FROM supernodes WHERE key_id = $1', [keyId]);
    return r.rowCount === 1;
  }

  async listLiveSupernodes(sinceMs: number, nowMs: number): Promise<SupernodeRecord[]> {
    checkInt('sinceMs', sinceMs);
    checkInt('nowMs', nowMs);
    // bytea orders bytewise (memcmp, then length), as the contract asks.
    const r = await this.query(
      `SELECT key_id, certificate, serial, not_after_ms, entry, software, registered_at_ms, last_heartbeat_at_ms,
         load, capacity FROM supernodes WHERE last_heartbeat_at_ms >= $1 AND not_after_ms > $2 ORDER BY key_id`,
      [sinceMs, nowMs],
    );
    return r.rows.map((row) => ({
      keyId: copyOut(row.key_id as Buffer),
      certificate: copyOut(row.certificate as Buffer),
      serial: num(row.serial),
      notAfterMs: num(row.not_after_ms),
      entry: copyOut(row.entry as Buffer),
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
    checkText('username', username);
    checkBytes('deviceId', deviceId);
    checkBytes('certificate', certificate);
    checkBytes('signedPrekey', signedPrekey);
    checkInt('atMs', atMs);
    await this.query(
      `INSERT INTO signed_prekeys (username, device_id, certificate, signed_prekey, updated_at_ms)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (username, device_id) DO UPDATE SET certificate = excluded.certificate,
         signed_prekey = excluded.signed_prekey, updated_at_ms = excluded.updated_at_ms`,
      [username, deviceId, certificate, signedPrekey, atMs],
    );
  }

  async addOneTimePrekeys(
    username: string,
    deviceId: Uint8Array,
    keys: readonly OneTimePrekey[],
    max: number,
  ): Promise<number | undefined> {
    checkText('username', username);
    checkBytes('deviceId', deviceId);
    checkInt('max', max);
    if (!Array.isArray(keys)) throw new ApiMisuse('keys must be an array');
    keys.forEach((k, i) => {
      checkInt(`keys[${i}].id`, k.id);
      checkBytes(`keys[${i}].publicKey`, k.publicKey);
    });
    await this.ready();
    // [LOGIN-STORE-5] [LOGIN-STORE-20] the device's signed-prekey row is locked for the transaction, so
    // concurrent adds to one device run one after the other and the cap holds. Each statement below sees
    // what committed before it (READ COMMITTED), including the adds it waited for.
    return this.tx(async (c) => {
      const locked = await c.query('SELECT 1 FROM signed_prekeys WHERE username = $1 AND device_id = $2 FOR UPDATE', [
        username,
        deviceId,
      ]);
      if (locked.rows.length === 0) return undefined;
      const stored = await c.query<Row>('SELECT key_id FROM one_time_prekeys WHERE username = $1 AND device_id = $2', [
        username,
        deviceId,
      ]);
      const seen = new Set(stored.rows.map((row) => num(row.key_id)));
      const ids: number[] = [];
      const publicKeys: Uint8Array[] = [];
      for (const key of keys) {
        if (seen.size >= max) break;
        if (seen.has(key.id)) continue;
        seen.add(key.id);
        ids.push(key.id);
        publicKeys.push(key.publicKey);
      }
      if (ids.length === 0) return stored.rows.length;
      // The count is taken in this statement's snapshot, which does not include its own inserts.
      const r = await c.query<Row>(
        `WITH ins AS (
           INSERT INTO one_time_prekeys (username, device_id, key_id, public_key)
           SELECT $1, $2, k.id, k.pk FROM unnest($3::bigint[], $4::bytea[]) AS k (id, pk)
           ON CONFLICT DO NOTHING RETURNING 1)
         SELECT (SELECT count(*) FROM ins) + (SELECT count(*) FROM one_time_prekeys
                                              WHERE username = $1 AND device_id = $2) AS n`,
        [username, deviceId, ids, publicKeys],
      );
      return num(r.rows[0]?.n);
    });
  }

  async countOneTimePrekeys(username: string, deviceId: Uint8Array): Promise<number> {
    checkText('username', username);
    checkBytes('deviceId', deviceId);
    const r = await this.query('SELECT count(*) AS n FROM one_time_prekeys WHERE username = $1 AND device_id = $2', [
      username,
      deviceId,
    ]);
    return num(r.rows[0]?.n);
  }

  async takePrekeyBundles(username: string, maxDevices: number): Promise<DevicePrekeys[]> {
    checkText('username', username);
    checkInt('maxDevices', maxDevices);
    // [LOGIN-STORE-6] one statement picks, per device, the lowest-id key no concurrent fetch has locked
    // (FOR UPDATE SKIP LOCKED), deletes it and returns it: a key goes to at most one fetch, in any number
    // of processes, and concurrent fetches do not wait for each other.
    const r = await this.query(
      `WITH d AS (
         SELECT device_id, certificate, signed_prekey FROM signed_prekeys WHERE username = $1
         ORDER BY device_id LIMIT $2),
       pick AS (
         SELECT o.device_id, o.key_id FROM d CROSS JOIN LATERAL (
           SELECT device_id, key_id FROM one_time_prekeys
           WHERE username = $1 AND device_id = d.device_id
           ORDER BY key_id LIMIT 1 FOR UPDATE SKIP LOCKED) o),
       taken AS (
         DELETE FROM one_time_prekeys t USING pick
         WHERE t.username = $1 AND t.device_id = pick.device_id AND t.key_id = pick.key_id
         RETURNING t.device_id, t.key_id, t.public_key)
       SELECT d.device_id, d.certificate, d.signed_prekey, taken.key_id, taken.public_key
       FROM d LEFT JOIN taken ON taken.device_id = d.device_id ORDER BY d.device_id`,
      [username, maxDevices],
    );
    return r.rows.map((row) => {
      const bundle: DevicePrekeys = {
        deviceId: copyOut(row.device_id as Buffer),
        certificate: copyOut(row.certificate as Buffer),
        signedPrekey: copyOut(row.signed_prekey as Buffer),
      };
      if (row.key_id === null) return bundle;
      return { ...bundle, oneTimePrekey: { id: num(row.key_id), publicKey: copyOut(row.public_key as Buffer) } };
    });
  }

  async deleteDevicePrekeys(username: string, deviceId: Uint8Array): Promise<void> {
    checkText('username', username);
    checkBytes('deviceId', deviceId);
    // The one-time prekeys go by ON DELETE CASCADE, in the same statement.
    await this.query('DELETE FROM signed_prekeys WHERE username = $1 AND device_id = $2', [username, deviceId]);
  }

  // Retention -------------------------------------------------------------------------------------------

  async prune(nowMs: number, loginFailureWindowMs: number, limit: number): Promise<PruneCounts> {
    checkInt('nowMs', nowMs);
    checkInt('loginFailureWindowMs', loginFailureWindowMs);
    checkInt('limit', limit, 1);
    // [LOGIN-STORE-18] bounded deletes; SKIP LOCKED leaves rows that a concurrent call is updating (a
    // counter whose window a new failure is restarting) for a later prune.
    const r = await this.query(
      `WITH r AS (
         DELETE FROM revocations WHERE serial IN (
           SELECT serial FROM revocations WHERE not_after_ms <= $1 LIMIT $3 FOR UPDATE SKIP LOCKED)
         RETURNING 1),
       f AS (
         DELETE FROM login_failures WHERE username IN (
           SELECT username FROM login_failures WHERE window_start_ms < $1::bigint - $2::bigint
           LIMIT $3 FOR UPDATE SKIP LOCKED)
         RETURNING 1),
       s AS (
         DELETE FROM supernodes WHERE key_id IN (
           SELECT key_id FROM supernodes WHERE not_after_ms <= $1 LIMIT $3 FOR UPDATE SKIP LOCKED)
         RETURNING 1)
       SELECT (SELECT count(*) FROM r) AS r, (SELECT count(*) FROM f) AS f, (SELECT count(*) FROM s) AS s`,
      [nowMs, loginFailureWindowMs, limit],
    );
    const row = r.rows[0]!;
    return { revocations: num(row.r), loginFailures: num(row.f), supernodes: num(row.s) };
  }

  // Contact blobs ---------------------------------------------------------------------------------------

  async getContactBlob(username: string): Promise<ContactBlob | undefined> {
    checkText('username', username);
    const r = await this.query('SELECT version, blob, updated_at_ms FROM contact_blobs WHERE username = $1', [
      username,
    ]);
    const row = r.rows[0];
    if (row === undefined) return undefined;
    return { version: num(row.version), blob: copyOut(row.blob as Buffer), updatedAtMs: num(row.updated_at_ms) };
  }

  async putContactBlob(
    username: string,
    expectedVersion: number,
    blob: Uint8Array,
    atMs: number,
  ): Promise<PutContactBlobResult> {
    checkText('username', username);
    checkInt('expectedVersion', expectedVersion);
    checkBytes('blob', blob);
    checkInt('atMs', atMs);
    // [LOGIN-STORE-5] [LOGIN-STORE-22] the comparison is the write's own condition (a conflict-free
    // INSERT for version 0, `WHERE version = expected` otherwise): of concurrent writers expecting one
    // version, exactly one changes the row. The version read after a refusal is only informative.
    const written =
      expectedVersion === 0
        ? await this.query(
            `INSERT INTO contact_blobs (username, version, blob, updated_at_ms) VALUES ($1, 1, $2, $3)
             ON CONFLICT (username) DO NOTHING RETURNING version`,
            [username, blob, atMs],
          )
        : await this.query(
            `UPDATE contact_blobs SET version = version + 1, blob = $3, updated_at_ms = $4
             WHERE username = $1 AND version = $2 RETURNING version`,
            [username, expectedVersion, blob, atMs],
          );
    if (written.rows[0] !== undefined) return { ok: true, version: num(written.rows[0].version) };
    const current = await this.query('SELECT version FROM contact_blobs WHERE username = $1', [username]);
    return { ok: false, current: current.rows[0] === undefined ? 0 : num(current.rows[0].version) };
  }

  // Internals -------------------------------------------------------------------------------------------

  /** One autocommit statement (atomic on its own), after the readiness check. */
  private async query(text: string, values: unknown[]): Promise<pg.QueryResult<Row>> {
    await this.ready();
    return this.pool.query<Row>(text, values);
  }

  /** Checks once per store that the schema is current and that commits are durable. */
  private async ready(): Promise<void> {
    if (this.closed) throw closedError('postgres');
    if (this.checked === undefined) {
      const checking = this.check();
      this.checked = checking;
      checking.catch(() => {
        if (this.checked === checking) this.checked = undefined; // try again on the next call
      });
    }
    await this.checked;
  }

  private async check(): Promise<void> {
    checkSchema('postgres', await this.schemaVersion(), this.latest);
    const sync = await this.pool.query<Row>("SELECT current_setting('synchronous_commit') AS s");
    if (sync.rows[0]?.s === 'off') {
      // [LOGIN-STORE-2] with synchronous_commit off, PostgreSQL acknowledges a COMMIT before it is flushed.
      throw new StoreError(
        'not-durable',
        'PostgreSQL synchronous_commit is off: a commit could be acknowledged and then lost; set it to on',
      );
    }
  }

  /** BEGIN ... COMMIT on one pooled client; ROLLBACK on any error (a client that cannot roll back is dropped). */
  private async tx<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (e) {
      await client.query('ROLLBACK').catch((r: unknown) => {
        broken = r instanceof Error ? r : new Error(String(r));
      });
      throw e;
    } finally {
      client.release(broken);
    }
  }
}

function failures(row: Row): LoginFailures {
  return {
    count: num(row.count),
    windowStartMs: num(row.window_start_ms),
    lastFailureAtMs: num(row.last_failure_at_ms),
  };
}
