/**
 * Server-side load on one store: registrations, logins and certificate renewals handled by
 * LoginServerCore.handle, and the store's issueCertificate alone, at a fixed concurrency.
 *
 * How the server's work is measured, and only the server's: every flow alternates between untimed client
 * steps (OPAQUE client halves, device keys and certificate-request proofs, all in this thread) and timed
 * server phases. A phase hands one request per session to the core — LoginStart for a batch of sessions,
 * say — over `concurrency` closed-loop streams, each request from its own macrotask as a socket read
 * would deliver it, and nothing else runs in the thread meanwhile. A rate is the operations completed
 * divided by the wall time of the phases that did them; a latency is from a request's hand-over to its
 * reply. The event-loop delay monitor and the blocking profile run during the phases only, and garbage
 * left by the client steps is collected (--expose-gc) before each phase.
 *
 * What the phases do not include: the channel (Noise handshake and transport, packet encoding and
 * framing, which the real server adds per request) and client key stretching (see client.ts).
 */
import type { Clock, Timer } from '@parley/net';
import {
  type Certificate,
  createRootKey,
  decodeCertificate,
  decodeSigned,
  generateSigningKey,
  issueCertificate,
  nodeCrypto,
  type PacketBody,
  type PeerIdentity,
  Role,
  signCertificateRequest,
  systemRandom,
} from '@parley/wire';
import { clientStartLogin, clientStartRegistration, createServerSetup, opaqueReady } from '../src/accounts/index.js';
import { LoginServerCore, type ServerIdentity, type Session } from '../src/server/core.js';
import type { Store } from '../src/store/store.js';
import { finishLogin, finishRegistration } from './client.js';
import {
  type BlockingProfile,
  type Bounds,
  collectGarbage,
  cpuSince,
  type LoopDelayProbe,
  type PhaseResult,
  runPhase,
} from './measure.js';

export const suite = nodeCrypto;
const HOUR = 3_600_000;
const PASSWORD = 'bench password, not a secret';

/** Wall-clock time: certificates carry unix milliseconds from the core's clock. */
export class WallClock implements Clock {
  now(): number {
    return Date.now();
  }
  setTimer(delayMs: number, fn: () => void): Timer {
    const t = setTimeout(fn, delayMs);
    return { cancel: () => clearTimeout(t) };
  }
}

/** A network's root, login key and ROLE_LOGIN certificate, and the OPAQUE setup. */
export async function benchIdentity(): Promise<{ identity: ServerIdentity; rootKey: Uint8Array }> {
  await opaqueReady();
  const now = Date.now();
  const root = createRootKey(suite, systemRandom);
  const login = generateSigningKey(suite, systemRandom);
  const loginCertificate = issueCertificate(suite, root, {
    subject: 'login.bench',
    subjectKey: login.publicKey,
    deviceId: new Uint8Array(16),
    role: Role.ROLE_LOGIN,
    serial: 1,
    notBefore: now - HOUR,
    notAfter: now + 365 * 24 * HOUR,
  });
  return {
    identity: { loginKey: login, loginCertificate, trustAnchors: [root.publicKey], opaqueSetup: createServerSetup() },
    rootKey: root.publicKey,
  };
}

/**
 * The store with the synchronous part of every call timed into `profile` while `profile.active`: for
 * SQLite (better-sqlite3 is synchronous) that is the whole call, commit and flush included.
 */
export function profiledStore(store: Store, profile: BlockingProfile): Store {
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      let w = wrapped.get(prop);
      if (w === undefined) {
        const label =
          prop === 'issueCertificate' && store.kind === 'sqlite'
            ? 'sqlite issueCertificate (Ed25519 signing + INSERT + commit)'
            : `${store.kind} ${String(prop)}${store.kind === 'sqlite' ? ' (query + commit)' : ' (synchronous part)'}`;
        w = (...args: unknown[]) => {
          if (!profile.active) return (value as (...a: unknown[]) => unknown).apply(target, args);
          const c0 = process.cpuUsage();
          const t0 = performance.now();
          try {
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          } finally {
            profile.record(label, performance.now() - t0, cpuSince(c0));
          }
        };
        wrapped.set(prop, w);
      }
      return w;
    },
  });
}

export interface Latencies {
  [request: string]: number[];
}

export interface SectionResult {
  /** Operations completed (registrations, logins, issuances). */
  ops: number;
  /** Wall time of the timed server phases. */
  timedMs: number;
  /** Per request kind, hand-over to reply, ms. */
  latencies: Latencies;
}

export interface LoadContext {
  core: LoginServerCore;
  /** The raw store (for the store-only peer figure). */
  store: Store;
  concurrency: number;
  probe: LoopDelayProbe;
  profile: BlockingProfile;
  /** True for SQLite: a request's handling is then one synchronous slice, recorded in the profile. */
  synchronousStore: boolean;
  /** A prefix for the bench's user names, so that runs never collide. */
  prefix: string;
  progress?: (s: string) => void;
}

let addresses = 0;
let requestIds = 0;

