/**
 * The relay's UDP hot path (spec/08-connectivity.md §7; targets: 100,000 relayed datagrams/s on one core,
 * p99 added latency < 1 ms) over real UDP sockets on loopback, node:dgram through @parley/net's real
 * Transport. This process is the supernode side: a RelayService behind one UDP socket, its datagrams
 * dispatched as ConnectivityService.onDatagram does (0x06 straight to `onData`, 0x04 decoded to `onBind`),
 * with `--pairs` allocations paired and both sides bound by real binds (challenge, cookie). The clients,
 * one socket per side, are a child process (this file with `--child`), so that the CPU time measured here
 * is the relay's alone.
 *
 *   supernode.relay.rate1200 / rate200       relayed datagrams per second of the relay process's CPU time
 *                                            (user + system: the receive and send system calls included),
 *                                            1,200- and 200-byte channel datagrams, clients sending as fast
 *                                            as they can. Peer: a bare forwarder on the same transport (one
 *                                            Map lookup by source port, the same buffer sent on), same run.
 *   supernode.relay.dgramForwarder1200/200   the bare forwarder on node:dgram itself (no Transport, no send
 *                                            callback), per CPU second: the I/O ceiling under both
 *   supernode.relay.onData1200 / onData200   RelayService.onData alone, no socket, per CPU second
 *   supernode.relay.wall1200 / wall200       relayed datagrams per wall-clock second in the same phases
 *                                            (bounded by the clients and by the machine's shared cores)
 *   supernode.relay.latency.p50 / p99        one-way latency A -> relay -> B, 1,200-byte datagrams at
 *                                            `--rate` (20,000/s), sender and receiver on one clock. Peer: the
 *                                            direct A -> B send, interleaved in the same run.
 *   supernode.relay.added.p50 / p99          relayed minus direct (target p99 < 1 ms)
 *
 * The quotas of the bench's policy are raised (the bench measures the relay, not its limiter; the token
 * bucket and the byte quota are still checked for every datagram).
 *
 * Each phase runs `--rounds` times and keeps its best round (the cores are shared: anything else running
 * only lowers a figure); every round is printed.
 *
 *   node dist/bench/relay.js [--quick] [--json] [--pairs N] [--rate N] [--ms N] [--rounds N]
 *   writes bench/results/supernode-relay.json at the repository root (not with --quick)
 */
import { type ChildProcess, fork } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRealTransport, type NetAddress, type RealTransport, type UdpSocket } from '@parley/net';
import {
  DATAGRAM_TYPE_RELAY_BIND,
  DATAGRAM_TYPE_RELAY_BIND_ACK,
  DATAGRAM_TYPE_RELAY_DATA,
  decodeConnectivityDatagram,
  encodeRelayBind,
  encodeRelayData,
  nodeCrypto,
  type PacketBodies,
  POLICY_DEFAULTS,
  type RelayBindDatagram,
  Role,
} from '@parley/wire';
import { RelayService } from '../src/connectivity/relay.js';
import { type ConnectivityDeps, DEFAULT_CONNECTIVITY_LIMITS } from '../src/connectivity/service.js';
import { NetworkState } from '../src/core/network-state.js';
import { NO_CHANNEL, newSession } from '../src/core/session.js';
import { type Figure, machine, progress } from './figure.js';

type RelayFigure = Figure & { peer?: { name: string; value: number } };

const suite = nodeCrypto;
const argv = process.argv.slice(2);
const option = (name: string, fallback: number): number =>
  argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : fallback;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const percentile = (v: Float64Array | number[], q: number): number => {
  const s = Float64Array.from(v).sort();
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((q / 100) * s.length) - 1))] ?? Number.NaN;
};

/** One pair's two sides, as the child needs them (hex). */
interface SideInput {
  aId: string;
  aKey: string;
  bId: string;
  bKey: string;
}

/** Where a blast goes: the relay, the bare forwarder on the same transport, or one on node:dgram itself. */
type Target = 'relay' | 'forwarder' | 'raw';

type ToChild =
  | { kind: 'setup'; relay: NetAddress; sides: SideInput[] }
  | { kind: 'blast'; to: Target; forwarder?: NetAddress; size: number; ms: number }
  | { kind: 'latency'; size: number; rate: number; ms: number }
  | { kind: 'exit' };

