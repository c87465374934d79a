/**
 * `parley-supernode serve`: one supernode process over real sockets (spec/07-supernode.md).
 *
 * Output. stdout carries one line once the supernode listens (the ready line: text, or JSON with --json);
 * every log record is one pino JSON line on stderr. The key file is never logged. While it runs, the
 * process rewrites DATA-DIR/status.json every few seconds (what `parley-supernode status` prints).
 *
 * Shutdown. On SIGTERM or SIGINT: stop the login link, stop accepting and close every channel (orderly
 * Close, code 0), wait for the channels to close (at most --shutdown-timeout-ms), close the offline
 * store, write the final status, exit 0. A second signal exits at once with 1.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stderrLogger, stopSignal } from '@parley/login-server/cli-kit';
import { LoginClient } from '@parley/login-server/client';
import { createRealTransport, type NetAddress, type Transport } from '@parley/net';
import {
  bytesEqual,
  checkLocalIdentity,
  decodeCertificate,
  decodeSigned,
  keyId,
  type LocalIdentity,
  nodeCrypto,
  Role,
} from '@parley/wire';
import type { Logger } from 'pino';
import { TRANSPORT_PROTOCOL_TCP, TRANSPORT_PROTOCOL_UDP, wireEndpoint } from '../core/endpoint.js';
import { MemoryOfflineStore } from '../offline/memory.js';
import { SqliteOfflineStore } from '../offline/sqlite.js';
import type { OfflineStore } from '../offline/store.js';
import { LoginLink } from '../runner/login-link.js';
import { SUPERNODE_SOFTWARE, Supernode } from '../runner/supernode.js';
import { hex, type Io, isoTime, readBinaryOrHex, readTrustAnchors, UsageError, wallClock } from './common.js';

const suite = nodeCrypto;
/** The files of a supernode's data directory. */
export const DATA_DIR_FILES = Object.freeze({
  status: 'status.json',
  offline: 'offline.db',
  rootPublicKeys: 'root.pub',
});
/** How often status.json is rewritten. */
export const STATUS_INTERVAL_MS = 5_000;

export interface ServeOptions {
  login: { host: string; port: number };
  cert: string;
  key: string;
  dataDir: string;
  root?: string;
  loginCert?: string;
  listen: { host: string; port: number };
  advertise?: { host: string; port: number };
  capacity: number;
  memoryOnly?: boolean;
  json?: boolean;
  logLevel?: string;
  shutdownTimeoutMs?: number;
}

/** What status.json holds. */
export interface SupernodeStatus {
  pid: number;
  state: 'running' | 'stopped';
  startedAt: string;
  updatedAt: string;
  address: string;
  port: number;
  keyId: string;
  subject: string;
  certificateNotAfter: string;
  login: { server: string; status: string; registrations: number; heartbeats: number; failures: number };
  listEpoch: number;
  listSize: number;
  policyVersion: number;
  revocationListNumber: number;
  attachments: number;
  activeAttachments: number;
  connections: number;
  directoryUsers: number;
  offlineStore: string;
  offlineMessages: number;
}

/** pino to stderr, synchronously, one JSON object per line. */
export function createLogger(level = 'info'): Logger {
  return stderrLogger('parley-supernode', level);
}

function logLevelOf(event: string): 'error' | 'warn' | 'info' | 'debug' {
  switch (event) {
    case 'internal-error':
      return 'error';
    case 'login-failed':
    case 'login-channel-closed':
    case 'handoff-failed':
    case 'prune-failed':
      return 'warn';
    case 'listening':
    case 'registered':
      return 'info';
    default:
      return 'debug';
  }
}

/** The login certificate that issued `leaf`: from --login-cert, else fetched from the login server anonymously. */
async function loginCertificate(
  o: ServeOptions,
  transport: Transport,
  anchors: Uint8Array[],
  issuer: Uint8Array,
): Promise<Uint8Array> {
  if (o.loginCert !== undefined) return readBinaryOrHex(o.loginCert);
  const client = await LoginClient.connect({ transport, server: o.login, suite, trustAnchors: anchors });
  try {
    const list = await client.getSupernodeList();
    if (list === 'unchanged') throw new Error('the login server sent no supernode list');
    const found = list.loginCertificates.find((c) =>
      bytesEqual(keyId(suite, decodeCertificate(decodeSigned(c).body).subjectKey), issuer),
    );
    if (found === undefined) throw new Error('the login server does not use the login key that issued --cert');
    return found;
  } finally {
    client.close();
  }
}

