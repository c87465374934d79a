/**
 * The directory held by a responsible supernode (spec/07-supernode.md §6, DIR-HOLD-*, DIR-LOOK-*): per
 * (user name, device id) the verified presence record with the highest sequence, as the bytes that
 * arrived, with the facts extracted when they were verified.
 *
 * Nothing here checks a signature. A record reaches `offer` only after the receiving supernode verified
 * it (DIR-REC-*, `verifyPresenceEnvelope` of @parley/wire), so the verification result is cached by
 * construction: `lookup` returns the stored envelopes unaltered, and the client verifies them again
 * (the supernode may hide a user, never forge one).
 *
 *   offer        the sequence rule, the 8 devices of a user, the global bounds     DIR-HOLD-1..6, -9, -10
 *   lookup       O(devices) and no allocation beyond the result array             DIR-LOOK-1, -2
 *   sweep        expiry with bounded work per call, driven by the core's timer     DIR-HOLD-7
 *   dropSerials  after a newer revocation list (dropRevoked: by predicate)          DIR-HOLD-8
 *   names, drop  the handoff on a list change (overlay/handoff.ts)                  DIR-HAND-*
 *
 * Expiry uses an indexed binary min-heap of the held records ordered by their effective expiry: each
 * record knows its position, so replacing or removing one is O(log records) and the heap never holds
 * anything but the live records (no dead entries, no rebuild that could block the event loop).
 */
import { bytesEqual, ErrorCode, parley, RequestRefused, ResourceError } from '@parley/wire';

/**
 * What the directory needs of a verified presence record: the shape of `VerifiedPresence` of
 * @parley/wire (DIR-REC-*), which is assignable to it. `envelope` is the encoded `PresenceEnvelope`
 * exactly as received; every other field was read from it by the verifier.
 */
export interface PresenceFacts {
  /** The certificate's subject: a normalised user name (LOGIN-NAME-4), equal to the record's. */
  readonly username: string;
  /** 16 bytes, the certificate's device id. */
  readonly deviceId: Uint8Array;
  readonly sequence: number;
  readonly issuedAt: number;
  readonly expiresAt: number;
  readonly status: number;
  readonly homeSupernode: Uint8Array;
  readonly certificateSerial: number;
  readonly certificateNotAfter: number;
  readonly envelope: Uint8Array;
}

/** [DIR-HOLD-4] At most this many devices of one user are held. */
export const MAX_DEVICES_PER_USER = 8;

/** Bytes charged per record beyond its envelope, and per user beyond its name (the index entries). */
export const RECORD_OVERHEAD_BYTES = 128;
export const USER_OVERHEAD_BYTES = 96;

export interface DirectoryLimits {
  /** Users with at least one record held. */
  readonly maxUsers: number;
  /** Records held (one per device). */
  readonly maxRecords: number;
  /** Envelope bytes plus the overheads above. */
  readonly maxBytes: number;
}

/**
 * Defaults for a supernode that holds its share of a large network: with k = 3 and 1,000 supernodes,
 * 200,000 users is the share of about 66 million users. The byte bound binds first with large
 * envelopes (a typical envelope is about 600 bytes: 256 MiB holds about 370,000 records).
 */
export const DIRECTORY_DEFAULT_LIMITS: DirectoryLimits = Object.freeze({
  maxUsers: 200_000,
  maxRecords: 400_000,
  maxBytes: 256 * 1024 * 1024,
});

/** Work done per `sweep` call when the caller names no budget: heap entries examined. */
export const DEFAULT_SWEEP_BUDGET = 256;

export type OfferResult = 'stored' | 'duplicate';

export interface DirectoryStats {
  users: number;
  records: number;
  bytes: number;
  stored: number;
  duplicates: number;
  stale: number;
  quotaRefused: number;
  busy: number;
  /** Records removed because they expired (by `sweep`, or found expired by `offer`). */
  expired: number;
  /** OFFLINE records replaced by another device's record (DIR-HOLD-5). */
  evicted: number;
  revoked: number;
  /** Records removed by `drop` (handed off). */
  dropped: number;
  lookups: number;
}

interface UserSlot {
  readonly name: string;
  readonly records: HeldRecord[];
  /** The user's charge: USER_OVERHEAD_BYTES + name + every record's cost. */
  bytes: number;
}

