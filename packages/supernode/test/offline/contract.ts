/**
 * The OfflineStore contract suite (src/offline/store.ts; spec/07-supernode.md §7-8: STORE-QUOTA-*,
 * STORE-ACK-*, STORE-EXP-*, STORE-PERSIST-3): every documented rule as tests, run unchanged against
 * every implementation (memory.test.ts, sqlite.test.ts). Each title cites the requirement ids it checks.
 *
 * `offlineStoreContract` gets a factory that opens a fresh, empty store with the given limits for each
 * test (and for each run of a property). The property test drives random sequences of every operation,
 * with simulated time moving forward, against the reference model of model.ts and compares every answer.
 * fast-check uses the global seed of scripts/vitest-setup.ts (printed on failure).
 */
import { ApiMisuse, ErrorCode, ParleyError } from '@parley/wire';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_OFFLINE_LIMITS,
  type MessageRef,
  type OfflineMessageInput,
  OfflineQuotaExceeded,
  type OfflineStore,
  OfflineStoreFull,
  type OfflineStoreLimits,
  type StoredOfflineMessage,
} from '../../src/offline/index.js';
import { byUtf8, hex, type ModelPut, OfflineModel, plain } from './model.js';

export interface OfflineStoreHandle {
  readonly store: OfflineStore;
  cleanup(): Promise<void>;
}
export type OfflineStoreFactory = (limits?: Partial<OfflineStoreLimits>) => Promise<OfflineStoreHandle>;

// Helpers ------------------------------------------------------------------------------------------------

