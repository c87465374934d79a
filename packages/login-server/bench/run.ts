/**
 * `pnpm bench` for @parley/login-server (DESIGN.md §12; issue: "logins/s and certificate issuances/s on
 * SQLite and on PostgreSQL with p50/p99 latency, and the worst event-loop delay under load (no single
 * piece of work may block it for more than 10 ms)"). Writes bench/results/login-server.json at the
 * repository root and prints a table. On each store (SQLite always; PostgreSQL when PARLEY_PG_URL is set
 * or PostgreSQL 15 is installed and we are root, else skipped with a note):
 *
 *   - login.register.*: registrations/s, RegisterStart + RegisterFinish handled by the core, p50/p99 of each;
 *   - login.login.*: complete logins/s, LoginStart + LoginFinish with the store's writes (failure counter
 *     set and cleared, certificate recorded) and the certificate signed, p50/p99 of each request; peer:
 *     raw @serenity-kit/opaque server startLogin + finishLogin/s, the ceiling (login.opaque.ceiling);
 *   - login.cert.*: certificate issuances/s through RenewCertificate, p50/p99; peer: the store's
 *     issueCertificate alone (login.store.issue.rate);
 *   - login.eventLoop.*: perf_hooks.monitorEventLoopDelay during the load phases, max (target <= 10 ms)
 *     and the worst phase's p99, at the stated concurrency and with one request in flight (.serial);
 *     login.block.longest: the longest single synchronous piece of work seen (the blocking profile,
 *     printed in full).
 *
 * These are server-side figures at a stated concurrency, the client's work kept out of the timed
 * phases (load.ts, client.ts). Then end to end (e2e.ts): LoginServer over loopback TCP on SQLite with
 * LoginClients in worker threads (login.e2e.*), and one complete LoginClient.login with the real Argon2id.
 *
 *   node --expose-gc dist/bench/run.js [--quick] [--json] [--concurrency N]
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PostgresStore } from '../src/store/postgres.js';
import { SqliteStore } from '../src/store/sqlite.js';
import type { Store } from '../src/store/store.js';
import { pgAvailability, startPg } from '../src/testing/pg-cluster.js';
import { opaqueCeiling } from './ceiling.js';
import { e2eLogins } from './e2e.js';
import {
  type Account,
  benchIdentity,
  type LoadContext,
  logins,
  openCore,
  rawIssuance,
  registrations,
  renewals,
  type SectionResult,
} from './load.js';
import {
  BlockingProfile,
  type BlockingRow,
  type Bounds,
  type Figure,
  LoopDelayProbe,
  machine,
  percentile,
  progress,
} from './measure.js';

const argv = process.argv.slice(2);
if (argv.includes('--help')) {
  console.log(
    [
      'usage: node --expose-gc dist/bench/run.js [--quick] [--json] [--concurrency N]',
      '',
      '  --quick          short bounded runs, for a smoke test',
      '  --json           print the figures as JSON (progress stays on stderr)',
      '  --concurrency N  requests in flight against the server (default 16)',
      '',
      'PostgreSQL figures need PARLEY_PG_URL (a user with CREATEDB) or PostgreSQL 15 installed and root.',
      '',
      'examples:',
      '  pnpm bench --filter login-server      # from the repository root',
      '  node --expose-gc packages/login-server/dist/bench/run.js --quick',
    ].join('\n'),
  );
  process.exit(0);
}
const quick = argv.includes('--quick');
const json = argv.includes('--json');
const concurrencyArg = argv.includes('--concurrency') ? Number(argv[argv.indexOf('--concurrency') + 1]) : 16;
if (!Number.isInteger(concurrencyArg) || concurrencyArg < 1 || concurrencyArg > 1024) {
  console.error('--concurrency must be an integer from 1 to 1024');
  process.exit(2);
}
const concurrency = concurrencyArg;
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
if ((globalThis as { gc?: unknown }).gc === undefined) {
  progress('note: run with --expose-gc so that client garbage is collected outside the timed phases');
}

/** Each section stops at minMs of timed server work, maxOps operations or deadlineMs of wall time. */
const bounds: Bounds = quick
  ? { minMs: 300, maxOps: 512, batch: Math.max(32, concurrency), deadlineMs: 20_000 }
  : { minMs: 3_000, maxOps: 20_000, batch: Math.max(256, concurrency), deadlineMs: 90_000 };
const LOOP_TARGET_MS = 10;

