/**
 * The child-process half of the crash tests (login-server store, supernode offline store): a writer runs
 * the workspace's TypeScript sources through `scripts/ts-loader.mjs`, prints one line per write it has
 * completed, and is SIGKILLed once it has printed enough, in the middle of whatever it is writing. The
 * test then reopens the data and checks that everything printed survived.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The `file:` URL of `scripts/ts-loader.mjs`, found above this module (it runs from src/ or dist/). */
export function tsLoaderUrl(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; ) {
    const candidate = join(dir, 'scripts', 'ts-loader.mjs');
    if (existsSync(candidate)) return pathToFileURL(candidate).href;
    const up = dirname(dir);
    if (up === dir) throw new Error('scripts/ts-loader.mjs not found above this package');
    dir = up;
  }
}

/**
 * How many completed writes each of `rounds` rounds waits for before the kill: `min + (0..spread-1)`,
 * drawn from `seed` (pass fast-check's global seed, so the failure message's seed replays the rounds).
 */
export function killPoints(seed: number, rounds: number, min: number, spread: number): number[] {
  let x = seed >>> 0 || 1;
  return Array.from({ length: rounds }, () => {
    x = (Math.imul(x, 1_103_515_245) + 12_345) >>> 0;
    return min + (x % spread);
  });
}

export interface KilledWriter {
  /** The TypeScript file to run. */
  readonly script: string;
  readonly args: readonly string[];
  /** Added to this process's environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** SIGKILL once this many lines (other than `ready`) have been printed. */
  readonly killAfter: number;
  /** The writer must get there within this long (default 50 s). */
  readonly timeoutMs?: number;
}

/**
 * Runs the writer until it has printed `killAfter` lines, then SIGKILLs it. Resolves with every line it
 * printed (a few may arrive after the kill was sent); rejects when it exits by itself or is too slow.
 */
export function runUntilKilled(w: KilledWriter): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, ['--import', tsLoaderUrl(), w.script, ...w.args], {
      env: { ...process.env, ...w.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const printed: string[] = [];
    let stderr = '';
    let killed = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the writer did not print ${w.killAfter} lines in time: ${stderr}`));
    }, w.timeoutMs ?? 50_000);
    child.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4_000);
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line === 'ready') return;
      printed.push(line);
      if (printed.length >= w.killAfter && !killed) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL' && killed) resolve(printed);
      else reject(new Error(`the writer exited by itself (code ${code}, signal ${signal}): ${stderr}`));
    });
  });
}
