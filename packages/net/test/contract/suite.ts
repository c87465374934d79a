/**
 * The Transport contract suite (DESIGN.md §9; STYLE.md, js-libp2p "interface compliance tests"): the rules of
 * src/transport.ts as tests, run unchanged against every implementation (real sockets on loopback, the
 * simulator). Each title cites its requirement id; spec/05-network.md ("Transport contract") states them.
 *
 * Every call the suite makes into a transport goes through a `Probe`, and every handler it gives one is
 * wrapped by it, so that in every test:
 *  - [NET-HANDLER-1] no handler runs while a call into the transport is on the stack;
 *  - [NET-HANDLER-2] `onClose` runs exactly once per stream, and no handler of a stream runs after its
 *    `onClose`, nor any handler of a UDP socket or listener after its `close()`.
 *
 * Handler exceptions ([NET-HANDLER-3]) are a caller's bug; the transport does not swallow them (real sockets:
 * they surface as an uncaught exception; the simulator: out of its run loop). That rule is checked per
 * implementation, not here, because the way an exception surfaces differs.
 *
 * The suite waits only through `env.until`/`env.wait`, never on real timers, so that a virtual-time
 * environment runs it without wall-clock delays. It asserts no upper bounds on time.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Listener,
  type ListenOptions,
  type NetAddress,
  NetError,
  type NetErrorCode,
  type Stream,
  type StreamHandlers,
  type Transport,
  type UdpOptions,
  type UdpSocket,
} from '../../src/transport.js';
import type { ContractEnv, ContractEnvFactory } from './harness.js';

/** An address no test host owns (RFC 5737 TEST-NET-3); binding it must fail, and nothing is sent to it. */
const FOREIGN_ADDRESS = '203.0.113.77';

/** Watches one test for the rules every test checks ([NET-HANDLER-1], [NET-HANDLER-2]). */
class Probe {
  private depth = 0;
  readonly violations: string[] = [];
  private readonly cleanups: (() => void)[] = [];

  /** A call into the transport: no handler may run before it returns. */
  call<T>(fn: () => T): T {
    this.depth++;
    try {
      return fn();
    } finally {
      this.depth--;
    }
  }

  /** A handler given to the transport. */
  handler<A extends unknown[], R>(name: string, fn: (...args: A) => R): (...args: A) => R {
    return (...args: A) => {
      if (this.depth > 0) this.violations.push(`[NET-HANDLER-1] ${name} ran inside a call into the transport`);
      return fn(...args);
    };
  }

  violation(text: string): void {
    this.violations.push(text);
  }

  /** Registers a cleanup run after the test, before env.close(). */
  onCleanup(fn: () => void): void {
    this.cleanups.push(fn);
  }

  cleanup(): void {
    for (const fn of this.cleanups.reverse()) {
      try {
        fn();
      } catch (e) {
        this.violations.push(`cleanup threw: ${String(e)}`);
      }
    }
  }
}

/** Runs `body` with a fresh environment and probe, then checks the every-test rules and closes everything. */
async function withEnv(factory: ContractEnvFactory, body: (env: ContractEnv, p: Probe) => Promise<void>) {
  const env = await factory();
  const p = new Probe();
  try {
    await body(env, p);
    expect(p.violations).toEqual([]);
  } finally {
    p.cleanup();
    await env.close();
  }
}

async function settle(env: ContractEnv, done: () => boolean, what: string, timeoutMs?: number): Promise<void> {
  if (!(await env.until(done, timeoutMs))) expect.fail(`timed out waiting for ${what}`);
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** `length` bytes of a pattern that differs by `salt` and by position, so misordered or foreign bytes show. */
function pattern(length: number, salt: number, offset = 0): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    const k = offset + i;
    out[i] = (k * 131 + (k >>> 8) * 7 + salt) & 0xff;
  }
  return out;
}

const text = (s: string) => new TextEncoder().encode(s);
const untext = (b: Uint8Array) => new TextDecoder().decode(b);

/** Byte equality without the cost of a deep toEqual over megabytes; reports the first difference. */
function expectBytes(actual: Uint8Array, expected: Uint8Array): void {
  let at = 0;
  const n = Math.min(actual.length, expected.length);
  while (at < n && actual[at] === expected[at]) at++;
  if (at < n || actual.length !== expected.length) {
    expect.fail(`bytes differ at offset ${at} (got ${actual.length} bytes, expected ${expected.length})`);
  }
}