type FromChild =
  | { kind: 'ready'; a: NetAddress[]; b: NetAddress[] }
  | { kind: 'blasted'; sent: number; received: number }
  | { kind: 'latencies'; relayed: number[]; direct: number[]; sent: number };

// ---- the clients (child process) ------------------------------------------------------------------------

/** Offsets in a relayed datagram of the latency phase: the send time (float64) and the path (0 relay, 1 direct). */
const STAMP_AT = 9 + 16;
const PATH_AT = STAMP_AT + 8;

async function child(): Promise<void> {
  // The parent gone (finished or failed), this process ends too.
  process.on('disconnect', () => process.exit(0));
  const transport = createRealTransport();
  const send = (m: FromChild) => process.send!(m);
  let relay: NetAddress = { host: '127.0.0.1', port: 0 };
  let sides: { aId: Uint8Array; aKey: Uint8Array; bId: Uint8Array; bKey: Uint8Array }[] = [];
  const a: UdpSocket[] = [];
  const b: UdpSocket[] = [];
  const aLocal: NetAddress[] = [];
  const bLocal: NetAddress[] = [];
  let received = 0;
  let relayed: number[] = [];
  let direct: number[] = [];
  let recording = false;
  const acks = new Map<string, (ack: Uint8Array) => void>();

  const onMessage = (data: Uint8Array) => {
    if (data[0] === DATAGRAM_TYPE_RELAY_DATA) {
      received++;
      if (recording && data.length >= PATH_AT + 1) {
        const sentAt = Buffer.from(data.buffer, data.byteOffset, data.byteLength).readDoubleLE(STAMP_AT);
        (data[PATH_AT] === 0 ? relayed : direct).push(performance.now() - sentAt);
      }
    } else if (data[0] === DATAGRAM_TYPE_RELAY_BIND_ACK) {
      const key = Buffer.from(data.subarray(1, 9)).toString('hex');
      acks.get(key)?.(Uint8Array.from(data));
    }
  };
  const bind = (index: number): Promise<NetAddress> =>
    new Promise((ready, fail) => {
      const socket = transport.bindUdp(
        { address: '127.0.0.1', port: 0 },
        { onMessage, onReady: ready, onError: (e) => fail(e) },
      );
      (index % 2 === 0 ? a : b).push(socket);
    });

  /** [RELAY-BIND-2] bind, challenge, bind with the cookie, confirmation. */
  const bindSide = async (socket: UdpSocket, id: Uint8Array, key: Uint8Array): Promise<void> => {
    const hex = Buffer.from(id).toString('hex');
    const next = () =>
      new Promise<Uint8Array>((got, fail) => {
        const t = setTimeout(() => fail(new Error('no bind ack')), 2_000);
        acks.set(hex, (ack) => {
          clearTimeout(t);
          got(ack);
        });
      });
    let ack = next();
    socket.send(encodeRelayBind(suite, DATAGRAM_TYPE_RELAY_BIND, key, id, 1n, new Uint8Array(16)), relay);
    const cookie = (await ack).slice(17, 33);
    ack = next();
    socket.send(encodeRelayBind(suite, DATAGRAM_TYPE_RELAY_BIND, key, id, 1n, cookie), relay);
    const confirmed = await ack;
    // [RELAY-BIND-2] the confirmation carries 16 zero bytes as its cookie.
    if (confirmed.subarray(17, 33).some((b) => b !== 0)) throw new Error('bind not confirmed');
  };

  /** A relay data datagram of `size` inner bytes (a channel datagram: type 0x01, the rest opaque). */
  const datagram = (id: Uint8Array, size: number): Uint8Array => {
    const out = new Uint8Array(9 + size);
    out[0] = DATAGRAM_TYPE_RELAY_DATA;
    out.set(id, 1);
    out[9] = 0x01;
    for (let i = 10; i < out.length; i++) out[i] = i & 0xff;
    return out;
  };

  process.on('message', async (m: ToChild) => {
    if (m.kind === 'setup') {
      relay = m.relay;
      const h = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
      sides = m.sides.map((s) => ({ aId: h(s.aId), aKey: h(s.aKey), bId: h(s.bId), bKey: h(s.bKey) }));
      for (let i = 0; i < sides.length; i++) {
        aLocal.push(await bind(0));
        bLocal.push(await bind(1));
      }
      for (let i = 0; i < sides.length; i++) {
        await bindSide(a[i]!, sides[i]!.aId, sides[i]!.aKey);
        await bindSide(b[i]!, sides[i]!.bId, sides[i]!.bKey);
      }
      send({ kind: 'ready', a: aLocal, b: bLocal });
    } else if (m.kind === 'blast') {
      // As fast as this process can send, round-robin over the pairs, A sides only.
      const to = m.to === 'relay' ? relay : m.forwarder!;
      const buffers = sides.map((s) => datagram(s.aId, m.size));
      received = 0;
      let sent = 0;
      const deadline = performance.now() + m.ms;
      await new Promise<void>((done) => {
        const burst = () => {
          for (let k = 0; k < 64; k++) {
            const i = sent % buffers.length;
            a[i]!.send(buffers[i]!, to);
            sent++;
          }
          if (performance.now() < deadline) setImmediate(burst);
          else done();
        };
        burst();
      });
      await sleep(300);
      send({ kind: 'blasted', sent, received });
    } else if (m.kind === 'latency') {
      // Paced at `rate` relayed datagrams/s, each followed by one sent directly A -> B (the peer path).
      relayed = [];
      direct = [];
      recording = true;
      const total = Math.floor((m.rate * m.ms) / 1000);
      // A ring of buffers per path and pair, reused (far more sends apart than a send takes): the clients
      // allocate nothing per datagram, so that their own garbage collection does not show in the figures.
      const RING = 64;
      const ring = sides.map((s) =>
        [s.aId, s.bId].map((id) => Array.from({ length: RING }, () => datagram(id, m.size))),
      );
      const start = performance.now();
      let n = 0;
      await new Promise<void>((done) => {
        const tick = () => {
          const due = Math.min(total, Math.floor(((performance.now() - start) * m.rate) / 1000));
          for (; n < due; n++) {
            const i = n % sides.length;
            const slot = Math.floor(n / sides.length) % RING;
            for (const path of [0, 1]) {
              const d = ring[i]![path]![slot]!;
              d[PATH_AT] = path;
              Buffer.from(d.buffer, d.byteOffset, d.byteLength).writeDoubleLE(performance.now(), STAMP_AT);
              a[i]!.send(d, path === 0 ? relay : bLocal[i]!);
            }
          }
          if (n < total) setImmediate(tick);
          else done();
        };
        tick();
      });
      await sleep(300);
      recording = false;
      send({ kind: 'latencies', relayed, direct, sent: total });
    } else if (m.kind === 'exit') {
      transport.close();
      process.exit(0);
    }
  });
}

