/**
 * The login server's storage: one interface, two implementations that pass one contract suite
 * (test/store/contract.ts): SQLite (better-sqlite3, WAL) embedded by default, PostgreSQL (pg) for
 * deployments where several login-server processes share one database.
 * Normative text: spec/06-login-server.md §13 (LOGIN-STORE-*).
 *
 * Every method is one atomic transaction: when its promise resolves the change is durable (committed
 * with a synchronous flush), and when it rejects nothing was written ([LOGIN-STORE-2]). The server
 * acknowledges a request only after the store call that records it has resolved ([LOGIN-STORE-3]).
 * Methods never interpret protocol bytes: signed objects, OPAQUE records, prekeys and blobs are opaque
 * `Uint8Array`s that the caller has already checked. User names arrive normalised (LOGIN-NAME-*).
 * Times are unix milliseconds from the caller's injected clock; a store never reads a clock itself.
 *
 * Conventions every implementation follows (the contract suite checks them):
 * - Byte fields a method returns are fresh plain `Uint8Array`s (not Node `Buffer`s, never views into a
 *   shared pool) that the caller owns; bytes passed in may be reused by the caller once the call returns.
 * - Times, versions, serials, ids, counts and limits are safe non-negative integers; anything else is
 *   rejected with `ApiMisuse` (from @parley/wire), as is every call after `close()`.
 * - A database that the software cannot use (schema not migrated, schema newer than the software, a
 *   failed migration, durability switched off) is reported with `StoreError`; the driver's own errors
 *   (I/O, connection, a full disk) reject the call unchanged, and then nothing was written.
 */

/** Why a store refused to work with its database (not the caller's fault, nor a driver error). */
export type StoreErrorReason =
  /** The database's schema is older than this software's: call `migrate()` ([LOGIN-STORE-9]). */
  | 'schema-outdated'
  /** The database was migrated by newer software; migrations are forward-only ([LOGIN-STORE-11]). */
  | 'schema-newer'
  /** A migration failed; it was rolled back and the schema is still at the previous version ([LOGIN-STORE-10]). */
  | 'migration-failed'
  /** The database is configured so that a commit would not be durable ([LOGIN-STORE-2]). */
  | 'not-durable';

export class StoreError extends Error {
  override readonly name: string = 'StoreError';
  readonly reason: StoreErrorReason;
  constructor(reason: StoreErrorReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
  }
}

/** An account: the OPAQUE registration record (the server never learns the password). */
export interface AccountRecord {
  /** The normalised user name (spec/06 LOGIN-NAME-*); unique. */
  readonly username: string;
  /** OPAQUE registration record (RFC 9807 §5.1.3), as the OPAQUE library serialises it. */
  readonly registrationRecord: Uint8Array;
  readonly createdAtMs: number;
  /** When the registration record was last replaced (password change); equals createdAtMs at first. */
  readonly passwordChangedAtMs: number;
  /** A disabled account cannot log in or renew certificates. */
  readonly disabled: boolean;
}

/** Failed logins of one account inside the current window (LOGIN-RATE-*). */
export interface LoginFailures {
  /** Failures counted since `windowStartMs`. */
  readonly count: number;
  readonly windowStartMs: number;
  readonly lastFailureAtMs: number;
}

/** What the issuer records about every certificate it signs (serials are unique per issuer key). */
export interface IssuedCertificate {
  readonly serial: number;
  /** 'user' | 'supernode' | 'login' (the certificate's role). */
  readonly role: 'user' | 'supernode' | 'login';
  readonly subject: string;
  /** 32-byte Ed25519 subject key. */
  readonly subjectKey: Uint8Array;
  /** 16-byte device id. */
  readonly deviceId: Uint8Array;
  readonly notBeforeMs: number;
  readonly notAfterMs: number;
  readonly issuedAtMs: number;
  /** The encoded `Signed` certificate. */
  readonly certificate: Uint8Array;
}

export interface Revocation {
  readonly serial: number;
  readonly revokedAtMs: number;
  /** The revoked certificate's not_after: the entry can leave the revocation list after it. */
  readonly notAfterMs: number;
  /** A short reason for operators (never parsed). */
  readonly reason: string;
}

/** A registered supernode, kept fresh by heartbeats; the supernode list is built from the live ones. */
export interface SupernodeRecord {
  /** Key id (32 bytes) of the supernode's certified subject key; the primary key. */
  readonly keyId: Uint8Array;
  /** The supernode's encoded `Signed` certificate. */
  readonly certificate: Uint8Array;
  readonly serial: number;
  readonly notAfterMs: number;
  /** The encoded list entry the supernode registered (endpoints etc.), opaque to the store. */
  readonly entry: Uint8Array;
  readonly software: string;
  readonly registeredAtMs: number;
  readonly lastHeartbeatAtMs: number;
  /** The last load the supernode reported (attached nodes). */
  readonly load: number;
  readonly capacity: number;
}

