/**
 * The directory and placement alone (spec/07-supernode.md §4, §6), no network, no verification: the
 * ceiling under the system's target of 20,000 lookups/s with cached verification over real TCP.
 *
 *   supernode.directory.lookup.rate       DirectoryTable.lookup of held names, 100,000 users, 1-3 devices
 *   supernode.directory.lookupMiss.rate   lookups of names not held
 *   supernode.directory.offer.rate        refreshes (a higher sequence replacing a held record)
 *   supernode.directory.dropSerials1000.ms   dropping the records of 1,000 newly revoked serials
 *   supernode.directory.dropRevokedScan.ms   the same by predicate over every held serial
 *   supernode.directory.sweep.*           expiring all records in chunks of DEFAULT_SWEEP_BUDGET (records/s, p99 and longest chunk)
 *   supernode.placement.cached.rate       SupernodeView.responsibleFor of a cached name, 1,000 supernodes
 *   supernode.placement.uncached.rate     the same with every name new (n SHA-256 per name)
 *   supernode.handoff.plan.rate           planHandoff after one supernode joined 1,000, names placed before
 *
 *   node dist/bench/directory.js [--quick] [--json]     writes bench/results/supernode-directory.json
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parley } from '@parley/wire';
import { DirectoryTable, type PresenceFacts } from '../src/directory/table.js';
import { planHandoff } from '../src/overlay/handoff.js';
import { SupernodeView } from '../src/overlay/view.js';
import { type Figure, machine, progress } from './figure.js';

export type { Figure };

const USERS = 100_000;
const ENVELOPE_BYTES = 600;
const MINUTE = 60_000;

/** xorshift32: a fixed sequence of indices, so every run does the same work. */
function indices(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** Runs `op` in batches for about `ms` and returns operations per second. */
function rate(ms: number, batch: number, op: (i: number) => void): number {
  let done = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    for (let i = 0; i < batch; i++) op(done + i);
    done += batch;
    now = performance.now();
  }
  return (done * 1000) / (now - start);
}

function deviceId(n: number): Uint8Array {
  const id = new Uint8Array(16);
  id[0] = n;
  return id;
}

