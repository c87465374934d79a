/**
 * The lab cleans up after itself (NET-REALNAT-8..10): destroy() deletes every namespace with the lab's
 * prefix and kills its processes, also when the test body throws or a setup step failed half-way; the
 * exit/signal handler path does the same; and leftovers of a crashed run (a prefix whose pid is dead)
 * are removed by the next lab, while a live run's namespaces are left alone.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import {
  cleanupStaleLabs,
  createNetnsLab,
  destroyAllLabsSync,
  type LabProcess,
  listNamespaces,
  netnsAvailable,
} from '../../src/netns/index.js';
import { fixture } from './helpers.js';

const available = netnsAvailable();

const withPrefix = (prefix: string) => listNamespaces().filter((n) => n.startsWith(prefix));

/** Whether a process exists and is not a zombie (a killed orphan may await reaping by init a while). */
function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Polls `alive` for up to 2 s: SIGKILL is delivered asynchronously. */
async function diesSoon(pid: number | undefined): Promise<boolean> {
  for (let i = 0; i < 40 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
  return !alive(pid);
}

/** A pid that certainly belonged to a process which has exited (a finished child's). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

/**
 * Writes a plain-JS copy of the lab (transpiled, since Node 20 cannot run TypeScript) and a script that
 * builds a small lab, starts a fixture in it, prints `{prefix, pid}` and then ends the way `mode` says,
 * without ever calling destroy(): only the lab's exit and signal handlers can clean up.
 */
function writeCrashingChild(dir: string): string {
  for (const f of ['lab', 'run']) {
    const src = readFileSync(new URL(`../../src/netns/${f}.ts`, import.meta.url), 'utf8');
    const js = ts.transpileModule(src, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    writeFileSync(join(dir, `${f}.js`), js);
  }
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  const script = join(dir, 'child.js');
  writeFileSync(
    script,
    `import { createNetnsLab } from './lab.js';
const [reflector, mode] = process.argv.slice(2);
const lab = createNetnsLab();
const nat = lab.addNat('n', { kind: 'port-restricted' });
lab.addPrivateHost('h', nat);
const p = lab.spawnNode('h', reflector, ['--port', '3478']);
await p.waitFor('listening');
console.log(JSON.stringify({ prefix: lab.prefix, pid: p.pid }));
if (mode === 'exit') process.exit(3);
if (mode === 'throw') throw new Error('uncaught on purpose');
setInterval(() => {}, 1000); // wait for the signal
`,
  );
  return script;
}

describe.runIf(available.ok)('netns lab teardown', () => {
  // Belt and braces: whatever a failing test here left behind goes too.
  afterAll(() => destroyAllLabsSync());

  it('[NET-REALNAT-8] destroy() deletes every namespace of the lab and kills its processes, also when the test body throws, and is idempotent', async () => {
    let prefix = '';
    let proc: LabProcess | undefined;
    const body = async () => {
      const lab = createNetnsLab();
      prefix = lab.prefix;
      try {
        const pub = lab.addPublicHost('a');
        const nat = lab.addNat('n', { kind: 'port-restricted' });
        lab.addPrivateHost('h', nat);
        // exec runs inside the host: it sees the lab's address, not the machine's.
        expect(lab.exec(pub, 'ip', ['-4', '-o', 'addr', 'show', 'dev', 'eth0']).stdout).toContain(`${pub.address}/24`);
        proc = lab.spawnNode(pub, fixture('reflector.mjs'), ['--port', '3478']);
        await proc.waitFor('listening');
        expect(withPrefix(prefix).sort()).toEqual(['a', 'h', 'inet', 'n'].map((n) => prefix + n));
        throw new Error('test body failed');
      } finally {
        await lab.destroy();
        await lab.destroy(); // idempotent
      }
    };
    await expect(body()).rejects.toThrow('test body failed');
    expect(withPrefix(prefix)).toEqual([]);
    expect(await diesSoon(proc?.pid)).toBe(true);
  }, 30_000);

  it('[NET-REALNAT-8] destroy() also removes what a setup step that failed half-way created', async () => {
    const lab = createNetnsLab();
    try {
      lab.addPublicHost('a');
      // The namespace is created before the option is rejected.
      expect(() => lab.addNat('n', { kind: 'port-restricted', lossPercent: 200 })).toThrow(/lossPercent/);
      expect(withPrefix(lab.prefix).length).toBeGreaterThan(0);
    } finally {
      await lab.destroy();
    }
    expect(withPrefix(lab.prefix)).toEqual([]);
  }, 30_000);

  it('[NET-REALNAT-9] the exit and signal handler path (destroyAllLabsSync) deletes every live lab of the process', () => {
    const l1 = createNetnsLab();
    const l2 = createNetnsLab();
    l1.addPublicHost('a');
    l2.addNat('n', { kind: 'symmetric' });
    expect(withPrefix(l1.prefix).length + withPrefix(l2.prefix).length).toBe(4);
    destroyAllLabsSync();
    expect(withPrefix(l1.prefix)).toEqual([]);
    expect(withPrefix(l2.prefix)).toEqual([]);
  }, 30_000);

  it('[NET-REALNAT-9] a process that ends by SIGTERM, SIGINT, process.exit or an uncaught exception without calling destroy() leaves no namespace behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pnl-child-'));
    try {
      const script = writeCrashingChild(dir);
      for (const mode of ['SIGTERM', 'SIGINT', 'exit', 'throw'] as const) {
        const child = spawn(process.execPath, [script, fixture('reflector.mjs'), mode], { stdio: 'pipe' });
        const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
          child.on('exit', (code, signal) => resolve({ code, signal })),
        );
        const line = await new Promise<string>((resolve, reject) => {
          createInterface({ input: child.stdout }).once('line', resolve);
          child.on('exit', () => reject(new Error(`child (${mode}) exited early`)));
        });
        const { prefix, pid } = JSON.parse(line) as { prefix: string; pid: number };
        if (mode.startsWith('SIG')) child.kill(mode as NodeJS.Signals);
        const end = await exited;
        // The handler re-raises the signal, so the process still dies of it (its default action).
        if (mode.startsWith('SIG')) expect(end.signal, mode).toBe(mode);
        else expect(end.code, mode).not.toBe(0);
        expect(withPrefix(prefix), mode).toEqual([]);
        expect(await diesSoon(pid), mode).toBe(true);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it('[NET-REALNAT-10] leftovers of a crashed run (prefix pid no longer alive) are deleted by the next lab; a live run is left alone', async () => {
    const dead = `pnl${deadPid()}-0-0-`;
    // A still-running process stands for a parallel test run that must not be disturbed.
    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    const live = `pnl${sleeper.pid}-0-0-`;
    try {
      for (const ns of [`${dead}a`, `${dead}b`, `${live}a`]) spawnSync('ip', ['netns', 'add', ns]);
      // A process still inside the crashed run's namespace must not keep it alive.
      const orphan = spawn('ip', ['netns', 'exec', `${dead}a`, 'sleep', '30'], { stdio: 'ignore' });
      const lab = createNetnsLab(); // runs cleanupStaleLabs() first
      await lab.destroy();
      expect(withPrefix(dead)).toEqual([]);
      expect(withPrefix(live)).toEqual([`${live}a`]);
      await new Promise((resolve) => (orphan.exitCode !== null ? resolve(null) : orphan.on('exit', resolve)));
      // Killed by the cleanup — or, when another test run on the machine swept these leftovers first,
      // `ip netns exec` found no namespace to enter (exit 255). Either way nothing is left running.
      expect([orphan.signalCode, orphan.exitCode]).toSatisfy(
        ([signal, code]: [string | null, number | null]) => signal === 'SIGKILL' || code === 255,
      );
      // Once the other run's process is gone, its namespaces are leftovers too.
      sleeper.kill('SIGKILL');
      await new Promise((resolve) => sleeper.on('exit', resolve));
      expect(cleanupStaleLabs()).toEqual([`${live}a`]);
      expect(withPrefix(live)).toEqual([]);
    } finally {
      sleeper.kill('SIGKILL');
      for (const ns of [...withPrefix(dead), ...withPrefix(live)]) spawnSync('ip', ['netns', 'del', ns]);
    }
  }, 30_000);
});

// Where the lab cannot run, say why in the test report instead of passing silently.
if (!available.ok) it.skip(`netns lab teardown tests skipped: ${available.reason}`, () => {});
