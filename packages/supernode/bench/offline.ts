/**
 * Offline-store figures (spec/07 §7-8): stores, fetch + acknowledge cycles and prunes per second, and the
 * latency of one store call, for MemoryOfflineStore and SqliteOfflineStore (a file in the temporary
 * directory, WAL, synchronous = FULL: every store and acknowledgement waits for an fsync, on the caller's
 * thread, which is what the figures of the SQLite store measure).
 *
 *   pnpm exec tsc -b && node dist/bench/offline.js [messages]     (default 5,000)
 *
 * Messages are 1 KiB envelopes from 50 senders to 500 recipients; the data is deterministic.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  MemoryOfflineStore,
  type OfflineMessageInput,
  type OfflineStore,
  SqliteOfflineStore,
} from '../src/offline/index.js';

const N = Number(process.argv[2] ?? '5000');
const RECIPIENTS = 500;
const SENDERS = 50;
const LIMITS = { maxTotalMessages: 10_000_000, maxTotalBytes: 2 ** 40 };

function message(i: number, expiresAt: number): OfflineMessageInput {
  const messageId = new Uint8Array(16);
  new DataView(messageId.buffer).setUint32(0, i);
  const envelope = new Uint8Array(1_024);
  envelope.fill(i & 0xff);
  return {
    messageId,
    sender: `sender-${i % SENDERS}`,
    senderDeviceId: new Uint8Array(16),
    recipient: `recipient-${i % RECIPIENTS}`,
    createdAt: i,
    expiresAt,
    envelope,
  };
}

const percentile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;

async function measure(name: string, store: OfflineStore): Promise<Record<string, string>> {
  const latencies: number[] = [];
  let t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const t = performance.now();
    await store.put(message(i, 1_000_000), 0);
    latencies.push(performance.now() - t);
  }
  const putSeconds = (performance.now() - t0) / 1_000;
  latencies.sort((a, b) => a - b);

  t0 = performance.now();
  let delivered = 0;
  for (let r = 0; r < RECIPIENTS; r++) {
    const recipient = `recipient-${r}`;
    for (;;) {
      const { messages, more } = await store.fetch(recipient, 64, 1);
      delivered += await store.ack(
        recipient,
        messages.map((m) => ({ sender: m.sender, messageId: m.messageId })),
        1,
      );
      if (!more) break;
    }
  }
  const deliverSeconds = (performance.now() - t0) / 1_000;
  if (delivered !== N) throw new Error(`${name}: delivered ${delivered} of ${N}`);

  t0 = performance.now();
  const pruned = await store.prune(2_000_000);
  const pruneMs = performance.now() - t0;
  if (pruned.tombstones !== N) throw new Error(`${name}: pruned ${pruned.tombstones} tombstones of ${N}`);
  return {
    store: name,
    'stores/s': (N / putSeconds).toFixed(0),
    'store p50 ms': percentile(latencies, 0.5).toFixed(3),
    'store p99 ms': percentile(latencies, 0.99).toFixed(3),
    'delivered (fetch+ack)/s': (N / deliverSeconds).toFixed(0),
    [`prune ${N} tombstones ms`]: pruneMs.toFixed(1),
  };
}

const dir = mkdtempSync(join(tmpdir(), 'parley-offline-bench-'));
try {
  const rows = [await measure('memory', new MemoryOfflineStore({ limits: LIMITS }))];
  const sqlite = await SqliteOfflineStore.open(join(dir, 'offline.db'), { limits: LIMITS });
  try {
    rows.push(await measure('sqlite (WAL, FULL)', sqlite));
  } finally {
    await sqlite.close();
  }
  console.table(rows);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
