/**
 * Simulator scale benchmark (DESIGN.md §9, §12; spec/05-network.md): 100,000 hosts and 10,000,000 UDP
 * deliveries in one run on one core.
 *
 *   - net.sim.deliveries: datagrams delivered per second of wall time while the simulator runs
 *     (target >= 1,000,000/s); net.sim.deliveries.cpu: the same per second of process CPU time;
 *   - net.sim.deliveries.inFlight1000: the same workload with 1,000 datagrams in flight instead of one per
 *     host (fewer events queued, the same 100,000 hosts to touch);
 *   - net.sim.idleHostBytes: bytes per idle host with one bound UDP socket (target <= 2,048): the V8 heap
 *     and the array buffers behind typed arrays (the simulator keeps some per-host state in those), from
 *     `process.memoryUsage()` deltas after a full GC when `global.gc` exists (node --expose-gc); without
 *     it the figure is noisier (it then includes garbage not yet collected).
 *
 * The workload ("hot potato"): every host holds a socket; each starts one datagram to a random host; every
 * delivery is answered by a datagram to another random host until the budget is spent, so the run stops by
 * itself (also bounded by an event count and a wall-time limit). The links have latency and jitter, so the
 * event queue holds about one event per host throughout, as a busy simulated network would.
 * Destinations are the addresses the simulator hands out (`local`, and `from` at a receiver), as a protocol
 * that answers or remembers `from` uses them; such an address skips the routing table lookup (SimAddress).
 */
import { Simulator } from '../src/sim/index.js';
import type { NetAddress } from '../src/transport.js';

export interface Figure {
  readonly id: string;
  readonly value: number;
  readonly unit: string;
  readonly higherIsBetter: boolean;
  readonly target?: { readonly value: number; readonly note: string };
  readonly machine: string;
}

export interface WorkloadResult {
  readonly hosts: number;
  readonly deliveries: number;
  readonly sent: number;
  readonly events: number;
  readonly virtualMs: number;
  /** Wall time of the run loop only (not the set-up), ms. */
  readonly wallMs: number;
  /** CPU time (user + system) of the process during the run loop, ms. */
  readonly cpuMs: number;
  /** The simulator, for assertions. */
  readonly sim: Simulator;
}

/**
 * Builds `hosts` hosts and moves `deliveries` datagrams among them at random, `inFlight` at a time
 * (default: one per host).
 */
export function deliveryWorkload(
  hosts: number,
  deliveries: number,
  seed = 'bench',
  inFlight = hosts,
  wallLimitMs = Number.POSITIVE_INFINITY,
): WorkloadResult {
  const sim = new Simulator({ seed, link: { latencyMs: 5, jitterMs: 10 } });
  const pick = sim.random;
  const payload = new Uint8Array(64);
  const port = 7000;
  const addresses: NetAddress[] = new Array(hosts);
  const sockets = new Array(hosts);
  let sent = 0;
  // Sends stop at the budget; datagrams never get lost here, so deliveries reach it exactly.
  const budget = deliveries;
  for (let i = 0; i < hosts; i++) {
    const host = sim.addHost();
    const socket = host.bindUdp(
      { port },
      {
        onMessage(data) {
          if (sent < budget) {
            sent++;
            socket.send(data, addresses[pick.below(hosts)]!);
          }
        },
      },
    );
    sockets[i] = socket;
    // The address as the simulator hands it out (`local`, and `from` at the receiver): see the header.
    addresses[i] = socket.local ?? { host: host.address, port };
  }
  for (let i = 0; i < inFlight && sent < budget; i++) {
    sent++;
    sockets[i % hosts].send(payload, addresses[pick.below(hosts)]!);
  }
  const start = performance.now();
  const cpu = process.cpuUsage();
  // In slices, so a slow machine stops at the wall-time limit instead of running on.
  const maxEvents = deliveries * 2 + hosts;
  let events = 0;
  while (events < maxEvents && sim.queue.size > 0 && performance.now() - start < wallLimitMs) {
    events += sim.run({ maxEvents: Math.min(1_000_000, maxEvents - events) });
  }
  const wallMs = performance.now() - start;
  const used = process.cpuUsage(cpu);
  const cpuMs = (used.user + used.system) / 1000;
  return { hosts, deliveries: sim.deliveries, sent, events, virtualMs: sim.now, wallMs, cpuMs, sim };
}

function collect(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc !== undefined) {
    gc();
    gc();
  }
}

/** Bytes (V8 heap and array buffers) per idle host (one bound UDP socket, a shared handler), over `hosts` hosts. */
export function idleHostBytes(hosts: number): number {
  const handlers = { onMessage() {} };
  const used = () => {
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  collect();
  const before = used();
  const sim = new Simulator({ seed: 'idle' });
  for (let i = 0; i < hosts; i++) sim.addHost().bindUdp({ port: 7000 }, handlers);
  sim.run();
  collect();
  const after = used();
  // Keep the simulator alive across the measurement.
  if (sim.hostCount !== hosts) throw new Error('unreachable');
  return (after - before) / hosts;
}

/** Stops the delivery run after this much wall time (the figure is then over the deliveries made). */
const WALL_LIMIT_MS = 180_000;

export async function simFigures(machine: string): Promise<Figure[]> {
  const idle = idleHostBytes(100_000);
  // Each run's figures only (not its simulator), so the next run starts from a collected heap.
  const measure = (inFlight: number) => {
    const { deliveries, wallMs, cpuMs } = deliveryWorkload(100_000, 10_000_000, 'bench', inFlight, WALL_LIMIT_MS);
    collect();
    return { deliveries, wallMs, cpuMs };
  };
  const run = measure(100_000);
  const sparse = measure(1_000);
  const complete = run.deliveries === 10_000_000 ? '' : ` (stopped at the time limit after ${run.deliveries})`;
  return [
    {
      id: 'net.sim.deliveries',
      value: run.deliveries / (run.wallMs / 1000),
      unit: 'deliveries/s',
      higherIsBetter: true,
      target: { value: 1_000_000, note: `>= 1,000,000/s on one core; 100,000 hosts, 10M deliveries${complete}` },
      machine,
    },
    {
      // The same run over the process's CPU time: on a shared machine the wall-time figure also counts
      // time the run spent waiting for a core.
      id: 'net.sim.deliveries.cpu',
      value: run.deliveries / (run.cpuMs / 1000),
      unit: 'deliveries/CPU-s',
      higherIsBetter: true,
      machine,
    },
    {
      // The same hosts with 1,000 datagrams in flight (no target): how the figure depends on the queue.
      id: 'net.sim.deliveries.inFlight1000',
      value: sparse.deliveries / (sparse.wallMs / 1000),
      unit: 'deliveries/s',
      higherIsBetter: true,
      machine,
    },
    {
      id: 'net.sim.idleHostBytes',
      value: idle,
      unit: 'bytes/host',
      higherIsBetter: false,
      target: { value: 2_048, note: '<= 2 KiB per idle host with one bound UDP socket (heap and array buffers)' },
      machine,
    },
  ];
}
