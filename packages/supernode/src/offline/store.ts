/**
 * The offline store: end-to-end-encrypted messages for users who are offline, held at the k supernodes
 * responsible for the recipient's name until the recipient fetches and acknowledges them, or they expire
 * (spec/07-supernode.md §7-8: STORE-QUOTA-*, STORE-ACK-*, STORE-EXP-*, STORE-PERSIST-*).
 *
 * One interface, two implementations that pass one contract suite (test/offline/contract.ts):
 * `MemoryOfflineStore` (an elected supernode may keep messages in memory only, [STORE-PERSIST-2]) and
 * `SqliteOfflineStore` (better-sqlite3, WAL, synchronous = FULL: what an operator-hosted supernode runs,
 * [STORE-PERSIST-1]). Methods are async so that a store on a database server fits the same interface.
 *
 * What the store does NOT do: it never verifies a signature, a certificate or a format. The supernode's
 * core verifies an envelope once, when it arrives (@parley/wire `verifyOfflineEnvelope`), and hands the
 * store the metadata it extracted together with the envelope bytes as received; the store keeps those
 * bytes unaltered and returns them as they were given. It never reads a clock: every time is unix
 * milliseconds passed by the caller (`now`), from the core's injected Clock.
 *
 * Conventions every implementation follows (the contract suite checks them):
 * - A message's identity is (recipient, sender, message id). Holding a message or a tombstone of it makes
 *   a later store of the same identity an idempotent success ('duplicate'); the bytes held first stay.
 * - "Held" means physically present; a held message whose `expiresAt <= now` is expired: fetch, pending,
 *   scan, recipients and the quotas ignore it, and prune deletes it. Stats count what is physically
 *   present, expired or not.
 * - Names order by their UTF-8 bytes, message ids by their bytes (memcmp, then length).
 * - Byte fields returned are fresh plain `Uint8Array`s the caller owns; bytes passed in may be reused by
 *   the caller once the call returns.
 * - Times, counts and limits are safe non-negative integers, names are well-formed strings, byte fields
 *   are Uint8Arrays; anything else is rejected with `ApiMisuse`, as is every call after `close()`.
 * - Each method is atomic: a rejected call changed nothing. With SQLite each is one transaction, so the
 *   quota check and the insert of `put` cannot be separated by another writer.
 */
import { ErrorCode, RequestRefused, ResourceError } from '@parley/wire';

/**
 * What the store needs of a verified offline message. @parley/wire's `VerifiedOfflineMessage` matches it
 * structurally (its extra fields are ignored).
 */
export interface OfflineMessageInput {
  /** 16 random bytes chosen by the sender; with the sender (and recipient) the message's identity. */
  readonly messageId: Uint8Array;
  /** The sender's normalised user name (the certificate's subject). */
  readonly sender: string;
  readonly senderDeviceId: Uint8Array;
  /** The recipient's normalised user name. */
  readonly recipient: string;
  /** Unix ms, from the signed message. */
  readonly createdAt: number;
  /** Unix ms, from the signed message: the message is held at most until then. */
  readonly expiresAt: number;
  /** The encoded `OfflineEnvelope` (certificate + signed message), exactly as received. */
  readonly envelope: Uint8Array;
}

/** A message as the store holds it; `size` is the envelope's length in bytes (what the quotas count). */
export interface StoredOfflineMessage {
  readonly messageId: Uint8Array;
  readonly sender: string;
  readonly senderDeviceId: Uint8Array;
  readonly recipient: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly size: number;
  readonly envelope: Uint8Array;
}

/** Names one message of a recipient (the wire's `MessageRef`). */
export interface MessageRef {
  readonly sender: string;
  readonly messageId: Uint8Array;
}

