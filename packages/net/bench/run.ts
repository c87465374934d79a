/**
 * `pnpm bench` for @parley/net (DESIGN.md §12; issue "@parley/net"): the simulator at scale (100,000
 * hosts, 10,000,000 deliveries: deliveries per second, target >= 1,000,000; bytes per idle host,
 * target <= 2,048) and the real transport's write batching against itself unbatched (small-message
 * echo over loopback TCP). Writes bench/results/net.json at the repository root and prints a table.
 * Run with --expose-gc for the memory figure (the package script does).
 *
 *   node --expose-gc dist/bench/run.js [--sim] [--json]
 *
 * --sim runs the simulator figures only; the other figures of bench/results/net.json are kept as the last
 * full run wrote them.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { realTransportFigures } from './real.js';
import { type Figure, simFigures } from './sim.js';

const argv = process.argv.slice(2);
if (argv.includes('--help')) {
  console.log(
    'usage: node --expose-gc dist/bench/run.js [--sim] [--json]\n\n  --sim   the simulator figures only (the others in bench/results/net.json are kept)\n  --json  print the figures as JSON\n\nexamples:\n  pnpm bench --filter net      # from the repository root\n  node --expose-gc packages/net/dist/bench/run.js --sim',
  );
  process.exit(0);
}
const machine = `${cpus().length} vCPU (${cpus()[0]?.model.trim() ?? 'unknown'}), Node ${process.version}`;
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

const simOnly = argv.includes('--sim');
process.stderr.write(
  '  simulator: 100,000 hosts, 10,000,000 deliveries (one datagram in flight per host, then 1,000) …\n',
);
const figures = [...(await simFigures(machine))];
if (!simOnly) {
  process.stderr.write('  real transport: batched and unbatched echo over loopback TCP …\n');
  figures.push(...(await realTransportFigures()));
}

const out = join(root, 'bench/results');
mkdirSync(out, { recursive: true });
const file = join(out, 'net.json');
let written: Figure[] = figures;
if (simOnly && existsSync(file)) {
  // Keep the figures this run did not measure, after the ones it did.
  const previous = JSON.parse(readFileSync(file, 'utf8')) as Figure[];
  written = [...figures, ...previous.filter((f) => !figures.some((g) => g.id === f.id))];
}
writeFileSync(file, `${JSON.stringify(written, null, 2)}\n`);
if (argv.includes('--json')) console.log(JSON.stringify(figures, null, 2));
else {
  const fmt = (v: number) => (v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(1));
  console.log(`\n@parley/net on ${machine}\n\n| figure | value | peer (same run) | target |\n|---|---|---|---|`);
  for (const f of figures) {
    const t = f.target;
    const met = t ? ((f.higherIsBetter ? f.value >= t.value : f.value <= t.value) ? ' met' : ' MISSED') : '';
    const p = (f as { peer?: { name: string; value: number } }).peer;
    const peer = p ? `${fmt(p.value)} (${p.name})` : '';
    console.log(`| ${f.id} | ${fmt(f.value)} ${f.unit} | ${peer} | ${t ? `${fmt(t.value)} ${t.note}${met}` : ''} |`);
  }
  console.log(`\nwrote ${file}`);
}
