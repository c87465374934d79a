/**
 * Fixtures for the end-to-end tests: a login server (LoginServer over LoginServerCore and an in-memory
 * SQLite store) and its clients on hosts of the deterministic simulator, or on real loopback sockets.
 *
 * Time. The simulator starts at 0; certificates need unix time, so every host's Transport is given a
 * clock shifted to T0 (`epochTransport`), on which the server, the core and the clients all run.
 *
 * Driving. The server's request handling is async (the store) and the OPAQUE steps are synchronous CPU
 * work, while the simulator only moves when told. `World.run(promise)` alternates: let every pending
 * promise chain finish (a macrotask turn), then run one simulator event; so simulated time only passes
 * while nothing is in progress, as if the CPU were infinitely fast, and runs are deterministic.
 */

import { type CloseReason, StreamChannel } from '@parley/channel';
import type { Clock, NetAddress, Random, SimHost, Stream, Transport } from '@parley/net';
import { Simulator } from '@parley/net';
import {
  anonymousPayloadCodec,
  certifiedPayloadCodec,
  ErrorCode,
  type EstablishedChannel,
  encodeFrame,
  issueCertificate,
  type LocalIdentity,
  loginServerPayloadCodec,
  type Packet,
  type PacketBody,
  type PeerIdentity,
  Role,
  rejectionAction,
  SUPPORTED_PROTOCOL_VERSIONS,
  startInitiator,
  startResponder,
} from '@parley/wire';
import { LoginClient, type LoginClientOptions } from '../../src/client/index.js';
import type { LocalLimits } from '../../src/limits/config.js';
import { LoginServerCore, type Session } from '../../src/server/core.js';
import { BusyError } from '../../src/server/errors.js';
import { LoginServer } from '../../src/server/runner.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import type { Store } from '../../src/store/store.js';
import { epochTransport, settle } from '../../src/testing/sim.js';
import { suite, T0, type TestNetwork, testNetwork } from '../server/fixtures.js';

export { suite, T0 };
export const PASSWORD = 'correct horse battery';
export const PORT = 443;

let networkPromise: Promise<TestNetwork> | undefined;
/** One network (root, login key, OPAQUE setup) per test file. */
export function network(): Promise<TestNetwork> {
  networkPromise ??= testNetwork('login-server e2e');
  return networkPromise;
}

export { epochTransport, settle };