/** The bounds of a store; every one is a parameter ([STORE-QUOTA-*]). */
export interface OfflineStoreLimits {
  /** Unexpired messages held for one recipient ([STORE-QUOTA-1]); default 1,000. */
  readonly maxMessagesPerRecipient: number;
  /** Envelope bytes of the unexpired messages held for one recipient ([STORE-QUOTA-1]); default 10 MiB. */
  readonly maxBytesPerRecipient: number;
  /** Unexpired messages held from one sender for one recipient ([STORE-QUOTA-2]); default 100. */
  readonly maxMessagesPerSender: number;
  /** Messages held in the whole store, expired or not ([STORE-QUOTA-4]); default 100,000. */
  readonly maxTotalMessages: number;
  /** Envelope bytes held in the whole store, expired or not ([STORE-QUOTA-4]); default 256 MiB. */
  readonly maxTotalBytes: number;
}

/** The per-recipient and per-sender quotas, which the network policy sets (06 §8.3 `directory`). */
export type OfflineQuotas = Pick<
  OfflineStoreLimits,
  'maxMessagesPerRecipient' | 'maxBytesPerRecipient' | 'maxMessagesPerSender'
>;

export const DEFAULT_OFFLINE_LIMITS: OfflineStoreLimits = Object.freeze({
  maxMessagesPerRecipient: 1_000,
  maxBytesPerRecipient: 10 * 1024 * 1024,
  maxMessagesPerSender: 100,
  maxTotalMessages: 100_000,
  maxTotalBytes: 256 * 1024 * 1024,
});

/** The most messages one fetch, scan or recipients call may ask for. */
export const OFFLINE_PAGE_MAX = 10_000;

/**
 * - 'stored': held from now on;
 * - 'duplicate': a message of this identity is held or tombstoned; nothing changed (idempotent success);
 * - 'expired': `expiresAt <= now`; nothing stored (there is nothing left to deliver).
 */
export type PutResult = 'stored' | 'duplicate' | 'expired';

export interface FetchResult {
  /** Oldest first: by createdAt, then sender, then message id. */
  readonly messages: StoredOfflineMessage[];
  /** True when unexpired messages beyond these are held. */
  readonly more: boolean;
}

export interface OfflineStoreStats {
  /** Messages physically held (expired ones not yet pruned included). */
  readonly messages: number;
  /** The sum of their sizes. */
  readonly bytes: number;
  /** Tombstones physically held. */
  readonly tombstones: number;
}

export interface PruneCounts {
  readonly messages: number;
  readonly tombstones: number;
}

/** Which quota refused a message. */
export type OfflineQuota = 'recipient-messages' | 'recipient-bytes' | 'sender-messages';

/**
 * A recipient's quota, or the sender's quota towards that recipient, is full: QUOTA_EXCEEDED (807, kind
 * refused) ([STORE-QUOTA-3]). The message was not stored; it may be stored once the recipient has
 * fetched and acknowledged some.
 */
export class OfflineQuotaExceeded extends RequestRefused {
  override readonly name: string = 'OfflineQuotaExceeded';
  readonly quota: OfflineQuota;
  constructor(quota: OfflineQuota, detail: string) {
    super(ErrorCode.QUOTA_EXCEEDED, detail);
    this.quota = quota;
  }
}

/**
 * The whole store is at its capacity even after deleting every expired message: BUSY (700, kind
 * resource) ([STORE-QUOTA-4]). Not the recipient's fault; another replica may take the message.
 */
export class OfflineStoreFull extends ResourceError {
  override readonly name: string = 'OfflineStoreFull';
  constructor(detail: string) {
    super(ErrorCode.BUSY, detail);
  }
}

/** Why a store refused to work with its database (not the caller's fault, nor a driver error). */
export type OfflineStoreErrorReason =
  /** The database's schema is older than this software's: call `migrate()` ([STORE-PERSIST-4]). */
  | 'schema-outdated'
  /** The database was migrated by newer software; migrations are forward-only ([STORE-PERSIST-4]). */
  | 'schema-newer'
  /** A migration failed; it was rolled back and the schema is still at the previous version. */
  | 'migration-failed'
  /** The database is configured so that a commit would not be durable ([STORE-PERSIST-1]). */
  | 'not-durable';