/** A versioned signed object the server publishes: the policy, a supernode list epoch, a revocation list. */
export interface Published {
  /** Version (policy), epoch (supernode list) or number (revocation list); strictly increasing. */
  readonly version: number;
  /** The encoded signed object(s): one for the policy, one per page for the lists. */
  readonly pages: readonly Uint8Array[];
  readonly publishedAtMs: number;
}
export type PublishedKind = 'policy' | 'supernode-list' | 'revocation-list';

export interface OneTimePrekey {
  /** Chosen by the owner, unique per (user, device). */
  readonly id: number;
  /** 32-byte X25519 public key. */
  readonly publicKey: Uint8Array;
}

/** What a fetch of one device's prekeys hands out. */
export interface DevicePrekeys {
  readonly deviceId: Uint8Array;
  /** The device's encoded `Signed` user certificate, as uploaded with the prekeys. */
  readonly certificate: Uint8Array;
  /** The encoded `Signed` signed prekey. */
  readonly signedPrekey: Uint8Array;
  /** One one-time prekey, removed from the store by this fetch; absent when none is left. */
  readonly oneTimePrekey?: OneTimePrekey;
}

export interface ContactBlob {
  /** Starts at 1 with the first write; each successful write adds 1. */
  readonly version: number;
  readonly blob: Uint8Array;
  readonly updatedAtMs: number;
}

/** What one `prune` call deleted. */
export interface PruneCounts {
  readonly revocations: number;
  readonly loginFailures: number;
  readonly supernodes: number;
}

export type CreateAccountResult = 'created' | 'exists';
export type PutContactBlobResult =
  | { readonly ok: true; readonly version: number }
  | { readonly ok: false; readonly current: number };

export interface Store {
  /** 'sqlite' or 'postgres', for logs and benchmarks. */
  readonly kind: string;

  /**
   * Applies every pending versioned migration, in order, each in its own transaction; idempotent, and
   * safe when several processes migrate one database at once ([LOGIN-STORE-9]..[LOGIN-STORE-12]).
   * Rejects with StoreError 'migration-failed' (the failed migration left nothing behind) or
   * 'schema-newer'. Other methods reject with StoreError 'schema-outdated' until it has run.
   */
  migrate(): Promise<void>;
  /** The number of the last migration applied (0 for an empty database). */
  schemaVersion(): Promise<number>;
  /** Closes the connection(s); later calls reject with ApiMisuse. Closing twice is harmless. */
  close(): Promise<void>;

  // Accounts ------------------------------------------------------------------------------------------
  /** Creates the account unless the name exists ('exists', nothing written). */
  createAccount(account: {
    username: string;
    registrationRecord: Uint8Array;
    atMs: number;
  }): Promise<CreateAccountResult>;
  getAccount(username: string): Promise<AccountRecord | undefined>;
  /** Replaces the registration record (password change); false when no such account. */
  replaceRegistrationRecord(username: string, registrationRecord: Uint8Array, atMs: number): Promise<boolean>;
  setAccountDisabled(username: string, disabled: boolean): Promise<boolean>;
  countAccounts(): Promise<number>;

  // Failed-login counters (shared by every server process on one database) -------------------------
  /**
   * Counts one failed login at `atMs`. When the current window began more than `windowMs` before
   * `atMs` (windowStartMs < atMs - windowMs), or there is none, a new window starts with this failure
   * (count 1, windowStartMs = lastFailureAtMs = atMs). Otherwise count grows by 1 and lastFailureAtMs
   * becomes the later of itself and `atMs` (processes' clocks may disagree slightly). Returns the
   * counters after the update; concurrent calls from several processes each count ([LOGIN-STORE-17]).
   */
  recordLoginFailure(username: string, atMs: number, windowMs: number): Promise<LoginFailures>;
  getLoginFailures(username: string): Promise<LoginFailures | undefined>;
  clearLoginFailures(username: string): Promise<void>;

  // Certificates and revocation -----------------------------------------------------------------------
  /**
   * Allocates the next serial (unique and increasing across every process sharing the database, never
   * reused, starting at 1) and records the certificate that `sign(serial)` returns, in one transaction.
   * `sign` is synchronous and must not touch the store. When `sign` throws, nothing is recorded and the
   * call rejects with its error; the serial may be skipped (serials can have gaps, never repeats)
   * ([LOGIN-STORE-7], [LOGIN-STORE-8]).
   */
  issueCertificate(
    info: Omit<IssuedCertificate, 'serial' | 'certificate'>,
    sign: (serial: number) => Uint8Array,
  ): Promise<IssuedCertificate>;
  getCertificate(serial: number): Promise<IssuedCertificate | undefined>;
  /** 'revoked', 'already' (was revoked before; nothing changes) or 'unknown' (no such serial). */
  revoke(serial: number, reason: string, atMs: number): Promise<'revoked' | 'already' | 'unknown'>;
  /** Revocations whose certificate has not expired at `nowMs` (notAfterMs > nowMs), by serial ([LOGIN-STORE-16]). */
  listRevocations(nowMs: number): Promise<Revocation[]>;
  isRevoked(serial: number): Promise<boolean>;

