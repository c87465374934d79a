/**
 * The reference model of the offline store for the property tests of contract.ts: the rules of
 * src/offline/store.ts written as plainly as possible (arrays, filters, sorts), with no shared code with
 * the implementations besides the types. Results are plain values (bytes as hex) so that a test compares
 * them with `toEqual`.
 */
import type { MessageRef, OfflineMessageInput, OfflineStoreLimits } from '../../src/offline/index.js';

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** UTF-8 byte order of names (the store's documented order). */
export const byUtf8 = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));
const byHex = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'hex'), Buffer.from(b, 'hex'));

export interface PlainMessage {
  readonly recipient: string;
  readonly sender: string;
  readonly messageId: string;
  readonly senderDeviceId: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly size: number;
  readonly envelope: string;
}

export function plain(m: {
  recipient: string;
  sender: string;
  messageId: Uint8Array;
  senderDeviceId: Uint8Array;
  createdAt: number;
  expiresAt: number;
  envelope: Uint8Array;
}): PlainMessage {
  return {
    recipient: m.recipient,
    sender: m.sender,
    messageId: hex(m.messageId),
    senderDeviceId: hex(m.senderDeviceId),
    createdAt: m.createdAt,
    expiresAt: m.expiresAt,
    size: m.envelope.byteLength,
    envelope: hex(m.envelope),
  };
}

interface Tomb {
  readonly recipient: string;
  readonly sender: string;
  readonly messageId: string;
  readonly expiresAt: number;
}

const same = (a: { recipient: string; sender: string; messageId: string }, b: typeof a): boolean =>
  a.recipient === b.recipient && a.sender === b.sender && a.messageId === b.messageId;

const byKey = (a: PlainMessage | Tomb, b: PlainMessage | Tomb): number =>
  byUtf8(a.sender, b.sender) || byHex(a.messageId, b.messageId);
const byExpiry = (a: PlainMessage | Tomb, b: PlainMessage | Tomb): number =>
  a.expiresAt - b.expiresAt || byUtf8(a.recipient, b.recipient) || byKey(a, b);

export type ModelPut =
  | 'stored'
  | 'duplicate'
  | 'expired'
  | 'recipient-messages'
  | 'recipient-bytes'
  | 'sender-messages'
  | 'full';

export class OfflineModel {
  messages: PlainMessage[] = [];
  tombs: Tomb[] = [];
  constructor(readonly limits: OfflineStoreLimits) {}

  private live(recipient: string, now: number): PlainMessage[] {
    return this.messages.filter((m) => m.recipient === recipient && m.expiresAt > now);
  }

  put(input: OfflineMessageInput, now: number): ModelPut {
    const m = plain(input);
    if (m.expiresAt <= now) return 'expired';
    if (this.messages.some((x) => same(x, m)) || this.tombs.some((t) => same(t, m))) return 'duplicate';
    const live = this.live(m.recipient, now);
    const l = this.limits;
    if (live.length + 1 > l.maxMessagesPerRecipient) return 'recipient-messages';
    if (live.reduce((s, x) => s + x.size, 0) + m.size > l.maxBytesPerRecipient) return 'recipient-bytes';
    if (live.filter((x) => x.sender === m.sender).length + 1 > l.maxMessagesPerSender) return 'sender-messages';
    const over = (ms: PlainMessage[]) =>
      ms.length + 1 > l.maxTotalMessages || ms.reduce((s, x) => s + x.size, 0) + m.size > l.maxTotalBytes;
    if (over(this.messages)) {
      const kept = this.messages.filter((x) => x.expiresAt > now);
      if (over(kept)) return 'full';
      this.messages = kept;
    }
    this.messages.push(m);
    return 'stored';
  }

  fetch(recipient: string, max: number, now: number, maxBytes: number): { messages: PlainMessage[]; more: boolean } {
    const live = this.live(recipient, now).sort(
      (a, b) => a.createdAt - b.createdAt || byUtf8(a.sender, b.sender) || byHex(a.messageId, b.messageId),
    );
    const out: PlainMessage[] = [];
    let bytes = 0;
    for (const m of live) {
      if (out.length === max || (out.length > 0 && bytes + m.size > maxBytes)) break;
      bytes += m.size;
      out.push(m);
    }
    return { messages: out, more: live.length > out.length };
  }

  ack(recipient: string, refs: readonly MessageRef[], now: number): number {
    let n = 0;
    for (const r of refs) {
      const key = { recipient, sender: r.sender, messageId: hex(r.messageId) };
      const m = this.messages.find((x) => same(x, key));
      if (m === undefined) continue;
      this.messages = this.messages.filter((x) => x !== m);
      if (m.expiresAt > now) {
        this.tombs.push({ ...key, expiresAt: m.expiresAt });
        n += 1;
      }
    }
    return n;
  }

  pending(recipient: string, now: number): number {
    return this.live(recipient, now).length;
  }

  recipients(after: string | undefined, limit: number, now: number): string[] {
    const names = new Set(this.messages.filter((m) => m.expiresAt > now).map((m) => m.recipient));
    return [...names]
      .filter((n) => after === undefined || byUtf8(n, after) > 0)
      .sort(byUtf8)
      .slice(0, limit);
  }

  scan(recipient: string, after: MessageRef | undefined, limit: number, now: number): PlainMessage[] {
    const a = after === undefined ? undefined : { sender: after.sender, messageId: hex(after.messageId) };
    return this.live(recipient, now)
      .filter((m) => a === undefined || byKey(m, a as Tomb) > 0)
      .sort(byKey)
      .slice(0, limit);
  }

  remove(recipient: string): number {
    const before = this.messages.length;
    this.messages = this.messages.filter((m) => m.recipient !== recipient);
    return before - this.messages.length;
  }

  prune(now: number, limit: number): { messages: number; tombstones: number } {
    const gone = this.messages
      .filter((m) => m.expiresAt <= now)
      .sort(byExpiry)
      .slice(0, limit);
    this.messages = this.messages.filter((m) => !gone.includes(m));
    const goneT = this.tombs
      .filter((t) => t.expiresAt <= now)
      .sort(byExpiry)
      .slice(0, limit);
    this.tombs = this.tombs.filter((t) => !goneT.includes(t));
    return { messages: gone.length, tombstones: goneT.length };
  }

  stats(): { messages: number; bytes: number; tombstones: number } {
    return {
      messages: this.messages.length,
      bytes: this.messages.reduce((s, m) => s + m.size, 0),
      tombstones: this.tombs.length,
    };
  }
}
