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
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteOfflineStore } from '../../src/offline/index.js';
import { acksPrevious, CRASH_LIMITS, crashMessage, crashRef } from './fixtures/crash-data.js';
import { plain } from './model.js';

// The workspace's loader for running TypeScript sources in a child process (login-server owns it).
const LOADER = pathToFileURL(fileURLToPath(new URL('../../../../scripts/ts-loader.mjs', import.meta.url))).href;
const WRITER = fileURLToPath(new URL('./fixtures/crash-writer.ts', import.meta.url));

/** How many acknowledgements each round waits for before the kill: seeded from fast-check's global seed. */
function killPoints(rounds: number): number[] {
  let x = Number(fc.readConfigureGlobal().seed ?? 1) >>> 0 || 1;
  return Array.from({ length: rounds }, () => {
    x = (Math.imul(x, 1_103_515_245) + 12_345) >>> 0;
    return 30 + (x % 150);
  });
}

/** Runs the writer from `start` until it has printed `killAfter` iterations, then SIGKILLs it. */
function runUntilKilled(path: string, start: number, killAfter: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, ['--import', LOADER, WRITER, path, String(start)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const printed: number[] = [];
    let stderr = '';
    let killed = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the writer did not reach ${killAfter} iterations in time: ${stderr}`));
    }, 50_000);
    child.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4_000);
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line === 'ready') return;
      printed.push(Number(line));
      if (printed.length >= killAfter && !killed) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL' && killed) resolve(printed);
      else reject(new Error(`the writer exited by itself (code ${code}, signal ${signal}): ${stderr}`));
    });
  });
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('crash safety: SQLite offline store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-offline-crash-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('[STORE-PERSIST-1] [STORE-PERSIST-5] a writer SIGKILLed mid-burst loses nothing it completed and leaves no torn state (3 rounds)', async () => {
    const path = join(dir, 'offline.db');
    let next = 0;
    for (const [round, killAfter] of killPoints(3).entries()) {
      const printed = await runUntilKilled(path, next, killAfter);
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
