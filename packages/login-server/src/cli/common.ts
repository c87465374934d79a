/**
 * What the CLI's commands share: the usage error (exit 2), the output of one command (text or `--json`
 * on stdout), the wall clock the core needs, argument parsers, and opening the store of a data directory.
 */
import { InvalidArgumentError } from 'commander';

export {
  hex,
  type Io,
  isoTime,
  parseIntArg,
  print,
  processIo,
  UsageError,
  wallClock,
} from '../cli-kit/index.js';

// ---- Argument parsers (commander argParser; InvalidArgumentError is a usage error) --------------------

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