/** A session as the channel driver makes one: a fresh handshake hash and its own source address. */
function newSession(peer: PeerIdentity | null = null): Session {
  // One address per channel, as many clients have: the per-address buckets (20 requests, then 30 per
  // minute) are a defence against one source, not a limit the bench should measure.
  const n = ++addresses;
  return {
    peer,
    software: 'parley-bench/1',
    handshakeHash: systemRandom.randomBytes(32),
    remoteAddress: `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`,
  };
}

async function call<C extends PacketBody['case']>(
  core: LoginServerCore,
  s: Session,
  body: PacketBody,
  expect: C,
): Promise<Extract<PacketBody, { case: C }>> {
  const action = await core.handle(s, { requestId: ++requestIds, body });
  if (action.kind !== 'reply') throw new Error(`${body.case}: channel closed with ${action.code} (${action.detail})`);
  const b = action.packet.body;
  if (b.case !== expect) throw new Error(`${body.case}: got ${b.case}`);
  return b as Extract<PacketBody, { case: C }>;
}

/** One timed server phase, with the loop probe and the blocking profile running. */
async function phase<T>(
  ctx: LoadContext,
  name: string,
  items: readonly T[],
  op: (item: T) => Promise<void>,
): Promise<PhaseResult> {
  collectGarbage();
  ctx.probe.start(name);
  ctx.profile.active = true;
  let r: PhaseResult;
  try {
    r = await runPhase(items, ctx.concurrency, op);
  } finally {
    ctx.profile.active = false;
    ctx.probe.stop();
  }
  if (ctx.synchronousStore) {
    const label = `${name} request, whole (one synchronous slice on SQLite)`;
    for (let i = 0; i < r.service.length; i++) ctx.profile.record(label, r.service[i]!, r.serviceCpu[i]);
  }
  return r;
}

function within(b: Bounds, started: number, timedMs: number, ops: number, atLeast = 0): boolean {
  if (performance.now() - started > b.deadlineMs) return false;
  if (ops >= b.maxOps) return false;
  return timedMs < b.minMs || ops < atLeast;
}

export interface Account {
  username: string;
}

/** RegisterStart + RegisterFinish; returns the accounts made (the login section logs in with them). */
export async function registrations(
  ctx: LoadContext,
  b: Bounds,
  atLeast: number,
): Promise<SectionResult & { accounts: Account[] }> {
  const accounts: Account[] = [];
  const latencies: Latencies = { RegisterStart: [], RegisterFinish: [] };
  let timedMs = 0;
  const started = performance.now();
  while (within(b, started, timedMs, accounts.length, atLeast)) {
    const batch = Array.from({ length: b.batch }, (_, i) => {
      const username = `${ctx.prefix}${accounts.length + i}`;
      const start = clientStartRegistration(PASSWORD);
      return {
        username,
        session: newSession(),
        start,
        response: new Uint8Array() as Uint8Array,
        record: new Uint8Array() as Uint8Array,
      };
    });
    const r1 = await phase(ctx, 'RegisterStart', batch, async (x) => {
      const v = await call(
        ctx.core,
        x.session,
        { case: 'registerStart', value: { username: x.username, registrationRequest: x.start.request } },
        'registerStartReply',
      );
      x.response = v.value.registrationResponse;
    });
    for (const x of batch) {
      x.record = finishRegistration({
        state: x.start.state,
        password: PASSWORD,
        username: x.username,
        response: x.response,
      });
    }
    const r2 = await phase(ctx, 'RegisterFinish', batch, async (x) => {
      await call(
        ctx.core,
        x.session,
        { case: 'registerFinish', value: { registrationRecord: x.record } },
        'registerFinishReply',
      );
    });
    timedMs += r1.wallMs + r2.wallMs;
    latencies.RegisterStart!.push(...r1.latencies);
    latencies.RegisterFinish!.push(...r2.latencies);
    for (const x of batch) accounts.push({ username: x.username });
  }
  return { ops: accounts.length, timedMs, latencies, accounts };
}

/** A login's result that the renewal section reuses: the certificate and the device's key. */
export interface Device {
  username: string;
  certificate: Certificate;
  encoded: Uint8Array;
}

