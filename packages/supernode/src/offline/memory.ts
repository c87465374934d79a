/**
 * The offline store in memory (spec/07-supernode.md §7-8): what an elected supernode may run
 * ([STORE-PERSIST-2]); everything is lost when the process ends, and the other replicas and
 * re-replication (STORE-REPL-*) are what keeps the messages. Also the reference the SQLite store is
 * checked against: both pass test/offline/contract.ts.
 *
 * Per recipient, a map from (sender, message id) to the message, and one to the tombstones. Per-recipient
 * work (quotas, fetch) is linear in what that recipient holds, which the quotas bound; prune and the
 * capacity check walk the whole store only when something has expired or the store is full.
 */
import {
  checkInt,
  checkMessage,
  checkName,
  checkPage,
  checkRef,
  checkRefs,
  closedError,
  compareBytes,
  compareNames,
  resolveLimits,
} from './internal.js';
import {
  type FetchResult,
  type MessageRef,
  type OfflineMessageInput,
  OfflineQuotaExceeded,
  type OfflineQuotas,
  type OfflineStore,
  OfflineStoreFull,
  type OfflineStoreLimits,
  type OfflineStoreStats,
  type PruneCounts,
  type PutResult,
  type StoredOfflineMessage,
} from './store.js';

export interface MemoryOfflineStoreOptions {
  readonly limits?: Partial<OfflineStoreLimits>;
}

/** The map key of (sender, message id) within one recipient: unambiguous for any sender. */
function keyOf(sender: string, messageId: Uint8Array): string {
  return `${sender.length}:${sender}:${Buffer.from(messageId.buffer, messageId.byteOffset, messageId.byteLength).toString('hex')}`;
}

/** Delivery order ([STORE-ACK-1]): createdAt, then sender (UTF-8 bytes), then message id bytes. */
function deliveryOrder(a: StoredOfflineMessage, b: StoredOfflineMessage): number {
  return a.createdAt - b.createdAt || compareNames(a.sender, b.sender) || compareBytes(a.messageId, b.messageId);
}

/** Scan order: sender, then message id. */
function keyOrder(a: MessageRef, b: MessageRef): number {
  return compareNames(a.sender, b.sender) || compareBytes(a.messageId, b.messageId);
}

function copy(m: StoredOfflineMessage): StoredOfflineMessage {
  return {
    messageId: new Uint8Array(m.messageId),
    sender: m.sender,
    senderDeviceId: new Uint8Array(m.senderDeviceId),
    recipient: m.recipient,
    createdAt: m.createdAt,
    expiresAt: m.expiresAt,
    size: m.size,
    envelope: new Uint8Array(m.envelope),
  };
}

interface Tombstone {
  readonly sender: string;
  readonly messageId: Uint8Array;
  readonly expiresAt: number;
}

export class MemoryOfflineStore implements OfflineStore {
  readonly kind = 'memory';
  #limits: OfflineStoreLimits;
  get limits(): OfflineStoreLimits {
    return this.#limits;
  }
  private readonly messages = new Map<string, Map<string, StoredOfflineMessage>>();
  private readonly tombstones = new Map<string, Map<string, Tombstone>>();
  private totalMessages = 0;
  private totalBytes = 0;
  private totalTombstones = 0;
  /**
   * Lower bounds of the expiries of the messages and tombstones held (exact after a walk, lowered by every
   * insert): while `now` is below one, nothing of its kind has expired and no walk is needed, so a full
   * store refuses in constant time and a prune with nothing to do costs nothing.
   */
  private messagesExpireFrom = Number.POSITIVE_INFINITY;
  private tombstonesExpireFrom = Number.POSITIVE_INFINITY;
  /** The recipients of `messages` by compareNames; undefined after one came or went. */
  private sorted: string[] | undefined;
  private closed = false;

  constructor(options: MemoryOfflineStoreOptions = {}) {
    this.#limits = resolveLimits(options.limits);
  }

  setQuotas(quotas: OfflineQuotas): void {
    this.#limits = resolveLimits({ ...this.#limits, ...quotas });
  }

