/**
 * Real-socket behaviour beyond the shared contract (src/real/; DESIGN.md §9): write batching, IPv6
 * loopback, EMSGSIZE as the kernel reports it, handler exceptions surfacing ([NET-HANDLER-3]), and
 * RealTransport.close(). Loopback only.
 */
import { networkInterfaces } from 'node:os';
import { describe, expect, it } from 'vitest';
import { createRealTransport, type RealTransport } from '../../src/real/index.js';
import type { NetAddress, NetError, Stream, StreamHandlers } from '../../src/transport.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function until(done: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() >= deadline) throw new Error('timed out');
    await sleep(2);
  }
}

interface Side {
  stream: Stream;
  chunks: Uint8Array[];
  closed: boolean;
  error: NetError | undefined;
  connected: boolean;
}

function recorder(): { side: Side; handlers: StreamHandlers } {
  const side: Side = {
    stream: undefined as unknown as Stream,
    chunks: [],
    closed: false,
    error: undefined,
    connected: false,
  };
  return {
    side,
    handlers: {
      onConnect: () => {
        side.connected = true;
      },
      onData: (c) => side.chunks.push(new Uint8Array(c)),
      onClose: (e) => {
        side.closed = true;
        side.error = e;
      },
    },
  };
}

const length = (s: Side) => s.chunks.reduce((n, c) => n + c.length, 0);

/** A connected stream pair from `client` to `server` over `host`. */
async function pair(client: RealTransport, server: RealTransport, host: string) {
  const accepted: Side[] = [];
  let local: NetAddress | undefined;
  server.listenTcp(
    { address: host },
    {
      onReady: (l) => {
        local = l;
      },
      onConnection: (stream) => {
        const r = recorder();
        r.side.stream = stream;
        accepted.push(r.side);
        return r.handlers;
      },
    },
  );
  await until(() => local !== undefined);
  const c = recorder();
  c.side.stream = client.connectTcp({ host, port: local!.port }, c.handlers);
  await until(() => c.side.connected && accepted.length === 1);
  return { client: c.side, server: accepted[0]! };
}

const hasIpv6Loopback = Object.values(networkInterfaces()).some((list) =>
  (list ?? []).some((i) => i.family === 'IPv6' && i.address === '::1'),
);

