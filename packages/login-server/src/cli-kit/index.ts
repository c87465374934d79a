/**
 * Generic command-line plumbing shared by the daemons' CLIs (parley-login-server, parley-supernode;
 * exported as `@parley/login-server/cli-kit`): the usage error (exit 2), output (text or `--json` on stdout),
 * the wall clock, an integer argument parser, the package version, running a commander program to an exit
 * code, the entry-point check, stop signals and a pino logger to stderr. Nothing here is specific to the
 * login server.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Clock, Timer } from '@parley/net';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { type Logger, pino } from 'pino';

/** The command line is wrong: exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Where a command writes: stdout for results (text or one JSON document), stderr for diagnostics. */
export interface Io {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

export const processIo: Io = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
};

/** Prints a command's result: `json` as one line of JSON, otherwise `text`. */
export function print(io: Io, asJson: boolean | undefined, json: unknown, text: string): void {
  io.out(asJson ? JSON.stringify(json) : text);
}

/**
 * A wall clock: unix milliseconds (integers) from Date.now() (certificates, signed objects and stores all
 * carry wall-clock times), with timers from `timers` (a transport's clock) or Node's own, unref'd so that
 * a one-shot command's process can end.
 */
export function wallClock(timers?: Clock): Clock {
  return {
    now: () => Date.now(),
    setTimer: (delayMs: number, fn: () => void): Timer => {
      if (timers !== undefined) return timers.setTimer(delayMs, fn);
      const t = setTimeout(fn, Math.max(0, delayMs));
      t.unref();
      return { cancel: () => clearTimeout(t) };
    },
  };
}

/** A commander argParser: a decimal integer in min..max (InvalidArgumentError, a usage error, otherwise). */
export function parseIntArg(min: number, max: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError(`must be an integer in ${min}..${max}`);
    const n = Number(value.trim());
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`must be an integer in ${min}..${max}`);
    }
    return n;
  };
}

export const isoTime = (ms: number): string => new Date(ms).toISOString();
export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/**
 * The version of package `name`, from the package.json above `moduleUrl` (the caller's `import.meta.url`,
 * in src/cli or dist/src/cli); 'unknown' when there is none.
 */
export function packageVersion(moduleUrl: string, name: string): string {
  for (let dir = dirname(fileURLToPath(moduleUrl)); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const p = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      if (p.name === name) return String(p.version);
    } catch {
      // not here: look further up
    }
  }
  return 'unknown';
}

/**
 * A daemon's top-level commander program: `name`, `description`, `-V, --version` printing `version`, errors
 * thrown (not exiting) and every output through `io`, errors prefixed with `name`, suggestions after a
 * mistyped command.
 */
export function daemonProgram(name: string, description: string, version: string, io: Io): Command {
  return new Command(name)
    .description(description)
    .version(version, '-V, --version')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.out(s),
      writeErr: (s) => io.err(s),
      outputError: (s, write) => write(`${name}: ${s.trim()}\n`),
    })
    .showSuggestionAfterError();
}

/**
 * Runs `program` on `argv` and resolves with the exit code: `serveResult()`'s (a long-running command's)
 * or 0; 2 for a usage error (commander's, which commander printed, or a UsageError); 1 for any other error,
 * printed as `NAME: error: <first line>` (with the stack when PARLEY_DEBUG is set).
 */
export async function runProgram(
  name: string,
  program: Command,
  serveResult: () => Promise<number | undefined> | number | undefined,
  argv: readonly string[],
  io: Io,
): Promise<number> {
  try {
    await program.parseAsync(argv as string[], { from: 'user' });
    return (await serveResult()) ?? 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2; // commander printed the message
    const message = e instanceof Error ? e.message : String(e);
    io.err(`${name}: error: ${message.split('\n')[0]}`);
    if (e instanceof UsageError) return 2;
    if (process.env.PARLEY_DEBUG) io.err(String((e as Error).stack));
    return 1;
  }
}

/** Whether the module at `moduleUrl` (the caller's `import.meta.url`) is the process's entry point. */
export function isEntryPoint(moduleUrl: string): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
}

/** When `moduleUrl` is the entry point: runs `main` on the process's arguments and exits with its code. */
export function runIfEntryPoint(moduleUrl: string, name: string, main: (argv: string[]) => Promise<number>): void {
  if (!isEntryPoint(moduleUrl)) return;
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`${name}: error: ${String(e)}\n`);
      process.exit(1);
    },
  );
}

/** Resolves with the first SIGTERM or SIGINT; a second one exits at once with status 1. */
export function stopSignal(log: Pick<Logger, 'warn'>): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let received = false;
    const on = (signal: NodeJS.Signals) => {
      if (received) {
        log.warn({ signal }, 'second signal: exiting without waiting');
        process.exit(1);
      }
      received = true;
      resolve(signal);
    };
    process.on('SIGTERM', on);
    process.on('SIGINT', on);
  });
}

/** pino to stderr, synchronously (nothing is lost when the process exits), one JSON object per line. */
export function stderrLogger(name: string, level = 'info'): Logger {
  return pino(
    { name, level, timestamp: pino.stdTimeFunctions.isoTime, base: { pid: process.pid } },
    pino.destination({ dest: 2, sync: true }),
  );
}
