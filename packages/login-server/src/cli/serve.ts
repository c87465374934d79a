/**
 * `parley-login-server serve`: one login-server process over real sockets.
 *
 * Output. stdout carries one line once the server listens (the ready line: text, or JSON with --json);
 * every log record is one pino JSON line on stderr (levels: fatal, error, warn, info, debug, trace).
 * Key material (login.key, opaque.setup, a database password) is never logged (LOGIN-OPAQUE-7).
 *
 * Shutdown. On SIGTERM or SIGINT: stop accepting and close every channel (orderly Close, code 0), wait for
 * the requests already being handled to finish (at most --shutdown-timeout-ms; their replies are dropped
 * with the channel, but what they commit is committed: LOGIN-STORE-3), close the store, exit 0. A second
 * signal exits at once with 1. The store is crash-safe without any of this (LOGIN-STORE-4): an orderly
 * shutdown only avoids cutting requests short.
 */
import { createRealTransport, type Transport } from '@parley/net';
import { nodeCrypto } from '@parley/wire';
import type { Logger } from 'pino';
import { stderrLogger, stopSignal } from '../cli-kit/index.js';
import { LoginServerCore } from '../server/core.js';
import { turnPacer } from '../server/pacer.js';
import { LoginServer } from '../server/runner.js';
import { openStoreForCli } from './admin.js';
import { type Io, listenAddress, redactUrl, wallClock } from './common.js';
import { checkLoginCertificateTime, loadDataDir, storeUrl } from './data-dir.js';

const suite = nodeCrypto;
const DAY_MS = 86_400_000;
/** The software string of the server's handshake payload (ID-HS-6). */
export const SERVER_SOFTWARE = 'parley-ref-login/0.1.0';

export interface ServeOptions {
  data: string;
  db?: string;
  listen?: { address: string; port: number };
  json?: boolean;
  logLevel?: string;
  maxConnections?: number;
  shutdownTimeoutMs?: number;
  refreshIntervalMs?: number;
}

/** The core's calls that may touch the store, counted so that shutdown can wait for them. */
export interface Tracked {
  readonly core: LoginServerCore;
  inFlight(): number;
  /** Resolves true when nothing is in flight, false after `timeoutMs`. */
  idle(timeoutMs: number): Promise<boolean>;
}

/**
 * A view of `core` whose `handle` and `refresh` are counted while they run. (The runner's `close()` drops
 * channels at once; the requests it already passed to the core keep running and may still write.)
 */