describe('real transport', () => {
  it('batches the writes made before control returns to the event loop into one socket write, and the bytes arrive intact', async () => {
    for (const batchWrites of [true, false]) {
      const a = createRealTransport({ batchWrites });
      const b = createRealTransport();
      try {
        const { client, server } = await pair(a, b, '127.0.0.1');
        const before = { ...a.stats };
        const expected: number[] = [];
        for (let i = 0; i < 1000; i++) {
          const msg = new Uint8Array(10).fill(i & 0xff);
          expected.push(...msg);
          client.stream.write(msg);
        }
        expect(a.stats.streamWrites - before.streamWrites).toBe(1000);
        await until(() => length(server) >= 10_000);
        const got = new Uint8Array(10_000);
        let at = 0;
        for (const c of server.chunks) {
          got.set(c, at);
          at += c.length;
        }
        expect(Buffer.from(got).equals(Buffer.from(expected))).toBe(true);
        // One write handed to Node for the whole synchronous run when batching; one per write() otherwise.
        expect(a.stats.socketWrites - before.socketWrites).toBe(batchWrites ? 1 : 1000);
      } finally {
        a.close();
        b.close();
      }
    }
  });

  it('flushes a batch larger than the copy limit as one corked writev, in order', async () => {
    const a = createRealTransport();
    const b = createRealTransport();
    try {
      const { client, server } = await pair(a, b, '127.0.0.1');
      const before = a.stats.socketWrites;
      const sizes = [1, 40_000, 3, 70_000, 5, 100_000];
      let k = 0;
      const all: number[] = [];
      for (const n of sizes) {
        const chunk = new Uint8Array(n);
        for (let i = 0; i < n; i++) chunk[i] = k++ & 0xff;
        all.push(...chunk);
        client.stream.write(chunk);
      }
      await until(() => length(server) >= all.length);
      expect(Buffer.concat(server.chunks).equals(Buffer.from(all))).toBe(true);
      expect(a.stats.socketWrites - before).toBe(1);
    } finally {
      a.close();
      b.close();
    }
  });

  it.skipIf(!hasIpv6Loopback)(
    'works over IPv6 loopback (::1): UDP and TCP (skipped when ::1 is not configured)',
    async () => {
      const a = createRealTransport();
      const b = createRealTransport();
      try {
        const got: { data: string; from: NetAddress }[] = [];
        let ua: NetAddress | undefined;
        let ub: NetAddress | undefined;
        const sa = a.bindUdp({ address: '::1' }, { onMessage: () => undefined, onReady: (l) => (ua = l) });
        b.bindUdp(
          { address: '::1' },
          { onMessage: (d, from) => got.push({ data: Buffer.from(d).toString(), from }), onReady: (l) => (ub = l) },
        );
        await until(() => ua !== undefined && ub !== undefined);
        expect(ua!.host).toBe('::1');
        sa.send(new TextEncoder().encode('v6'), ub!);
        await until(() => got.length === 1);
        expect(got[0]).toEqual({ data: 'v6', from: ua });

        const { client, server } = await pair(a, b, '::1');
        expect(server.stream.remote).toEqual(client.stream.local);
        expect(client.stream.remote.host).toBe('::1');
        client.stream.write(new TextEncoder().encode('over v6'));
        await until(() => length(server) === 7);
        expect(Buffer.concat(server.chunks).toString()).toBe('over v6');
      } finally {
        a.close();
        b.close();
      }
    },
  );

  it('reports an oversized datagram as onError(EMSGSIZE), as the kernel does, and stays open', async () => {
    const a = createRealTransport();
    try {
      const errors: NetError[] = [];
      const got: number[] = [];
      let local: NetAddress | undefined;
      const s = a.bindUdp(
        { address: '127.0.0.1' },
        { onMessage: (d) => got.push(d.length), onReady: (l) => (local = l), onError: (e) => errors.push(e) },
      );
      await until(() => local !== undefined);
      s.send(new Uint8Array(70_000), local!);
      s.send(new Uint8Array(3), local!);
      await until(() => errors.length === 1 && got.length === 1);
      expect(errors[0]!.code).toBe('EMSGSIZE');
      expect(got).toEqual([3]);
    } finally {
      a.close();
    }
  });

  it('[NET-HANDLER-3] does not swallow a handler exception: it surfaces as an uncaught exception', async () => {
    const a = createRealTransport();
    // Vitest fails the run on uncaught exceptions; take its listeners aside while this one is expected.
    const saved = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    try {
      const caught = new Promise<unknown>((resolve) => process.once('uncaughtException', resolve));
      let local: NetAddress | undefined;
      const s = a.bindUdp(
        { address: '127.0.0.1' },
        {
          onMessage: () => {
            throw new Error('handler bug');
          },
          onReady: (l) => (local = l),
        },
      );
      await until(() => local !== undefined);
      s.send(new Uint8Array(1), local!);
      const error = await Promise.race([caught, sleep(5_000).then(() => 'nothing surfaced')]);
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toBe('handler bug');
    } finally {
      process.removeAllListeners('uncaughtException');
      for (const l of saved) process.on('uncaughtException', l);
      a.close();
    }
  });

  it('close() resets every stream (onClose(ECLOSED)), closes listeners and sockets, cancels timers', async () => {
    const a = createRealTransport();
    const b = createRealTransport();
    const { client, server } = await pair(a, b, '127.0.0.1');
    let fired = false;
    a.clock.setTimer(20, () => (fired = true));
    a.close();
    await until(() => client.closed && server.closed);
    expect(client.error?.code).toBe('ECLOSED');
    expect(server.error?.code).toBe('ECONNRESET');
    await sleep(50);
    expect(fired).toBe(false);
    b.close();
  });

  it('runs many timers in deadline order, none early, skipping the cancelled ones', async () => {
    const a = createRealTransport();
    const c = a.clock;
    const delays = Array.from({ length: 300 }, (_, i) => (i * 37) % 41);
    // Each deadline lies in [lo, hi]: the clock reads now() inside setTimer, between these two reads.
    const set = delays.map(() => ({ lo: 0, hi: 0, at: Number.NaN }));
    const order: number[] = [];
    const timers = delays.map((d, i) => {
      set[i]!.lo = c.now() + d;
      const t = c.setTimer(d, () => {
        set[i]!.at = c.now();
        order.push(i);
      });
      set[i]!.hi = c.now() + d;
      return t;
    });
    for (let i = 0; i < timers.length; i += 3) timers[i]!.cancel();
    await until(() => order.length === 200);
    await sleep(60);
    expect(order).toHaveLength(200);
    expect(order.every((i) => i % 3 !== 0)).toBe(true);
    for (const i of order) expect(set[i]!.at).toBeGreaterThanOrEqual(set[i]!.lo - 1e-6); // never early
    for (let k = 1; k < order.length; k++) {
      const x = set[order[k - 1]!]!;
      const y = set[order[k]!]!;
      // y ran after x, so y's deadline cannot be certainly earlier than x's; equal delays run in set order.
      expect(y.hi).toBeGreaterThanOrEqual(x.lo);
      if (delays[order[k - 1]!] === delays[order[k]!]) expect(order[k]!).toBeGreaterThan(order[k - 1]!);
    }
    a.close();
  });

  it('reset() before the connection is established abandons it: onClose(ECLOSED), never onConnect', async () => {
    const a = createRealTransport();
    const b = createRealTransport();
    let local: NetAddress | undefined;
    b.listenTcp({ address: '127.0.0.1' }, { onReady: (l) => (local = l), onConnection: () => recorder().handlers });
    await until(() => local !== undefined);
    const c = recorder();
    c.side.stream = a.connectTcp(local!, c.handlers);
    c.side.stream.write(new Uint8Array(10));
    c.side.stream.reset();
    await until(() => c.side.closed);
    await sleep(20);
    expect(c.side.connected).toBe(false);
    expect(c.side.error?.code).toBe('ECLOSED');
    expect(c.side.stream.bufferedAmount).toBe(0);
    a.close();
    b.close();
  });

  it('never calls back inside connectTcp, even for an address it rejects at once', async () => {
    const a = createRealTransport();
    let inside = true;
    let closedInside: boolean | undefined;
    let error: NetError | undefined;
    a.connectTcp(
      { host: 'not-an-ip', port: 1 },
      {
        onData: () => undefined,
        onClose: (e) => {
          closedInside = inside;
          error = e;
        },
      },
    );
    inside = false;
    await until(() => closedInside !== undefined);
    expect(closedInside).toBe(false);
    expect(error?.code).toBe('EHOSTUNREACH');
    a.close();
  });
});
