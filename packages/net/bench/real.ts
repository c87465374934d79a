/**
 * Benchmark of the real transport's write batching (src/real/tcp.ts; DESIGN.md §9, §12): small-message
 * echo over loopback TCP, where every message is its own `write()` (as protocol code writes one frame at a
 * time), with batching on and off. The lead's bench runner calls `realTransportFigures()`.
 *
 * One client keeps `window` messages of `messageSize` bytes in flight; the server writes each message it
 * reads back on its own; the client sends a new message for each one that returns. Both ends are in this
 * process, so the figure counts both sides' work on one core.
 *
 * Run alone after `pnpm build`: node packages/net/dist/bench/real.js [messageSize] [window]
 */
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createRealTransport, type RealTransport } from '../src/real/index.js';
import type { NetAddress, Stream } from '../src/transport.js';

export interface EchoOptions {
  /** Measured time per round; default 1,500 ms (after a warm-up of a fifth of it). */
  readonly durationMs?: number;
  /** Default 32 bytes. */
  readonly messageSize?: number;
  /** Messages in flight; default 64. */
  readonly window?: number;
  /** Rounds per setting, best kept; default 3. */
  readonly rounds?: number;
}

export interface EchoResult {
  /** Round trips completed per second. */
  readonly messagesPerSecond: number;
  /** Socket writes handed to Node per `write()` call, both ends (1 without batching). */
  readonly socketWritesPerWrite: number;
}

/** Same shape as the figures of the other packages' benches (bench/results/*.json). */
export interface Figure {
  id: string;
  value: number;
  unit: string;
  higherIsBetter: boolean;
  peer?: { name: string; value: number };
  machine: string;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** One round of the echo with writes batched or not. */
export async function echoRate(batchWrites: boolean, options: EchoOptions = {}): Promise<EchoResult> {
  const { durationMs = 1500, messageSize = 32, window = 64 } = options;
  const client: RealTransport = createRealTransport({ batchWrites });
  const server: RealTransport = createRealTransport({ batchWrites });
  try {
    let local: NetAddress | undefined;
    server.listenTcp(
      { address: '127.0.0.1' },
      {
        onReady: (l) => {
          local = l;
        },
        onConnection: (stream: Stream) => {
          let pending = new Uint8Array(0);
          return {
            onData: (chunk) => {
              const all = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
              let at = 0;
              for (; at + messageSize <= all.length; at += messageSize) {
                stream.write(all.slice(at, at + messageSize)); // one write per message
              }
              pending = all.slice(at);
            },
            onClose: () => undefined,
          };
        },
      },
    );
    while (local === undefined) await sleep(1);

    let received = 0;
    let connected = false;
    const message = new Uint8Array(messageSize).fill(7);
    const stream = client.connectTcp(local, {
      onConnect: () => {
        connected = true;
        for (let i = 0; i < window; i++) stream.write(message);
      },
      onData: (chunk) => {
        const before = Math.floor(received / messageSize);
        received += chunk.length;
        const done = Math.floor(received / messageSize) - before;
        for (let i = 0; i < done; i++) stream.write(message);
      },
      onClose: () => undefined,
    });
    while (!connected) await sleep(1);

    await sleep(durationMs / 5);
    const r0 = received;
    const w0 = client.stats.streamWrites + server.stats.streamWrites;
    const s0 = client.stats.socketWrites + server.stats.socketWrites;
    const t0 = performance.now();
    await sleep(durationMs);
    const t1 = performance.now();
    const writes = client.stats.streamWrites + server.stats.streamWrites - w0;
    const socketWrites = client.stats.socketWrites + server.stats.socketWrites - s0;
    return {
      messagesPerSecond: ((received - r0) / messageSize / (t1 - t0)) * 1000,
      socketWritesPerWrite: writes === 0 ? 0 : socketWrites / writes,
    };
  } finally {
    client.close();
    server.close();
  }
}

/** Best of `rounds` for each setting, alternating so that drift in the machine hits both alike. */
export async function compareBatching(
  options: EchoOptions = {},
): Promise<{ batched: EchoResult; unbatched: EchoResult }> {
  let batched: EchoResult | undefined;
  let unbatched: EchoResult | undefined;
  for (let r = 0; r < (options.rounds ?? 3); r++) {
    const u = await echoRate(false, options);
    const b = await echoRate(true, options);
    if (!unbatched || u.messagesPerSecond > unbatched.messagesPerSecond) unbatched = u;
    if (!batched || b.messagesPerSecond > batched.messagesPerSecond) batched = b;
  }
  return { batched: batched!, unbatched: unbatched! };
}

/** The figures for bench/results/net.json. */
export async function realTransportFigures(options: EchoOptions = {}): Promise<Figure[]> {
  const machine = `${cpus().length} vCPU (${cpus()[0]?.model.trim() ?? 'unknown'}), Node ${process.version}`;
  const { batched, unbatched } = await compareBatching(options);
  return [
    {
      id: `net.real.tcp.echo.${options.messageSize ?? 32}b`,
      value: batched.messagesPerSecond,
      unit: 'messages/s',
      higherIsBetter: true,
      peer: { name: 'same, writes not batched', value: unbatched.messagesPerSecond },
      machine,
    },
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const messageSize = Number(process.argv[2] ?? 32);
  const window = Number(process.argv[3] ?? 64);
  const { batched, unbatched } = await compareBatching({ messageSize, window });
  const fmt = (r: EchoResult) =>
    `${Math.round(r.messagesPerSecond).toLocaleString('en-US')} messages/s, ${r.socketWritesPerWrite.toFixed(3)} socket writes per write()`;
  console.log(`echo of ${messageSize}-byte messages, ${window} in flight, loopback TCP`);
  console.log(`  batched:   ${fmt(batched)}`);
  console.log(`  unbatched: ${fmt(unbatched)}`);
}
