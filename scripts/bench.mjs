#!/usr/bin/env node
// pnpm bench — runs every package's benchmark (each writes bench/results/<package>.json at the repository
// root, DESIGN.md §12), then merges them into bench/results.json and a Markdown table bench/results.md.
//
//   pnpm bench                 all packages
//   pnpm bench --filter wire   only packages whose name contains "wire"
//   pnpm bench --json          print the merged JSON instead of the table
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
if (argv.includes('--help')) {
  console.log(
    'usage: pnpm bench [--filter NAME] [--json]\n\nexamples:\n  pnpm bench\n  pnpm bench --filter wire --json',
  );
  process.exit(0);
}
const filter = argv.includes('--filter') ? argv[argv.indexOf('--filter') + 1] : undefined;
const outDir = join(root, 'bench/results');
mkdirSync(outDir, { recursive: true });

const pkgs = readdirSync(join(root, 'packages')).filter((p) => !filter || p.includes(filter));
for (const p of pkgs) {
  const manifest = JSON.parse(readFileSync(join(root, 'packages', p, 'package.json'), 'utf8'));
  if (!manifest.scripts?.bench) continue;
  console.log(`\n## ${manifest.name}`);
  execFileSync('pnpm', ['--silent', 'run', 'bench'], { cwd: join(root, 'packages', p), stdio: 'inherit' });
}

const figures = [];
for (const f of readdirSync(outDir)
  .filter((f) => f.endsWith('.json'))
  .sort()) {
  figures.push(...JSON.parse(readFileSync(join(outDir, f), 'utf8')));
}
writeFileSync(join(root, 'bench/results.json'), `${JSON.stringify(figures, null, 2)}\n`);

const fmt = (v) =>
  typeof v === 'number' ? (Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(2)) : '';
const met = (f) => {
  if (!f.target) return '';
  return (f.higherIsBetter ? f.value >= f.target.value : f.value <= f.target.value) ? 'met' : 'MISSED';
};
const rows = figures.map(
  (f) =>
    `| ${f.id} | ${fmt(f.value)} ${f.unit} | ${f.target ? `${fmt(f.target.value)} (${f.target.note})` : ''} | ${met(f)} | ${f.peer ? `${f.peer.name}: ${fmt(f.peer.value)}` : ''} |`,
);
const machine = figures[0]?.machine ?? '';
const md = [
  `# Benchmarks`,
  '',
  `Machine: ${machine}`,
  '',
  '| figure | value | target | | peer (same run) |',
  '|---|---|---|---|---|',
  ...rows,
  '',
].join('\n');
writeFileSync(join(root, 'bench/results.md'), md);
if (argv.includes('--json')) console.log(JSON.stringify(figures, null, 2));
else console.log(`\n${md}\nwrote bench/results.json and bench/results.md`);
if (!existsSync(join(root, 'bench/results.json'))) process.exit(1);