const notes: string[] = [];
const figures: Figure[] = [];
const profiles: { kind: string; rows: BlockingRow[] }[] = [];

const rate = (r: SectionResult) => (r.ops * 1000) / r.timedMs;
const ms = (id: string, value: number, unit = 'ms'): Figure => ({ id, value, unit, higherIsBetter: false, machine });

interface StoreSpec {
  kind: 'sqlite' | 'postgres';
  description: string;
  open(): Store;
  cleanup(): Promise<void>;
}

async function measureStore(spec: StoreSpec, identity: Awaited<ReturnType<typeof benchIdentity>>, ceiling: number) {
  const { kind } = spec;
  const profile = new BlockingProfile();
  const probe = new LoopDelayProbe(profile);
  const store = spec.open();
  const core = await openCore(store, identity.identity, profile);
  const tag = randomBytes(3).toString('hex');
  const ctx: LoadContext = {
    core,
    store,
    concurrency,
    probe,
    profile,
    synchronousStore: kind === 'sqlite',
    prefix: `b${kind}${tag}n`,
  };
  try {
    // Warm-up through the same paths (JIT, prepared statements, pooled connections), with its own probe
    // and profile, thrown away.
    progress(`${kind}: ${spec.description}; warm-up …`);
    const warmProfile = new BlockingProfile();
    const warmProbe = new LoopDelayProbe();
    const warmCore = await openCore(store, identity.identity, warmProfile);
    const warm: LoadContext = {
      ...ctx,
      core: warmCore,
      probe: warmProbe,
      profile: warmProfile,
      prefix: `w${kind}${tag}n`,
    };
    const warmBounds: Bounds = { minMs: 1, maxOps: bounds.batch, batch: bounds.batch, deadlineMs: 60_000 };
    const wr = await registrations(warm, warmBounds, bounds.batch);
    const wl = await logins(warm, warmBounds, wr.accounts);
    await renewals(warm, warmBounds, wl.devices, identity.rootKey);
    await rawIssuance(warm, { ...warmBounds, maxOps: concurrency }, wl.devices[0]!);
    await warmProbe.close();

    progress(`${kind}: registrations (${concurrency} concurrent) …`);
    const reg = await registrations(ctx, bounds, bounds.batch);
    const accounts: Account[] = [...reg.accounts, ...wr.accounts];
    progress(`${kind}: logins over ${accounts.length} accounts (${concurrency} concurrent) …`);
    const log = await logins(ctx, bounds, accounts);
    progress(`${kind}: certificate renewals (${concurrency} concurrent) …`);
    const ren = await renewals(ctx, bounds, log.devices, identity.rootKey);
    progress(`${kind}: store.issueCertificate alone (${concurrency} concurrent) …`);
    const raw = await rawIssuance(ctx, bounds, log.devices[0]!);
    await probe.close(); // its last GC entries are delivered before the profile is read

    // One request in flight: each turn of the event loop then runs at most one request's piece of work,
    // so the loop delay measures the longest single piece (with 16 in flight a turn may run 16).
    progress(`${kind}: registrations, logins and renewals one at a time (event-loop delay per piece) …`);
    const serialProbe = new LoopDelayProbe(profile);
    const serial: LoadContext = { ...ctx, concurrency: 1, probe: serialProbe, prefix: `s${kind}${tag}n` };
    const serialBounds: Bounds = { ...bounds, minMs: bounds.minMs / 3, batch: 64, maxOps: 512 };
    await registrations(serial, serialBounds, 64);
    await logins(serial, serialBounds, accounts);
    await renewals(serial, serialBounds, log.devices, identity.rootKey);
    await serialProbe.close();

    const c = `${concurrency} concurrent`;
    figures.push({
      id: `login.login.rate.${kind}`,
      value: rate(log),
      unit: `logins/s (server-side: LoginStart + LoginFinish, ${c})`,
      higherIsBetter: true,
      peer: { name: '@serenity-kit/opaque server startLogin+finishLogin alone, 1 core', value: ceiling },
      machine,
    });
    for (const [req, name] of [
      ['LoginStart', 'start'],
      ['LoginFinish', 'finish'],
    ] as const) {
      figures.push(ms(`login.login.${name}.p50.${kind}`, percentile(log.latencies[req]!, 50), `ms (${req}, ${c})`));
      figures.push(ms(`login.login.${name}.p99.${kind}`, percentile(log.latencies[req]!, 99), `ms (${req}, ${c})`));
    }
    figures.push({
      id: `login.cert.rate.${kind}`,
      value: rate(ren),
      unit: `issuances/s (RenewCertificate, ${c})`,
      higherIsBetter: true,
      peer: { name: `${kind} store.issueCertificate alone (no signing, no protocol)`, value: rate(raw) },
      machine,
    });
    figures.push(ms(`login.cert.p50.${kind}`, percentile(ren.latencies.RenewCertificate!, 50), `ms (${c})`));
    figures.push(ms(`login.cert.p99.${kind}`, percentile(ren.latencies.RenewCertificate!, 99), `ms (${c})`));
    figures.push({
      id: `login.store.issue.rate.${kind}`,
      value: rate(raw),
      unit: `issuances/s (store.issueCertificate alone, ${c})`,
      higherIsBetter: true,
      machine,
    });
    figures.push({
      id: `login.register.rate.${kind}`,
      value: rate(reg),
      unit: `registrations/s (server-side: RegisterStart + RegisterFinish, ${c})`,
      higherIsBetter: true,
      machine,
    });
    for (const [req, name] of [
      ['RegisterStart', 'start'],
      ['RegisterFinish', 'finish'],
    ] as const) {
      figures.push(ms(`login.register.${name}.p50.${kind}`, percentile(reg.latencies[req]!, 50), `ms (${req}, ${c})`));
      figures.push(ms(`login.register.${name}.p99.${kind}`, percentile(reg.latencies[req]!, 99), `ms (${req}, ${c})`));
    }
    figures.push({
      ...ms(`login.eventLoop.max.${kind}`, probe.max, `ms (worst: ${probe.maxPhase} phase, ${c})`),
      target: { value: LOOP_TARGET_MS, note: '<= 10 ms' },
    });
    figures.push(ms(`login.eventLoop.p99.${kind}`, probe.p99, `ms (worst phase's p99, ${c})`));
    figures.push({
      ...ms(`login.eventLoop.max.serial.${kind}`, serialProbe.max, `ms (worst: ${serialProbe.maxPhase}, 1 in flight)`),
      target: { value: LOOP_TARGET_MS, note: '<= 10 ms' },
    });
    const rows = [...profile.rows(), ...opaqueRows].sort((a, b) => b.max - a.max);
    profiles.push({ kind, rows });
    const longest = rows[0]!;
    figures.push({
      ...ms(`login.block.longest.${kind}`, longest.max, `ms (${longest.label})`),
      target: { value: LOOP_TARGET_MS, note: '<= 10 ms for any single piece of work' },
    });
    progress(
      `${kind}: ${rate(log).toFixed(0)} logins/s, ${rate(ren).toFixed(0)} issuances/s, ${rate(reg).toFixed(0)} registrations/s; loop delay max ${probe.max.toFixed(1)} ms`,
    );
  } finally {
    await probe.close();
    await store.close();
    await spec.cleanup();
  }
}

