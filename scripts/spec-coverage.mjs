#!/usr/bin/env node
// pnpm spec:coverage — every MUST-level requirement of every non-draft chapter in spec/, with the tests
// that cite it (spec/README.md, "How code and tests cite ids"). Exits 1 when a MUST has no test.
//
//   node scripts/spec-coverage.mjs            table of MUST ids and citing tests; gaps last
//   node scripts/spec-coverage.mjs --all      every id (MUST, SHOULD, MAY)
//   node scripts/spec-coverage.mjs --json     machine-readable: { requirements: [...], uncovered: [...] }
//   node scripts/spec-coverage.mjs --help
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseChapter } from './lib/spec-ids.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
if (args.has('--help') || args.has('-h')) {
  console.log(`usage: pnpm spec:coverage [--all] [--json]

Lists the requirement ids of every spec chapter that is not a draft, with the tests that cite them,
and fails (exit 1) when a MUST-level id is cited by no test. A test cites an id by naming it in its
title or metadata, e.g. it('[WIRE-FRAME-3] rejects ...').

examples:
  pnpm spec:coverage                 # the MUST table; exit 1 on a gap
  pnpm spec:coverage --all           # SHOULD and MAY ids too
  pnpm spec:coverage --json | jq '.uncovered'`);
  process.exit(0);
}

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

const specDir = join(root, 'spec');
const chapters = readdirSync(specDir)
  .filter((f) => /^\d\d-.*\.md$/.test(f))
  .sort();
const requirements = [];
const seen = new Map();
const problems = [];
for (const f of chapters) {
  const { status, reqs } = parseChapter(readFileSync(join(specDir, f), 'utf8'), `spec/${f}`);
  for (const r of reqs) {
    if (seen.has(r.id)) problems.push(`${r.id} is defined twice (${seen.get(r.id)} and ${r.file}:${r.line})`);
    seen.set(r.id, `${r.file}:${r.line}`);
    requirements.push({ ...r, status });
  }
}

// Tests: every *.test.ts file and every conformance catalogue file.
const testFiles = [];
for (const base of ['packages', 'conformance']) {
  const dir = join(root, base);
  try {
    statSync(dir);
  } catch {
    continue;
  }
  for (const p of walk(dir)) {
    // Test files, and the shared suites they run (contract suites, fixtures) under a test/ folder.
    const isTest = /\.test\.[cm]?[jt]s$/.test(p) || /\/test\/.*\.[cm]?[jt]s$/.test(p);
    const isCatalogue = /conformance\/(catalogue|src\/catalogue)\//.test(p) && /\.[jt]s$/.test(p);
    if (isTest || isCatalogue) testFiles.push(p);
  }
}
const citations = new Map();
const citedUnknown = new Set();
const TOKEN = /\b([A-Z][A-Z0-9]*-[A-Z0-9]+-\d+)\b/g;
for (const p of testFiles) {
  const text = readFileSync(p, 'utf8');
  for (const m of text.matchAll(TOKEN)) {
    const id = m[1];
    if (!seen.has(id)) {
      if (
        /^(GEN|WIRE|ID|CHAN|CRYPTO|NET|LOGIN|POLICY|SN|DIR|STORE|NAT|RELAY|ATTEST|NODE|E2E|FILE|CALL|ELECT|SHIM)-/.test(
          id,
        )
      )
        citedUnknown.add(`${id} (${relative(root, p)})`);
      continue;
    }
    const set = citations.get(id) ?? new Set();
    set.add(relative(root, p));
    citations.set(id, set);
  }
}

const counted = requirements.filter((r) => r.status !== 'draft' && !r.withdrawn);
const shown = args.has('--all') ? counted : counted.filter((r) => r.level === 'MUST');
const uncovered = counted.filter((r) => r.level === 'MUST' && !citations.has(r.id));
for (const id of citedUnknown) problems.push(`a test cites ${id}, which no chapter defines`);

if (args.has('--json')) {
  console.log(
    JSON.stringify(
      {
        chapters: chapters.length,
        requirements: counted.map((r) => ({ ...r, tests: [...(citations.get(r.id) ?? [])] })),
        uncovered: uncovered.map((r) => r.id),
        problems,
      },
      null,
      2,
    ),
  );
} else {
  const byLevel = (lvl) => counted.filter((r) => r.level === lvl).length;
  for (const r of shown) {
    const tests = [...(citations.get(r.id) ?? [])];
    console.log(
      `${tests.length ? 'ok  ' : 'GAP '} ${r.id.padEnd(20)} ${r.level.padEnd(6)} ${tests.length ? tests.join(', ') : '— no test cites it'}`,
    );
  }
  console.log(
    `\nspec coverage: ${chapters.length} chapters, ${counted.length} requirements (${byLevel('MUST')} MUST, ${byLevel('SHOULD')} SHOULD, ${byLevel('MAY')} MAY); ` +
      `${byLevel('MUST') - uncovered.length}/${byLevel('MUST')} MUST covered by tests`,
  );
  for (const r of uncovered) console.log(`  uncovered: ${r.id} (${r.file}:${r.line}) ${r.text.slice(0, 100)}`);
  for (const p of problems) console.log(`  problem: ${p}`);
}
process.exit(uncovered.length > 0 || problems.length > 0 ? 1 : 0);