// ---- the relay (this process) ---------------------------------------------------------------------------

function relayService(
  transport: RealTransport,
  udp: { send(data: Uint8Array, to: NetAddress): void },
  local: () => NetAddress,
): RelayService {
  const state = new NetworkState(suite);
  state.setPolicy({
    ...POLICY_DEFAULTS,
    version: 1,
    issuedAtMs: Date.now(),
    relay: {
      allocationLifetimeMs: 3_600_000,
      allocationBytes: 2 ** 50,
      // above any rate this machine reaches (the token bucket is still run for every datagram)
      allocationBytesPerS: 2 ** 50,
      allocationsPerUser: 4,
    },
  });
  const deps: ConnectivityDeps = {
    clock: transport.clock,
    suite,
    random: transport.random,
    state,
    selfKeyId: new Uint8Array(32),
    peers: { request: () => Promise.reject(new Error('no peers in the bench')) },
    findAttached: () => undefined,
    udp,
    udpEndpoints: () => [local()],
    identity: undefined as never,
    dialBack: () => Promise.reject(new Error('no dial-back in the bench')),
    limits: DEFAULT_CONNECTIVITY_LIMITS,
  };
  return new RelayService(deps);
}

/** Both sides ask; the two replies (first asker's, second's). */
async function pairOf(relay: RelayService, i: number): Promise<PacketBodies['relayAllocateReply'][]> {
  const reply = (a: Awaited<ReturnType<RelayService['allocate']>>): PacketBodies['relayAllocateReply'] => {
    if (a.kind !== 'reply' || a.packet.body.case !== 'relayAllocateReply') throw new Error('allocation refused');
    return a.packet.body.value;
  };
  const alice = sessionOf(`alice${i}`, 1);
  const bob = sessionOf(`bob${i}`, 2);
  const first = relay.allocate(alice, 1, { username: bob.username, deviceId: bob.deviceId });
  const second = reply(await relay.allocate(bob, 1, { username: alice.username, deviceId: alice.deviceId }));
  return [reply(await first), second];
}

