/**
 * Test helpers for simulated streams (test/sim/*.test.ts): one side of a stream, with what its handlers saw.
 */
import type { SimHost } from '../../src/sim/index.js';
import type { NetError, Stream, StreamHandlers } from '../../src/transport.js';

export class Side {
  chunks: Uint8Array[] = [];
  ends = 0;
  drains = 0;
  connects = 0;
  closes = 0;
  error: NetError | undefined;
  stream: Stream | undefined;
  handlers(): StreamHandlers {
    return {
      onConnect: () => this.connects++,
      onData: (c) => this.chunks.push(c.slice()),
      onDrain: () => this.drains++,
      onEnd: () => this.ends++,
      onClose: (e) => {
        this.closes++;
        this.error = e;
      },
    };
  }
  get bytes(): number {
    return this.chunks.reduce((n, c) => n + c.length, 0);
  }
  get text(): string {
    return this.chunks.map((c) => new TextDecoder().decode(c)).join('');
  }
}

/** A listener on `server`:80 that records every accepted stream. */
export function serve(server: SimHost, port = 80): Side[] {
  const accepted: Side[] = [];
  server.listenTcp(
    { port },
    {
      onConnection: (stream) => {
        const s = new Side();
        s.stream = stream;
        accepted.push(s);
        return s.handlers();
      },
    },
  );
  return accepted;
}

export function connect(from: SimHost, to: SimHost | string, port = 80, timeoutMs?: number): Side {
  const c = new Side();
  const host = typeof to === 'string' ? to : to.address;
  c.stream = from.connectTcp({ host, port }, c.handlers(), timeoutMs === undefined ? {} : { timeoutMs });
  return c;
}