export function directoryFigures(quick: boolean): Figure[] {
  const phaseMs = quick ? 300 : 2000;
  const users = quick ? 20_000 : USERS;
  const figures: Figure[] = [];
  const fig = (id: string, value: number, unit: string, higherIsBetter: boolean, target?: Figure['target']): void => {
    figures.push({ id, value, unit, higherIsBetter, ...(target ? { target } : {}), machine });
    progress(`${id}: ${Math.round(value).toLocaleString('en-US')} ${unit}`);
  };

  // ---- the table ------------------------------------------------------------------------------------
  const names = Array.from({ length: users }, (_, i) => `user${i.toString(36)}`);
  const pool = new Uint8Array(users * 3 * ENVELOPE_BYTES);
  for (let i = 0; i < pool.length; i += 4096) pool[i] = i & 0xff;
  const table = new DirectoryTable({ maxUsers: users, maxRecords: users * 3, maxBytes: 1024 * 1024 * 1024 });
  const base: Omit<PresenceFacts, 'username' | 'deviceId' | 'sequence' | 'envelope'> = {
    issuedAt: 0,
    expiresAt: 10 * MINUTE,
    status: parley.v1.PresenceStatus.PRESENCE_STATUS_ONLINE,
    homeSupernode: new Uint8Array(32),
    certificateSerial: 0,
    certificateNotAfter: 24 * 60 * MINUTE,
  };
  let slot = 0;
  const devicesOf = (u: number): number => 1 + (u % 3);
  for (let u = 0; u < users; u++) {
    for (let d = 0; d < devicesOf(u); d++) {
      const envelope = pool.subarray(slot * ENVELOPE_BYTES, (slot + 1) * ENVELOPE_BYTES);
      slot++;
      const certificateSerial = u * 4 + d + 1;
      table.offer({ ...base, username: names[u]!, deviceId: deviceId(d), sequence: 1, certificateSerial, envelope }, 0);
    }
  }
  const st = table.stats();
  progress(`table: ${st.users.toLocaleString('en-US')} users, ${st.records.toLocaleString('en-US')} records`);

  const next = indices(0x5eed);
  let returned = 0;
  const lookups = rate(phaseMs, 1000, () => {
    returned += table.lookup(names[next() % users]!, MINUTE).length;
  });
  fig('supernode.directory.lookup.rate', lookups, 'lookups/s', true, {
    value: 20_000,
    note: 'the system target over TCP with cached verification; this is the table alone',
  });
  const misses = Array.from({ length: 4096 }, (_, i) => `absent${i}`);
  const missRate = rate(phaseMs, 1000, (i) => {
    returned += table.lookup(misses[i & 4095]!, MINUTE).length;
  });
  fig('supernode.directory.lookupMiss.rate', missRate, 'lookups/s', true);

  let sequence = 1;
  const refresh = pool.subarray(0, ENVELOPE_BYTES);
  const offers = rate(phaseMs, 500, (i) => {
    const u = i % users;
    if (u === 0) sequence++;
    table.offer(
      {
        ...base,
        username: names[u]!,
        deviceId: deviceId(0),
        sequence,
        expiresAt: 12 * MINUTE,
        certificateSerial: u * 4 + 1,
        envelope: refresh,
      },
      MINUTE,
    );
  });
  fig('supernode.directory.offer.rate', offers, 'offers/s', true);

  // A revocation list update (DIR-HOLD-8): the serials it added (1,000 of them, none held but one), and a
  // scan of every held serial by predicate.
  const added = Array.from({ length: 1000 }, (_, i) => 1_000_000 + i);
  added[500] = 1;
  let revokeStart = performance.now();
  const revoked = table.dropSerials(added);
  fig('supernode.directory.dropSerials1000.ms', performance.now() - revokeStart, 'ms', false);
  revokeStart = performance.now();
  table.dropRevoked((serial) => serial === -1);
  fig('supernode.directory.dropRevokedScan.ms', performance.now() - revokeStart, 'ms', false);
  progress(`(revoked ${revoked})`);

  let longest = 0;
  let swept = 0;
  const chunks: number[] = [];
  (globalThis as { gc?: () => void }).gc?.();
  const sweepStart = performance.now();
  for (;;) {
    const t0 = performance.now();
    const n = table.sweep(13 * MINUTE);
    const dt = performance.now() - t0;
    chunks.push(dt);
    longest = Math.max(longest, dt);
    if (n === 0 && table.stats().records === 0) break;
    swept += n;
    if (n === 0 && table.nextExpiry() === undefined) break;
  }
  const sweepMs = performance.now() - sweepStart;
  fig('supernode.directory.sweep.rate', (swept * 1000) / sweepMs, 'records/s', true);
  chunks.sort((a, b) => a - b);
  fig('supernode.directory.sweep.p99ChunkMs', chunks[Math.floor(chunks.length * 0.99)] ?? 0, 'ms', false);
  fig('supernode.directory.sweep.longestChunkMs', longest, 'ms', false, {
    value: 10,
    note: 'no single piece of work blocks the event loop for more than 10 ms',
  });

  // ---- placement ------------------------------------------------------------------------------------
  const keyIds = Array.from(
    { length: 1000 },
    (_, i) => new Uint8Array(createHash('sha256').update(`bench-supernode/${i}`).digest()),
  );
  // Placement keys as a login server lists them are SHA-256 outputs (06 LOGIN-LIST-8); any fixed 32 bytes do here.
  const placementOf = (k: Uint8Array): Uint8Array =>
    new Uint8Array(createHash('sha256').update('placement/').update(k).digest());
  const placementKeys = keyIds.map(placementOf);
  const placedEntry = (keyId: Uint8Array) => ({ keyId, placementKey: placementOf(keyId) });
  const cachedView = new SupernodeView({ epoch: 1, keyIds, placementKeys, replicationFactor: 3, cacheSize: 65_536 });
  const hot = names.slice(0, 2000);
  for (const n of hot) cachedView.responsibleFor(n);
  const cached = rate(phaseMs, 1000, (i) => {
    returned += cachedView.isResponsible(hot[i % hot.length]!, keyIds[0]) ? 1 : 0;
  });
  fig('supernode.placement.cached.rate', cached, 'names/s', true);
  const coldView = new SupernodeView({ epoch: 1, keyIds, placementKeys, replicationFactor: 3, cacheSize: 1 });
  const uncached = rate(phaseMs, 10, (i) => {
    returned += coldView.responsibleFor(names[i % users]!).length;
  });
  fig('supernode.placement.uncached.rate', uncached, 'names/s', true);

  // Handoff planning after one supernode joined (DIR-HAND-1): names placed under the old view (as held
  // names are, by the publishes that brought them) are derived, one hash each.
  const held = names.slice(0, quick ? 300 : 1000);
  const self = keyIds[0]!;
  const before = new SupernodeView({ epoch: 1, keyIds, placementKeys, self, replicationFactor: 3 });
  for (const n of held) before.isResponsible(n);
  const joined = new Uint8Array(createHash('sha256').update('bench-supernode/joined').digest());
  const after = before.next({ version: 2, entries: [...keyIds, joined].map(placedEntry) });
  const planStart = performance.now();
  const plan = planHandoff(before, after, held);
  fig('supernode.handoff.plan.rate', (held.length * 1000) / (performance.now() - planStart), 'names/s', true);
  progress(`(plan: ${plan.sends.size} targets, ${plan.drop.length} to drop)`);
  progress(`(checksum ${returned})`);
  return figures;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const argv = process.argv.slice(2);
  const figures = directoryFigures(argv.includes('--quick'));
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
  const out = join(root, 'bench/results/supernode-directory.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(figures, null, 2)}\n`);
  if (argv.includes('--json')) console.log(JSON.stringify(figures, null, 2));
  else progress(`wrote ${out}`);
}
