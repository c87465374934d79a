/**
 * Runs fuzz targets (targets.ts) with fast-check: `budget` executions each from one seed, progress on
 * stderr, and for a failure the seed, the shrunk counterexample and a command that replays it
 * (spec/01-packets.md §9; DESIGN.md §10: every failure prints its seed and re-runs from it alone).
 */
import fc from 'fast-check';
import type { FuzzTarget } from './targets.js';

export interface FuzzOptions {
  /** Executions per target. */
  readonly budget: number;
  readonly seed: number;
  /** fast-check's replay path of a failure (with `seed`, reruns exactly that counterexample). */
  readonly path?: string;
  /** An execution slower than this (ms) is a failure: a decoder must never hang (WIRE-LIMIT-5). */
  readonly slowMs?: number;
  /** Called about every two seconds with a progress line. */
  readonly onProgress?: (line: string) => void;
}

export interface FuzzFailure {
  readonly seed: number;
  readonly path: string;
  readonly counterexample: string;
  readonly error: string;
  readonly replay: string;
}

export interface TargetResult {
  readonly target: string;
  readonly executions: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly failure?: FuzzFailure;
}

function describe(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}

/** Runs one target; never throws for a failure of the target (it is reported in the result). */
export function runTarget(target: FuzzTarget<unknown>, options: FuzzOptions): TargetResult {
  const slowMs = options.slowMs ?? 1_000;
  let executions = 0;
  const started = performance.now();
  let lastReport = started;
  const property = fc.property(target.input, (input) => {
    executions++;
    const once = (): number => {
      const t0 = performance.now();
      try {
        target.run(input);
      } catch (e) {
        if (!target.allowed(e)) throw e;
      }
      return performance.now() - t0;
    };
    let took = once();
    // A slow execution is timed again before it counts: a hang reproduces, a pause of the machine (GC,
    // other processes) does not. The verdict must not depend on how busy the machine was.
    if (took > slowMs) took = Math.min(took, once());
    if (took > slowMs) throw new Error(`one execution took ${Math.round(took)} ms twice (limit ${slowMs} ms)`);
    const t1 = performance.now();
    if (t1 - lastReport > 2_000 && options.onProgress) {
      lastReport = t1;
      const rate = Math.round(executions / ((t1 - started) / 1000));
      const pct = Math.min(100, (100 * executions) / options.budget).toFixed(1);
      options.onProgress(
        `${target.name}: ${executions.toLocaleString('en')}/${options.budget.toLocaleString('en')} (${pct}%), ${rate.toLocaleString('en')}/s`,
      );
    }
  });
  const details = fc.check(property, {
    numRuns: options.budget,
    seed: options.seed,
    ...(options.path !== undefined ? { path: options.path } : {}),
  });
  const seconds = (performance.now() - started) / 1000;
  const result = { target: target.name, executions, seconds, perSecond: Math.round(executions / seconds) };
  if (!details.failed) return result;
  const input = details.counterexample?.[0];
  const path = details.counterexamplePath ?? '';
  return {
    ...result,
    failure: {
      seed: details.seed,
      path,
      counterexample: input === undefined ? '(none)' : target.format(input),
      error: describe(details.errorInstance),
      replay: `pnpm fuzz --target ${target.name} --seed ${details.seed} --path ${path} --budget 1`,
    },
  };
}