/**
 * RelayService.onData alone, no socket: one allocation with both sides bound, one buffer relayed back and
 * forth (each forward rewrites its id to the other side's, so it is then valid from the other source).
 * Datagrams per second of this process's CPU.
 */
async function hotPath(size: number, ms: number): Promise<number> {
  const transport = createRealTransport();
  let last: Uint8Array = new Uint8Array(0);
  let sent = 0;
  const relay = relayService(
    transport,
    {
      send: (data) => {
        last = data;
        sent++;
      },
    },
    () => ({ host: '127.0.0.1', port: 9 }),
  );
  const [a, b] = await pairOf(relay, 0);
  const A: NetAddress = { host: '127.0.0.1', port: 40_001 };
  const B: NetAddress = { host: '127.0.0.1', port: 40_002 };
  for (const [side, from] of [
    [a!, A],
    [b!, B],
  ] as const) {
    for (const cookie of [new Uint8Array(16), undefined]) {
      const bytes = encodeRelayBind(
        suite,
        DATAGRAM_TYPE_RELAY_BIND,
        side.allocationKey,
        side.allocationId,
        1n,
        cookie ?? last.slice(17, 33),
      );
      relay.onBind(decodeConnectivityDatagram(bytes) as RelayBindDatagram, bytes, from);
    }
  }
  const inner = new Uint8Array(size);
  inner[0] = 0x01;
  const buffer = encodeRelayData(a!.allocationId, inner);
  let calls = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    for (let i = 0; i < 10_000; i++) relay.onData(buffer, (calls + i) & 1 ? B : A);
    calls += 10_000;
  }
  const cpu = process.cpuUsage(cpu0);
  if (sent - 2 * 2 !== calls) throw new Error(`hot path: ${sent - 4} forwarded of ${calls}`);
  relay.close();
  transport.close();
  return calls / ((cpu.user + cpu.system) / 1e6);
}

const sessionOf = (username: string, device: number) =>
  newSession(
    { certificate: { subject: username, deviceId: new Uint8Array(16).fill(device), role: Role.ROLE_USER } } as never,
    { host: '127.0.0.1', port: 1 },
    NO_CHANNEL,
  );

function bindUdp(
  transport: RealTransport,
  onMessage: (data: Uint8Array, from: NetAddress) => void,
): Promise<UdpSocket> {
  return new Promise((ready, fail) => {
    const socket = transport.bindUdp(
      { address: '127.0.0.1', port: 0 },
      { onMessage, onReady: () => ready(socket), onError: (e) => fail(e) },
    );
  });
}

