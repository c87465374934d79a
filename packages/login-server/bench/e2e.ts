/**
 * End to end over loopback TCP: the LoginServer (runner, channel driver, core, SQLite) in this thread,
 * LoginClients in worker threads (e2e-worker.ts), one connection per login. This thread runs nothing but
 * the server while the clients load it, so its event-loop delay is the server's alone.
 *
 * Every client connects from 127.0.0.1, while a real server sees one address per client: the bench
 * publishes a policy whose per-address bucket is as large as the policy bounds allow, so that the
 * per-address limit ([LOGIN-RATE-8]) does not throttle the bench (the core still takes a token per
 * request, so its cost is counted).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { createRealTransport, type Transport } from '@parley/net';
import { turnPacer } from '../src/server/pacer.js';
import { LoginServer } from '../src/server/runner.js';
import { SqliteStore } from '../src/store/sqlite.js';
import type { WorkerInput, WorkerOutput } from './e2e-worker.js';
import { type benchIdentity, type LoadContext, openCore, registrations, suite } from './load.js';
import { BlockingProfile, LoopDelayProbe, percentile } from './measure.js';

export interface E2eOptions {
  workers: number;
  clientsPerWorker: number;
  accounts: number;
  warmMs: number;
  durationMs: number;
  realLogins: number;
  progress: (s: string) => void;
}

export interface E2eResult {
  rate: number;
  p50: number;
  p99: number;
  /** Share of the window the server thread was busy (performance.eventLoopUtilization). */
  serverBusy: number;
  loopMax: number;
  loopP99: number;
  realLoginMs: number[];
  errors: string[];
}

const PASSWORD = 'bench password, not a secret';

export async function e2eLogins(
  identity: Awaited<ReturnType<typeof benchIdentity>>,
  o: E2eOptions,
): Promise<E2eResult> {
  const dir = mkdtempSync(join(tmpdir(), 'parley-bench-e2e-'));
  const real = createRealTransport();
  const transport: Transport = {
    ...real,
    clock: { now: () => Date.now(), setTimer: (d, f) => real.clock.setTimer(d, f) },
  };
  const store = new SqliteStore(join(dir, 'login.db'));
  const profile = new BlockingProfile();
  let server: LoginServer | undefined;
  try {
    const core = await openCore(store, identity.identity, profile);
    const published = await core.publishPolicy({
      version: core.policy.version + 1,
      issuedAt: Date.now(),
      rateLimits: { addressBucketCapacity: 1_000_000, addressRefillPerMinute: 6_000_000 },
    } as never);
    if (!published || core.limits.address.capacity !== 1_000_000) throw new Error('bench policy not in force');
    // Accounts, registered in process (the registrations figure is measured elsewhere).
    const setupProbe = new LoopDelayProbe();
    const ctx: LoadContext = {
      core,
      store,
      concurrency: 16,
      probe: setupProbe,
      profile,
      synchronousStore: true,
      prefix: `e${Date.now().toString(36)}n`,
    };
    const reg = await registrations(ctx, { minMs: 0, maxOps: o.accounts, batch: 64, deadlineMs: 120_000 }, o.accounts);
    await setupProbe.close();

    server = new LoginServer({ transport, core, suite, listen: { address: '127.0.0.1', port: 0 }, pace: turnPacer() });
    const address = await server.start();
    o.progress(
      `e2e: ${o.workers} worker thread(s) x ${o.clientsPerWorker} clients over ${reg.accounts.length} accounts, ${address.host}:${address.port} …`,
    );
    const workers = Array.from({ length: o.workers }, (_, index) => {
      const input: WorkerInput = {
        index,
        server: address,
        trustAnchor: identity.rootKey,
        usernames: reg.accounts.map((a) => a.username),
        password: PASSWORD,
        clients: o.clientsPerWorker,
        warmMs: o.warmMs,
        durationMs: o.durationMs,
        realLogins: index === 0 ? o.realLogins : 0,
      };
      const w = new Worker(new URL('./e2e-worker.js', import.meta.url), { workerData: input });
      return new Promise<WorkerOutput>((resolve, reject) => {
        w.once('message', (m: WorkerOutput) => {
          resolve(m);
          void w.terminate();
        });
        w.once('error', reject);
      });
    });
    // The measured window, on this side: event-loop delay and utilisation of the server thread.
    await new Promise((r) => setTimeout(r, o.warmMs));
    const probe = new LoopDelayProbe();
    probe.start('e2e login');
    const elu0 = performance.eventLoopUtilization();
    await new Promise((r) => setTimeout(r, o.durationMs));
    const elu = performance.eventLoopUtilization(elu0);
    probe.stop();
    await probe.close();
    const outs = await Promise.all(workers);
    const latencies = outs.flatMap((x) => x.latencies);
    return {
      rate: (outs.reduce((n, x) => n + x.count, 0) * 1000) / o.durationMs,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      serverBusy: elu.utilization,
      loopMax: probe.max,
      loopP99: probe.p99,
      realLoginMs: outs.flatMap((x) => x.realLoginMs),
      errors: outs.flatMap((x) => x.errors),
    };
  } finally {
    server?.close();
    real.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
