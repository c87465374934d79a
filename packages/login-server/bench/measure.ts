/**
 * Measuring helpers for the login server's bench (the same approach as packages/wire/bench/measure.ts,
 * written again here because benches do not import across packages): the figure shape of
 * bench/results/*.json, percentiles, a closed-loop load phase at a fixed concurrency, and the event-loop
 * and blocking probes.
 */
import { cpus } from 'node:os';
import { type IntervalHistogram, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { turnPacer } from '../src/server/pacer.js';

/** One figure of bench/results/<package>.json (scripts/bench.mjs merges them). */
export interface Figure {
  id: string;
  value: number;
  unit: string;
  higherIsBetter: boolean;
  target?: { value: number; note: string };
  peer?: { name: string; value: number };
  machine: string;
}

export const machine = `${cpus().length} vCPU (${cpus()[0]?.model.trim() ?? 'unknown'}), Node ${process.version}`;

export const progress = (s: string): void => void process.stderr.write(`  ${s}\n`);

/** The q-th percentile (0..100) of `values`, nearest rank; NaN when empty. */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((q / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** Collects garbage (outside timed regions) when the process runs with --expose-gc. */
export function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** A row of the blocking profile; `maxCpu` is the CPU time of the longest sample, when measured. */
export interface BlockingRow {
  label: string;
  max: number;
  maxCpu: number | undefined;
  p99: number;
  count: number;
}

/**
 * Per-label maxima and samples of synchronous durations (wall time): the "what blocks the event loop"
 * profile. A sample may carry the process's CPU time over the same interval: a longest sample whose CPU
 * time is much shorter was waiting (a disk flush, or the thread descheduled on a busy machine).
 */
export class BlockingProfile {
  /** Whether the profiled store records its calls now (during the timed phases only). */
  active = false;
  readonly #samples = new Map<string, number[]>();
  /** Samples kept per label for the p99 (the maximum is always exact). */
  static readonly MAX_SAMPLES = 50_000;
  readonly #max = new Map<string, { ms: number; cpu: number | undefined }>();

  record(label: string, ms: number, cpuMs?: number): void {
    const s = this.#samples.get(label);
    if (s === undefined) this.#samples.set(label, [ms]);
    else if (s.length < BlockingProfile.MAX_SAMPLES) s.push(ms);
    if (ms > (this.#max.get(label)?.ms ?? -1)) this.#max.set(label, { ms, cpu: cpuMs });
  }

  /** Every label with its maximum, p99 and count, longest maximum first. */
  rows(): BlockingRow[] {
    return [...this.#samples.entries()]
      .map(([label, s]) => {
        const m = this.#max.get(label)!;
        return { label, max: m.ms, maxCpu: m.cpu, p99: percentile(s, 99), count: s.length };
      })
      .sort((a, b) => b.max - a.max);
  }
}

/** CPU time (user + system, all threads of this process) since `from`, in ms. */
export function cpuSince(from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1000;
}

/**
 * Event-loop delay over the server's timed phases only: one `monitorEventLoopDelay` per phase (a monitor
 * that is disabled and enabled again counts the gap in its next sample, so a new one is made each time),
 * and GC pauses seen by a PerformanceObserver during the phases. Keeps the worst maximum and the worst
 * phase's p99.
 */
export class LoopDelayProbe {
  max = 0;
  maxPhase = '';
  p99 = 0;
  samples = 0;
  gcMax = 0;
  #current: IntervalHistogram | undefined;
  #phase = '';
  /** The phases' time windows (performance.now()): GC entries arrive later, and are matched to them. */
  readonly #windows: { from: number; to: number }[] = [];
  readonly #gc: PerformanceObserver;

  constructor(profile?: BlockingProfile) {
    this.#gc = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        const inPhase = this.#windows.some((w) => e.startTime >= w.from && e.startTime <= w.to);
        if (!inPhase) continue; // e.g. the collection run on purpose between phases
        this.gcMax = Math.max(this.gcMax, e.duration);
        profile?.record('garbage collection pause', e.duration);
      }
    });
    this.#gc.observe({ entryTypes: ['gc'] });
  }

  start(phase: string): void {
    this.#phase = phase;
    this.#windows.push({ from: performance.now(), to: Number.POSITIVE_INFINITY });
    this.#current = monitorEventLoopDelay({ resolution: 1 });
    this.#current.enable();
  }

  stop(): void {
    const h = this.#current;
    const w = this.#windows.at(-1);
    if (w !== undefined && w.to === Number.POSITIVE_INFINITY) w.to = performance.now();
    if (h === undefined) return;
    h.disable();
    this.#current = undefined;
    if (h.count === 0) return;
    const max = h.max / 1e6;
    if (max > this.max) {
      this.max = max;
      this.maxPhase = this.#phase;
    }
    this.p99 = Math.max(this.p99, h.percentile(99) / 1e6);
    this.samples += h.count;
  }

  /** Stops observing; call after the last phase (GC entries still queued are delivered first). */
  async close(): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 50));
    this.#gc.disconnect();
  }
}

export interface PhaseResult {
  /** Wall time from the first dispatch to the last completion. */
  wallMs: number;
  /** Per request: from when it was handed to the server (queued) to its completion. */
  latencies: number[];
  /** Per request: from when the server began it (its I/O callback ran) to its completion. */
  service: number[];
  /** Per request: this process's CPU time over the same interval as `service`. */
  serviceCpu: number[];
}

/**
 * Runs `op` on every item with `concurrency` closed-loop streams: each stream hands its next request to
 * the server as soon as its previous one completed. Requests start through the server's pacer (one per
 * event-loop turn, src/server/pacer.ts), as the runner starts them, so the loop is as blocked as a real
 * server's would be.
 */
export async function runPhase<T>(
  items: readonly T[],
  concurrency: number,
  op: (item: T) => Promise<void>,
): Promise<PhaseResult> {
  const latencies: number[] = [];
  const service: number[] = [];
  const serviceCpu: number[] = [];
  let next = 0;
  // [LOGIN-RES-2] as the server's runner does: one request started per event-loop turn.
  const pace = turnPacer();
  const t0 = performance.now();
  const stream = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      const queued = performance.now();
      await pace();
      await new Promise<void>((resolve, reject) => {
        {
          const start = performance.now();
          const cpu = process.cpuUsage();
          op(item).then(() => {
            const end = performance.now();
            serviceCpu.push(cpuSince(cpu));
            latencies.push(end - queued);
            service.push(end - start);
            resolve();
          }, reject);
        }
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, stream));
  return { wallMs: performance.now() - t0, latencies, service, serviceCpu };
}

/** Bounds of a measured section: stop at `minMs` of timed server work or `maxOps`, whichever first. */
export interface Bounds {
  /** Timed (server) milliseconds to accumulate. */
  minMs: number;
  /** Operations at most. */
  maxOps: number;
  /** Operations per batch (between the untimed client steps). */
  batch: number;
  /** Wall-clock limit for the whole section, client work included. */
  deadlineMs: number;
}
