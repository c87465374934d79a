/**
 * The fuzz run's entry, executed by vitest under fuzz/vitest.config.ts (started by scripts/fuzz.mjs):
 * runs every selected target and writes the results where the options say (spec/01-packets.md §9).
 */
import { writeFileSync } from 'node:fs';
import { it } from 'vitest';
import { runTarget, type TargetResult } from './runner.js';
import { matchTargets } from './targets.js';

interface RunOptions {
  readonly budget: number;
  readonly seed: number;
  readonly target?: string;
  readonly path?: string;
  readonly slowMs?: number;
  readonly list?: boolean;
  readonly out: string;
}

const options = JSON.parse(process.env.PARLEY_FUZZ_OPTIONS ?? 'null') as RunOptions | null;

it('runs the selected fuzz targets', () => {
  if (options === null) throw new Error('run through scripts/fuzz.mjs (pnpm fuzz)');
  const selected = matchTargets(options.target);
  const results: TargetResult[] = [];
  for (const target of options.list ? [] : selected) {
    process.stderr.write(
      `[fuzz] ${target.name}: ${target.description}; ${options.budget.toLocaleString('en')} executions, seed ${options.seed}\n`,
    );
    const result = runTarget(target, {
      budget: options.budget,
      seed: options.seed,
      ...(options.path !== undefined ? { path: options.path } : {}),
      ...(options.slowMs !== undefined ? { slowMs: options.slowMs } : {}),
      onProgress: (line) => process.stderr.write(`[fuzz] ${line}\n`),
    });
    process.stderr.write(
      `[fuzz] ${target.name}: ${result.failure ? 'FAILED' : 'ok'} after ${result.executions.toLocaleString('en')} executions in ${result.seconds.toFixed(1)} s (${result.perSecond.toLocaleString('en')}/s)\n`,
    );
    results.push(result);
  }
  writeFileSync(options.out, JSON.stringify({ targets: selected.map((t) => t.name), results }));
});