function expectCode(error: NetError | undefined | null, code: NetErrorCode): void {
  expect(error).toBeInstanceOf(NetError);
  expect(error?.code).toBe(code);
}

// ---- UDP -------------------------------------------------------------------------------------------------

interface UdpEnd {
  /** The socket, its calls made through the probe. */
  readonly socket: UdpSocket;
  readonly messages: { data: Uint8Array; from: NetAddress }[];
  readonly errors: NetError[];
  ready: NetAddress | undefined;
  readyCount: number;
}

function bindUdp(p: Probe, t: Transport, options: UdpOptions = {}, label = 'udp'): UdpEnd {
  let closed = false;
  const afterClose = (what: string) => {
    if (closed) p.violation(`[NET-HANDLER-2] ${label}.${what} ran after close()`);
  };
  const end: UdpEnd = {
    socket: undefined as unknown as UdpSocket,
    messages: [],
    errors: [],
    ready: undefined,
    readyCount: 0,
  };
  const raw = p.call(() =>
    t.bindUdp(options, {
      onMessage: p.handler(`${label}.onMessage`, (data: Uint8Array, from: NetAddress) => {
        afterClose('onMessage');
        end.messages.push({ data: new Uint8Array(data), from: { host: from.host, port: from.port } });
      }),
      onReady: p.handler(`${label}.onReady`, (local: NetAddress) => {
        afterClose('onReady');
        end.readyCount++;
        end.ready = { host: local.host, port: local.port };
      }),
      onError: p.handler(`${label}.onError`, (error: NetError) => {
        afterClose('onError');
        end.errors.push(error);
      }),
    }),
  );
  (end as { socket: UdpSocket }).socket = {
    get local() {
      return raw.local;
    },
    send: (data, to) => p.call(() => raw.send(data, to)),
    close: () => {
      closed = true;
      p.call(() => raw.close());
    },
  };
  p.onCleanup(() => raw.close());
  return end;
}

async function readyUdp(env: ContractEnv, p: Probe, t: Transport, options: UdpOptions = {}, label = 'udp') {
  const u = bindUdp(p, t, options, label);
  await settle(env, () => u.ready !== undefined || u.errors.length > 0, `${label} onReady`);
  expect(u.errors).toEqual([]);
  return u as UdpEnd & { ready: NetAddress };
}

// ---- TCP -------------------------------------------------------------------------------------------------

/** One side of a stream, as its handlers saw it. */
class StreamEnd {
  stream!: Stream;
  raw!: Stream;
  connects = 0;
  readonly chunks: Uint8Array[] = [];
  ends = 0;
  drains = 0;
  closes = 0;
  closeError: NetError | undefined = undefined;
  /** When onClose ran, on the connecting transport's clock (outbound streams only). */
  closedAt = Number.NaN;
  clock: Transport['clock'] | undefined;

  constructor(
    private readonly p: Probe,
    readonly label: string,
  ) {}

  get closed(): boolean {
    return this.closes > 0;
  }

  get received(): Uint8Array {
    return concat(this.chunks);
  }

  get receivedLength(): number {
    return this.chunks.reduce((n, c) => n + c.length, 0);
  }

  handlers(): StreamHandlers {
    const p = this.p;
    const check = (what: string) => {
      if (this.closes > 0) p.violation(`[NET-HANDLER-2] ${this.label}.${what} ran after onClose`);
    };
    return {
      onConnect: p.handler(`${this.label}.onConnect`, () => {
        check('onConnect');
        this.connects++;
        if (this.connects > 1) p.violation(`${this.label}.onConnect ran twice`);
      }),
      onData: p.handler(`${this.label}.onData`, (chunk: Uint8Array) => {
        check('onData');
        if (this.ends > 0) p.violation(`${this.label}.onData ran after onEnd`);
        this.chunks.push(new Uint8Array(chunk)); // a copy: Buffer#slice would be a view
      }),
      onDrain: p.handler(`${this.label}.onDrain`, () => {
        check('onDrain');
        this.drains++;
      }),
      onEnd: p.handler(`${this.label}.onEnd`, () => {
        check('onEnd');
        this.ends++;
        if (this.ends > 1) p.violation(`${this.label}.onEnd ran twice`);
      }),
      onClose: p.handler(`${this.label}.onClose`, (error?: NetError) => {
        check('onClose');
        this.closes++;
        if (this.clock) this.closedAt = this.clock.now();
        if (error !== undefined && !(error instanceof NetError)) {
          p.violation(`${this.label}.onClose got a non-NetError: ${String(error)}`);
        }
        this.closeError = error;
      }),
    };
  }

