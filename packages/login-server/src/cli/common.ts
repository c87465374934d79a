/**
 * What the CLI's commands share: the usage error (exit 2), the output of one command (text or `--json`
 * on stdout), the wall clock the core needs, argument parsers, and opening the store of a data directory.
 */
import type { Clock, Timer } from '@parley/net';
import { InvalidArgumentError } from 'commander';

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
 * The clock LoginServerCore and the certificate checks need: unix milliseconds (integers) from Date.now()
 * (certificates, published objects and the store all carry wall-clock times), with timers from `timers`
 * (a transport's clock) or Node's own, unref'd so that an admin command's process can end.
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

// ---- Argument parsers (commander argParser; InvalidArgumentError is a usage error) --------------------

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

/** A repeatable option: each occurrence appends. */
export const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** HOST:PORT, with [IPv6]:PORT; port 0 picks a free port. */
export function parseListen(value: string): { address: string; port: number } {
  const r = listenAddress(value);
  if (r === undefined) {
    throw new InvalidArgumentError('must be HOST:PORT (for example 127.0.0.1:7400, 0.0.0.0:7400 or [::1]:7400)');
  }
  return r;
}

/** HOST:PORT or [IPv6]:PORT; undefined when `value` is neither. */
export function listenAddress(value: string): { address: string; port: number } | undefined {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value.trim());
  if (m === null || Number(m[3]) > 65_535) return undefined;
  return { address: (m[1] ?? m[2])!, port: Number(m[3]) };
}

/** Exactly `bytes` bytes of hex (either case). */
export function parseHexArg(bytes: number, what: string) {
  return (value: string): Uint8Array => {
    const t = value.trim().toLowerCase();
    if (t.length !== bytes * 2 || !/^[0-9a-f]*$/.test(t)) {
      throw new InvalidArgumentError(`must be ${what}: ${bytes} bytes as ${bytes * 2} hex digits`);
    }
    return new Uint8Array(Buffer.from(t, 'hex'));
  };
}

/** A postgres URL with its password replaced, for logs and messages. */
export function redactUrl(url: string): string {
  if (!/^postgres(ql)?:\/\//.test(url)) return url;
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

export const isoTime = (ms: number): string => new Date(ms).toISOString();
export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
