/**
 * A loopback endpoint that never answers a connection attempt, for the connect-timeout rule [NET-TCP-9]
 * with real sockets: a child process listens on 127.0.0.1 with a backlog of 1 and blocks its event loop,
 * so it never accepts; once filler connections fill its accept queue, Linux drops further SYNs, and a
 * connection attempt sees nothing until it times out. Loopback only: no packet leaves the machine (the
 * TEST-NET address 192.0.2.1 is this machine's gateway, so it is no "address that never answers" here).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import type { NetAddress } from '../../src/transport.js';

const CHILD = `
const net = require('node:net');
const server = net.createServer();
server.listen({ host: '127.0.0.1', port: 0, backlog: 1 }, () => {
  process.stdout.write(server.address().port + '\\n');
  // Block the event loop: nothing is accepted while the parent runs (at most 10 minutes).
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 600000);
  process.exit(0);
});
`;

export interface SilentEndpoint {
  readonly endpoint: NetAddress;
  stop(): void;
}

function connects(port: number, ms: number): Promise<net.Socket | undefined> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.on('error', () => undefined);
    const timer = setTimeout(() => {
      s.destroy();
      resolve(undefined);
    }, ms);
    s.once('connect', () => {
      clearTimeout(timer);
      resolve(s);
    });
  });
}

/** Starts the endpoint; undefined (with the reason logged by the caller) if it cannot be set up. */
export async function startSilentEndpoint(): Promise<SilentEndpoint | undefined> {
  let child: ChildProcess | undefined;
  const fillers: net.Socket[] = [];
  const stop = () => {
    for (const f of fillers) f.destroy();
    if (child?.pid !== undefined && child.exitCode === null) child.kill('SIGKILL');
  };
  try {
    child = spawn(process.execPath, ['-e', CHILD], { stdio: ['ignore', 'pipe', 'ignore'] });
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      child!.stdout!.on('data', (b: Buffer) => {
        out += b.toString();
        if (out.includes('\n')) resolve(Number(out.trim()));
      });
      child!.once('exit', () => reject(new Error('child exited')));
      setTimeout(() => reject(new Error('child did not start')), 10_000);
    });
    // Fill the accept queue (backlog 1 holds two connections on Linux) until an attempt goes unanswered.
    for (let i = 0; i < 8; i++) {
      const s = await connects(port, 500);
      if (s === undefined) return { endpoint: { host: '127.0.0.1', port }, stop };
      fillers.push(s);
    }
    stop();
    return undefined;
  } catch {
    stop();
    return undefined;
  }
}