/** Runs the supernode until `stop` resolves (default: SIGTERM or SIGINT); resolves with the exit code. */
export async function serve(
  o: ServeOptions,
  io: Io,
  log: Logger = createLogger(o.logLevel),
  stop?: Promise<string>,
): Promise<number> {
  // In a process of its own: signals stop it, and a bug that escapes every handler is one fatal line.
  const own = stop === undefined;
  const dataDir = resolve(o.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const anchors = readTrustAnchors(o.root ?? join(dataDir, DATA_DIR_FILES.rootPublicKeys));
  const seed = readBinaryOrHex(o.key);
  if (seed.length !== 32) throw new UsageError(`${o.key}: not an Ed25519 seed (32 bytes, or 64 hex digits)`);
  const certificate = readBinaryOrHex(o.cert);
  let leaf: ReturnType<typeof decodeCertificate>;
  try {
    leaf = decodeCertificate(decodeSigned(certificate).body);
  } catch (e) {
    throw new UsageError(`${o.cert}: not an encoded certificate (${(e as Error).message})`);
  }
  if (leaf.role !== Role.ROLE_SUPERNODE) throw new UsageError(`${o.cert}: not a ROLE_SUPERNODE certificate`);
  if (leaf.notAfter <= Date.now()) throw new UsageError(`${o.cert}: expired at ${isoTime(leaf.notAfter)}`);
  const advertise = o.advertise ?? { host: o.listen.host, port: o.listen.port };
  if (advertise.host === '0.0.0.0' || advertise.host === '::') {
    throw new UsageError(
      '--listen on every address needs --advertise IP:PORT (the endpoint registered with the login server)',
    );
  }

  const real = createRealTransport();
  const transport: Transport = { ...real, clock: wallClock(real.clock) };
  let offline: OfflineStore | undefined;
  try {
    const login = await loginCertificate(o, transport, anchors, leaf.issuerKeyId);
    const identity: LocalIdentity = { chain: [certificate, login], seed };
    try {
      checkLocalIdentity(suite, identity);
    } catch (e) {
      throw new UsageError(`--key does not match --cert: ${(e as Error).message}`);
    }
    offline = o.memoryOnly
      ? new MemoryOfflineStore()
      : await SqliteOfflineStore.open(join(dataDir, DATA_DIR_FILES.offline));
    const logEvent = (event: string, fields: Record<string, unknown>) =>
      log[logLevelOf(event)]({ event, ...fields }, event);
    const udpEndpoints = (): NetAddress[] => {
      const udp = supernode.udpAddress;
      return udp === undefined ? [] : [{ host: advertise.host, port: udp.port }];
    };
    const supernode = new Supernode({
      transport,
      suite,
      identity,
      trustAnchors: anchors,
      listen: { address: o.listen.host, port: o.listen.port },
      limits: { capacity: o.capacity, maxConnections: Math.max(o.capacity + 1_000, Math.ceil(o.capacity * 1.2)) },
      offline,
      software: SUPERNODE_SOFTWARE,
      // spec/08 §4: the UDP socket (bound at --listen's address, on the TCP port) as nodes reach it: the
      // advertised host, the bound port.
      udpEndpoints,
      log: logEvent,
    });
    const fatal = (what: string) => (e: unknown) => {
      log.fatal({ error: e instanceof Error ? (e.stack ?? e.message) : String(e) }, what);
      process.exit(1);
    };
    if (own) {
      process.on('uncaughtException', fatal('uncaught exception'));
      process.on('unhandledRejection', fatal('unhandled rejection'));
    }
    const address: NetAddress = await supernode.start();
    const registered: NetAddress = {
      host: advertise.host,
      port: o.advertise === undefined ? address.port : advertise.port,
    };
    const link = new LoginLink({
      transport,
      suite,
      server: o.login,
      trustAnchors: anchors,
      identity,
      state: supernode.state,
      // TCP (stream channels) and UDP (probes and the relay, spec/08 §4 and §7).
      endpoints: () => [
        wireEndpoint(registered, TRANSPORT_PROTOCOL_TCP),
        ...udpEndpoints().map((e) => wireEndpoint(e, TRANSPORT_PROTOCOL_UDP)),
      ],
      capacity: o.capacity,
      load: () => supernode.core.load,
      software: SUPERNODE_SOFTWARE,
      log: logEvent,
    });
    void link.start();
    const started = new Date().toISOString();
    const storeKind = offline.kind;
    const status = async (state: SupernodeStatus['state']): Promise<SupernodeStatus> => ({
      pid: process.pid,
      state,
      startedAt: started,
      updatedAt: new Date().toISOString(),
      address: address.host,
      port: address.port,
      keyId: hex(supernode.keyId),
      subject: leaf.subject,
      certificateNotAfter: isoTime(leaf.notAfter),
      login: {
        server: `${o.login.host}:${o.login.port}`,
        status: link.status,
        registrations: link.stats.registrations,
        heartbeats: link.stats.heartbeats,
        failures: link.stats.failures,
      },
      listEpoch: supernode.state.epoch,
      listSize: supernode.state.list.entries.length,
      policyVersion: supernode.state.policy?.version ?? 0,
      revocationListNumber: supernode.state.revocationNumber,
      attachments: supernode.core.attachments.size,
      activeAttachments: supernode.core.attachments.active,
      connections: supernode.stats.connections,
      directoryUsers: supernode.core.directory.size,
      offlineStore: storeKind,
      offlineMessages: (await supernode.core.offline.stats()).messages,
    });
    const writeStatus = async (state: SupernodeStatus['state']) => {
      const path = join(dataDir, DATA_DIR_FILES.status);
      writeFileSync(`${path}.tmp`, `${JSON.stringify(await status(state), null, 2)}\n`);
      renameSync(`${path}.tmp`, path);
    };
    await writeStatus('running');
    const statusTimer = setInterval(() => {
      writeStatus('running').catch((e) => log.warn({ error: String(e) }, 'status.json not written'));
    }, STATUS_INTERVAL_MS);
    statusTimer.unref();
    log.info(
      { address: address.host, port: address.port, keyId: hex(supernode.keyId), advertise: registered },
      'ready',
    );
    io.out(
      o.json
        ? JSON.stringify({
            event: 'ready',
            address: address.host,
            port: address.port,
            keyId: hex(supernode.keyId),
            pid: process.pid,
          })
        : `parley-supernode listening on ${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port} (key id ${hex(supernode.keyId)})`,
    );

    const signal = await (stop ?? stopSignal(log));
    const begun = Date.now();
    log.info({ signal, stats: supernode.stats }, 'shutting down');
    clearInterval(statusTimer);
    link.close();
    supernode.close();
    await supernode.drained(o.shutdownTimeoutMs ?? 5_000);
    await writeStatus('stopped');
    await offline.close();
    offline = undefined;
    log.info({ ms: Date.now() - begun }, 'stopped');
    return 0;
  } finally {
    await offline?.close();
    real.close();
  }
}

export { stopSignal };