  attach(raw: Stream): this {
    const p = this.p;
    this.raw = raw;
    this.stream = {
      get local() {
        return raw.local;
      },
      get remote() {
        return raw.remote;
      },
      get bufferedAmount() {
        return raw.bufferedAmount;
      },
      write: (data) => p.call(() => raw.write(data)),
      end: () => p.call(() => raw.end()),
      reset: () => p.call(() => raw.reset()),
    };
    p.onCleanup(() => {
      if (!this.closed) raw.reset();
    });
    return this;
  }
}

function connect(p: Probe, t: Transport, remote: NetAddress, timeoutMs?: number, label = 'client'): StreamEnd {
  const end = new StreamEnd(p, label);
  end.clock = t.clock;
  const raw = p.call(() => t.connectTcp(remote, end.handlers(), timeoutMs === undefined ? undefined : { timeoutMs }));
  return end.attach(raw);
}

interface ListenEnd {
  readonly listener: Listener;
  readonly accepted: StreamEnd[];
  readonly errors: NetError[];
  ready: NetAddress | undefined;
}

function listen(p: Probe, t: Transport, options: ListenOptions = {}, label = 'listener'): ListenEnd {
  let closed = false;
  const afterClose = (what: string) => {
    if (closed) p.violation(`[NET-HANDLER-2] ${label}.${what} ran after close()`);
  };
  const end: ListenEnd = { listener: undefined as unknown as Listener, accepted: [], errors: [], ready: undefined };
  const raw = p.call(() =>
    t.listenTcp(options, {
      onConnection: p.handler(`${label}.onConnection`, (stream: Stream) => {
        afterClose('onConnection');
        const s = new StreamEnd(p, `accepted#${end.accepted.length}`);
        end.accepted.push(s);
        s.attach(stream);
        return s.handlers();
      }),
      onReady: p.handler(`${label}.onReady`, (local: NetAddress) => {
        afterClose('onReady');
        end.ready = { host: local.host, port: local.port };
      }),
      onError: p.handler(`${label}.onError`, (error: NetError) => {
        afterClose('onError');
        end.errors.push(error);
      }),
    }),
  );
  (end as { listener: Listener }).listener = {
    get local() {
      return raw.local;
    },
    close: () => {
      closed = true;
      p.call(() => raw.close());
    },
  };
  p.onCleanup(() => raw.close());
  return end;
}

async function readyListener(env: ContractEnv, p: Probe, options: ListenOptions = {}) {
  const l = listen(p, env.b, options);
  await settle(env, () => l.ready !== undefined || l.errors.length > 0, 'listener onReady');
  expect(l.errors).toEqual([]);
  return l as ListenEnd & { ready: NetAddress };
}

/** An established stream from a (client) to b (server). */
async function pair(env: ContractEnv, p: Probe, l?: ListenEnd & { ready: NetAddress }) {
  const listener = l ?? (await readyListener(env, p));
  const before = listener.accepted.length;
  const client = connect(p, env.a, { host: env.bHost, port: listener.ready.port });
  await settle(env, () => client.connects === 1 && listener.accepted.length > before, 'connection');
  const server = listener.accepted[before]!;
  return { listener, client, server };
}

// ---- the suite -------------------------------------------------------------------------------------------

