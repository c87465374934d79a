/** What the supernode's benches (run.ts, directory.ts) share: the figure shape, the machine line, progress. */
import { cpus } from 'node:os';

/** One figure of bench/results/<package>.json (scripts/bench.mjs merges them). */
export interface Figure {
  id: string;
  value: number;
  unit: string;
  higherIsBetter: boolean;
  target?: { value: number; note: string };
  machine: string;
}

export const machine = `${cpus().length} vCPU (${cpus()[0]?.model.trim() ?? 'unknown'}), Node ${process.version}`;

/** A progress line on stderr. */
export const progress = (s: string): void => void process.stderr.write(`  ${s}\n`);