async function main(): Promise<RelayFigure[]> {
  const quick = argv.includes('--quick');
  const pairs = option('--pairs', 16);
  const rate = option('--rate', 20_000);
  const phaseMs = option('--ms', quick ? 800 : 2_000);
  const rounds = option('--rounds', quick ? 1 : 3);
  const transport = createRealTransport();
  let socket: UdpSocket | undefined;
  const relay = relayService(transport, { send: (data, to) => socket!.send(data, to) }, () => socket!.local!);
  // ConnectivityService.onDatagram's dispatch: relay data undecoded to onData; binds decoded to onBind.
  socket = await bindUdp(transport, (bytes, from) => {
    if (bytes.length > 0 && bytes[0] === DATAGRAM_TYPE_RELAY_DATA) {
      relay.onData(bytes, from);
      return;
    }
    try {
      const d = decodeConnectivityDatagram(bytes);
      if (d.type === DATAGRAM_TYPE_RELAY_BIND) relay.onBind(d as RelayBindDatagram, bytes, from);
    } catch {
      // dropped, as the service drops what does not decode
    }
  });
  // The peer: a bare forwarder on the same transport, A's source port -> B's address, the same buffer sent on.
  const routes = new Map<number, NetAddress>();
  let bareForwarded = 0;
  const forwarder = await bindUdp(transport, (bytes, from) => {
    const to = routes.get(from.port);
    if (to === undefined) return;
    forwarder.send(bytes, to);
    bareForwarded++;
  });
  // And one on node:dgram without the Transport (no callback per send): what the transport itself costs.
  let rawForwarded = 0;
  const raw = dgram.createSocket('udp4');
  raw.on('message', (msg, rinfo) => {
    const to = routes.get(rinfo.port);
    if (to === undefined) return;
    raw.send(msg, to.port, to.host);
    rawForwarded++;
  });
  await new Promise<void>((r) => raw.bind(0, '127.0.0.1', r));
  const rawAddress: NetAddress = { host: '127.0.0.1', port: raw.address().port };

  // Allocations: both sides ask, in this process (sessions without a channel).
  const sides: SideInput[] = [];
  const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
  for (let i = 0; i < pairs; i++) {
    const [sa, sb] = await pairOf(relay, i);
    sides.push({
      aId: hex(sa!.allocationId),
      aKey: hex(sa!.allocationKey),
      bId: hex(sb!.allocationId),
      bKey: hex(sb!.allocationKey),
    });
  }

  const kid: ChildProcess = fork(fileURLToPath(import.meta.url), ['--child'], { stdio: 'inherit' });
  const ask = <K extends FromChild['kind']>(m: ToChild, kind: K): Promise<Extract<FromChild, { kind: K }>> =>
    new Promise((got) => {
      const on = (r: FromChild) => {
        if (r.kind !== kind) return;
        kid.off('message', on);
        got(r as Extract<FromChild, { kind: K }>);
      };
      kid.on('message', on);
      kid.send(m);
    });
  const ready = await ask({ kind: 'setup', relay: socket.local!, sides }, 'ready');
  for (let i = 0; i < pairs; i++) routes.set(ready.a[i]!.port, ready.b[i]!);
  progress(
    `relay on ${socket.local!.host}:${socket.local!.port}: ${pairs} allocations, ${relay.stats.binds} sides bound`,
  );

  const figures: RelayFigure[] = [];
  const fig = (f: Omit<RelayFigure, 'machine'>) => {
    figures.push({ ...f, machine });
    const peer = f.peer ? `   (${f.peer.name}: ${round(f.peer.value)})` : '';
    progress(`${f.id}: ${round(f.value)} ${f.unit}${peer}`);
  };

  /** One blast phase: datagrams per CPU second of this process and per wall second. */
  const blast = async (to: Target, size: number) => {
    const count = () =>
      to === 'relay' ? relay.stats.forwardedDatagrams : to === 'forwarder' ? bareForwarded : rawForwarded;
    const target = to === 'raw' ? rawAddress : forwarder.local!;
    await ask({ kind: 'blast', to, forwarder: target, size, ms: 200 }, 'blasted'); // warm-up
    const before = count();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const done = ask({ kind: 'blast', to, forwarder: target, size, ms: phaseMs }, 'blasted');
    await sleep(phaseMs);
    const forwarded = count() - before;
    const elapsed = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const r = await done;
    const cpuS = (cpu.user + cpu.system) / 1e6;
    progress(
      `  ${to} ${size} B: sent ${r.sent}, forwarded ${forwarded} in ${Math.round(elapsed)} ms, ${cpuS.toFixed(2)} s CPU, received ${r.received}`,
    );
    return { perCpu: forwarded / cpuS, perWall: (forwarded * 1000) / elapsed };
  };

  for (const size of [1_200, 200]) {
    let rateOnData = 0;
    for (let round = 0; round < rounds; round++) rateOnData = Math.max(rateOnData, await hotPath(size, phaseMs / 2));
    fig({
      id: `supernode.relay.onData${size}`,
      value: rateOnData,
      unit: 'datagrams/s/core',
      higherIsBetter: true,
      target: { value: 100_000, note: 'RelayService.onData alone, no socket: the ceiling of the relay logic' },
    });
  }
  for (const size of [1_200, 200]) {
    // Rounds, the three targets in turn within each (so that they see the same machine); the best round
    // of each kept: the machine's cores are shared, and what else runs only ever lowers a figure.
    const best = (xs: { perCpu: number; perWall: number }[]) =>
      xs.reduce((m, x) => (x.perCpu > m.perCpu ? x : m), { perCpu: 0, perWall: 0 });
    const runs: Record<Target, { perCpu: number; perWall: number }[]> = { relay: [], forwarder: [], raw: [] };
    for (let round = 0; round < rounds; round++) {
      for (const to of ['relay', 'forwarder', 'raw'] as const) runs[to].push(await blast(to, size));
    }
    const r = best(runs.relay);
    const bare = best(runs.forwarder);
    const bareRaw = best(runs.raw);
    fig({
      id: `supernode.relay.rate${size}`,
      value: r.perCpu,
      unit: 'datagrams/s/core',
      higherIsBetter: true,
      target: { value: 100_000, note: 'relayed datagrams per second on one core' },
      peer: { name: 'bare forwarder, same transport', value: bare.perCpu },
    });
    fig({
      id: `supernode.relay.wall${size}`,
      value: r.perWall,
      unit: 'datagrams/s',
      higherIsBetter: true,
      peer: { name: 'bare forwarder, same transport', value: bare.perWall },
    });
    fig({
      id: `supernode.relay.dgramForwarder${size}`,
      value: bareRaw.perCpu,
      unit: 'datagrams/s/core',
      higherIsBetter: true,
      peer: { name: 'bare forwarder, same transport', value: bare.perCpu },
    });
  }

  // Latency rounds; the quietest kept (the lowest p99 of the direct path: the machine's own noise),
  // relayed and direct from that same round.
  let lat: Extract<FromChild, { kind: 'latencies' }> | undefined;
  for (let round = 0; round < rounds; round++) {
    const l = await ask({ kind: 'latency', size: 1_200, rate, ms: phaseMs }, 'latencies');
    progress(
      `  latency round ${round + 1}: ${l.sent} sent each way, ${l.relayed.length} relayed and ${l.direct.length} direct received`,
    );
    for (const [name, v] of [
      ['relayed', l.relayed],
      ['direct', l.direct],
    ] as const) {
      const q = [50, 90, 99, 99.9, 100].map((x) => `p${x} ${percentile(v, x).toFixed(3)}`).join(', ');
      progress(`    ${name}: ${q} ms`);
    }
    if (lat === undefined || percentile(l.direct, 99) < percentile(lat.direct, 99)) lat = l;
  }
  if (lat === undefined) throw new Error('no latency round');
  const r50 = percentile(lat.relayed, 50);
  const r99 = percentile(lat.relayed, 99);
  const d50 = percentile(lat.direct, 50);
  const d99 = percentile(lat.direct, 99);
  const direct = 'direct A -> B loopback, same run';
  fig({
    id: 'supernode.relay.latency.p50',
    value: r50,
    unit: 'ms',
    higherIsBetter: false,
    peer: { name: direct, value: d50 },
  });
  fig({
    id: 'supernode.relay.latency.p99',
    value: r99,
    unit: 'ms',
    higherIsBetter: false,
    peer: { name: direct, value: d99 },
  });
  fig({ id: 'supernode.relay.added.p50', value: r50 - d50, unit: 'ms', higherIsBetter: false });
  fig({
    id: 'supernode.relay.added.p99',
    value: r99 - d99,
    unit: 'ms',
    higherIsBetter: false,
    target: { value: 1, note: `p99 latency the relay adds, 1,200-byte datagrams at ${rate.toLocaleString('en-US')}/s` },
  });
  const dropped = Object.entries(relay.stats.dropped).filter(([, n]) => n > 0);
  if (dropped.length > 0) progress(`relay drops: ${dropped.map(([k, n]) => `${k} ${n}`).join(', ')}`);

  kid.send({ kind: 'exit' } satisfies ToChild);
  raw.close();
  relay.close();
  transport.close();
  return figures;
}

const round = (v: number) => (Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(3));

if (argv.includes('--child')) {
  void child();
} else if (argv.includes('--help')) {
  console.log('usage: node dist/bench/relay.js [--quick] [--json] [--pairs N] [--rate N] [--ms N] [--rounds N]');
} else {
  main().then(
    (figures) => {
      if (!argv.includes('--quick')) {
        const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
        const out = join(root, 'bench/results/supernode-relay.json');
        mkdirSync(dirname(out), { recursive: true });
        writeFileSync(out, `${JSON.stringify(figures, null, 2)}\n`);
        progress(`wrote ${out}`);
      }
      if (argv.includes('--json')) console.log(JSON.stringify(figures, null, 2));
      else
        for (const f of figures)
          console.log(
            `${f.id.padEnd(30)} ${round(f.value).padStart(12)} ${f.unit}${f.peer ? `   (${f.peer.name}: ${round(f.peer.value)})` : ''}${f.target ? `   (target ${f.target.value}: ${f.target.note})` : ''}`,
          );
      process.exit(0);
    },
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