  // Published signed objects --------------------------------------------------------------------------
  /**
   * Stores a new version of `kind` when `version` is greater than the current one (true); otherwise
   * writes nothing (false). Old versions need not be kept. Race-free across processes
   * ([LOGIN-STORE-5], [LOGIN-STORE-21]).
   */
  publish(kind: PublishedKind, published: Published): Promise<boolean>;
  getPublished(kind: PublishedKind): Promise<Published | undefined>;

  // Supernodes ----------------------------------------------------------------------------------------
  /** Inserts or replaces the record with this key id. */
  upsertSupernode(record: SupernodeRecord): Promise<void>;
  /** Updates load and heartbeat time; false when the key id is not registered. */
  supernodeHeartbeat(keyId: Uint8Array, load: number, atMs: number): Promise<boolean>;
  removeSupernode(keyId: Uint8Array): Promise<boolean>;
  /** Supernodes with lastHeartbeatAtMs >= `sinceMs` and notAfterMs > `nowMs`, ordered by key id bytes. */
  listLiveSupernodes(sinceMs: number, nowMs: number): Promise<SupernodeRecord[]>;

  // Prekeys -------------------------------------------------------------------------------------------
  /**
   * Sets (replaces) the signed prekey and certificate of one device of `username`; the device's one-time
   * prekeys already stored are kept.
   */
  putSignedPrekey(
    username: string,
    deviceId: Uint8Array,
    certificate: Uint8Array,
    signedPrekey: Uint8Array,
    atMs: number,
  ): Promise<void>;
  /**
   * Adds one-time prekeys to a device that has a signed prekey; ids already stored are skipped. Never
   * holds more than `max` for one device: keys beyond it are not stored. Returns the count now held,
   * or undefined when the device has no signed prekey. Keys are taken in the given order (a repeated id
   * counts once, the first occurrence wins); the cap holds under concurrent calls ([LOGIN-STORE-5],
   * [LOGIN-STORE-20]).
   */
  addOneTimePrekeys(
    username: string,
    deviceId: Uint8Array,
    keys: readonly OneTimePrekey[],
    max: number,
  ): Promise<number | undefined>;
  countOneTimePrekeys(username: string, deviceId: Uint8Array): Promise<number>;
  /**
   * Every device of `username` with a signed prekey (at most `maxDevices` ([LOGIN-STORE-20]), the first
   * by device id bytes), each
   * with one one-time prekey removed from the store in the same transaction: a one-time prekey is
   * handed out at most once, even to concurrent fetches from several processes ([LOGIN-STORE-6]). The
   * key handed out is the one with the lowest id among those no concurrent fetch is taking. Devices are
   * ordered by device id bytes; a device whose one-time prekeys are exhausted is listed without the
   * `oneTimePrekey` property. An unknown user gets an empty list.
   */
  takePrekeyBundles(username: string, maxDevices: number): Promise<DevicePrekeys[]>;
  /** Removes every prekey of one device (for example when its certificate is revoked). */
  deleteDevicePrekeys(username: string, deviceId: Uint8Array): Promise<void>;

  // Retention -----------------------------------------------------------------------------------------
  /**
   * Deletes what need no longer be kept ([LOGIN-STORE-18]): revocations whose certificate has expired
   * (notAfterMs <= nowMs; listRevocations no longer lists them), failed-login counters whose window has
   * ended (windowStartMs < nowMs - loginFailureWindowMs: the next failure would start a new window
   * anyway), and supernodes whose certificate has expired (notAfterMs <= nowMs). At most `limit` rows of
   * each kind go per call, so that one call stays short ([LOGIN-STORE-19]); call again while any count
   * equals `limit`. Returns how many rows of each kind were deleted.
   */
  prune(nowMs: number, loginFailureWindowMs: number, limit: number): Promise<PruneCounts>;

  // Contact-list blobs --------------------------------------------------------------------------------
  getContactBlob(username: string): Promise<ContactBlob | undefined>;
  /**
   * Compare-and-set: writes when the stored version equals `expectedVersion` (0 when none is stored)
   * and returns the new version; otherwise writes nothing and returns the current version (0 when none
   * is stored). Decided and written in one atomic step, so of concurrent writers expecting the same
   * version exactly one succeeds ([LOGIN-STORE-5]).
   */
  putContactBlob(
    username: string,
    expectedVersion: number,
    blob: Uint8Array,
    atMs: number,
  ): Promise<PutContactBlobResult>;
}