interface HeldRecord {
  readonly user: UserSlot;
  /** The device id as a string of 16 code units, for comparison without allocation. */
  readonly device: string;
  readonly sequence: number;
  /** [DIR-HOLD-6] The earlier of the record's expires_at and its certificate's not_after. */
  readonly expiresAt: number;
  readonly status: number;
  readonly serial: number;
  readonly envelope: Uint8Array;
  readonly cost: number;
  /** The record's position in the expiry heap. */
  heapIndex: number;
}

const OFFLINE = parley.v1.PresenceStatus.PRESENCE_STATUS_OFFLINE as number;
const EMPTY: readonly Uint8Array[] = Object.freeze([]);

function deviceKey(deviceId: Uint8Array): string {
  let s = '';
  for (let i = 0; i < deviceId.length; i++) s += String.fromCharCode(deviceId[i]!);
  return s;
}

/** [DIR-HOLD-6] A record stops counting at the earlier of its own expiry and its certificate's. */
export function effectiveExpiry(facts: Pick<PresenceFacts, 'expiresAt' | 'certificateNotAfter'>): number {
  return Math.min(facts.expiresAt, facts.certificateNotAfter);
}

export class DirectoryTable {
  readonly limits: DirectoryLimits;
  readonly #users = new Map<string, UserSlot>();
  #records = 0;
  #bytes = 0;
  /** Held records by certificate serial (a device's certificate: usually one record; several only when
   * serials of different issuers collide). */
  readonly #bySerial = new Map<number, HeldRecord | HeldRecord[]>();
  /** Indexed binary min-heap of the held records on their effective expiry. */
  readonly #heap: HeldRecord[] = [];
  readonly #counters = {
    stored: 0,
    duplicates: 0,
    stale: 0,
    quotaRefused: 0,
    busy: 0,
    expired: 0,
    evicted: 0,
    revoked: 0,
    dropped: 0,
    lookups: 0,
  };

  constructor(limits: Partial<DirectoryLimits> = {}) {
    this.limits = Object.freeze({ ...DIRECTORY_DEFAULT_LIMITS, ...limits });
  }

  /**
   * Offers a verified record [DIR-HOLD-1..6]. Returns 'stored' when it is now the record held for its
   * device, 'duplicate' when the same bytes were held already. Throws, leaving the table as it was
   * (records found expired on the way aside):
   *   - RequestRefused(STALE) for a record already expired at `now`, a sequence below the one held, or
   *     the held sequence with other bytes [DIR-HOLD-2, DIR-HOLD-3];
   *   - RequestRefused(QUOTA_EXCEEDED) for a ninth device when no OFFLINE record can make room [DIR-HOLD-5];
   *   - ResourceError(BUSY) when a global bound would be passed [DIR-HOLD-9].
   */
  offer(facts: PresenceFacts, now: number): OfferResult {
    const expiresAt = effectiveExpiry(facts);
    if (expiresAt <= now) {
      this.#counters.stale++;
      throw new RequestRefused(ErrorCode.STALE, `record of ${facts.username} expired at ${expiresAt}`);
    }
    const device = deviceKey(facts.deviceId);
    const cost = facts.envelope.byteLength + RECORD_OVERHEAD_BYTES;
    // [DIR-HOLD-1] keyed by the certificate's subject: a user's records compete for that user's slots only.
    const found = this.#users.get(facts.username);
    if (found !== undefined) this.#purgeExpired(found, now);
    const user = this.#users.get(facts.username);
    let held: HeldRecord | undefined;
    let evict: HeldRecord | undefined;
    if (user !== undefined) held = user.records.find((r) => r.device === device);
    if (held !== undefined) {
      // [DIR-HOLD-2] the highest sequence wins; [DIR-HOLD-3] the same sequence must be the same bytes.
      if (facts.sequence === held.sequence && bytesEqual(facts.envelope, held.envelope)) {
        this.#counters.duplicates++;
        return 'duplicate';
      }
      if (facts.sequence <= held.sequence) {
        this.#counters.stale++;
        throw new RequestRefused(
          ErrorCode.STALE,
          `sequence ${facts.sequence} of ${facts.username}: ${held.sequence} is held`,
        );
      }
    } else if (user !== undefined && user.records.length >= MAX_DEVICES_PER_USER) {
      // [DIR-HOLD-5] a ninth device takes the place of an OFFLINE record (the earliest to expire), or is refused.
      evict = offlineVictim(user.records);
      if (evict === undefined) {
        this.#counters.quotaRefused++;
        throw new RequestRefused(
          ErrorCode.QUOTA_EXCEEDED,
          `${facts.username} has ${MAX_DEVICES_PER_USER} devices with live records`,
        );
      }
    }
    // [DIR-HOLD-9] the global bounds, checked before anything changes.
    const replaced = held ?? evict;
    const newUser = user === undefined;
    const addedBytes = cost - (replaced?.cost ?? 0) + (newUser ? USER_OVERHEAD_BYTES + facts.username.length : 0);
    const addedRecords = replaced === undefined ? 1 : 0;
    if (
      (newUser && this.#users.size >= this.limits.maxUsers) ||
      this.#records + addedRecords > this.limits.maxRecords ||
      (addedBytes > 0 && this.#bytes + addedBytes > this.limits.maxBytes)
    ) {
      this.#counters.busy++;
      throw new ResourceError(ErrorCode.BUSY, 'directory full');
    }
    const slot: UserSlot = user ?? {
      name: facts.username,
      records: [],
      bytes: USER_OVERHEAD_BYTES + facts.username.length,
    };
    if (newUser) {
      this.#users.set(slot.name, slot);
      this.#bytes += slot.bytes;
    }
    if (replaced !== undefined) {
      if (replaced === evict) this.#counters.evicted++;
      this.#unlink(replaced, true);
    }
    const record: HeldRecord = {
      user: slot,
      device,
      sequence: facts.sequence,
      expiresAt,
      status: facts.status,
      serial: facts.certificateSerial,
      envelope: facts.envelope,
      cost,
      heapIndex: -1,
    };
    slot.records.push(record);
    slot.bytes += cost;
    this.#records++;
    this.#bytes += cost;
    this.#heapPush(record);
    this.#indexSerial(record);
    this.#counters.stored++;
    return 'stored';
  }

  /**
   * [DIR-LOOK-1] [DIR-LOOK-2] The envelopes held for `name` (normalised) whose records have not expired
   * at `now`, unaltered, one per device, in the order they were stored; an empty array when there are
   * none. O(devices); the result array is the only allocation (none for an unknown name).
   */
  lookup(name: string, now: number): readonly Uint8Array[] {
    this.#counters.lookups++;
    const user = this.#users.get(name);
    if (user === undefined) return EMPTY;
    const records = user.records;
    const out: Uint8Array[] = [];
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      if (r.expiresAt > now) out.push(r.envelope);
    }
    return out;
  }

  /** True when at least one record of `name` is held (expired ones not yet swept included). */
  holds(name: string): boolean {
    return this.#users.has(name);
  }

  /** The held sequence of a device, or undefined; for tests and the publish path's reply. */
  sequenceOf(name: string, deviceId: Uint8Array, now: number): number | undefined {
    const device = deviceKey(deviceId);
    const r = this.#users.get(name)?.records.find((x) => x.device === device);
    return r !== undefined && r.expiresAt > now ? r.sequence : undefined;
  }

  /** The names held, a snapshot (the handoff walks it while it drops names). */
  names(): string[] {
    return [...this.#users.keys()];
  }

  get size(): number {
    return this.#users.size;
  }

  /** Removes every record of `name` (after handing them off, DIR-HAND-3); the number removed. */
  drop(name: string): number {
    const user = this.#users.get(name);
    if (user === undefined) return 0;
    const n = user.records.length;
    while (user.records.length > 0) this.#unlink(user.records[user.records.length - 1]!);
    this.#counters.dropped += n;
    return n;
  }

  /**
   * [DIR-HOLD-7] Removes records whose effective expiry is at or before `now`, at most `budget` of them
   * (O(budget log records)). Returns the number removed. A caller that gets `budget` back may call again
   * on a later turn; `nextExpiry` says when the next call has work.
   */
  sweep(now: number, budget: number = DEFAULT_SWEEP_BUDGET): number {
    let removed = 0;
    const heap = this.#heap;
    while (removed < budget && heap.length > 0 && heap[0]!.expiresAt <= now) {
      this.#unlink(heap[0]!);
      this.#counters.expired++;
      removed++;
    }
    return removed;
  }

  /** The earliest effective expiry of a held record, or undefined when none is held. */
  nextExpiry(): number | undefined {
    return this.#heap[0]?.expiresAt;
  }

  /**
   * [DIR-HOLD-8] Removes every record whose certificate serial `isRevoked` names, after the supernode
   * accepted a newer revocation list. O(records): prefer `dropSerials` with the serials the new list
   * added. Returns the number removed.
   */
  dropRevoked(isRevoked: (serial: number) => boolean): number {
    const serials: number[] = [];
    for (const serial of this.#bySerial.keys()) if (isRevoked(serial)) serials.push(serial);
    return this.dropSerials(serials);
  }

  /**
   * [DIR-HOLD-8] Removes every record whose certificate serial is in `serials` (those a newer revocation
   * list added, or all of its serials). O(serials). Returns the number removed.
   */
  dropSerials(serials: Iterable<number>): number {
    let removed = 0;
    for (const serial of serials) {
      const held = this.#bySerial.get(serial);
      if (held === undefined) continue;
      const records = Array.isArray(held) ? [...held] : [held];
      for (const r of records) this.#unlink(r);
      removed += records.length;
    }
    this.#counters.revoked += removed;
    return removed;
  }

  stats(): DirectoryStats {
    return {
      users: this.#users.size,
      records: this.#records,
      bytes: this.#bytes,
      ...this.#counters,
    };
  }

  // ---- internals --------------------------------------------------------------------------------------

  #purgeExpired(user: UserSlot, now: number): void {
    for (let i = user.records.length - 1; i >= 0; i--) {
      const r = user.records[i]!;
      if (r.expiresAt <= now) {
        this.#counters.expired++;
        this.#unlink(r);
      }
    }
  }

  /** Removes a held record from its user (and the user when it was the last, unless `keepUser`) and the heap. */
  #unlink(r: HeldRecord, keepUser = false): void {
    this.#heapRemove(r);
    this.#unindexSerial(r);
    const user = r.user;
    const i = user.records.indexOf(r);
    user.records.splice(i, 1);
    user.bytes -= r.cost;
    this.#records--;
    this.#bytes -= r.cost;
    if (!keepUser && user.records.length === 0) {
      this.#users.delete(user.name);
      this.#bytes -= user.bytes;
    }
  }

  #indexSerial(r: HeldRecord): void {
    const held = this.#bySerial.get(r.serial);
    if (held === undefined) this.#bySerial.set(r.serial, r);
    else if (Array.isArray(held)) held.push(r);
    else this.#bySerial.set(r.serial, [held, r]);
  }

  #unindexSerial(r: HeldRecord): void {
    const held = this.#bySerial.get(r.serial);
    if (held === r) this.#bySerial.delete(r.serial);
    else if (Array.isArray(held)) {
      held.splice(held.indexOf(r), 1);
      if (held.length === 1) this.#bySerial.set(r.serial, held[0]!);
    }
  }

  #heapPush(r: HeldRecord): void {
    r.heapIndex = this.#heap.length;
    this.#heap.push(r);
    this.#siftUp(r.heapIndex);
  }

  #heapRemove(r: HeldRecord): void {
    const heap = this.#heap;
    const i = r.heapIndex;
    const last = heap.pop()!;
    r.heapIndex = -1;
    if (last === r) return;
    heap[i] = last;
    last.heapIndex = i;
    this.#siftUp(i);
    this.#siftDown(last.heapIndex);
  }

  #siftUp(at: number): void {
    const heap = this.#heap;
    let i = at;
    const r = heap[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = heap[p]!;
      if (parent.expiresAt <= r.expiresAt) break;
      heap[i] = parent;
      parent.heapIndex = i;
      i = p;
    }
    heap[i] = r;
    r.heapIndex = i;
  }

  #siftDown(at: number): void {
    const heap = this.#heap;
    const n = heap.length;
    let i = at;
    const r = heap[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const right = l + 1;
      const c = right < n && heap[right]!.expiresAt < heap[l]!.expiresAt ? right : l;
      const child = heap[c]!;
      if (child.expiresAt >= r.expiresAt) break;
      heap[i] = child;
      child.heapIndex = i;
      i = c;
    }
    heap[i] = r;
    r.heapIndex = i;
  }
}

/** [DIR-HOLD-5] The OFFLINE record that expires first (ties: the lower device id), or undefined. */
function offlineVictim(records: readonly HeldRecord[]): HeldRecord | undefined {
  let victim: HeldRecord | undefined;
  for (const r of records) {
    if (r.status !== OFFLINE) continue;
    if (
      victim === undefined ||
      r.expiresAt < victim.expiresAt ||
      (r.expiresAt === victim.expiresAt && r.device < victim.device)
    ) {
      victim = r;
    }
  }
  return victim;
}
