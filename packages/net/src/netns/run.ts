/**
 * Command plumbing for the netns lab (lab.ts): runs `ip`, `nft`, `iptables` and friends as child
 * processes and turns failures into errors that say which command failed and what it printed.
 *
 * Synchronous on purpose: lab setup is a few dozen short commands, and teardown must also work from a
 * process 'exit' handler, where nothing asynchronous runs any more. Node-only, test-oriented.
 */
import { spawnSync } from 'node:child_process';

/** What a finished command printed and how it ended. */
export interface CommandResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A command that exited non-zero (or could not start), with its output for the test log. */
export class CommandError extends Error {
  override readonly name = 'CommandError';
  constructor(
    readonly command: readonly string[],
    readonly result: CommandResult,
  ) {
    super(
      `\`${command.join(' ')}\` failed (${result.code ?? result.signal}): ${result.stderr.trim() || result.stdout.trim()}`,
    );
  }
}

/** Runs a command to completion without a shell (arguments are never re-parsed), bounded in time. */
export function runSync(cmd: string, args: readonly string[], opts: { input?: string; timeoutMs?: number } = {}) {
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    input: opts.input,
    timeout: opts.timeoutMs ?? 10_000,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const result: CommandResult = {
    code: r.error ? null : r.status,
    signal: r.signal,
    stdout: r.stdout ?? '',
    stderr: r.error ? String(r.error.message) : (r.stderr ?? ''),
  };
  return result;
}

/** Like runSync, but throws CommandError unless the command exited 0. */
export function checkedSync(cmd: string, args: readonly string[], opts: { input?: string; timeoutMs?: number } = {}) {
  const result = runSync(cmd, args, opts);
  if (result.code !== 0) throw new CommandError([cmd, ...args], result);
  return result;
}

/** Whether an executable is on PATH (`command -v` semantics, without a shell). */
export function hasCommand(cmd: string): boolean {
  const r = runSync(cmd, ['--version'], { timeoutMs: 5_000 });
  // `ip` has no --version before iproute2 5.x but prints a usage error with code 255; only "could not
  // start" (code null with ENOENT) means missing.
  return r.code !== null || !/ENOENT/.test(r.stderr);
}