  async put(msg: OfflineMessageInput, now: number): Promise<PutResult> {
    this.open();
    checkMessage(msg);
    checkInt('now', now);
    // [STORE-EXP-1] nothing is stored past its expiry.
    if (msg.expiresAt <= now) return 'expired';
    const key = keyOf(msg.sender, msg.messageId);
    // [STORE-ACK-4] held or tombstoned: an idempotent success; the first bytes stay.
    if (this.messages.get(msg.recipient)?.has(key) || this.tombstones.get(msg.recipient)?.has(key)) {
      return 'duplicate';
    }
    const size = msg.envelope.byteLength;
    this.checkQuotas(msg, size, now);
    // [STORE-QUOTA-4] the capacity counts everything held; expired messages make room first.
    if (this.overCapacity(0, 0, size)) {
      // A rejected put writes nothing: find out first whether deleting the expired ones makes room.
      let count = 0;
      let bytes = 0;
      for (const held of now < this.messagesExpireFrom ? [] : this.messages.values()) {
        for (const m of held.values()) {
          if (m.expiresAt <= now) {
            count += 1;
            bytes += m.size;
          }
        }
      }
      if (this.overCapacity(count, bytes, size)) {
        throw new OfflineStoreFull(
          `the offline store holds ${this.totalMessages} messages and ${this.totalBytes} bytes, its capacity`,
        );
      }
      this.pruneMessages(now, Number.MAX_SAFE_INTEGER);
    }
    let held = this.messages.get(msg.recipient);
    if (held === undefined) {
      held = new Map();
      this.messages.set(msg.recipient, held);
      this.sorted = undefined;
    }
    held.set(key, {
      messageId: new Uint8Array(msg.messageId),
      sender: msg.sender,
      senderDeviceId: new Uint8Array(msg.senderDeviceId),
      recipient: msg.recipient,
      createdAt: msg.createdAt,
      expiresAt: msg.expiresAt,
      size,
      envelope: new Uint8Array(msg.envelope),
    });
    this.totalMessages += 1;
    this.totalBytes += size;
    this.messagesExpireFrom = Math.min(this.messagesExpireFrom, msg.expiresAt);
    return 'stored';
  }

  async fetch(recipient: string, max: number, now: number, maxBytes = Number.MAX_SAFE_INTEGER): Promise<FetchResult> {
    this.open();
    checkName('recipient', recipient);
    checkPage('max', max);
    checkInt('now', now);
    checkInt('maxBytes', maxBytes);
    const live = this.live(recipient, now).sort(deliveryOrder);
    const out: StoredOfflineMessage[] = [];
    let bytes = 0;
    for (const m of live) {
      if (out.length === max) break;
      if (out.length > 0 && bytes + m.size > maxBytes) break;
      bytes += m.size;
      out.push(copy(m));
    }
    return { messages: out, more: live.length > out.length };
  }

  async ack(recipient: string, refs: readonly MessageRef[], now: number): Promise<number> {
    this.open();
    checkName('recipient', recipient);
    checkRefs(refs);
    checkInt('now', now);
    const held = this.messages.get(recipient);
    if (held === undefined) return 0;
    let deleted = 0;
    for (const ref of refs) {
      const key = keyOf(ref.sender, ref.messageId);
      const m = held.get(key);
      if (m === undefined) continue;
      this.deleteHeld(recipient, held, key, m);
      if (m.expiresAt <= now) continue;
      // [STORE-ACK-3] a tombstone until the message's own expiry.
      let tombs = this.tombstones.get(recipient);
      if (tombs === undefined) {
        tombs = new Map();
        this.tombstones.set(recipient, tombs);
      }
      tombs.set(key, { sender: m.sender, messageId: m.messageId, expiresAt: m.expiresAt });
      this.totalTombstones += 1;
      this.tombstonesExpireFrom = Math.min(this.tombstonesExpireFrom, m.expiresAt);
      deleted += 1;
    }
    return deleted;
  }

  async pending(recipient: string, now: number): Promise<number> {
    this.open();
    checkName('recipient', recipient);
    checkInt('now', now);
    return this.live(recipient, now).length;
  }

