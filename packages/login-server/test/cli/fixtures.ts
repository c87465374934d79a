/**
 * Fixtures for the CLI tests: the CLI run from source in a child process (scripts/ts-loader.mjs,
 * `process.execPath`, no build), a `serve` process whose ready line is parsed, and LoginClients over real
 * loopback TCP that pin the data directory's root.pub.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createRealTransport, type RealTransport, type Transport } from '@parley/net';
import { type LocalIdentity, nodeCrypto } from '@parley/wire';
import { LoginClient } from '../../src/client/index.js';
import { tsLoaderUrl } from '../../src/testing/crash.js';

export const suite = nodeCrypto;
export const LOADER = tsLoaderUrl();
export const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
export const PASSWORD = 'correct horse battery staple';

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `parley-login-server ...args` to completion (killed after `timeoutMs`). */
export function cli(args: readonly string[], o: { env?: Record<string, string>; timeoutMs?: number } = {}) {
  return new Promise<CliResult>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', LOADER, MAIN, ...args], {
      env: { ...process.env, ...o.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Runs a command that must succeed with --json output; resolves with the parsed JSON. */
export async function cliJson<T = Record<string, unknown>>(args: readonly string[]): Promise<T> {
  const r = await cli([...args, '--json']);
  if (r.code !== 0) throw new Error(`${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

export interface Ready {
  readonly event: 'ready';
  readonly address: string;
  readonly port: number;
  readonly network: string;
  readonly fingerprint: string;
  readonly pid: number;
}

export interface ServeProcess {
  readonly child: ChildProcess;
  readonly ready: Ready;
  /** Every stderr line so far (pino JSON log lines). */
  readonly logLines: string[];
  readonly stdoutLines: string[];
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends `signal` and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `serve --data DIR --listen 127.0.0.1:0 --json ...extra` and waits for its ready line. */
export function serve(
  dir: string,
  extra: readonly string[] = [],
  env: Record<string, string> = {},
): Promise<ServeProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', LOADER, MAIN, 'serve', '--data', dir, '--listen', '127.0.0.1:0', '--json', ...extra],
      { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const logLines: string[] = [];
    const stdoutLines: string[] = [];
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
      child.on('close', (code, signal) => r({ code, signal })),
    );
    createInterface({ input: child.stderr! }).on('line', (l) => logLines.push(l));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve did not become ready: ${logLines.join('\n')}`));
    }, 30_000);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`serve exited before ready (code ${code}, signal ${signal}): ${logLines.join('\n')}`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      stdoutLines.push(line);
      if (stdoutLines.length !== 1) return;
      clearTimeout(timer);
      const ready = JSON.parse(line) as Ready;
      resolve({
        child,
        ready,
        logLines,
        stdoutLines,
        exited,
        stop(signal: NodeJS.Signals = 'SIGTERM') {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          return exited;
        },
      });
    });
  });
}

/** The pinned anchors of a data directory (root.pub). */
export function trustAnchors(dir: string): Uint8Array[] {
  return readFileSync(join(dir, 'root.pub'), 'utf8')
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter((l) => l !== '')
    .map((l) => new Uint8Array(Buffer.from(l, 'hex')));
}

/** A real transport whose clock reads unix milliseconds, as certificates need (the CLI's server does the same). */
export function wallTransport(): { transport: Transport; real: RealTransport } {
  const real = createRealTransport();
  return {
    real,
    transport: {
      ...real,
      clock: { now: () => Date.now(), setTimer: (ms, fn) => real.clock.setTimer(ms, fn) },
    },
  };
}

/** A LoginClient to the server at 127.0.0.1:`port` of the network whose root.pub is in `dir`. */
export async function connect(
  dir: string,
  port: number,
  o: { identity?: LocalIdentity; software?: string } = {},
): Promise<{ client: LoginClient; close(): void }> {
  const { transport, real } = wallTransport();
  try {
    const client = await LoginClient.connect({
      transport,
      server: { host: '127.0.0.1', port },
      suite,
      trustAnchors: trustAnchors(dir),
      now: () => Date.now(),
      ...(o.identity !== undefined ? { identity: o.identity } : {}),
      ...(o.software !== undefined ? { software: o.software } : {}),
    });
    return {
      client,
      close() {
        client.close();
        setTimeout(() => real.close(), 50).unref();
      },
    };
  } catch (e) {
    real.close();
    throw e;
  }
}

/** A device for login: a fixed seed per `n` and a 16-byte device id. */
export function device(n: number): { seed: Uint8Array; deviceId: Uint8Array } {
  const seed = new Uint8Array(32).fill(n & 0xff);
  seed[0] = 0xd5;
  const deviceId = new Uint8Array(16).fill((n + 1) & 0xff);
  return { seed, deviceId };
}

/** Parsed pino log lines (the ones that are JSON). */
export function logRecords(lines: readonly string[]): Record<string, unknown>[] {
  return lines.flatMap((l) => {
    try {
      return [JSON.parse(l) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}