let opaqueRows: BlockingRow[] = [];

async function main() {
  const identity = await benchIdentity();
  const loadBefore = loadavg()[0]!;

  progress('OPAQUE ceiling: raw @serenity-kit/opaque server startLogin + finishLogin …');
  const opaqueProfile = new BlockingProfile();
  const ceiling = opaqueCeiling(identity.identity.opaqueSetup, bounds, opaqueProfile);
  opaqueRows = opaqueProfile.rows().map((r) => ({ ...r, label: `${r.label}, measured alone` }));
  figures.push({
    id: 'login.opaque.ceiling',
    value: ceiling,
    unit: 'logins/s (raw server startLogin+finishLogin, 1 core)',
    higherIsBetter: true,
    machine,
  });

  const dir = mkdtempSync(join(tmpdir(), 'parley-bench-sqlite-'));
  await measureStore(
    {
      kind: 'sqlite',
      description: `SQLite file in ${dir} (WAL, synchronous = FULL)`,
      open: () => new SqliteStore(join(dir, 'login.db')),
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    },
    identity,
    ceiling,
  );

  const pg = pgAvailability();
  if (!pg.ok) {
    notes.push(`PostgreSQL figures skipped: ${pg.reason}`);
    progress(`postgres: skipped (${pg.reason})`);
  } else {
    progress('postgres: starting …');
    const server = await startPg({ fsync: true });
    const db = await server.createDatabase('bench');
    await measureStore(
      {
        kind: 'postgres',
        description: `${server.description} (fsync on)`,
        open: () => new PostgresStore({ connectionString: db.url }),
        cleanup: async () => {
          await db.drop();
          await server.stop();
        },
      },
      identity,
      ceiling,
    );
  }
  const workers = Math.max(1, cpus().length - 1);
  const perWorker = Math.ceil(concurrency / workers);
  progress('e2e: LoginServer over loopback TCP (SQLite), LoginClients in worker threads …');
  const e2e = await e2eLogins(identity, {
    workers,
    clientsPerWorker: perWorker,
    accounts: quick ? 64 : 512,
    warmMs: quick ? 300 : 1_000,
    durationMs: quick ? 1_000 : 5_000,
    realLogins: quick ? 1 : 3,
    progress,
  });
  for (const e of e2e.errors) notes.push(`e2e client error: ${e}`);
  const sqliteRate = figures.find((f) => f.id === 'login.login.rate.sqlite')?.value;
  const e2eClients = `${workers} worker thread${workers > 1 ? 's' : ''} x ${perWorker} clients`;
  figures.push({
    id: 'login.e2e.rate.sqlite',
    value: e2e.rate,
    unit: `logins/s (loopback TCP: handshake + LoginStart + LoginFinish, ${e2eClients}; server thread ${Math.round(e2e.serverBusy * 100)}% busy)`,
    higherIsBetter: true,
    ...(sqliteRate !== undefined ? { peer: { name: 'core alone (login.login.rate.sqlite)', value: sqliteRate } } : {}),
    machine,
  });
  figures.push(ms('login.e2e.p50.sqlite', e2e.p50, `ms (connect to certificate, ${e2eClients})`));
  figures.push(ms('login.e2e.p99.sqlite', e2e.p99, `ms (connect to certificate, ${e2eClients})`));
  figures.push({
    ...ms('login.e2e.eventLoop.max.sqlite', e2e.loopMax, `ms (server thread, ${e2eClients})`),
    target: { value: LOOP_TARGET_MS, note: '<= 10 ms' },
  });
  figures.push(ms('login.e2e.eventLoop.p99.sqlite', e2e.loopP99, `ms (server thread, ${e2eClients})`));
  if (e2e.realLoginMs.length > 0) {
    figures.push(
      ms(
        'login.e2e.realLogin.p50',
        percentile(e2e.realLoginMs, 50),
        `ms (one LoginClient.login with Argon2id 64 MiB/3 passes, fresh connection; ${e2e.realLoginMs.length} runs)`,
      ),
    );
  }

  const loadAfter = loadavg()[0]!;
  notes.push(
    `1-minute load average ${loadBefore.toFixed(2)} at the start, ${loadAfter.toFixed(2)} at the end, on ${cpus().length} vCPUs: ` +
      'other processes running meanwhile slow every figure (all are wall-clock)',
  );

  const out = join(root, 'bench/results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'login-server.json'), `${JSON.stringify(figures, null, 2)}\n`);
  if (json) {
    console.log(JSON.stringify(figures, null, 2));
    for (const n of notes) progress(`note: ${n}`);
    return;
  }
  const fmt = (v: number) => (Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(2));
  console.log(`\n@parley/login-server on ${machine}${quick ? ' (--quick)' : ''}\n`);
  console.log('| figure | value | peer (same run) | target |\n|---|---|---|---|');
  for (const f of figures) {
    const t = f.target;
    const met = t ? ((f.higherIsBetter ? f.value >= t.value : f.value <= t.value) ? ' met' : ' MISSED') : '';
    const peer = f.peer ? `${fmt(f.peer.value)} (${f.peer.name})` : '';
    console.log(`| ${f.id} | ${fmt(f.value)} ${f.unit} | ${peer} | ${t ? `${fmt(t.value)} ${t.note}${met}` : ''} |`);
  }
  for (const p of profiles) {
    console.log(
      `\nLongest synchronous pieces of work, ${p.kind}: max (the process's CPU time, all threads, over that sample), p99, samples:\n`,
    );
    for (const r of p.rows.slice(0, 10)) {
      console.log(
        `  ${fmt(r.max).padStart(8)} ms (${r.maxCpu === undefined ? '  n/a' : fmt(r.maxCpu).padStart(5)})  ${fmt(r.p99).padStart(8)} ms  ${String(r.count).padStart(6)}  ${r.label}`,
      );
    }
  }
  for (const n of notes) console.log(`\nnote: ${n}`);
  console.log(`\nwrote ${join(out, 'login-server.json')}`);
}

await main();