  async recipients(after: string | undefined, limit: number, now: number): Promise<string[]> {
    this.open();
    if (after !== undefined) checkName('after', after);
    checkPage('limit', limit);
    checkInt('now', now);
    // The names in order, kept until a recipient comes or goes, so that paging through them is cheap.
    this.sorted ??= [...this.messages.keys()].sort(compareNames);
    const sorted = this.sorted;
    let lo = 0;
    if (after !== undefined) {
      let hi = sorted.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (compareNames(sorted[mid]!, after) <= 0) lo = mid + 1;
        else hi = mid;
      }
    }
    const names: string[] = [];
    for (let i = lo; i < sorted.length && names.length < limit; i++) {
      const name = sorted[i]!;
      for (const m of this.messages.get(name)!.values()) {
        if (m.expiresAt > now) {
          names.push(name);
          break;
        }
      }
    }
    return names;
  }

  async scan(
    recipient: string,
    after: MessageRef | undefined,
    limit: number,
    now: number,
  ): Promise<StoredOfflineMessage[]> {
    this.open();
    checkName('recipient', recipient);
    if (after !== undefined) checkRef('after', after);
    checkPage('limit', limit);
    checkInt('now', now);
    return this.live(recipient, now)
      .filter((m) => after === undefined || keyOrder(m, after) > 0)
      .sort(keyOrder)
      .slice(0, limit)
      .map(copy);
  }

  async remove(recipient: string): Promise<number> {
    this.open();
    checkName('recipient', recipient);
    const held = this.messages.get(recipient);
    if (held === undefined) return 0;
    for (const m of held.values()) this.totalBytes -= m.size;
    this.totalMessages -= held.size;
    this.messages.delete(recipient);
    this.sorted = undefined;
    return held.size;
  }

  async prune(now: number, limit = Number.MAX_SAFE_INTEGER): Promise<PruneCounts> {
    this.open();
    checkInt('now', now);
    checkInt('limit', limit);
    const messages = this.pruneMessages(now, limit);
    // [STORE-EXP-2] tombstones go once the message they stand for would have expired.
    const expired: { recipient: string; key: string; t: Tombstone }[] = [];
    if (now < this.tombstonesExpireFrom) return { messages, tombstones: 0 };
    let from = Number.POSITIVE_INFINITY;
    for (const [recipient, tombs] of this.tombstones) {
      for (const [key, t] of tombs) {
        if (t.expiresAt <= now) expired.push({ recipient, key, t });
        else from = Math.min(from, t.expiresAt);
      }
    }
    if (expired.length > limit) {
      expired.sort(
        (a, b) => a.t.expiresAt - b.t.expiresAt || compareNames(a.recipient, b.recipient) || keyOrder(a.t, b.t),
      );
      for (const { t } of expired.slice(limit)) from = Math.min(from, t.expiresAt);
      expired.length = limit;
    }
    this.tombstonesExpireFrom = from;
    for (const { recipient, key } of expired) {
      const tombs = this.tombstones.get(recipient)!;
      tombs.delete(key);
      if (tombs.size === 0) this.tombstones.delete(recipient);
    }
    this.totalTombstones -= expired.length;
    return { messages, tombstones: expired.length };
  }

  async stats(): Promise<OfflineStoreStats> {
    this.open();
    return { messages: this.totalMessages, bytes: this.totalBytes, tombstones: this.totalTombstones };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.sorted = undefined;
    this.messagesExpireFrom = Number.POSITIVE_INFINITY;
    this.tombstonesExpireFrom = Number.POSITIVE_INFINITY;
    this.messages.clear();
    this.tombstones.clear();
  }

  // Internals ---------------------------------------------------------------------------------------------

  private open(): void {
    if (this.closed) throw closedError('memory');
  }

  /** The recipient's unexpired messages, in no particular order. */
  private live(recipient: string, now: number): StoredOfflineMessage[] {
    const held = this.messages.get(recipient);
    if (held === undefined) return [];
    const out: StoredOfflineMessage[] = [];
    for (const m of held.values()) if (m.expiresAt > now) out.push(m);
    return out;
  }

  /** [STORE-QUOTA-1] [STORE-QUOTA-2] [STORE-QUOTA-3] counted over unexpired messages only. */
  private checkQuotas(msg: OfflineMessageInput, size: number, now: number): void {
    let count = 0;
    let bytes = 0;
    let fromSender = 0;
    for (const m of this.live(msg.recipient, now)) {
      count += 1;
      bytes += m.size;
      if (m.sender === msg.sender) fromSender += 1;
    }
    const l = this.limits;
    if (count + 1 > l.maxMessagesPerRecipient) {
      throw new OfflineQuotaExceeded('recipient-messages', `the recipient has ${count} messages waiting`);
    }
    if (bytes + size > l.maxBytesPerRecipient) {
      throw new OfflineQuotaExceeded('recipient-bytes', `the recipient has ${bytes} bytes waiting`);
    }
    if (fromSender + 1 > l.maxMessagesPerSender) {
      throw new OfflineQuotaExceeded('sender-messages', `the recipient has ${fromSender} messages from this sender`);
    }
  }

  /** Whether one more message of `size` bytes would exceed the capacity once `count` messages of `bytes` went. */
  private overCapacity(count: number, bytes: number, size: number): boolean {
    return (
      this.totalMessages - count + 1 > this.limits.maxTotalMessages ||
      this.totalBytes - bytes + size > this.limits.maxTotalBytes
    );
  }

  private deleteHeld(
    recipient: string,
    held: Map<string, StoredOfflineMessage>,
    key: string,
    m: StoredOfflineMessage,
  ): void {
    held.delete(key);
    if (held.size === 0) {
      this.messages.delete(recipient);
      this.sorted = undefined;
    }
    this.totalMessages -= 1;
    this.totalBytes -= m.size;
  }

  /** Deletes up to `limit` expired messages, earliest expiry first; returns how many. */
  private pruneMessages(now: number, limit: number): number {
    if (now < this.messagesExpireFrom) return 0;
    const expired: { key: string; m: StoredOfflineMessage }[] = [];
    let from = Number.POSITIVE_INFINITY;
    for (const held of this.messages.values()) {
      for (const [key, m] of held) {
        if (m.expiresAt <= now) expired.push({ key, m });
        else from = Math.min(from, m.expiresAt);
      }
    }
    if (expired.length > limit) {
      expired.sort(
        (a, b) => a.m.expiresAt - b.m.expiresAt || compareNames(a.m.recipient, b.m.recipient) || keyOrder(a.m, b.m),
      );
      for (const { m } of expired.slice(limit)) from = Math.min(from, m.expiresAt);
      expired.length = limit;
    }
    this.messagesExpireFrom = from;
    for (const { key, m } of expired) this.deleteHeld(m.recipient, this.messages.get(m.recipient)!, key, m);
    return expired.length;
  }
}
