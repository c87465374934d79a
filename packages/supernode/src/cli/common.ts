/**
 * What the CLI's commands share: the usage error (exit 2), output (text or `--json` on stdout), the wall
 * clock a supernode needs, argument parsers, and reading key material and certificates from files.
 */
import { readFileSync } from 'node:fs';
import { UsageError } from '@parley/login-server/cli-kit';
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
} from '@parley/login-server/cli-kit';

/** HOST:PORT or [IPv6]:PORT; undefined when `value` is neither. */
export function hostPort(value: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value.trim());
  if (m === null || Number(m[3]) > 65_535) return undefined;
  return { host: (m[1] ?? m[2])!, port: Number(m[3]) };
}

/** HOST:PORT for commander: an IP literal and a port (port 0 picks a free one where listening). */
export function parseHostPort(value: string): { host: string; port: number } {
  const r = hostPort(value);
  if (r === undefined || !/^[0-9.]+$|:/.test(r.host)) {
    throw new InvalidArgumentError('must be IP:PORT (for example 127.0.0.1:7500, 0.0.0.0:7500 or [::1]:7500)');
  }
  return r;
}

/** A file's bytes: 32/64-hex text (whitespace and `#` comment lines ignored) or, failing that, the raw bytes. */
export function readBinaryOrHex(path: string): Uint8Array {
  const raw = readFileSync(path);
  const text = raw
    .toString('latin1')
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .join('');
  if (text.length > 0 && text.length % 2 === 0 && /^[0-9a-fA-F]+$/.test(text))
    return new Uint8Array(Buffer.from(text, 'hex'));
  return new Uint8Array(raw);
}

/** root.pub of a login server's data directory: root public keys, hex, one per line; `#` comments. */
export function readTrustAnchors(path: string): Uint8Array[] {
  const anchors: Uint8Array[] = [];
  for (const raw of readFileSync(path, 'utf8').split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') continue;
    if (!/^[0-9a-fA-F]{64}$/.test(line))
      throw new UsageError(`${path}: not a root public key (64 hex digits): ${line.slice(0, 16)}...`);
    anchors.push(new Uint8Array(Buffer.from(line, 'hex')));
  }
  if (anchors.length === 0) throw new UsageError(`${path} names no root public key`);
  return anchors;
}
