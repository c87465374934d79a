/**
 * What a node keeps across restarts (spec/09-node.md §10, NODE-STORE-*), behind one interface with a
 * memory and a SQLite implementation that pass the same contract suite (test/store/contract.ts):
 *
 * - the host cache: the signed supernode-list pages exactly as received, with the login certificate of
 *   each (re-verified on load, NODE-BOOT-1), and per supernode the times of its last success and failure;
 * - the presence sequence of this device (07 DIR-REC-6: it never goes back, NODE-STORE-2) and the sequence
 *   floors of other devices' records (NODE-LOOK-3);
 * - the encoded contact list (NODE-BLOB-*);
 * - opaque secrets (E2E sessions, prekey private keys): named byte strings the store never interprets;
 * - the (sender, message id) pairs already processed (NODE-MSG-5), pruned by age.
 *
 * The interface is synchronous: better-sqlite3 is, and a node's protocol code must not interleave between
 * "check" and "record" of a message id.
 */
import type { ProcessedIds } from '../messaging/messenger.js';
import type { SequenceFloors } from '../presence/lookup.js';

/** The signed supernode list as received ([LOGIN-PUB-1]): pages and their login certificates, in order. */
export interface StoredList {
  readonly epoch: number;
  readonly pages: readonly Uint8Array[];
  readonly loginCertificates: readonly Uint8Array[];
}

/** What a node remembers of one supernode (by key id): the host-cache statistics of NODE-BOOT-2. */
export interface HostStat {
  readonly keyId: Uint8Array;
  readonly lastSuccessAt?: number | undefined;
  readonly lastFailureAt?: number | undefined;
  /** Consecutive failures since the last success. */
  readonly failures: number;
}

export interface NodeStore extends SequenceFloors, ProcessedIds {
  getList(): StoredList | undefined;
  /** Replaces the stored list; an older epoch than the stored one is ignored ([LOGIN-LIST-7]). */
  putList(list: StoredList): void;
  hostStats(): HostStat[];
  putHostStat(stat: HostStat): void;

  /** [NODE-STORE-2] The next presence sequence of `deviceId`: strictly above every one returned before. */
  nextPresenceSequence(deviceId: Uint8Array, atLeast: number): number;

  getContactList(): Uint8Array | undefined;
  putContactList(encoded: Uint8Array): void;

  getSecret(name: string): Uint8Array | undefined;
  putSecret(name: string, value: Uint8Array): void;
  deleteSecret(name: string): void;

  /** Records (sender, message id) as processed at `now` (unix ms). */
  addProcessed(sender: string, messageId: Uint8Array, now: number): void;
  /** Forgets processed ids recorded before `before` (once the store can no longer hold such a message). */
  pruneProcessed(before: number): number;

  close(): void;
}

export const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const copy = (b: Uint8Array): Uint8Array => Uint8Array.from(b);

/** The store of tests and of a node that keeps nothing: the same behaviour as SQLite, in maps. */
export class MemoryNodeStore implements NodeStore {
  #list: StoredList | undefined;
  readonly #stats = new Map<string, HostStat>();
  readonly #sequences = new Map<string, number>();
  readonly #floors = new Map<string, number>();
  #contacts: Uint8Array | undefined;
  readonly #secrets = new Map<string, Uint8Array>();
  readonly #processed = new Map<string, number>();
  #clock = 0;

  getList(): StoredList | undefined {
    const l = this.#list;
    return l && { epoch: l.epoch, pages: l.pages.map(copy), loginCertificates: l.loginCertificates.map(copy) };
  }
  putList(list: StoredList): void {
    checkList(list);
    if (this.#list !== undefined && list.epoch < this.#list.epoch) return;
    this.#list = {
      epoch: list.epoch,
      pages: list.pages.map(copy),
      loginCertificates: list.loginCertificates.map(copy),
    };
  }
  hostStats(): HostStat[] {
    return [...this.#stats.values()].map((s) => ({ ...s, keyId: copy(s.keyId) }));
  }
  putHostStat(stat: HostStat): void {
    this.#stats.set(hex(stat.keyId), { ...stat, keyId: copy(stat.keyId) });
  }
  nextPresenceSequence(deviceId: Uint8Array, atLeast: number): number {
    const k = hex(deviceId);
    const next = Math.max((this.#sequences.get(k) ?? 0) + 1, atLeast);
    this.#sequences.set(k, next);
    return next;
  }
  get(username: string, deviceId: Uint8Array): number | undefined {
    return this.#floors.get(`${username}\u0000${hex(deviceId)}`);
  }
  set(username: string, deviceId: Uint8Array, sequence: number): void {
    const k = `${username}\u0000${hex(deviceId)}`;
    this.#floors.set(k, Math.max(sequence, this.#floors.get(k) ?? 0));
  }
  getContactList(): Uint8Array | undefined {
    return this.#contacts && copy(this.#contacts);
  }
  putContactList(encoded: Uint8Array): void {
    this.#contacts = copy(encoded);
  }
  getSecret(name: string): Uint8Array | undefined {
    const v = this.#secrets.get(name);
    return v && copy(v);
  }
  putSecret(name: string, value: Uint8Array): void {
    this.#secrets.set(name, copy(value));
  }
  deleteSecret(name: string): void {
    this.#secrets.delete(name);
  }
  has(sender: string, messageId: Uint8Array): boolean {
    return this.#processed.has(`${sender}\u0000${hex(messageId)}`);
  }
  add(sender: string, messageId: Uint8Array): void {
    this.addProcessed(sender, messageId, this.#clock);
  }
  addProcessed(sender: string, messageId: Uint8Array, now: number): void {
    this.#clock = Math.max(this.#clock, now);
    const k = `${sender}\u0000${hex(messageId)}`;
    if (!this.#processed.has(k)) this.#processed.set(k, now);
  }
  pruneProcessed(before: number): number {
    let n = 0;
    for (const [k, at] of this.#processed) {
      if (at < before) {
        this.#processed.delete(k);
        n++;
      }
    }
    return n;
  }
  close(): void {}
}

export function checkList(list: StoredList): void {
  if (list.pages.length === 0 || list.pages.length !== list.loginCertificates.length) {
    throw new RangeError('a stored list needs one login certificate per page, and at least one page');
  }
}