/** LoginStart + LoginFinish with a certificate request, round-robin over `accounts`. */
export async function logins(
  ctx: LoadContext,
  b: Bounds,
  accounts: readonly Account[],
): Promise<SectionResult & { devices: Device[] }> {
  if (accounts.length < b.batch) throw new Error(`need ${b.batch} accounts, have ${accounts.length}`);
  const latencies: Latencies = { LoginStart: [], LoginFinish: [] };
  const devices = new Map<string, Device>();
  let timedMs = 0;
  let ops = 0;
  let cursor = 0;
  const started = performance.now();
  while (within(b, started, timedMs, ops)) {
    // Each account at most once per batch (its failed-login counter is set at LoginStart, cleared at LoginFinish).
    const batch = Array.from({ length: b.batch }, () => {
      const account = accounts[cursor++ % accounts.length]!;
      const session = newSession();
      const key = generateSigningKey(suite, systemRandom);
      return {
        username: account.username,
        session,
        start: clientStartLogin(PASSWORD),
        certificateRequest: {
          subjectKey: key.publicKey,
          deviceId: systemRandom.randomBytes(16),
          proof: signCertificateRequest(suite, key.seed, session.handshakeHash),
        },
        ke2: new Uint8Array() as Uint8Array,
        ke3: new Uint8Array() as Uint8Array,
        certificate: new Uint8Array() as Uint8Array,
      };
    });
    const r1 = await phase(ctx, 'LoginStart', batch, async (x) => {
      const v = await call(
        ctx.core,
        x.session,
        { case: 'loginStart', value: { username: x.username, startLoginRequest: x.start.ke1 } },
        'loginStartReply',
      );
      x.ke2 = v.value.loginResponse;
    });
    for (const x of batch) {
      x.ke3 = finishLogin({ state: x.start.state, password: PASSWORD, username: x.username, ke2: x.ke2 });
    }
    const r2 = await phase(ctx, 'LoginFinish', batch, async (x) => {
      const v = await call(
        ctx.core,
        x.session,
        { case: 'loginFinish', value: { finishLoginRequest: x.ke3, certificateRequest: x.certificateRequest } },
        'loginFinishReply',
      );
      x.certificate = v.value.certificate;
    });
    timedMs += r1.wallMs + r2.wallMs;
    ops += batch.length;
    latencies.LoginStart!.push(...r1.latencies);
    latencies.LoginFinish!.push(...r2.latencies);
    for (const x of batch) {
      devices.set(x.username, {
        username: x.username,
        encoded: x.certificate,
        certificate: decodeCertificate(decodeSigned(x.certificate).body),
      });
    }
  }
  return { ops, timedMs, latencies, devices: [...devices.values()] };
}

/**
 * RenewCertificate, each on a fresh channel (its own handshake hash and source address) authenticated
 * with a certificate the logins issued: the proof check, the address bucket, the revocation and account
 * lookups, signing and recording. The client's part (a new device key and the proof) is made untimed.
 */
export async function renewals(
  ctx: LoadContext,
  b: Bounds,
  devices: readonly Device[],
  rootKey: Uint8Array,
): Promise<SectionResult> {
  const peers = devices.map(
    (d): PeerIdentity => ({
      certificate: d.certificate,
      keyId: suite.sha256(d.certificate.subjectKey),
      networkFingerprint: suite.sha256(rootKey),
      chain: [d.certificate],
      trustAnchor: rootKey,
    }),
  );
  const latencies: Latencies = { RenewCertificate: [] };
  let timedMs = 0;
  let ops = 0;
  const started = performance.now();
  while (within(b, started, timedMs, ops)) {
    const batch = Array.from({ length: b.batch }, (_, i) => {
      const peer = peers[(ops + i) % peers.length]!;
      const session = newSession(peer);
      const key = generateSigningKey(suite, systemRandom);
      const certificateRequest = {
        subjectKey: key.publicKey,
        deviceId: peer.certificate.deviceId,
        proof: signCertificateRequest(suite, key.seed, session.handshakeHash),
      };
      return { session, certificateRequest };
    });
    const r = await phase(ctx, 'RenewCertificate', batch, async (c) => {
      await call(
        ctx.core,
        c.session,
        { case: 'renewCertificate', value: { certificateRequest: c.certificateRequest } },
        'renewCertificateReply',
      );
    });
    timedMs += r.wallMs;
    ops += batch.length;
    latencies.RenewCertificate!.push(...r.latencies);
  }
  return { ops, timedMs, latencies };
}

/** The peer of the issuance figure: the store's issueCertificate alone, no protocol and no signing. */
export async function rawIssuance(ctx: LoadContext, b: Bounds, sample: Device): Promise<SectionResult> {
  const now = Date.now();
  const info = {
    role: 'user' as const,
    subject: sample.username,
    subjectKey: sample.certificate.subjectKey,
    deviceId: sample.certificate.deviceId,
    notBeforeMs: now,
    notAfterMs: now + 24 * HOUR,
    issuedAtMs: now,
  };
  const signed = sample.encoded; // a real certificate's bytes, so the row has its real size
  const latencies: Latencies = { issueCertificate: [] };
  let timedMs = 0;
  let ops = 0;
  const started = performance.now();
  while (within(b, started, timedMs, ops)) {
    const batch = Array.from({ length: b.batch }, (_, i) => i);
    collectGarbage();
    const r = await runPhase(batch, ctx.concurrency, async () => {
      await ctx.store.issueCertificate(info, () => signed);
    });
    timedMs += r.wallMs;
    ops += batch.length;
    latencies.issueCertificate!.push(...r.latencies);
  }
  return { ops, timedMs, latencies };
}

/** Opens a core over `store` (migrated), as the server does, with the store profiled. */
export async function openCore(
  store: Store,
  identity: ServerIdentity,
  profile: BlockingProfile,
): Promise<LoginServerCore> {
  await store.migrate();
  return LoginServerCore.open({ store: profiledStore(store, profile), clock: new WallClock(), suite, identity });
}