export class OfflineStoreError extends Error {
  override readonly name: string = 'OfflineStoreError';
  readonly reason: OfflineStoreErrorReason;
  constructor(reason: OfflineStoreErrorReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
  }
}

export interface OfflineStore {
  /** 'memory' or 'sqlite', for logs and benchmarks. */
  readonly kind: string;
  /** The bounds this store enforces. */
  readonly limits: OfflineStoreLimits;

  /**
   * Replaces the three quotas (STORE-QUOTA-1, STORE-QUOTA-2) with those of a newer network policy
   * (06 `directory`), keeping the store's capacity. Messages already held stay; the new quotas decide the
   * next stores. ApiMisuse for a value that is not a positive safe integer.
   */
  setQuotas(quotas: OfflineQuotas): void;

  /**
   * Stores one verified message for `msg.recipient`, checked in this order, in one atomic step:
   * 'expired' when `msg.expiresAt <= now` ([STORE-EXP-1]); 'duplicate' when a message or tombstone of
   * this identity is held ([STORE-ACK-4]); OfflineQuotaExceeded when the recipient's message or byte
   * quota, or the sender's quota towards the recipient, would be exceeded, counting unexpired messages
   * only ([STORE-QUOTA-1..3]); then, when the store's capacity would be exceeded, every expired message
   * is deleted and the capacity checked again, and OfflineStoreFull is thrown if it still would be
   * ([STORE-QUOTA-4]); otherwise 'stored'. A rejected put writes nothing.
   */
  put(msg: OfflineMessageInput, now: number): Promise<PutResult>;

  /**
   * The recipient's unexpired messages, oldest first (createdAt, then sender, then message id)
   * ([STORE-ACK-1]): at most `max` (1..OFFLINE_PAGE_MAX), and, after the first, only as many as keep the
   * sum of their sizes at or below `maxBytes` (the first is returned whatever its size, so a fetch
   * always makes progress). Fetching deletes nothing: only an acknowledgement does ([STORE-ACK-2]).
   */
  fetch(recipient: string, max: number, now: number, maxBytes?: number): Promise<FetchResult>;

  /**
   * Deletes the recipient's held messages named by `refs` and records a tombstone of each unexpired one,
   * kept until that message's expiresAt ([STORE-ACK-2], [STORE-ACK-3]). Refs that name no held message
   * are ignored (an acknowledgement repeated, or for a message this replica never got). Returns how many
   * unexpired messages were deleted.
   */
  ack(recipient: string, refs: readonly MessageRef[], now: number): Promise<number>;

  /** How many unexpired messages are held for `recipient`. */
  pending(recipient: string, now: number): Promise<number>;

  /**
   * Recipients with at least one unexpired message held, ascending, strictly after `after` (from the
   * first when undefined), at most `limit` (1..OFFLINE_PAGE_MAX): for re-replication when the supernode
   * list changes (STORE-REPL-*).
   */
  recipients(after: string | undefined, limit: number, now: number): Promise<string[]>;

  /**
   * The recipient's unexpired messages by (sender, message id), strictly after `after` (from the first
   * when undefined), at most `limit` (1..OFFLINE_PAGE_MAX): pages for handing them to a newly
   * responsible supernode.
   */
  scan(recipient: string, after: MessageRef | undefined, limit: number, now: number): Promise<StoredOfflineMessage[]>;

  /**
   * Deletes every message held for `recipient` (after they were handed to the responsible supernodes,
   * when this one stops being responsible). Tombstones stay until they expire, so that the messages
   * cannot come back if this supernode becomes responsible again. Returns how many messages went.
   */
  remove(recipient: string): Promise<number>;

  /**
   * Deletes expired messages and tombstones (expiresAt <= now) ([STORE-EXP-2]): at most `limit` of each
   * per call when given, earliest expiry first (call again while a count equals `limit`).
   */
  prune(now: number, limit?: number): Promise<PruneCounts>;

  /** What is physically held. */
  stats(): Promise<OfflineStoreStats>;

  /** Releases the store; later calls reject with ApiMisuse. Closing twice is harmless. */
  close(): Promise<void>;
}