export function transportContract(name: string, factory: ContractEnvFactory): void {
  const run = (body: (env: ContractEnv, p: Probe) => Promise<void>) => () => withEnv(factory, body);

  describe(`Transport contract: ${name}`, () => {
    describe('UDP', () => {
      it(
        '[NET-UDP-1] bindUdp on port 0 binds a free port: onReady once with the local address, then `local` equals it',
        run(async (env, p) => {
          const u = bindUdp(p, env.a);
          expect(u.socket.local).toBeUndefined();
          await settle(env, () => u.ready !== undefined || u.errors.length > 0, 'onReady');
          expect(u.errors).toEqual([]);
          expect(u.ready?.port).toBeGreaterThan(0);
          expect(u.socket.local).toEqual(u.ready);
          await env.wait(20);
          expect(u.readyCount).toBe(1);
        }),
      );

      it(
        '[NET-UDP-2] binding a port another socket holds fails with onError(EADDRINUSE), never onReady; the socket is closed',
        run(async (env, p) => {
          const first = await readyUdp(env, p, env.a, {}, 'first');
          const second = bindUdp(p, env.a, { port: first.ready.port }, 'second');
          await settle(env, () => second.errors.length > 0 || second.ready !== undefined, 'onError');
          expect(second.ready).toBeUndefined();
          expect(second.errors).toHaveLength(1);
          expectCode(second.errors[0], 'EADDRINUSE');
          // Closed by the failure: sending and closing are harmless no-ops.
          second.socket.send(text('x'), { host: env.aHost, port: first.ready.port });
          second.socket.close();
          await env.wait(20);
          expect(first.messages).toEqual([]);
          expect(second.errors).toHaveLength(1);
        }),
      );

      it(
        '[NET-UDP-3] binding an address that is not the host’s fails with onError(EADDRNOTAVAIL); bindUdp does not throw',
        run(async (env, p) => {
          const u = bindUdp(p, env.a, { address: FOREIGN_ADDRESS });
          await settle(env, () => u.errors.length > 0 || u.ready !== undefined, 'onError');
          expect(u.ready).toBeUndefined();
          expectCode(u.errors[0], 'EADDRNOTAVAIL');
        }),
      );

      it(
        '[NET-UDP-4] a datagram is delivered each way, with `from` the sender’s address and port',
        run(async (env, p) => {
          const ua = await readyUdp(env, p, env.a, {}, 'ua');
          const ub = await readyUdp(env, p, env.b, {}, 'ub');
          ua.socket.send(text('ping'), { host: env.bHost, port: ub.ready.port });
          await settle(env, () => ub.messages.length === 1, 'ping');
          expect(untext(ub.messages[0]!.data)).toBe('ping');
          expect(ub.messages[0]!.from).toEqual({ host: env.aHost, port: ua.ready.port });
          ub.socket.send(text('pong'), ub.messages[0]!.from);
          await settle(env, () => ua.messages.length === 1, 'pong');
          expect(untext(ua.messages[0]!.data)).toBe('pong');
          expect(ua.messages[0]!.from).toEqual({ host: env.bHost, port: ub.ready.port });
        }),
      );

      it(
        '[NET-UDP-5] datagrams are delivered whole: one onMessage per datagram with exactly its bytes (order not guaranteed)',
        run(async (env, p) => {
          const ua = await readyUdp(env, p, env.a, {}, 'ua');
          const ub = await readyUdp(env, p, env.b, {}, 'ub');
          const sizes = [1, 2, 3, 17, 100, 512, 999, 1200, 1, 1200, 64, 7];
          const sent = sizes.map((n, i) => {
            const d = pattern(n, i);
            d[0] = i; // the tag: which datagram this is
            return d;
          });
          for (const d of sent) ua.socket.send(d, { host: env.bHost, port: ub.ready.port });
          await settle(env, () => ub.messages.length >= sent.length, 'all datagrams');
          await env.wait(20); // anything extra (a fragment, a duplicate) would show now
          expect(ub.messages).toHaveLength(sent.length);
          const got = [...ub.messages].sort((x, y) => x.data[0]! - y.data[0]!).map((m) => m.data);
          expect(got).toEqual(sent);
        }),
      );

      it(
        '[NET-UDP-6] send() right after bindUdp, before onReady, is not lost for that reason: it goes out once bound',
        run(async (env, p) => {
          const ub = await readyUdp(env, p, env.b, {}, 'ub');
          const ua = bindUdp(p, env.a, {}, 'ua');
          ua.socket.send(text('early'), { host: env.bHost, port: ub.ready.port });
          await settle(env, () => ub.messages.length === 1, 'the early datagram');
          expect(untext(ub.messages[0]!.data)).toBe('early');
          expect(ub.messages[0]!.from).toEqual({ host: env.aHost, port: ua.ready?.port });
        }),
      );

      it(
        '[NET-UDP-7] an oversized datagram (> 65,535 bytes) is dropped, at most reported as onError(EMSGSIZE); the socket keeps working',
        run(async (env, p) => {
          const ua = await readyUdp(env, p, env.a, {}, 'ua');
          const ub = await readyUdp(env, p, env.b, {}, 'ub');
          ua.socket.send(new Uint8Array(70_000), { host: env.bHost, port: ub.ready.port });
          ua.socket.send(text('after'), { host: env.bHost, port: ub.ready.port });
          await settle(env, () => ub.messages.length >= 1, 'the datagram after the oversized one');
          await env.wait(20);
          expect(ub.messages.map((m) => untext(m.data))).toEqual(['after']);
          for (const e of ua.errors) expectCode(e, 'EMSGSIZE');
        }),
      );

      it(
        '[NET-UDP-8] close() stops delivery at once (also of datagrams in flight), is idempotent, and send() after it is a no-op',
        run(async (env, p) => {
          const ua = await readyUdp(env, p, env.a, {}, 'ua');
          const ub = await readyUdp(env, p, env.b, {}, 'ub');
          for (let i = 0; i < 5; i++) ub.socket.send(text(`late ${i}`), { host: env.aHost, port: ua.ready.port });
          ua.socket.close(); // the wrapper flags any handler of ua that runs from now on
          ua.socket.close();
          ua.socket.send(text('after close'), { host: env.bHost, port: ub.ready.port });
          await env.wait(50);
          expect(ua.messages).toEqual([]);
          expect(ub.messages).toEqual([]);
        }),
      );
    });

    describe('TCP', () => {
      it(
        '[NET-TCP-1] listenTcp on port 0 listens on a free port: onReady with the local address, then `local` equals it',
        run(async (env, p) => {
          const l = listen(p, env.b);
          expect(l.listener.local).toBeUndefined();
          await settle(env, () => l.ready !== undefined || l.errors.length > 0, 'onReady');
          expect(l.errors).toEqual([]);
          expect(l.ready?.port).toBeGreaterThan(0);
          expect(l.listener.local).toEqual(l.ready);
        }),
      );

      it(
        '[NET-TCP-2] listening on a port another listener holds fails with onError(EADDRINUSE), never onReady',
        run(async (env, p) => {
          const first = await readyListener(env, p);
          const second = listen(p, env.b, { port: first.ready.port }, 'second');
          await settle(env, () => second.errors.length > 0 || second.ready !== undefined, 'onError');
          expect(second.ready).toBeUndefined();
          expect(second.errors).toHaveLength(1);
          expectCode(second.errors[0], 'EADDRINUSE');
          second.listener.close();
        }),
      );

      it(
        '[NET-TCP-3] listening on an address that is not the host’s fails with onError(EADDRNOTAVAIL); listenTcp does not throw',
        run(async (env, p) => {
          const l = listen(p, env.b, { address: FOREIGN_ADDRESS });
          await settle(env, () => l.errors.length > 0 || l.ready !== undefined, 'onError');
          expect(l.ready).toBeUndefined();
          expectCode(l.errors[0], 'EADDRNOTAVAIL');
        }),
      );

      it(
        '[NET-TCP-4] connectTcp reaches a listener: onConnect once on the connecting side, onConnection once on the listener, addresses agree',
        run(async (env, p) => {
          const { listener, client, server } = await pair(env, p);
          await env.wait(20);
          expect(listener.accepted).toHaveLength(1);
          expect(client.connects).toBe(1);
          expect(server.connects).toBe(0); // accepted streams are established: no onConnect
          expect(client.stream.remote).toEqual({ host: env.bHost, port: listener.ready.port });
          expect(client.stream.local?.host).toBe(env.aHost);
          expect(client.stream.local?.port).toBeGreaterThan(0);
          expect(server.stream.local).toEqual({ host: env.bHost, port: listener.ready.port });
          expect(server.stream.remote).toEqual(client.stream.local);
        }),
      );

      it(
        '[NET-TCP-5] bytes arrive intact and in order both ways, whatever the sizes and timing of the writes',
        run(async (env, p) => {
          const l = await readyListener(env, p);
          const writes = fc.array(fc.record({ size: fc.integer({ min: 1, max: 20_000 }), pause: fc.boolean() }), {
            minLength: 1,
            maxLength: 10,
          });
          await fc.assert(
            fc.asyncProperty(writes, writes, async (up, down) => {
              const { client, server } = await pair(env, p, l);
              const sentUp: Uint8Array[] = [];
              const sentDown: Uint8Array[] = [];
              let offUp = 0;
              let offDown = 0;
              for (let i = 0; i < Math.max(up.length, down.length); i++) {
                const u = up[i];
                const d = down[i];
                if (u) {
                  const chunk = pattern(u.size, 1, offUp);
                  offUp += u.size;
                  sentUp.push(chunk);
                  client.stream.write(chunk);
                }
                if (d) {
                  const chunk = pattern(d.size, 2, offDown);
                  offDown += d.size;
                  sentDown.push(chunk);
                  server.stream.write(chunk);
                }
                if (u?.pause || d?.pause) await env.wait(1);
              }
              client.stream.end();
              server.stream.end();
              await settle(env, () => client.closed && server.closed, 'both sides closed', 20_000);
              expect(client.closeError).toBeUndefined();
              expect(server.closeError).toBeUndefined();
              expectBytes(server.received, concat(sentUp));
              expectBytes(client.received, concat(sentDown));
            }),
            { numRuns: 8 },
          );
        }),
      );

      it(
        '[NET-TCP-6] a 4 MiB transfer is flow-controlled: write() returns false above the high-water mark, bufferedAmount counts queued bytes, onDrain follows, every byte arrives',
        run(async (env, p) => {
          const { client, server } = await pair(env, p);
          const total = 4 * 1024 * 1024;
          const chunk = 64 * 1024;
          let written = 0;
          let falses = 0;
          while (written < total) {
            const ok = client.stream.write(pattern(chunk, 3, written));
            written += chunk;
            if (!ok) {
              falses++;
              expect(client.stream.bufferedAmount).toBeGreaterThan(0);
              const drains = client.drains;
              await settle(env, () => client.drains > drains || client.closed, 'onDrain', 20_000);
              expect(client.closed).toBe(false);
            }
          }
          expect(falses).toBeGreaterThan(0);
          await settle(env, () => server.receivedLength >= total, 'all bytes', 30_000);
          expect(server.receivedLength).toBe(total);
          expectBytes(server.received, pattern(total, 3));
          expect(client.stream.bufferedAmount).toBe(0);
        }),
      );

      it(
        '[NET-TCP-7] end() is graceful: the peer gets every byte then onEnd, may still write back, and both get onClose() without error once both ended',
        run(async (env, p) => {
          const { client, server } = await pair(env, p);
          client.stream.write(text('hello'));
          client.stream.end();
          await settle(env, () => server.ends === 1, 'onEnd at the server');
          expect(untext(server.received)).toBe('hello');
          await env.wait(20);
          expect(client.closed).toBe(false); // half-open: the server has not ended yet
          expect(server.closed).toBe(false);
          server.stream.write(text('bye'));
          server.stream.end();
          await settle(env, () => client.closed && server.closed, 'both closed');
          expect(untext(client.received)).toBe('bye');
          expect(client.ends).toBe(1);
          expect(client.closeError).toBeUndefined();
          expect(server.closeError).toBeUndefined();
        }),
      );

      it(
        '[NET-TCP-8] reset() closes at once: the peer gets onClose(ECONNRESET), the resetting side onClose(ECLOSED)',
        run(async (env, p) => {
          const { client, server } = await pair(env, p);
          client.stream.write(text('discard me'));
          client.stream.reset();
          await settle(env, () => client.closed && server.closed, 'both closed');
          expectCode(client.closeError, 'ECLOSED');
          expectCode(server.closeError, 'ECONNRESET');
          expect(client.ends).toBe(0);
          expect(server.ends).toBe(0);
        }),
      );

      it('[NET-TCP-9] a connection attempt that gets no answer fails with onClose(ETIMEDOUT) after timeoutMs, never onConnect', async (ctx) => {
        await withEnv(factory, async (env, p) => {
          const silent = env.silentEndpoint;
          if (silent === undefined) {
            ctx.skip('this environment provides no silentEndpoint (an endpoint whose SYNs vanish)');
            return;
          }
          const t0 = env.a.clock.now();
          const c = connect(p, env.a, silent, 200);
          await settle(env, () => c.closed, 'ETIMEDOUT');
          expect(c.closedAt - t0).toBeGreaterThanOrEqual(200 - 1e-6); // not before timeoutMs
          expectCode(c.closeError, 'ETIMEDOUT');
          expect(c.connects).toBe(0);
        });
      });

      it(
        '[NET-TCP-10] connecting to a port nothing listens on fails with onClose(ECONNREFUSED), never onConnect',
        run(async (env, p) => {
          const l = await readyListener(env, p);
          l.listener.close();
          await env.wait(20);
          const c = connect(p, env.a, { host: env.bHost, port: l.ready.port });
          await settle(env, () => c.closed, 'ECONNREFUSED');
          expectCode(c.closeError, 'ECONNREFUSED');
          expect(c.connects).toBe(0);
        }),
      );

      it(
        '[NET-TCP-11] Listener.close() stops accepting (new attempts are refused), is idempotent, and leaves accepted streams open',
        run(async (env, p) => {
          const { listener, client, server } = await pair(env, p);
          listener.listener.close();
          listener.listener.close();
          await env.wait(20);
          const late = connect(p, env.a, { host: env.bHost, port: listener.ready.port }, undefined, 'late');
          await settle(env, () => late.closed, 'the late attempt to fail');
          expectCode(late.closeError, 'ECONNREFUSED');
          client.stream.write(text('still open'));
          await settle(env, () => server.receivedLength === 10, 'data on the accepted stream');
          expect(untext(server.received)).toBe('still open');
          expect(listener.accepted).toHaveLength(1);
        }),
      );

      it(
        '[NET-TCP-12] writes after end() or reset() are dropped without throwing; end() and reset() are idempotent and harmless after close',
        run(async (env, p) => {
          const { client, server } = await pair(env, p);
          client.stream.write(text('before'));
          client.stream.end();
          client.stream.end();
          client.stream.write(text('after'));
          await settle(env, () => server.ends === 1, 'onEnd');
          server.stream.end();
          await settle(env, () => client.closed && server.closed, 'both closed');
          expect(untext(server.received)).toBe('before');
          client.stream.write(text('after close'));
          client.stream.end();
          client.stream.reset();
          server.stream.reset();
          await env.wait(20);
          expect(client.closeError).toBeUndefined();
          expect(server.closeError).toBeUndefined();

          const second = await pair(env, p, await readyListener(env, p));
          second.client.stream.reset();
          second.client.stream.write(text('after reset'));
          second.client.stream.reset();
          second.client.stream.end();
          await settle(env, () => second.client.closed && second.server.closed, 'both closed after reset');
          expect(second.server.receivedLength).toBe(0);
        }),
      );
      it(
        '[NET-TCP-13] write() and end() right after connectTcp, before onConnect, are queued and take effect once connected',
        run(async (env, p) => {
          const l = await readyListener(env, p);
          const client = connect(p, env.a, { host: env.bHost, port: l.ready.port });
          client.stream.write(text('early '));
          client.stream.write(text('bytes'));
          client.stream.end();
          await settle(env, () => l.accepted.length === 1 && l.accepted[0]!.ends === 1, 'the early bytes and onEnd');
          const server = l.accepted[0]!;
          expect(untext(server.received)).toBe('early bytes');
          expect(client.connects).toBe(1);
          server.stream.end();
          await settle(env, () => client.closed && server.closed, 'both closed');
          expect(client.closeError).toBeUndefined();
        }),
      );
    });

    describe('handlers', () => {
      it(
        '[NET-HANDLER-1] no handler runs inside the call that caused it (send, write, end, reset, close, connect, setTimer(0))',
        run(async (env, p) => {
          // Every test checks this; here every kind of call is made where an eager implementation would
          // be tempted to call back at once.
          const u = await readyUdp(env, p, env.a, {}, 'self');
          u.socket.send(text('to myself'), { host: env.aHost, port: u.ready.port });
          const { listener, client, server } = await pair(env, p);
          client.stream.write(text('x'));
          server.stream.end();
          client.stream.reset();
          listener.listener.close();
          const refused = connect(p, env.a, { host: env.bHost, port: listener.ready.port }, undefined, 'refused');
          let fired = false;
          p.call(() =>
            env.a.clock.setTimer(
              0,
              p.handler('timer', () => (fired = true)),
            ),
          );
          await settle(env, () => u.messages.length === 1 && server.closed && refused.closed && fired, 'everything');
          u.socket.close();
        }),
      );

      it(
        '[NET-HANDLER-2] onClose runs exactly once per stream, also when end() and reset() race on both sides',
        run(async (env, p) => {
          const { client, server } = await pair(env, p);
          client.stream.end();
          server.stream.reset();
          client.stream.reset();
          server.stream.end();
          await settle(env, () => client.closed && server.closed, 'both closed');
          await env.wait(50);
          expect(client.closes).toBe(1);
          expect(server.closes).toBe(1);
        }),
      );
    });

    describe('Clock', () => {
      it(
        '[NET-CLOCK-1] now() never decreases and advances by at least the time let pass',
        run(async (env) => {
          const c = env.a.clock;
          let last = c.now();
          for (let i = 0; i < 100; i++) {
            const t = c.now();
            expect(t).toBeGreaterThanOrEqual(last);
            last = t;
          }
          const t0 = c.now();
          await env.wait(50);
          // 1e-6 of slack for floating-point rounding only: a timer never fires early.
          expect(c.now() - t0).toBeGreaterThanOrEqual(50 - 1e-6);
        }),
      );

      it(
        '[NET-CLOCK-2] setTimer runs fn once, no earlier than delayMs, timers in deadline order (equal deadlines in the order set)',
        run(async (env, p) => {
          const c = env.a.clock;
          const fired: { name: string; at: number }[] = [];
          const t0 = c.now();
          const set = (name: string, delay: number) =>
            p.call(() =>
              c.setTimer(
                delay,
                p.handler(name, () => fired.push({ name, at: c.now() - t0 })),
              ),
            );
          set('30', 30);
          set('10a', 10);
          set('0', 0);
          set('20', 20);
          set('10b', 10);
          expect(fired).toEqual([]);
          await settle(env, () => fired.length === 5, 'five timers');
          await env.wait(40);
          expect(fired.map((f) => f.name)).toEqual(['0', '10a', '10b', '20', '30']);
          for (const f of fired) expect(f.at).toBeGreaterThanOrEqual(Number.parseInt(f.name, 10) - 1e-6);
        }),
      );

      it(
        '[NET-CLOCK-3] cancel() before the deadline prevents fn; cancel() after it ran, or twice, is harmless',
        run(async (env, p) => {
          const c = env.a.clock;
          let cancelled = 0;
          let kept = 0;
          const t1 = p.call(() => c.setTimer(10, () => cancelled++));
          const t2 = p.call(() => c.setTimer(5, () => kept++));
          const t3 = p.call(() => c.setTimer(0, () => cancelled++));
          t1.cancel();
          t3.cancel();
          t1.cancel();
          await settle(env, () => kept === 1, 'the kept timer');
          await env.wait(30);
          t2.cancel();
          expect(cancelled).toBe(0);
          expect(kept).toBe(1);
        }),
      );
    });

    describe('Random', () => {
      it(
        '[NET-RAND-1] randomBytes(n) returns a fresh array of exactly n bytes (0 to 100,000), different each call',
        run(async (env) => {
          const r = env.a.random;
          for (const n of [0, 1, 16, 32, 65_536, 65_537, 100_000]) expect(r.randomBytes(n)).toHaveLength(n);
          const x = r.randomBytes(32);
          const y = r.randomBytes(32);
          expect(x).toBeInstanceOf(Uint8Array);
          expect(x).not.toEqual(y);
          expect(x).not.toEqual(new Uint8Array(32));
        }),
      );

      it(
        '[NET-RAND-2] float() is in [0, 1) and spread over it',
        run(async (env) => {
          const r = env.a.random;
          let min = 1;
          let max = 0;
          let outside = 0;
          for (let i = 0; i < 10_000; i++) {
            const f = r.float();
            if (!(f >= 0 && f < 1)) outside++;
            min = Math.min(min, f);
            max = Math.max(max, f);
          }
          expect(outside).toBe(0);
          expect(min).toBeLessThan(0.01);
          expect(max).toBeGreaterThan(0.99);
        }),
      );
    });
  });
}