/** A store whose every call takes `delayMs` of the clock's time before it runs (a database at a distance). */
export function slowStore(store: Store, clock: Clock, delayMs: number): Store {
  return new Proxy(store, {
    get(target, key) {
      const value = Reflect.get(target, key, target);
      if (typeof value !== 'function' || key === 'kind') return value;
      return async (...args: unknown[]) => {
        await new Promise<void>((resolve) => clock.setTimer(delayMs, resolve));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

/** What the core was asked and answered, with the times on the server's clock. */
export interface CoreCall {
  session: Session;
  packet: Packet;
  atMs: number;
  doneAtMs?: number;
  outcome?: 'reply' | 'close' | { code: ErrorCode; retryAfterMs?: number; retryJitterMs?: number };
  /** The reply, when there was one. */
  reply?: Packet;
}

/** Records every request the core handles (the runner looks `handle` up at each call). */
export function spyCore(core: LoginServerCore, clock: Clock): CoreCall[] {
  const calls: CoreCall[] = [];
  const handle = core.handle.bind(core);
  core.handle = async (session, packet) => {
    const call: CoreCall = { session, packet, atMs: clock.now() };
    calls.push(call);
    try {
      const action = await handle(session, packet);
      call.outcome = action.kind;
      if (action.kind === 'reply') call.reply = action.packet;
      return action;
    } catch (e) {
      const code = (e as { code: ErrorCode }).code;
      call.outcome =
        e instanceof BusyError
          ? { code, retryAfterMs: e.retryAfterMs, retryJitterMs: e.retryJitterMs }
          : { code: code ?? ErrorCode.ERROR_CODE_UNSPECIFIED };
      throw e;
    } finally {
      call.doneAtMs = clock.now();
    }
  };
  return calls;
}

export interface WorldOptions {
  seed?: string;
  localLimits?: LocalLimits;
  /** Every store call takes this long (simulated), so that expensive work overlaps. */
  storeDelayMs?: number;
  maxConnections?: number;
  /** Wraps the store the server uses (after the delay), to make it misbehave. */
  wrapStore?: (store: Store) => Store;
}

export interface World {
  sim: Simulator;
  net: TestNetwork;
  core: LoginServerCore;
  /** The store the server uses (slowed down when asked), and the store beneath it. */
  store: Store;
  backing: Store;
  server: LoginServer;
  serverHost: SimHost;
  serverTransport: Transport;
  address: NetAddress;
  /** The server's log events ('refused', 'internal-error', ...). */
  log: { event: string; fields: Record<string, unknown> }[];
  /** A new client host (a Transport on the T0 clock). */
  host(): Transport;
  run<T>(p: Promise<T>, timeoutMs?: number): Promise<T>;
  /** A LoginClient to the server, from a new host unless `transport` is given. */
  connect(o?: Partial<LoginClientOptions>): Promise<LoginClient>;
  /** `LoginClient.connect` without running the simulator (to connect many at once). */
  client(o?: Partial<LoginClientOptions>): Promise<LoginClient>;
}

/** A simulator with the login server listening on host 30.0.0.1, port 443. */
export async function world(o: WorldOptions = {}): Promise<World> {
  const net = await network();
  const sim = new Simulator({ seed: o.seed ?? 'login e2e' });
  const serverHost = sim.addHost();
  const serverTransport = epochTransport(serverHost, T0);
  const backing = new SqliteStore(':memory:');
  await backing.migrate();
  const slow = o.storeDelayMs !== undefined ? slowStore(backing, serverTransport.clock, o.storeDelayMs) : backing;
  const store = o.wrapStore?.(slow) ?? slow;
  const run = <T>(p: Promise<T>, timeoutMs?: number) => settle(sim, p, timeoutMs);
  const core = await run(
    LoginServerCore.open({
      store,
      clock: serverTransport.clock,
      suite,
      identity: net.identity,
      ...(o.localLimits !== undefined ? { localLimits: o.localLimits } : {}),
    }),
  );
  const log: World['log'] = [];
  const server = new LoginServer({
    transport: serverTransport,
    core,
    suite,
    listen: { address: '0.0.0.0', port: PORT },
    log: (event, fields) => log.push({ event, fields }),
    ...(o.maxConnections !== undefined ? { maxConnections: o.maxConnections } : {}),
  });
  await run(server.start());
  const address = { host: serverHost.address, port: PORT };
  const host = () => epochTransport(sim.addHost(), T0);
  const client = (c: Partial<LoginClientOptions> = {}) =>
    LoginClient.connect({
      transport: c.transport ?? host(),
      server: address,
      suite,
      trustAnchors: [net.root.publicKey],
      ...c,
    });
  return {
    sim,
    net,
    core,
    store,
    backing,
    server,
    serverHost,
    serverTransport,
    address,
    log,
    host,
    run,
    client,
    connect: (c = {}) => run(client(c)),
  };
}

/**
 * An account and a ROLE_USER certificate for it, written straight into the store (no OPAQUE): for tests
 * about what a certified user channel may do. `atMs` is the account's creation and the certificate's
 * not_before.
 */
export async function certifiedUser(
  w: World,
  name: string,
  seed: Uint8Array,
  deviceId: Uint8Array,
  atMs = T0 - 3_600_000,
): Promise<LocalIdentity> {
  const subjectKey = suite.ed25519PublicKey(seed);
  if ((await w.backing.getAccount(name)) === undefined) {
    await w.backing.createAccount({ username: name, registrationRecord: new Uint8Array(192), atMs });
  }
  const validity = { notBefore: atMs, notAfter: atMs + 24 * 3_600_000 };
  const issued = await w.backing.issueCertificate(
    {
      role: 'user',
      subject: name,
      subjectKey,
      deviceId,
      notBeforeMs: validity.notBefore,
      notAfterMs: validity.notAfter,
      issuedAtMs: validity.notBefore,
    },
    (serial) =>
      issueCertificate(suite, w.net.login, {
        subject: name,
        subjectKey,
        deviceId,
        role: Role.ROLE_USER,
        serial,
        ...validity,
      }),
  );
  return { chain: [issued.certificate, w.net.loginCertificate], seed };
}

// ---- Raw channels: requests a conforming client would never send ---------------------------------------

export interface RawChannel {
  channel: StreamChannel<PeerIdentity>;
  stream: Stream;
  established: EstablishedChannel<PeerIdentity>;
  /** Requests and notices the server sent (none expected). */
  packets: Packet[];
  /** The plaintext of every transport message received after the handshake: the packets as sent. */
  received: Uint8Array[];
  closed: CloseReason[];
  /** Encrypts `plaintext` with the channel's keys and writes it as one frame, bypassing every check. */
  sendRaw(plaintext: Uint8Array): void;
  /** Writes `bytes` as one frame without encrypting them. */
  sendFrame(bytes: Uint8Array): void;
  request(body: PacketBody): Promise<Packet>;
  /** Sends a request and ignores its outcome (the channel may close before an answer). */
  fire(body: PacketBody): void;
}

/** An anonymous (or certified) initiator channel to the world's server, whose stream the test holds. */
export async function rawChannel(w: World, identity?: LocalIdentity, transport = w.host()): Promise<RawChannel> {
  const policy = () => ({
    trustAnchors: [w.net.root.publicKey],
    nowMs: transport.clock.now(),
    acceptedRoles: [Role.ROLE_LOGIN],
  });
  const payload =
    identity === undefined
      ? anonymousPayloadCodec(suite, { software: 'parley-test/1', policy })
      : certifiedPayloadCodec(suite, { identity, software: 'parley-test/1', policy });
  const packets: Packet[] = [];
  const closed: CloseReason[] = [];
  let established!: (c: EstablishedChannel<PeerIdentity>) => void;
  let failed!: (e: unknown) => void;
  const ready = new Promise<EstablishedChannel<PeerIdentity>>((resolve, reject) => {
    established = resolve;
    failed = reject;
  });
  const channel = new StreamChannel<PeerIdentity>({
    clock: transport.clock,
    role: 'initiator',
    start: startInitiator({
      suite,
      random: transport.random,
      protocolVersions: SUPPORTED_PROTOCOL_VERSIONS,
      payload,
    }),
    events: {
      onEstablished: established,
      onPacket: (p) => packets.push(p),
      onClosed: (r) => {
        closed.push(r);
        failed(r);
      },
    },
  });
  const stream = transport.connectTcp(w.address, channel.handlers);
  channel.attach(stream);
  const est = await w.run(ready);
  const received: Uint8Array[] = [];
  const transportState = est.transport;
  const decrypt = transportState.decrypt.bind(transportState);
  transportState.decrypt = (message: Uint8Array) => {
    const plaintext = decrypt(message);
    received.push(plaintext.slice());
    return plaintext;
  };
  return {
    channel,
    stream,
    established: est,
    packets,
    received,
    closed,
    sendRaw: (plaintext) => stream.write(encodeFrame(est.transport.encrypt(plaintext))),
    sendFrame: (bytes) => stream.write(encodeFrame(bytes)),
    request: (body) => channel.request(body),
    fire: (body) => {
      channel.request(body).catch(() => {});
    },
  };
}

// ---- A scripted login server: for what the real one never does -----------------------------------------

export interface ScriptedServer {
  address: NetAddress;
  /** Every request received, with the time on the server's clock. */
  received: { packet: Packet; atMs: number }[];
  channels: StreamChannel<PeerIdentity | null>[];
}

/**
 * A responder proving `identity` (default: the network's login certificate) whose requests `answer`
 * handles: it returns the reply body, a packet's plaintext bytes (sent as they are, bypassing the
 * sender's checks), undefined to answer nothing, or 'core' to forward the request to `o.core` (with the
 * runner's mapping of refusals).
 */
export function scriptedServer(
  sim: Simulator,
  net: TestNetwork,
  answer: (
    packet: Packet,
    n: number,
    channel: StreamChannel<PeerIdentity | null>,
  ) => PacketBody | Uint8Array | undefined | 'core',
  o: { identity?: LocalIdentity; core?: LoginServerCore; random?: Random } = {},
): ScriptedServer {
  const host = sim.addHost();
  const transport = epochTransport(host, T0);
  const identity = o.identity ?? { chain: [net.loginCertificate], seed: net.login.seed };
  const received: ScriptedServer['received'] = [];
  const channels: StreamChannel<PeerIdentity | null>[] = [];
  transport.listenTcp(
    { address: '0.0.0.0', port: PORT },
    {
      onConnection: (stream) => {
        let session: Session | undefined;
        const channel: StreamChannel<PeerIdentity | null> = new StreamChannel<PeerIdentity | null>({
          clock: transport.clock,
          role: 'responder',
          stream,
          start: startResponder<PeerIdentity | null>({
            suite,
            random: o.random ?? transport.random,
            protocolVersions: SUPPORTED_PROTOCOL_VERSIONS,
            payload: loginServerPayloadCodec(suite, {
              identity,
              software: 'parley-scripted/1',
              policy: () => ({
                trustAnchors: [net.root.publicKey],
                nowMs: transport.clock.now(),
                acceptedRoles: [Role.ROLE_USER, Role.ROLE_SUPERNODE],
              }),
            }),
          }),
          events: {
            onEstablished: (c) => {
              if (o.core !== undefined) session = o.core.session(c, stream.remote.host);
            },
            onPacket: (packet) => {
              received.push({ packet, atMs: transport.clock.now() });
              const body = answer(packet, received.length, channel);
              if (body === 'core') {
                void forward(o.core!, session!, channel, packet);
              } else if (body instanceof Uint8Array) {
                stream.write(encodeFrame(channel.established!.transport.encrypt(body)));
              } else if (body !== undefined) {
                channel.send({ requestId: packet.requestId, body });
              }
            },
            onClosed: () => {},
          },
        });
        channels.push(channel);
        return channel.handlers;
      },
    },
  );
  return { address: { host: host.address, port: PORT }, received, channels };
}

/** The runner's handling of one request, for a scripted server that passes requests on to a core. */
async function forward(
  core: LoginServerCore,
  session: Session,
  channel: StreamChannel<PeerIdentity | null>,
  packet: Packet,
): Promise<void> {
  try {
    const action = await core.handle(session, packet);
    if (action.kind === 'reply') channel.send(action.packet);
    else channel.close(action.code, action.detail);
  } catch (error) {
    if (error instanceof BusyError) {
      channel.send({
        requestId: packet.requestId,
        body: {
          case: 'error',
          value: {
            code: error.code,
            detail: '',
            retryAfterMs: error.retryAfterMs,
            retryJitterMs: error.retryJitterMs,
          },
        },
      });
      return;
    }
    const a = rejectionAction(error, { channel: 'stream', requestId: packet.requestId });
    if (a.action === 'close') channel.close((error as { code: ErrorCode }).code, '');
    else if (a.action === 'reply') channel.send(a.reply);
  }
}
