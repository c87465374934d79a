/**
 * The node's durable store (NODE-STORE-*): one SQLite file through better-sqlite3, WAL, every method one
 * statement or one transaction, so a crash leaves either the old or the new state. Same behaviour as
 * `MemoryNodeStore` (the shared contract suite in test/store/ checks both).
 */
import Database from 'better-sqlite3';
import { checkList, type HostStat, hex, type NodeStore, type StoredList } from './store.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS list_page (n INTEGER PRIMARY KEY, epoch INTEGER NOT NULL, page BLOB NOT NULL,
  login_certificate BLOB NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS host_stat (key_id TEXT PRIMARY KEY, last_success INTEGER, last_failure INTEGER,
  failures INTEGER NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS own_sequence (device TEXT PRIMARY KEY, sequence INTEGER NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS floor (username TEXT NOT NULL, device TEXT NOT NULL, sequence INTEGER NOT NULL,
  PRIMARY KEY (username, device)) STRICT;
CREATE TABLE IF NOT EXISTS kv (name TEXT PRIMARY KEY, value BLOB NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS processed (sender TEXT NOT NULL, message_id TEXT NOT NULL, at INTEGER NOT NULL,
  PRIMARY KEY (sender, message_id)) STRICT;
CREATE INDEX IF NOT EXISTS processed_at ON processed (at);
`;

const CONTACTS = 'contacts';
const SECRET = 'secret:';
const bytes = (b: Buffer): Uint8Array => new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));

export class SqliteNodeStore implements NodeStore {
  readonly #db: Database.Database;
  #clock = 0;

  /** Opens (creating when absent) the store at `path`; ':memory:' for a throwaway one. */
  constructor(path: string) {
    this.#db = new Database(path);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = FULL');
    this.#db.exec(SCHEMA);
  }

  getList(): StoredList | undefined {
    const rows = this.#db.prepare('SELECT epoch, page, login_certificate FROM list_page ORDER BY n').all() as {
      epoch: number;
      page: Buffer;
      login_certificate: Buffer;
    }[];
    if (rows.length === 0) return undefined;
    return {
      epoch: rows[0]!.epoch,
      pages: rows.map((r) => bytes(r.page)),
      loginCertificates: rows.map((r) => bytes(r.login_certificate)),
    };
  }

  putList(list: StoredList): void {
    checkList(list);
    this.#db.transaction(() => {
      const held = this.#db.prepare('SELECT epoch FROM list_page WHERE n = 0').get() as { epoch: number } | undefined;
      if (held !== undefined && list.epoch < held.epoch) return;
      this.#db.prepare('DELETE FROM list_page').run();
      const ins = this.#db.prepare('INSERT INTO list_page (n, epoch, page, login_certificate) VALUES (?, ?, ?, ?)');
      for (let i = 0; i < list.pages.length; i++) {
        ins.run(i, list.epoch, Buffer.from(list.pages[i]!), Buffer.from(list.loginCertificates[i]!));
      }
    })();
  }

  hostStats(): HostStat[] {
    const rows = this.#db.prepare('SELECT * FROM host_stat ORDER BY key_id').all() as {
      key_id: string;
      last_success: number | null;
      last_failure: number | null;
      failures: number;
    }[];
    return rows.map((r) => ({
      keyId: new Uint8Array(Buffer.from(r.key_id, 'hex')),
      ...(r.last_success !== null ? { lastSuccessAt: r.last_success } : {}),
      ...(r.last_failure !== null ? { lastFailureAt: r.last_failure } : {}),
      failures: r.failures,
    }));
  }

  putHostStat(s: HostStat): void {
    this.#db
      .prepare('INSERT OR REPLACE INTO host_stat (key_id, last_success, last_failure, failures) VALUES (?, ?, ?, ?)')
      .run(hex(s.keyId), s.lastSuccessAt ?? null, s.lastFailureAt ?? null, s.failures);
  }

  nextPresenceSequence(deviceId: Uint8Array, atLeast: number): number {
    return this.#db.transaction(() => {
      const d = hex(deviceId);
      const held = this.#db.prepare('SELECT sequence FROM own_sequence WHERE device = ?').get(d) as
        | { sequence: number }
        | undefined;
      const next = Math.max((held?.sequence ?? 0) + 1, atLeast);
      this.#db.prepare('INSERT OR REPLACE INTO own_sequence (device, sequence) VALUES (?, ?)').run(d, next);
      return next;
    })();
  }

  get(username: string, deviceId: Uint8Array): number | undefined {
    const r = this.#db
      .prepare('SELECT sequence FROM floor WHERE username = ? AND device = ?')
      .get(username, hex(deviceId)) as { sequence: number } | undefined;
    return r?.sequence;
  }

  set(username: string, deviceId: Uint8Array, sequence: number): void {
    this.#db
      .prepare(
        `INSERT INTO floor (username, device, sequence) VALUES (?, ?, ?)
         ON CONFLICT (username, device) DO UPDATE SET sequence = max(sequence, excluded.sequence)`,
      )
      .run(username, hex(deviceId), sequence);
  }

  getContactList(): Uint8Array | undefined {
    return this.#kv(CONTACTS);
  }
  putContactList(encoded: Uint8Array): void {
    this.#putKv(CONTACTS, encoded);
  }
  getSecret(name: string): Uint8Array | undefined {
    return this.#kv(SECRET + name);
  }
  putSecret(name: string, value: Uint8Array): void {
    this.#putKv(SECRET + name, value);
  }
  deleteSecret(name: string): void {
    this.#db.prepare('DELETE FROM kv WHERE name = ?').run(SECRET + name);
  }

  has(sender: string, messageId: Uint8Array): boolean {
    return (
      this.#db.prepare('SELECT 1 FROM processed WHERE sender = ? AND message_id = ?').get(sender, hex(messageId)) !==
      undefined
    );
  }
  add(sender: string, messageId: Uint8Array): void {
    this.addProcessed(sender, messageId, this.#clock);
  }
  addProcessed(sender: string, messageId: Uint8Array, now: number): void {
    this.#clock = Math.max(this.#clock, now);
    this.#db
      .prepare('INSERT OR IGNORE INTO processed (sender, message_id, at) VALUES (?, ?, ?)')
      .run(sender, hex(messageId), now);
  }
  pruneProcessed(before: number): number {
    return this.#db.prepare('DELETE FROM processed WHERE at < ?').run(before).changes;
  }

  close(): void {
    this.#db.close();
  }

  #kv(name: string): Uint8Array | undefined {
    const r = this.#db.prepare('SELECT value FROM kv WHERE name = ?').get(name) as { value: Buffer } | undefined;
    return r && bytes(r.value);
  }
  #putKv(name: string, value: Uint8Array): void {
    this.#db.prepare('INSERT OR REPLACE INTO kv (name, value) VALUES (?, ?)').run(name, Buffer.from(value));
  }
}