/** Deterministic bytes: `len` bytes derived from `seed`. */
export function bytes(seed: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  let x = (seed * 2_654_435_761 + 0x9e37_79b9) >>> 0 || 1;
  for (let i = 0; i < len; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** A 16-byte message id that orders by `n` (big-endian in the first two bytes). */
export function messageId(n: number): Uint8Array {
  const id = new Uint8Array(16).fill(0x5a);
  id[0] = (n >>> 8) & 0xff;
  id[1] = n & 0xff;
  return id;
}

function nameSeed(s: string): number {
  let h = 7;
  for (const c of Buffer.from(s)) h = (Math.imul(h, 31) + c) >>> 0;
  return h;
}

export interface MsgOptions {
  readonly recipient?: string;
  readonly sender?: string;
  readonly id?: number;
  readonly createdAt?: number;
  readonly expiresAt?: number;
  readonly size?: number;
  /** Varies the envelope bytes of one identity (a second version of "the same" message). */
  readonly fill?: number;
}

/** A message as the core would hand it over after verification (the envelope is opaque here). */
export function msg(o: MsgOptions = {}): OfflineMessageInput {
  const recipient = o.recipient ?? 'bob';
  const sender = o.sender ?? 'alice';
  const id = o.id ?? 1;
  return {
    messageId: messageId(id),
    sender,
    senderDeviceId: bytes(nameSeed(sender), 16),
    recipient,
    createdAt: o.createdAt ?? 1_000,
    expiresAt: o.expiresAt ?? 1_000_000,
    envelope: bytes(nameSeed(recipient) ^ nameSeed(sender) ^ (id * 977) ^ ((o.fill ?? 0) * 131), o.size ?? 40),
  };
}

const ref = (m: OfflineMessageInput): MessageRef => ({ sender: m.sender, messageId: m.messageId });

function expectMessage(actual: StoredOfflineMessage | undefined, expected: OfflineMessageInput): void {
  expect(actual).toBeDefined();
  for (const b of [actual!.messageId, actual!.senderDeviceId, actual!.envelope]) {
    expect(Object.getPrototypeOf(b)).toBe(Uint8Array.prototype);
  }
  expect({ ...plain(actual!), size: actual!.size }).toEqual(plain(expected));
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected the call to reject');
}

async function expectQuota(p: Promise<unknown>, quota: OfflineQuotaExceeded['quota']): Promise<void> {
  const e = await rejection(p);
  expect(e).toBeInstanceOf(OfflineQuotaExceeded);
  expect((e as OfflineQuotaExceeded).code).toBe(ErrorCode.QUOTA_EXCEEDED);
  expect((e as OfflineQuotaExceeded).kind).toBe('refused');
  expect((e as OfflineQuotaExceeded).quota).toBe(quota);
}

async function expectFull(p: Promise<unknown>): Promise<void> {
  const e = await rejection(p);
  expect(e).toBeInstanceOf(OfflineStoreFull);
  expect((e as OfflineStoreFull).code).toBe(ErrorCode.BUSY);
  expect((e as OfflineStoreFull).kind).toBe('resource');
}

async function expectMisuse(p: Promise<unknown>): Promise<void> {
  expect(await rejection(p)).toBeInstanceOf(ApiMisuse);
}

const ids = (ms: readonly StoredOfflineMessage[]): string[] => ms.map((m) => `${m.sender}/${hex(m.messageId)}`);
const idsOf = (ms: readonly OfflineMessageInput[]): string[] => ms.map((m) => `${m.sender}/${hex(m.messageId)}`);

// The contract -------------------------------------------------------------------------------------------

export function offlineStoreContract(name: string, factory: OfflineStoreFactory): void {
  const test = (
    title: string,
    fn: (store: OfflineStore) => Promise<void>,
    limits?: Partial<OfflineStoreLimits>,
    timeoutMs?: number,
  ) =>
    it(
      title,
      async () => {
        const { store, cleanup } = await factory(limits);
        try {
          await fn(store);
        } finally {
          await cleanup();
        }
      },
      timeoutMs,
    );

  describe(`${name}: delivery order and bytes`, () => {
    test('[STORE-ACK-1] [STORE-PERSIST-3] fetch returns unexpired messages oldest first (created_at, sender UTF-8 bytes, message id), byte for byte', async (s) => {
      // U+FB00 sorts before U+1F600 in UTF-8 (EF.. < F0..) but after it in UTF-16 (FB00 > D83D).
      const all = [
        msg({ sender: 'carol', id: 2, createdAt: 50 }),
        msg({ sender: '\u{1F600}x', id: 1, createdAt: 10 }),
        msg({ sender: 'carol', id: 1, createdAt: 50 }),
        msg({ sender: 'alice', id: 9, createdAt: 50 }),
        msg({ sender: '\uFB00x', id: 1, createdAt: 10 }),
        msg({ sender: 'dave', id: 1, createdAt: 5, size: 0 }),
        msg({ sender: 'alice', id: 3, createdAt: 70, size: 3_000 }),
      ];
      for (const m of all) expect(await s.put(m, 100)).toBe('stored');
      const expected = [all[5]!, all[4]!, all[1]!, all[3]!, all[2]!, all[0]!, all[6]!];
      const got = await s.fetch('bob', 64, 100);
      expect(got.more).toBe(false);
      expect(ids(got.messages)).toEqual(idsOf(expected));
      got.messages.forEach((m, i) => {
        expectMessage(m, expected[i]!);
      });
      expect(got.messages[6]!.size).toBe(3_000);
      // Other recipients see nothing of it.
      expect((await s.fetch('alice', 64, 100)).messages).toEqual([]);
    });

    test('[STORE-ACK-1] fetch honours max and maxBytes (always at least one message) and reports whether more are held', async (s) => {
      const all = [1, 2, 3, 4, 5].map((i) => msg({ id: i, createdAt: i, size: 100 * i }));
      for (const m of all) await s.put(m, 0);
      const page = async (max: number, maxBytes?: number) => {
        const r = await s.fetch('bob', max, 0, maxBytes);
        return { ids: ids(r.messages), more: r.more };
      };
      expect(await page(2)).toEqual({ ids: idsOf(all.slice(0, 2)), more: true });
      expect(await page(5)).toEqual({ ids: idsOf(all), more: false });
      expect(await page(64, 300)).toEqual({ ids: idsOf(all.slice(0, 2)), more: true });
      expect(await page(64, 299)).toEqual({ ids: idsOf(all.slice(0, 1)), more: true });
      expect(await page(64, 0)).toEqual({ ids: idsOf(all.slice(0, 1)), more: true });
      expect(await page(64, 1_500)).toEqual({ ids: idsOf(all), more: false });
      expect(await page(1, 1_500)).toEqual({ ids: idsOf(all.slice(0, 1)), more: true });
    });

    test("[STORE-PERSIST-3] returned bytes are the caller's: changing inputs after put, or outputs after fetch, changes nothing held", async (s) => {
      const m = msg({ size: 64 });
      const original = plain(m);
      const input = { ...m, messageId: new Uint8Array(m.messageId), envelope: new Uint8Array(m.envelope) };
      await s.put(input, 0);
      input.envelope.fill(0);
      input.messageId.fill(0);
      const first = (await s.fetch('bob', 1, 0)).messages[0]!;
      expect(plain(first)).toEqual(original);
      first.envelope.fill(1);
      first.senderDeviceId.fill(1);
      expect(plain((await s.fetch('bob', 1, 0)).messages[0]!)).toEqual(original);
      expect(plain((await s.scan('bob', undefined, 1, 0))[0]!)).toEqual(original);
    });
  });

  describe(`${name}: acknowledgement, tombstones, idempotence`, () => {
    test('[STORE-ACK-2] fetching deletes nothing; ack deletes exactly the named messages of that recipient and counts them', async (s) => {
      const a = msg({ id: 1 });
      const b = msg({ id: 2 });
      const c = msg({ id: 3, sender: 'carol' });
      const forDave = msg({ id: 1, recipient: 'dave' });
      for (const m of [a, b, c, forDave]) await s.put(m, 0);
      await s.fetch('bob', 64, 0);
      await s.fetch('bob', 64, 0);
      expect(await s.pending('bob', 0)).toBe(3);
      // Unknown refs, another sender's id, and a message of another recipient are ignored.
      const unknown: MessageRef[] = [
        { sender: 'alice', messageId: messageId(99) },
        { sender: 'carol', messageId: a.messageId },
      ];
      expect(await s.ack('bob', [ref(a), ...unknown, ref(c), ref(a)], 10)).toBe(2);
      expect(ids((await s.fetch('bob', 64, 10)).messages)).toEqual(idsOf([b]));
      expect(await s.pending('dave', 10)).toBe(1);
      expect(await s.ack('bob', [ref(a), ref(c)], 11)).toBe(0);
      expect(await s.ack('bob', [], 11)).toBe(0);
      expect(await s.ack('nobody', [ref(b)], 11)).toBe(0);
      expect(await s.stats()).toEqual({
        messages: 2,
        bytes: b.envelope.length + forDave.envelope.length,
        tombstones: 2,
      });
    });

    test('[STORE-ACK-3] [STORE-ACK-4] an acknowledged message cannot be stored again (no resurrection) until its expiry', async (s) => {
      const m = msg({ id: 7, expiresAt: 5_000 });
      expect(await s.put(m, 0)).toBe('stored');
      expect(await s.ack('bob', [ref(m)], 100)).toBe(1);
      // A lagging replica hands the message over again: a success that stores nothing.
      expect(await s.put(m, 200)).toBe('duplicate');
      expect(await s.put(msg({ id: 7, expiresAt: 9_000, fill: 3 }), 300)).toBe('duplicate');
      expect(await s.pending('bob', 300)).toBe(0);
      expect((await s.fetch('bob', 64, 300)).messages).toEqual([]);
      // The same sender and id for another recipient is another message.
      expect(await s.put(msg({ id: 7, recipient: 'carol', expiresAt: 5_000 }), 300)).toBe('stored');
      expect(await s.prune(4_999)).toEqual({ messages: 0, tombstones: 0 });
      expect(await s.put(m, 4_999)).toBe('duplicate');
      expect((await s.stats()).tombstones).toBe(1);
      // At its expiry the tombstone can go: there is nothing left to resurrect.
      expect(await s.prune(5_000)).toEqual({ messages: 1, tombstones: 1 });
      expect(await s.stats()).toEqual({ messages: 0, bytes: 0, tombstones: 0 });
      expect(await s.put(m, 5_000)).toBe('expired');
    });

    test('[STORE-ACK-4] storing a held identity again is an idempotent success: the bytes held first stay, nothing counts twice', async (s) => {
      const first = msg({ id: 1, size: 50 });
      const second = msg({ id: 1, size: 80, fill: 9, createdAt: 2 });
      expect(await s.put(first, 0)).toBe('stored');
      for (let i = 0; i < 3; i++) expect(await s.put(first, i)).toBe('duplicate');
      expect(await s.put(second, 5)).toBe('duplicate');
      const got = await s.fetch('bob', 64, 5);
      expect(got.messages.length).toBe(1);
      expectMessage(got.messages[0], first);
      expect(await s.stats()).toEqual({ messages: 1, bytes: 50, tombstones: 0 });
    });

    test(
      '[STORE-ACK-4] a duplicate is a success even when the quotas are full',
      async (s) => {
        const m = msg({ id: 1 });
        await s.put(m, 0);
        await s.put(msg({ id: 2 }), 0);
        await expectQuota(s.put(msg({ id: 3 }), 0), 'recipient-messages');
        expect(await s.put(m, 0)).toBe('duplicate');
        await s.ack('bob', [ref(m)], 0);
        expect(await s.put(m, 0)).toBe('duplicate');
      },
      { maxMessagesPerRecipient: 2 },
    );
    test(
      '[STORE-ACK-4] [STORE-QUOTA-4] a duplicate is a success even when the store is at its capacity',
      async (s) => {
        const m = msg({ recipient: 'r1' });
        await s.put(m, 0);
        await s.put(msg({ recipient: 'r2' }), 0);
        await expectFull(s.put(msg({ recipient: 'r3' }), 0));
        expect(await s.put(m, 0)).toBe('duplicate');
        expect(await s.stats()).toMatchObject({ messages: 2 });
      },
      { maxTotalMessages: 2 },
    );
  });

  describe(`${name}: quotas and capacity`, () => {
    test("[STORE-QUOTA-5] setQuotas applies a newer policy's quotas to the next stores; held messages stay, the capacity is kept", async (s) => {
      const capacity = s.limits.maxTotalMessages;
      for (const i of [1, 2, 3]) expect(await s.put(msg({ id: i, sender: `s${i}` }), 0)).toBe('stored');
      s.setQuotas({ maxMessagesPerRecipient: 2, maxBytesPerRecipient: 10_000, maxMessagesPerSender: 1 });
      expect(s.limits).toMatchObject({
        maxMessagesPerRecipient: 2,
        maxMessagesPerSender: 1,
        maxTotalMessages: capacity,
      });
      // the three held stay deliverable; a fourth is over the new quota
      expect(await s.pending('bob', 0)).toBe(3);
      await expectQuota(s.put(msg({ id: 4, sender: 's4' }), 0), 'recipient-messages');
      // the sender quota is the new one too
      expect(await s.put(msg({ recipient: 'carol', id: 5, sender: 'x' }), 0)).toBe('stored');
      await expectQuota(s.put(msg({ recipient: 'carol', id: 6, sender: 'x' }), 0), 'sender-messages');
      // raised again: room at once
      s.setQuotas({ maxMessagesPerRecipient: 10, maxBytesPerRecipient: 10_000, maxMessagesPerSender: 10 });
      expect(await s.put(msg({ id: 4, sender: 's4' }), 0)).toBe('stored');
      expect(() =>
        s.setQuotas({ maxMessagesPerRecipient: 0, maxBytesPerRecipient: 1, maxMessagesPerSender: 1 }),
      ).toThrow(expect.objectContaining({ code: ErrorCode.API_MISUSE }));
      expect(s.limits.maxMessagesPerRecipient).toBe(10);
    });

    test(
      "[STORE-QUOTA-1] [STORE-QUOTA-3] the recipient's message quota: QUOTA_EXCEEDED, nothing stored, room again after an ack",
      async (s) => {
        const ms = [1, 2, 3, 4].map((i) => msg({ id: i, sender: `s${i}` }));
        for (const m of ms.slice(0, 3)) expect(await s.put(m, 0)).toBe('stored');
        await expectQuota(s.put(ms[3]!, 0), 'recipient-messages');
        expect(await s.pending('bob', 0)).toBe(3);
        expect(await s.stats()).toMatchObject({ messages: 3 });
        // Other recipients are not affected.
        expect(await s.put(msg({ recipient: 'carol' }), 0)).toBe('stored');
        await s.ack('bob', [ref(ms[0]!)], 1);
        expect(await s.put(ms[3]!, 1)).toBe('stored');
      },
      { maxMessagesPerRecipient: 3 },
    );

    test(
      "[STORE-QUOTA-1] [STORE-QUOTA-3] the recipient's byte quota counts envelope bytes exactly",
      async (s) => {
        expect(await s.put(msg({ id: 1, sender: 'a', size: 600 }), 0)).toBe('stored');
        expect(await s.put(msg({ id: 2, sender: 'b', size: 400 }), 0)).toBe('stored');
        await expectQuota(s.put(msg({ id: 3, sender: 'c', size: 1 }), 0), 'recipient-bytes');
        expect(await s.put(msg({ id: 4, sender: 'c', size: 0 }), 0)).toBe('stored');
        await s.ack('bob', [{ sender: 'b', messageId: messageId(2) }], 0);
        await expectQuota(s.put(msg({ id: 5, sender: 'c', size: 401 }), 0), 'recipient-bytes');
        expect(await s.put(msg({ id: 5, sender: 'c', size: 400 }), 0)).toBe('stored');
        expect(await s.stats()).toMatchObject({ messages: 3, bytes: 1_000 });
      },
      { maxBytesPerRecipient: 1_000 },
    );

    test(
      "[STORE-QUOTA-2] [STORE-QUOTA-3] the sender's quota towards one recipient; other senders and other recipients are not affected",
      async (s) => {
        for (let i = 0; i < 2; i++) expect(await s.put(msg({ id: i }), 0)).toBe('stored');
        await expectQuota(s.put(msg({ id: 2 }), 0), 'sender-messages');
        expect(await s.put(msg({ id: 2, sender: 'carol' }), 0)).toBe('stored');
        expect(await s.put(msg({ id: 2, recipient: 'dave' }), 0)).toBe('stored');
        expect(await s.pending('bob', 0)).toBe(3);
      },
      { maxMessagesPerSender: 2 },
    );

    test(
      '[STORE-QUOTA-3] [STORE-EXP-1] expired messages do not count towards the quotas, even before they are pruned',
      async (s) => {
        await s.put(msg({ id: 1, expiresAt: 100, size: 10 }), 0);
        await s.put(msg({ id: 2, expiresAt: 200, size: 10 }), 0);
        await expectQuota(s.put(msg({ id: 3, size: 10 }), 99), 'recipient-messages');
        expect(await s.put(msg({ id: 3, size: 10 }), 100)).toBe('stored');
        expect(await s.stats()).toMatchObject({ messages: 3 });
      },
      { maxMessagesPerSender: 2, maxMessagesPerRecipient: 2, maxBytesPerRecipient: 20 },
    );

    test(
      '[STORE-QUOTA-3] concurrent stores at the quota boundary store exactly the quota',
      async (s) => {
        const results = await Promise.allSettled(
          Array.from({ length: 12 }, (_, i) => s.put(msg({ id: i, sender: `s${i % 4}` }), 0)),
        );
        expect(results.filter((r) => r.status === 'fulfilled').length).toBe(5);
        for (const r of results) {
          if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(OfflineQuotaExceeded);
        }
        expect(await s.pending('bob', 0)).toBe(5);
      },
      { maxMessagesPerRecipient: 5 },
    );

    test(
      '[STORE-QUOTA-4] at capacity, expired messages make room; otherwise BUSY and nothing changes',
      async (s) => {
        await s.put(msg({ recipient: 'r1', expiresAt: 50, size: 100 }), 0);
        await s.put(msg({ recipient: 'r2', expiresAt: 80, size: 100 }), 0);
        await s.put(msg({ recipient: 'r3', size: 100 }), 0);
        // Full by messages; nothing has expired at 10.
        await expectFull(s.put(msg({ recipient: 'r4', size: 1 }), 10));
        expect(await s.stats()).toEqual({ messages: 3, bytes: 300, tombstones: 0 });
        // At 60, r1's message has expired: it goes, the new one is stored; r2's is still live.
        expect(await s.put(msg({ recipient: 'r4', size: 100 }), 60)).toBe('stored');
        expect(await s.stats()).toEqual({ messages: 3, bytes: 300, tombstones: 0 });
        // Full by bytes even after r2's message expired: refused, and the expired one is still there.
        await expectFull(s.put(msg({ recipient: 'r5', size: 201 }), 90));
        expect(await s.stats()).toEqual({ messages: 3, bytes: 300, tombstones: 0 });
        expect(await s.put(msg({ recipient: 'r5', size: 200 }), 90)).toBe('stored');
        expect(await s.stats()).toEqual({ messages: 3, bytes: 400, tombstones: 0 });
      },
      { maxTotalMessages: 3, maxTotalBytes: 400 },
    );

    it('[STORE-QUOTA-1] [STORE-QUOTA-2] [STORE-QUOTA-4] the default limits: 1,000 messages and 10 MiB per recipient, 100 per sender', async () => {
      expect(DEFAULT_OFFLINE_LIMITS).toEqual({
        maxMessagesPerRecipient: 1_000,
        maxBytesPerRecipient: 10 * 1024 * 1024,
        maxMessagesPerSender: 100,
        maxTotalMessages: 100_000,
        maxTotalBytes: 256 * 1024 * 1024,
      });
      const { store, cleanup } = await factory();
      try {
        expect(store.limits).toEqual(DEFAULT_OFFLINE_LIMITS);
        for (let i = 0; i < 100; i++) expect(await store.put(msg({ id: i, size: 1 }), 0)).toBe('stored');
        await expectQuota(store.put(msg({ id: 100, size: 1 }), 0), 'sender-messages');
      } finally {
        await cleanup();
      }
    });

    it('rejects limits that are not positive safe integers (ApiMisuse)', async () => {
      for (const bad of [{ maxTotalBytes: 0 }, { maxMessagesPerSender: 1.5 }, { maxMessagesPerRecipient: -1 }]) {
        await expect(factory(bad)).rejects.toBeInstanceOf(ApiMisuse);
      }
    });
  });

  describe(`${name}: expiry`, () => {
    test('[STORE-EXP-1] from its expires_at on, a message is not stored, fetched, counted, scanned or listed', async (s) => {
      expect(await s.put(msg({ id: 1, expiresAt: 100 }), 100)).toBe('expired');
      expect(await s.put(msg({ id: 1, expiresAt: 100 }), 101)).toBe('expired');
      expect(await s.stats()).toEqual({ messages: 0, bytes: 0, tombstones: 0 });
      const m = msg({ id: 2, expiresAt: 100 });
      expect(await s.put(m, 99)).toBe('stored');
      expect(await s.pending('bob', 99)).toBe(1);
      expect(await s.recipients(undefined, 10, 99)).toEqual(['bob']);
      expect(await s.pending('bob', 100)).toBe(0);
      expect(await s.fetch('bob', 64, 100)).toEqual({ messages: [], more: false });
      expect(await s.scan('bob', undefined, 10, 100)).toEqual([]);
      expect(await s.recipients(undefined, 10, 100)).toEqual([]);
      // An expired message acknowledged late leaves no tombstone and is not counted.
      expect(await s.ack('bob', [ref(m)], 100)).toBe(0);
      expect(await s.stats()).toEqual({ messages: 0, bytes: 0, tombstones: 0 });
    });

    test('[STORE-EXP-2] prune deletes expired messages and tombstones, earliest expiry first, at most limit of each per call', async (s) => {
      for (let i = 0; i < 6; i++) await s.put(msg({ id: i, sender: `s${i}`, expiresAt: 100 + (5 - i) * 10 }), 0);
      const acked = msg({ id: 1, recipient: 'carol', expiresAt: 120 });
      await s.put(acked, 0);
      await s.ack('carol', [ref(acked)], 1);
      await s.put(msg({ id: 9, expiresAt: 1_000 }), 0);
      expect(await s.stats()).toMatchObject({ messages: 7, tombstones: 1 });
      expect(await s.prune(99)).toEqual({ messages: 0, tombstones: 0 });
      expect(await s.prune(150, 2)).toEqual({ messages: 2, tombstones: 1 });
      // The two earliest (s5 at 100, s4 at 110) went; s3 (120) is still held though expired.
      const left = (await s.scan('bob', undefined, 10, 0)).map((m) => `${m.sender}/${m.messageId[1]}`);
      expect(left).toEqual(['alice/9', 's0/0', 's1/1', 's2/2', 's3/3']);
      expect(await s.prune(150, 2)).toEqual({ messages: 2, tombstones: 0 });
      expect(await s.prune(150, 2)).toEqual({ messages: 2, tombstones: 0 });
      expect(await s.prune(150, 2)).toEqual({ messages: 0, tombstones: 0 });
      expect(await s.prune(10_000)).toEqual({ messages: 1, tombstones: 0 });
      expect(await s.stats()).toEqual({ messages: 0, bytes: 0, tombstones: 0 });
    });
  });

  describe(`${name}: re-replication and handoff`, () => {
    test('recipients and scan page through every unexpired message held, in key order', async (s) => {
      const names = ['zed', 'bob', '\u{1F600}', '\uFB00', 'amy', 'Bob'];
      const held: OfflineMessageInput[] = [];
      for (const [i, r] of names.entries()) {
        for (let j = 0; j < 3; j++) {
          const m = msg({ recipient: r, sender: `s${(i + j) % 4}`, id: 10 - j });
          held.push(m);
          await s.put(m, 0);
        }
      }
      await s.put(msg({ recipient: 'expired', expiresAt: 10 }), 0);
      const listed: string[] = [];
      for (let after: string | undefined; ; ) {
        const page = await s.recipients(after, 4, 10);
        listed.push(...page);
        if (page.length < 4) break;
        after = page.at(-1);
      }
      expect(listed).toEqual([...names].sort(byUtf8));
      expect(listed.indexOf('\uFB00')).toBeLessThan(listed.indexOf('\u{1F600}'));
      for (const r of names) {
        const got: StoredOfflineMessage[] = [];
        for (let after: MessageRef | undefined; ; ) {
          const page = await s.scan(r, after, 2, 10);
          got.push(...page);
          if (page.length < 2) break;
          after = ref(page.at(-1)!);
        }
        const mine = held.filter((m) => m.recipient === r);
        expect(new Set(ids(got))).toEqual(new Set(idsOf(mine)));
        expect(ids(got)).toEqual([...ids(got)].sort((a, b) => byUtf8(a, b)));
        for (const g of got)
          expectMessage(g, mine.find((m) => hex(m.messageId) === hex(g.messageId) && m.sender === g.sender)!);
      }
    });

    test('remove deletes every message of a recipient and keeps its tombstones', async (s) => {
      const acked = msg({ id: 1 });
      await s.put(acked, 0);
      await s.ack('bob', [ref(acked)], 0);
      await s.put(msg({ id: 2 }), 0);
      await s.put(msg({ id: 3, expiresAt: 5 }), 0);
      await s.put(msg({ id: 2, recipient: 'carol' }), 0);
      expect(await s.remove('bob')).toBe(2);
      expect(await s.remove('bob')).toBe(0);
      expect(await s.pending('bob', 0)).toBe(0);
      expect(await s.stats()).toMatchObject({ messages: 1, tombstones: 1 });
      expect(await s.put(acked, 1)).toBe('duplicate');
      expect(await s.pending('carol', 0)).toBe(1);
    });
  });

  describe(`${name}: misuse`, () => {
    test('bad arguments are ApiMisuse and change nothing; every call after close is ApiMisuse', async (s) => {
      const good = msg();
      const bad: OfflineMessageInput[] = [
        { ...good, recipient: '' },
        { ...good, sender: 'x\uD800' },
        { ...good, createdAt: -1 },
        { ...good, expiresAt: 1.5 },
        { ...good, envelope: 'x' as unknown as Uint8Array },
        { ...good, messageId: [1, 2] as unknown as Uint8Array },
      ];
      for (const m of bad) await expectMisuse(s.put(m, 0));
      await expectMisuse(s.put(good, Number.NaN));
      await expectMisuse(s.fetch('bob', 0, 0));
      await expectMisuse(s.fetch('bob', 10_001, 0));
      await expectMisuse(s.fetch('bob', 1, 0, -1));
      await expectMisuse(s.ack('bob', [{ sender: 'a', messageId: 'x' as unknown as Uint8Array }], 0));
      await expectMisuse(s.ack('bob', 'x' as unknown as MessageRef[], 0));
      await expectMisuse(s.recipients('', 10, 0));
      await expectMisuse(s.scan('bob', undefined, 0, 0));
      await expectMisuse(s.prune(-5));
      expect(await s.stats()).toEqual({ messages: 0, bytes: 0, tombstones: 0 });
      await s.close();
      await s.close();
      await expectMisuse(s.put(good, 0));
      await expectMisuse(s.fetch('bob', 1, 0));
      await expectMisuse(s.stats());
    });
  });

  describe(`${name}: against the reference model`, () => {
    it("[STORE-QUOTA-1] [STORE-QUOTA-2] [STORE-QUOTA-3] [STORE-QUOTA-4] [STORE-ACK-1] [STORE-ACK-2] [STORE-ACK-3] [STORE-ACK-4] [STORE-EXP-1] [STORE-EXP-2] random sequences of every operation, with time moving on, give the model's answers", async () => {
      const limits: OfflineStoreLimits = {
        maxMessagesPerRecipient: 4,
        maxBytesPerRecipient: 100,
        maxMessagesPerSender: 2,
        maxTotalMessages: 7,
        maxTotalBytes: 160,
      };
      const recipient = fc.constantFrom('bob', '\uFB00', '\u{1F600}');
      const sender = fc.constantFrom('alice', '\u00e9', '\u{1F600}');
      const id = fc.integer({ min: 0, max: 3 });
      const refArb = fc.record({ sender, id });
      const op = fc.oneof(
        {
          weight: 6,
          arbitrary: fc.record({
            kind: fc.constant('put' as const),
            recipient,
            sender,
            id,
            age: fc.integer({ min: 0, max: 40 }),
            lifetime: fc.integer({ min: -5, max: 120 }),
            size: fc.integer({ min: 0, max: 50 }),
            fill: fc.integer({ min: 0, max: 3 }),
          }),
        },
        {
          weight: 2,
          arbitrary: fc.record({
            kind: fc.constant('fetch' as const),
            recipient,
            max: fc.integer({ min: 1, max: 6 }),
            maxBytes: fc.option(fc.integer({ min: 0, max: 150 }), { nil: undefined }),
          }),
        },
        {
          weight: 3,
          arbitrary: fc.record({
            kind: fc.constant('ack' as const),
            recipient,
            refs: fc.array(refArb, { maxLength: 4 }),
          }),
        },
        {
          weight: 3,
          arbitrary: fc.record({
            kind: fc.constant('ackFetched' as const),
            recipient,
            max: fc.integer({ min: 1, max: 3 }),
            extra: fc.option(refArb, { nil: undefined }),
          }),
        },
        {
          weight: 3,
          arbitrary: fc.record({ kind: fc.constant('tick' as const), by: fc.integer({ min: 0, max: 20 }) }),
        },
        {
          weight: 1,
          arbitrary: fc.record({
            kind: fc.constant('prune' as const),
            limit: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
          }),
        },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('pending' as const), recipient }) },
        {
          weight: 1,
          arbitrary: fc.record({
            kind: fc.constant('recipients' as const),
            after: fc.option(recipient, { nil: undefined }),
            limit: fc.integer({ min: 1, max: 4 }),
          }),
        },
        {
          weight: 1,
          arbitrary: fc.record({
            kind: fc.constant('scan' as const),
            recipient,
            after: fc.option(refArb, { nil: undefined }),
            limit: fc.integer({ min: 1, max: 4 }),
          }),
        },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove' as const), recipient }) },
      );
      const toRef = (r: { sender: string; id: number }): MessageRef => ({
        sender: r.sender,
        messageId: messageId(r.id),
      });

      await fc.assert(
        fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 80, size: 'max' }), async (ops) => {
          const model = new OfflineModel(limits);
          const { store, cleanup } = await factory(limits);
          try {
            let now = 1_000;
            for (const [step, o] of ops.entries()) {
              const at = `step ${step}: ${JSON.stringify(o)}`;
              switch (o.kind) {
                case 'put': {
                  const m = msg({
                    recipient: o.recipient,
                    sender: o.sender,
                    id: o.id,
                    createdAt: now - o.age,
                    expiresAt: Math.max(0, now + o.lifetime),
                    size: o.size,
                    fill: o.fill,
                  });
                  const want = model.put(m, now);
                  let got: ModelPut;
                  try {
                    got = await store.put(m, now);
                  } catch (e) {
                    if (e instanceof OfflineQuotaExceeded) got = e.quota;
                    else if (e instanceof OfflineStoreFull) got = 'full';
                    else throw e;
                  }
                  expect(got, at).toBe(want);
                  break;
                }
                case 'fetch': {
                  const got = await store.fetch(o.recipient, o.max, now, o.maxBytes);
                  const want = model.fetch(o.recipient, o.max, now, o.maxBytes ?? Number.MAX_SAFE_INTEGER);
                  expect({ messages: got.messages.map(plain), more: got.more }, at).toEqual(want);
                  break;
                }
                case 'ack': {
                  const refs = o.refs.map(toRef);
                  expect(await store.ack(o.recipient, refs, now), at).toBe(model.ack(o.recipient, refs, now));
                  break;
                }
                case 'ackFetched': {
                  // What a recipient does: fetch, then acknowledge what it got (and maybe a stray ref).
                  const fetched = await store.fetch(o.recipient, o.max, now);
                  const want = model.fetch(o.recipient, o.max, now, Number.MAX_SAFE_INTEGER);
                  expect({ messages: fetched.messages.map(plain), more: fetched.more }, at).toEqual(want);
                  const refs = fetched.messages.map(ref);
                  if (o.extra !== undefined) refs.push(toRef(o.extra));
                  expect(await store.ack(o.recipient, refs, now), at).toBe(model.ack(o.recipient, refs, now));
                  break;
                }
                case 'tick':
                  now += o.by;
                  break;
                case 'prune':
                  expect(await store.prune(now, o.limit), at).toEqual(
                    model.prune(now, o.limit ?? Number.MAX_SAFE_INTEGER),
                  );
                  break;
                case 'pending':
                  expect(await store.pending(o.recipient, now), at).toBe(model.pending(o.recipient, now));
                  break;
                case 'recipients':
                  expect(await store.recipients(o.after, o.limit, now), at).toEqual(
                    model.recipients(o.after, o.limit, now),
                  );
                  break;
                case 'scan': {
                  const after = o.after === undefined ? undefined : toRef(o.after);
                  expect((await store.scan(o.recipient, after, o.limit, now)).map(plain), at).toEqual(
                    model.scan(o.recipient, after, o.limit, now),
                  );
                  break;
                }
                case 'remove':
                  expect(await store.remove(o.recipient), at).toBe(model.remove(o.recipient));
                  break;
              }
              expect(await store.stats(), at).toEqual(model.stats());
            }
          } finally {
            await cleanup();
          }
        }),
        { numRuns: 100 },
      );
    }, 120_000);
  });

  // Every error the store raises is one of @parley/wire's typed errors with a spec code.
  it('quota and capacity errors are ParleyErrors with spec codes', () => {
    const q = new OfflineQuotaExceeded('sender-messages', 'x');
    expect(q).toBeInstanceOf(ParleyError);
    expect([q.code, q.kind]).toEqual([807, 'refused']);
    const f = new OfflineStoreFull('x');
    expect(f).toBeInstanceOf(ParleyError);
    expect([f.code, f.kind]).toEqual([700, 'resource']);
  });
}