export function trackInFlight(core: LoginServerCore): Tracked {
  let inFlight = 0;
  const waiters = new Set<() => void>();
  const wrap =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> => {
      inFlight++;
      return fn(...args).finally(() => {
        if (--inFlight === 0) for (const w of [...waiters]) w();
      });
    };
  const handle = wrap(core.handle.bind(core));
  const refresh = wrap(core.refresh.bind(core));
  const view = new Proxy(core, {
    get(target, property) {
      if (property === 'handle') return handle;
      if (property === 'refresh') return refresh;
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return {
    core: view,
    inFlight: () => inFlight,
    idle(timeoutMs) {
      if (inFlight === 0) return Promise.resolve(true);
      return new Promise((resolve) => {
        const done = (ok: boolean) => {
          clearTimeout(timer);
          waiters.delete(onIdle);
          resolve(ok);
        };
        const onIdle = () => done(true);
        const timer = setTimeout(() => done(false), timeoutMs);
        waiters.add(onIdle);
      });
    },
  };
}

function logLevelOf(event: string): 'error' | 'warn' | 'info' | 'debug' {
  switch (event) {
    case 'internal-error':
      return 'error';
    case 'refresh-failed':
      return 'warn';
    case 'refused':
    case 'listening':
      return 'info';
    default:
      return 'debug';
  }
}

/**
 * Runs the server until SIGTERM or SIGINT; resolves with the exit code (0 after an orderly shutdown).
 * Throws (exit 1) when it cannot start: a data directory that does not load, an expired login
 * certificate, a store that does not open or migrate, an address in use.
 */
export async function serve(o: ServeOptions, io: Io, log: Logger = createLogger(o.logLevel)): Promise<number> {
  const data = await loadDataDir(suite, o.data);
  const now = Date.now();
  checkLoginCertificateTime(data, now);
  for (const file of data.insecureFiles) log.warn({ file }, 'secret file is readable by group or others (chmod 600)');
  if (data.loginCertificate.notAfter - now < 30 * DAY_MS) {
    log.warn(
      { notAfter: new Date(data.loginCertificate.notAfter).toISOString() },
      'the login certificate expires within 30 days',
    );
  }

  const url = storeUrl(data, o.db);
  const store = await openStoreForCli(url, (e) => log.warn({ error: e.message }, 'idle database connection failed'));
  let transportToClose: { close(): void } | undefined;
  try {
    log.info({ store: store.kind, db: redactUrl(url), schemaVersion: await store.schemaVersion() }, 'store open');
    const real = createRealTransport();
    transportToClose = real;
    const clock = wallClock(real.clock);
    // The server's clock is the wall clock: certificate validity and every stored time are unix ms.
    const transport: Transport = { ...real, clock };
    const core = await LoginServerCore.open({ store, clock, suite, identity: data.identity });
    const tracked = trackInFlight(core);
    const server = new LoginServer({
      transport,
      core: tracked.core,
      suite,
      software: SERVER_SOFTWARE,
      listen: o.listen ?? parseConfiguredListen(data.config.listen),
      ...(o.maxConnections !== undefined ? { maxConnections: o.maxConnections } : {}),
      ...(o.refreshIntervalMs !== undefined ? { refreshIntervalMs: o.refreshIntervalMs } : {}),
      log: (event, fields) => log[logLevelOf(event)]({ event, ...fields }, event),
      pace: turnPacer(), // [LOGIN-RES-2] one request started per event-loop turn
    });
    const stopped = stopSignal(log);
    // A bug that escapes every handler: logged as one fatal line; the store needs no cleanup (LOGIN-STORE-4).
    const fatal = (what: string) => (e: unknown) => {
      log.fatal({ error: e instanceof Error ? (e.stack ?? e.message) : String(e) }, what);
      process.exit(1);
    };
    process.on('uncaughtException', fatal('uncaught exception'));
    process.on('unhandledRejection', fatal('unhandled rejection'));
    const address = await server.start();
    const fingerprint = data.fingerprint;
    const versions = core.versions();
    log.info({ address: address.host, port: address.port, fingerprint, ...versions }, 'ready');
    io.out(
      o.json
        ? JSON.stringify({
            event: 'ready',
            address: address.host,
            port: address.port,
            network: data.config.network,
            fingerprint,
            pid: process.pid,
          })
        : `parley-login-server listening on ${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port} (network ${JSON.stringify(data.config.network)}, fingerprint ${fingerprint})`,
    );

    const signal = await stopped;
    const timeoutMs = o.shutdownTimeoutMs ?? 10_000;
    const started = Date.now();
    log.info({ signal, inFlight: tracked.inFlight(), stats: server.stats }, 'shutting down');
    server.close();
    await server.drained(timeoutMs);
    const idle = await tracked.idle(Math.max(0, timeoutMs - (Date.now() - started)));
    if (!idle) log.warn({ inFlight: tracked.inFlight() }, 'requests still running at the shutdown timeout');
    await store.close();
    real.close();
    transportToClose = undefined;
    log.info({ ms: Date.now() - started }, 'stopped');
    return 0;
  } finally {
    transportToClose?.close();
    await store.close();
  }
}

function parseConfiguredListen(value: string): { address: string; port: number } {
  const r = listenAddress(value);
  if (r === undefined) throw new Error(`config.json: "listen" is not HOST:PORT: ${value}`);
  return r;
}

/** pino to stderr, synchronously (nothing is lost when the process exits), one JSON object per line. */
export function createLogger(level = 'info'): Logger {
  return stderrLogger('parley-login-server', level);
}
