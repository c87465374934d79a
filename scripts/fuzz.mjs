#!/usr/bin/env node
// pnpm fuzz — runs every registered fuzz target (packages/wire/fuzz/targets.ts) for --budget executions
// each: random bytes and mutations of valid encodings; a target fails when its decoder throws anything
// but a ParleyError, or one execution takes longer than --slow-ms (spec/01-packets.md §6, WIRE-LIMIT-5).
// The TypeScript source runs through vitest (packages/wire/fuzz/vitest.config.ts): no build needed.
//
//   node scripts/fuzz.mjs [--budget N] [--target GLOB] [--seed S] [--path P] [--slow-ms MS] [--json] [--list]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const usage = `usage: pnpm fuzz [--budget N] [--target GLOB] [--seed S] [--path P] [--slow-ms MS] [--json] [--list]

Runs the fuzz targets registered in packages/wire/fuzz/targets.ts with fast-check: each gets N executions
(default 1,000,000) of random bytes and mutated valid encodings. A target fails when it throws anything but
a ParleyError, or when one execution takes longer than --slow-ms (default 1000) twice in a row (a
single pause of a busy machine is not a hang). Exit 1 on any failure.

  --budget N       executions per target (default 1000000; underscores allowed: 1_000_000)
  --target GLOB    only targets whose name matches (* and ?), e.g. --target 'packet*'
  --seed S         the fast-check seed (default: random, printed)
  --path P         with --seed, replays one failure exactly (printed with every failure)
  --slow-ms MS     the time one execution may take (default 1000)
  --json           print a JSON summary on stdout (progress stays on stderr)
  --list           list the targets and exit

examples:
  pnpm fuzz                                   # every target, 1,000,000 executions each
  pnpm fuzz --budget 10000 --target packet    # a quick run of one target
  pnpm fuzz --target packet --seed 42 --path 3:1 --budget 1   # replay a failure`;

function parseArgs(argv) {
  const opts = {
    budget: 1_000_000,
    seed: undefined,
    target: undefined,
    path: undefined,
    slowMs: 1000,
    json: false,
    list: false,
  };
  const need = (i, name) => {
    if (i + 1 >= argv.length) fail(`${name} needs a value`);
    return argv[i + 1];
  };
  const int = (v, name) => {
    const n = Number(String(v).replaceAll('_', ''));
    if (!Number.isSafeInteger(n) || n < 0) fail(`${name}: not a non-negative integer: ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] =
      a.startsWith('--') && a.includes('=')
        ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]
        : [a, undefined];
    const value = () => inline ?? need(i++, flag);
    switch (flag) {
      case '--budget':
        opts.budget = int(value(), flag);
        break;
      case '--seed':
        opts.seed = int(value(), flag) | 0;
        break;
      case '--target':
        opts.target = value();
        break;
      case '--path':
        opts.path = value();
        break;
      case '--slow-ms':
        opts.slowMs = int(value(), flag);
        break;
      case '--json':
        opts.json = true;
        break;
      case '--list':
        opts.list = true;
        break;
      case '--help':
      case '-h':
        console.log(usage);
        process.exit(0);
        break;
      case '--':
        break;
      default:
        fail(`unknown argument ${a}`);
    }
  }
  if (opts.path !== undefined && opts.seed === undefined) fail('--path needs the --seed it was printed with');
  return opts;
}

function fail(message) {
  console.error(`fuzz: ${message}\n\n${usage}`);
  process.exit(2);
}

const opts = parseArgs(process.argv.slice(2));
const seed = opts.seed ?? (Math.random() * 2 ** 31) | 0;
const workDir = mkdtempSync(join(tmpdir(), 'parley-fuzz-'));
const out = join(workDir, 'results.json');
process.env.PARLEY_FUZZ_OPTIONS = JSON.stringify({
  budget: opts.budget,
  list: opts.list,
  seed,
  target: opts.target,
  path: opts.path,
  slowMs: opts.slowMs,
  out,
});

const { startVitest } = await import('vitest/node');
const silent = {}; // a reporter that reports nothing: the fuzz entry prints its own progress on stderr
const started = performance.now();
const vitest = await startVitest('test', [], {
  config: join(root, 'packages/wire/fuzz/vitest.config.ts'),
  watch: false,
  reporters: [silent],
});
const vitestFailed =
  (vitest?.state.getCountOfFailedTests() ?? 1) > 0 || (vitest?.state.getUnhandledErrors().length ?? 0) > 0;
await vitest?.close();

let summary;
try {
  summary = JSON.parse(readFileSync(out, 'utf8'));
} catch {
  rmSync(workDir, { recursive: true, force: true });
  console.error('fuzz: the fuzz run did not complete (see the errors above)');
  process.exit(1);
}
rmSync(workDir, { recursive: true, force: true });

if (opts.list) {
  for (const t of summary.targets) console.log(t);
  process.exit(0);
}
if (summary.targets.length === 0) fail(`no target matches ${opts.target}`);

const failures = summary.results.filter((r) => r.failure);
const report = {
  seed,
  budget: opts.budget,
  seconds: Number(((performance.now() - started) / 1000).toFixed(2)),
  executions: summary.results.reduce((n, r) => n + r.executions, 0),
  targets: summary.results.map((r) => ({
    target: r.target,
    executions: r.executions,
    seconds: Number(r.seconds.toFixed(2)),
    perSecond: r.perSecond,
    ...(r.failure ? { failure: r.failure } : {}),
  })),
  failures: failures.map((r) => ({ target: r.target, ...r.failure })),
};

if (opts.json) console.log(JSON.stringify(report, null, 2));
else {
  for (const r of report.targets) {
    const status = r.failure ? 'FAIL' : 'ok  ';
    console.log(
      `${status} ${r.target.padEnd(24)} ${r.executions.toLocaleString('en').padStart(12)} executions  ${r.seconds.toFixed(1).padStart(7)} s  ${r.perSecond.toLocaleString('en').padStart(9)}/s`,
    );
  }
  for (const f of report.failures) {
    console.log(`\nFAILED ${f.target} (seed ${f.seed}, path ${f.path})`);
    console.log(`  error: ${f.error}`);
    console.log(`  input: ${f.counterexample}`);
    console.log(`  replay: ${f.replay}`);
  }
  console.log(
    `\nfuzz: ${report.targets.length} targets, ${report.executions.toLocaleString('en')} executions, ${report.seconds} s, seed ${seed}; ${failures.length ? `${failures.length} FAILED` : 'no failures'}`,
  );
}
process.exit(failures.length > 0 || vitestFailed ? 1 : 0);
