/**
 * Crash safety of the SQLite offline store ([STORE-PERSIST-1], [STORE-PERSIST-5]): a child process
 * (fixtures/crash-writer.ts, run from source through the workspace's TypeScript loader) stores and
 * acknowledges messages in a tight loop and prints each iteration once its calls have resolved; the test
 * SIGKILLs it after a seeded number of acknowledgements, in the middle of whatever it was writing, then
 * reopens the file and checks: SQLite's integrity check passes; every printed message is held byte for
 * byte, or tombstoned when its acknowledgement was printed; no identity is both held and tombstoned; the
 * totals kept by triggers equal the rows (no torn state); the store still works. Several rounds run on
 * one file, each continuing after the last printed iteration, so recovery is itself followed by kills.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killPoints, runUntilKilled } from '@parley/login-server/testing';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteOfflineStore } from '../../src/offline/index.js';
import { acksPrevious, CRASH_LIMITS, crashMessage, crashRef } from './fixtures/crash-data.js';
import { plain } from './model.js';

const WRITER = fileURLToPath(new URL('./fixtures/crash-writer.ts', import.meta.url));

/** fast-check's global seed: the rounds replay with the seed a failure prints. */
const fcSeed = (): number => Number(fc.readConfigureGlobal().seed ?? 1);

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('crash safety: SQLite offline store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-offline-crash-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('[STORE-PERSIST-1] [STORE-PERSIST-5] a writer SIGKILLed mid-burst loses nothing it completed and leaves no torn state (3 rounds)', async () => {
    const path = join(dir, 'offline.db');
    let next = 0;
    for (const [round, killAfter] of killPoints(fcSeed(), 3, 30, 150).entries()) {
      const printed = (await runUntilKilled({ script: WRITER, args: [path, String(next)], killAfter })).map(Number);
      expect(printed.length).toBeGreaterThanOrEqual(killAfter);
      expect(printed[0]).toBe(next);
      const last = printed.at(-1)!;
      expect(printed).toEqual(Array.from({ length: printed.length }, (_, k) => next + k));

      // The killed process leaves its WAL behind; the next open must recover from it.
      expect(existsSync(`${path}-wal`)).toBe(true);
      const db = new Database(path);
      try {
        expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
        const totals = Object.fromEntries(
          (db.prepare('SELECT name, value FROM totals').all() as { name: string; value: number }[]).map((r) => [
            r.name,
            r.value,
          ]),
        );
        const rows = db
          .prepare('SELECT count(*) AS messages, coalesce(sum(length(envelope)), 0) AS bytes FROM messages')
          .get() as { messages: number; bytes: number };
        const tombstones = db.prepare('SELECT count(*) FROM tombstones').pluck().get() as number;
        expect(totals).toEqual({ ...rows, tombstones });
        expect(
          db
            .prepare(
              `SELECT count(*) FROM messages m JOIN tombstones t
               ON m.recipient = t.recipient AND m.sender = t.sender AND m.message_id = t.message_id`,
            )
            .pluck()
            .get(),
        ).toBe(0);
        expect(db.prepare('SELECT count(*) FROM messages WHERE size != length(envelope)').pluck().get()).toBe(0);
      } finally {
        db.close();
      }

      const store = await SqliteOfflineStore.open(path, { limits: CRASH_LIMITS });
      try {
        // Every iteration printed so far, in this round or an earlier one.
        for (let i = 0; i <= last; i++) {
          const m = crashMessage(i);
          const ackPrinted = acksPrevious(i + 1) && i + 1 <= last;
          const ackInFlight = acksPrevious(i + 1) && i + 1 === last + 1;
          const got = await store.scan(
            m.recipient,
            { sender: m.sender, messageId: new Uint8Array(m.messageId.length) },
            10_000,
            0,
          );
          const found = got.find((g) => hex(g.messageId) === hex(m.messageId) && g.sender === m.sender);
          if (ackPrinted) {
            expect(found, `message ${i} was acknowledged`).toBeUndefined();
            expect(await store.put(m, i), `message ${i} is tombstoned`).toBe('duplicate');
          } else if (found === undefined) {
            expect(ackInFlight, `message ${i} was stored`).toBe(true);
            expect(await store.put(m, i)).toBe('duplicate');
          } else {
            expect(plain(found)).toEqual(plain(m));
          }
        }
        // Still fully usable.
        const extra = { ...crashMessage(0), recipient: `after-crash-${round}` };
        expect(await store.put(extra, 1)).toBe('stored');
        expect(await store.ack(extra.recipient, [crashRef(0)], 2)).toBe(1);
      } finally {
        await store.close();
      }
      next = last + 1;
    }
  }, 150_000);
});
