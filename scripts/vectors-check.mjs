#!/usr/bin/env node
// pnpm vectors:check — fails when regenerating spec/vectors/*.json from the reference implementation
// would change any of them. Self-sufficient: builds @parley/wire first (tsc -b is incremental, so this is
// quick when nothing changed), then runs the generator with --check.
//
//   node scripts/vectors-check.mjs          build, then compare; exit 1 and name the files that differ
//   node scripts/vectors-check.mjs --help
import { execFileSync, execSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
if (process.argv.includes('--help') || process.argv.includes('-h')) {
  console.log(`usage: pnpm vectors:check

Builds @parley/wire, regenerates the test vectors of spec/vectors/ in memory from their fixed seeds,
and compares them with the checked-in files. Exit 0 when every file matches; exit 1 and name every
file that would change otherwise.

examples:
  pnpm vectors:check            # in CI and before committing a change to packages/wire
  pnpm vectors                  # regenerate and write the files after an intended change; review the diff`);
  process.exit(0);
}

function step(what, run) {
  try {
    run();
  } catch (e) {
    console.error(`vectors:check: ${what} failed${e.status !== undefined ? ` (exit ${e.status})` : ''}`);
    process.exit(typeof e.status === 'number' && e.status !== 0 ? e.status : 1);
  }
}

console.log('vectors:check: building @parley/wire');
step('bootstrap', () => execFileSync(process.execPath, [resolve(root, 'scripts/bootstrap.mjs')], { stdio: 'inherit' }));
step('the build of @parley/wire', () =>
  execSync('pnpm --filter @parley/wire build', { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] }),
);
try {
  execFileSync(process.execPath, [resolve(root, 'packages/wire/dist/scripts/vectors.js'), '--check'], {
    cwd: root,
    stdio: 'inherit',
  });
} catch (e) {
  console.error(
    'vectors:check: FAILED: the checked-in vectors differ from what the reference implementation generates.\n' +
      'If the change is intended (a protocol change or a fixed bug), run `pnpm vectors`, review the diff of\n' +
      'spec/vectors/, and commit it with the change; otherwise the change broke byte compatibility.',
  );
  process.exit(typeof e.status === 'number' && e.status !== 0 ? e.status : 1);
}
console.log('vectors:check: OK');
