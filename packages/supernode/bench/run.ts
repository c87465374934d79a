/**
 * `pnpm bench` for the supernode runner (DESIGN.md §12; issue targets: 10,000 attached nodes per process
 * in at most 300 MB, and 20,000 lookups/s with cached verification). One Supernode in this process on
 * real TCP + Noise on loopback; the nodes (SupernodeClient, keep-alive on) in child processes
 * (bench/clients.ts), so that the memory measured is the supernode's alone:
 *
 *   supernode.attach.nodes          nodes attached at once (target 10,000)
 *   supernode.attach.rate           attachments/s while they connect (handshake + Attach, both sides on 2 vCPU)
 *   supernode.attach.bytesPerNode   (heap + external + array buffers) after - before, per attached node
 *   supernode.attach.rssPerNode     resident set size after - before, per attached node
 *   supernode.attach.rssTotal       the supernode process's resident set with every node attached (target 300 MB)
 *   supernode.lookup.rate           LookupPresence answered/s over the nodes' channels (closed loop), records
 *                                   held here (k = 1), no signature checked (cached at publish)
 *   supernode.lookup.cpuPerLookup   the supernode process's CPU time per lookup answered, us (the server's
 *                                   own ceiling: 1e6 / this per core, whatever the clients sharing the machine manage)
 *   supernode.lookup.p50 / p99      latency seen by the nodes, ms
 *
 *   node --expose-gc dist/bench/run.js [--quick] [--nodes N] [--json]
 *   writes bench/results/supernode.json at the repository root
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRealTransport } from '@parley/net';
import {
  createNetworkKeys,
  derivePlacementKey,
  generateSigningKey,
  issueCertificate,
  keyId,
  nodeCrypto,
  PresenceStatus,
  Role,
  signPresenceRecord,
  systemRandom,
  verifyPresenceEnvelope,
} from '@parley/wire';
import { Supernode } from '../src/runner/supernode.js';
import type { ClientsInput, LookupsInput } from './clients.js';
import { type Figure, machine, progress } from './figure.js';

const argv = process.argv.slice(2);
if (argv.includes('--help')) {
  console.log('usage: node --expose-gc dist/bench/run.js [--quick] [--nodes N] [--json]');
  process.exit(0);
}
const quick = argv.includes('--quick');
const nodes = argv.includes('--nodes') ? Number(argv[argv.indexOf('--nodes') + 1]) : quick ? 1_000 : 10_000;
const CHILDREN = 2;
const suite = nodeCrypto;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const gc = () => (globalThis as { gc?: () => void }).gc?.();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const percentile = (v: number[], q: number) => {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((q / 100) * s.length) - 1))] ?? Number.NaN;
};
function memory() {
  gc();
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed + m.external + m.arrayBuffers };
}

async function main(): Promise<Figure[]> {
  const now = Date.now();
  const keys = createNetworkKeys(suite, systemRandom, {
    subject: 'login.bench',
    notBefore: now - 3_600_000,
    notAfter: now + 30 * 86_400_000,
  });
  const snKey = generateSigningKey(suite, systemRandom);
  const snCert = issueCertificate(suite, keys.login, {
    subject: 'sn.bench',
    subjectKey: snKey.publicKey,
    deviceId: new Uint8Array(16).fill(7),
    role: Role.ROLE_SUPERNODE,
    serial: 1,
    notBefore: now - 3_600_000,
    notAfter: now + 6 * 3_600_000,
  });
  const real = createRealTransport();
  const transport = { ...real, clock: { now: () => Date.now(), setTimer: real.clock.setTimer.bind(real.clock) } };
  const sn = new Supernode({
    transport,
    suite,
    identity: { chain: [snCert, keys.loginCertificate], seed: snKey.seed },
    trustAnchors: [keys.root.publicKey],
    listen: { address: '127.0.0.1', port: 0 },
    limits: {
      capacity: nodes + 100,
      maxConnections: nodes + 200,
      maxConnectionsPerAddress: nodes + 200,
      maxPacketsPerSecond: 100_000,
      maxPendingPerChannel: 64,
    },
  });
  const address = await sn.start();
  sn.state.setList({
    epoch: 1,
    issuedAtMs: now,
    expiresAtMs: now + 3_600_000,
    entries: [
      {
        keyId: sn.keyId,
        placementKey: derivePlacementKey(suite, keys.login, sn.keyId),
        endpoints: [{ protocol: 2, address: Uint8Array.of(127, 0, 0, 1), port: address.port }],
        software: 'bench',
        loadPercent: 0,
        hosted: true,
        notAfterMs: now + 3_600_000,
      },
    ],
  });
  sn.state.setPolicy({ ...(await defaultPolicy()), replicationFactor: 1 });

  // Records to look up: 1,000 users, verified once and held here (what a publish leaves behind).
  const names: string[] = [];
  for (let i = 0; i < 1_000; i++) {
    const name = `lookup${i}`;
    const seed = systemRandom.randomBytes(32);
    const deviceId = new Uint8Array(16).fill(i & 0xff);
    const cert = issueCertificate(suite, keys.login, {
      subject: name,
      subjectKey: suite.ed25519PublicKey(seed),
      deviceId,
      role: Role.ROLE_USER,
      serial: 10_000_000 + i,
      notBefore: now - 3_600_000,
      notAfter: now + 6 * 3_600_000,
    });
    const record = signPresenceRecord(suite, seed, {
      username: name,
      deviceId,
      sequence: 1,
      issuedAt: Date.now(),
      expiresAt: Date.now() + 10 * 60_000,
      status: PresenceStatus.PRESENCE_STATUS_ONLINE,
      homeSupernode: keyId(suite, snKey.publicKey),
      sealedEndpoints: systemRandom.randomBytes(200),
    });
    const v = verifyPresenceEnvelope(
      suite,
      { certificate: cert, record },
      { trustAnchors: [keys.root.publicKey], loginCertificates: [keys.loginCertificate], nowMs: Date.now() },
    );
    sn.core.directory.offer(v, Date.now());
    names.push(name);
  }

  const before = memory();
  progress(`supernode on ${address.host}:${address.port}; ${nodes} nodes from ${CHILDREN} child processes …`);
  const children: ChildProcess[] = [];
  const attached = await Promise.all(
    Array.from({ length: CHILDREN }, (_, index) => {
      const child = fork(fileURLToPath(new URL('./clients.js', import.meta.url)), [], { stdio: 'inherit' });
      children.push(child);
      const input: ClientsInput = {
        index,
        count: Math.ceil(nodes / CHILDREN),
        port: address.port,
        loginSeed: hex(keys.login.seed),
        loginCertificate: hex(keys.loginCertificate),
        root: hex(keys.root.publicKey),
        concurrency: 64,
      };
      return new Promise<{ attached: number; failed: number; ms: number }>((resolveChild) => {
        child.on('message', (m: { kind: string; attached: number; failed: number; ms: number }) => {
          if (m.kind === 'attached') resolveChild(m);
        });
        child.send({ kind: 'start', ...input });
      });
    }),
  );
  const total = attached.reduce((s, a) => s + a.attached, 0);
  const connectMs = Math.max(...attached.map((a) => a.ms));
  progress(`attached ${total} (${attached.reduce((s, a) => s + a.failed, 0)} failed) in ${connectMs} ms`);
  await sleep(2_000);
  const after = memory();
  const held = sn.core.attachments.size;
  progress(
    `supernode: ${held} attachments, heap+external ${(after.heap / 2 ** 20).toFixed(1)} MiB, rss ${(after.rss / 2 ** 20).toFixed(1)} MiB`,
  );

  // Lookups: 200 nodes, 8 in flight each, for 8 s (3 s with --quick).
  const durationMs = quick ? 3_000 : 8_000;
  const lookupsInput: LookupsInput = { clients: 100, inFlight: 8, durationMs, names };
  const profiler = process.env.SN_BENCH_PROFILE !== undefined ? await startProfile() : undefined;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const results = await Promise.all(
    children.map(
      (child) =>
        new Promise<{ done: number; errors: number; latencies: number[] }>((resolveChild) => {
          child.on('message', (m: { kind: string; done: number; errors: number; latencies: number[] }) => {
            if (m.kind === 'lookups') resolveChild(m);
          });
          child.send({ kind: 'lookups', ...lookupsInput });
        }),
    ),
  );
  const cpu = process.cpuUsage(cpu0);
  if (profiler !== undefined) await profiler(process.env.SN_BENCH_PROFILE!);
  const wallMs = performance.now() - t0;
  const done = results.reduce((s, r) => s + r.done, 0);
  const cpuShare = (cpu.user + cpu.system) / 1000 / wallMs;
  const cpuPerLookupUs = (cpu.user + cpu.system) / Math.max(1, done);
  progress(
    `supernode process CPU during lookups: ${(cpuShare * 100).toFixed(0)}% of one core, ${cpuPerLookupUs.toFixed(1)} us per lookup`,
  );
  const latencies = results.flatMap((r) => r.latencies);
  const rate = done / (durationMs / 1000);
  progress(
    `lookups: ${done} in ${durationMs} ms = ${Math.round(rate)}/s, p50 ${percentile(latencies, 50).toFixed(2)} ms, p99 ${percentile(latencies, 99).toFixed(2)} ms, errors ${results.reduce((s, r) => s + r.errors, 0)}`,
  );
  for (const c of children) c.send({ kind: 'exit' });
  sn.close();
  await sleep(500);
  real.close();

  const n = Math.max(1, held);
  return [
    {
      id: 'supernode.attach.nodes',
      value: held,
      unit: 'nodes',
      higherIsBetter: true,
      target: { value: 10_000, note: 'attached nodes per process' },
      machine,
    },
    {
      id: 'supernode.attach.rate',
      value: (total / connectMs) * 1000,
      unit: 'attachments/s',
      higherIsBetter: true,
      machine,
    },
    {
      id: 'supernode.attach.bytesPerNode',
      value: Math.round((after.heap - before.heap) / n),
      unit: 'bytes',
      higherIsBetter: false,
      target: { value: 31_457, note: '10,000 nodes in <= 300 MB' },
      machine,
    },
    {
      id: 'supernode.attach.rssPerNode',
      value: Math.round((after.rss - before.rss) / n),
      unit: 'bytes',
      higherIsBetter: false,
      target: { value: 31_457, note: '10,000 nodes in <= 300 MB' },
      machine,
    },
    {
      id: 'supernode.attach.rssTotal',
      value: Math.round((after.rss / 2 ** 20) * 10) / 10,
      unit: 'MiB',
      higherIsBetter: false,
      target: { value: 300, note: 'the process with 10,000 nodes attached' },
      machine,
    },
    {
      id: 'supernode.lookup.rate',
      value: rate,
      unit: 'lookups/s',
      higherIsBetter: true,
      target: { value: 20_000, note: 'over TCP + Noise, cached verification' },
      machine,
    },
    {
      id: 'supernode.lookup.cpuPerLookup',
      value: cpuPerLookupUs,
      unit: 'us',
      higherIsBetter: false,
      target: { value: 50, note: '20,000 lookups/s on one core' },
      machine,
    },
    { id: 'supernode.lookup.serverCpuShare', value: cpuShare, unit: 'cores', higherIsBetter: false, machine },
    { id: 'supernode.lookup.p50', value: percentile(latencies, 50), unit: 'ms', higherIsBetter: false, machine },
    { id: 'supernode.lookup.p99', value: percentile(latencies, 99), unit: 'ms', higherIsBetter: false, machine },
  ];
}

/** SN_BENCH_PROFILE=FILE: a CPU profile of the supernode process during the lookup phase. */
async function startProfile(): Promise<(file: string) => Promise<void>> {
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return async (file) => {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
  };
}

/** The policy's defaults (an empty NetworkPolicy), for the replication factor of the bench. */
async function defaultPolicy() {
  const { effectivePolicy, parley } = await import('@parley/wire');
  return effectivePolicy(parley.v1.NetworkPolicy.decode(new Uint8Array(0)));
}

main().then(
  (figures) => {
    const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
    const out = join(root, 'bench/results/supernode.json');
    if (!quick) {
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, `${JSON.stringify(figures, null, 2)}\n`);
    }
    if (argv.includes('--json')) console.log(JSON.stringify(figures, null, 2));
    else
      for (const f of figures)
        console.log(
          `${f.id.padEnd(34)} ${String(Math.round(f.value * 100) / 100).padStart(12)} ${f.unit}${f.target ? `   (target ${f.target.value}: ${f.target.note})` : ''}`,
        );
    process.exit(0);
  },
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
