/**
 * Fixtures for the stream channel tests: a small certified network (root key, login certificate, user
 * certificates; spec/02-identity.md) built from @parley/wire's public API, channel configs over it,
 * a recording event sink, a fake Clock that counts live timers, a fake Stream, and simulator setups.
 */
import type { Clock, NetError, SimHost, Stream, StreamHandlers, Timer } from '@parley/net';
import { Simulator, type SimulatorOptions } from '@parley/net';
import {
  type ChannelConfig,
  certifiedPayloadCodec,
  createNetworkKeys,
  type EstablishedChannel,
  generateSigningKey,
  issueCertificate,
  type LocalIdentity,
  nodeCrypto,
  type Packet,
  type PeerIdentity,
  type Random,
  Role,
  type RootKey,
  type SigningKey,
  seededRandom,
  startInitiator,
  startResponder,
} from '@parley/wire';
import { type CloseReason, StreamChannel, type StreamChannelEvents, type StreamChannelOptions } from '../src/index.js';

export const suite = nodeCrypto;
/** The verifiers' notion of now: fixed, so that certificates are valid whatever the test clock says. */
export const NOW = Date.UTC(2026, 10, 21, 12, 0, 0);
const HOUR = 3_600_000;

export interface Network {
  root: RootKey;
  login: SigningKey;
  loginCert: Uint8Array;
  random: Random;
  serial: number;
}

export function createNetwork(seed = 'channel test network'): Network {
  const random = seededRandom(seed);
  const {
    root,
    login,
    loginCertificate: loginCert,
  } = createNetworkKeys(suite, random, {
    subject: 'login.example',
    notBefore: NOW - 30 * 24 * HOUR,
    notAfter: NOW + 30 * 24 * HOUR,
  });
  return { root, login, loginCert, random, serial: 100 };
}

/** A user certificate issued by the network's login key: the chain [leaf, login certificate]. */
export function issueUser(net: Network, subject: string): LocalIdentity {
  const key = generateSigningKey(suite, net.random);
  const leaf = issueCertificate(suite, net.login, {
    subject,
    subjectKey: key.publicKey,
    deviceId: new Uint8Array(16).fill(7),
    role: Role.ROLE_USER,
    serial: net.serial++,
    notBefore: NOW - HOUR,
    notAfter: NOW + 23 * HOUR,
  });
  return { chain: [leaf, net.loginCert], seed: key.seed };
}

export function channelConfig(net: Network, identity: LocalIdentity, seed: string): ChannelConfig<PeerIdentity> {
  return {
    suite,
    random: seededRandom(seed),
    protocolVersions: [1],
    payload: certifiedPayloadCodec(suite, {
      identity,
      software: 'parley-test/1',
      policy: { trustAnchors: [net.root.publicKey], nowMs: NOW, acceptedRoles: [Role.ROLE_USER] },
    }),
  };
}

/** Two users of one network: alice (initiator) and bob (responder). */
export interface Parties {
  net: Network;
  alice: LocalIdentity;
  bob: LocalIdentity;
  aliceConfig(seed?: string): ChannelConfig<PeerIdentity>;
  bobConfig(seed?: string): ChannelConfig<PeerIdentity>;
}

let partiesCache: Parties | undefined;
export function parties(): Parties {
  if (partiesCache !== undefined) return partiesCache;
  const net = createNetwork();
  const alice = issueUser(net, 'alice');
  const bob = issueUser(net, 'bob');
  partiesCache = {
    net,
    alice,
    bob,
    aliceConfig: (seed = 'alice') => channelConfig(net, alice, seed),
    bobConfig: (seed = 'bob') => channelConfig(net, bob, seed),
  };
  return partiesCache;
}

/** What a channel's events reported (and when, on `clock`). */
export class Recorder<P = PeerIdentity> {
  established: EstablishedChannel<P>[] = [];
  establishedAt: number[] = [];
  packets: Packet[] = [];
  closed: CloseReason[] = [];
  closedAt: number[] = [];
  drains = 0;
  /** Called for each packet after it was recorded (to answer requests). */
  onPacket: ((packet: Packet) => void) | undefined;
  readonly events: StreamChannelEvents<P>;
  constructor(clock?: Clock) {
    this.events = {
      onEstablished: (c) => {
        this.established.push(c);
        this.establishedAt.push(clock?.now() ?? Number.NaN);
      },
      onPacket: (p) => {
        this.packets.push(p);
        this.onPacket?.(p);
      },
      onClosed: (r) => {
        this.closed.push(r);
        this.closedAt.push(clock?.now() ?? Number.NaN);
      },
      onDrain: () => this.drains++,
    };
  }
}

/** Handlers that record every chunk received before passing it on. */
export function tap(handlers: StreamHandlers, log: { chunks: Uint8Array[]; closedWith?: NetError | 'clean' }) {
  return {
    ...handlers,
    onData: (chunk: Uint8Array) => {
      log.chunks.push(chunk.slice());
      handlers.onData(chunk);
    },
    onClose: (error?: NetError) => {
      log.closedWith = error ?? 'clean';
      handlers.onClose(error);
    },
  } satisfies StreamHandlers;
}

export function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

// ---- A fake clock and a fake stream, for what the simulator does not model ----------------------------

export class FakeClock implements Clock {
  #now = 0;
  #timers: { at: number; fn: () => void; live: boolean }[] = [];
  now(): number {
    return this.#now;
  }
  setTimer(delayMs: number, fn: () => void): Timer {
    const t = { at: this.#now + delayMs, fn, live: true };
    this.#timers.push(t);
    return {
      cancel: () => {
        t.live = false;
      },
    };
  }
  /** Timers set and neither fired nor cancelled. */
  get live(): number {
    return this.#timers.filter((t) => t.live).length;
  }
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      const due = this.#timers.filter((t) => t.live && t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      this.#now = due.at;
      due.live = false;
      due.fn();
    }
    this.#now = end;
  }
}

/**
 * A Stream whose peer never reads: every write stays in `bufferedAmount` (what a TCP socket does once
 * the peer's receive window and our send buffer are full). Writes are recorded.
 */
export class FakeStream implements Stream {
  readonly local = { host: '192.0.2.1', port: 1 };
  readonly remote = { host: '192.0.2.2', port: 2 };
  writes: Uint8Array[] = [];
  bufferedAmount = 0;
  ended = false;
  wasReset = false;
  /** When true, writes are "sent" at once (the buffer stays empty). */
  draining = false;
  write(data: Uint8Array): boolean {
    if (this.ended || this.wasReset) return false;
    this.writes.push(data.slice());
    if (!this.draining) this.bufferedAmount += data.length;
    return this.bufferedAmount < 65_536;
  }
  end(): void {
    this.ended = true;
  }
  reset(): void {
    this.wasReset = true;
    this.bufferedAmount = 0;
  }
}

// ---- The simulator ------------------------------------------------------------------------------------

export type ChannelTuning = Partial<
  Omit<StreamChannelOptions<PeerIdentity>, 'clock' | 'start' | 'role' | 'events' | 'stream'>
>;

export interface SimServer {
  sim: Simulator;
  server: SimHost;
  client: SimHost;
  /** Every responder channel the server (bob, port 443) accepted, with its recorder and accept time. */
  accepted: { channel: StreamChannel<PeerIdentity>; rec: Recorder; stream: Stream; at: number }[];
}

/** A simulator with a server host running bob's responders on port 443, and an idle client host. */
export function simServer(o: { sim?: SimulatorOptions; server?: ChannelTuning } = {}): SimServer {
  const p = parties();
  const sim = new Simulator({ seed: 'stream-channel', ...o.sim });
  const server = sim.addHost();
  const client = sim.addHost();
  const accepted: SimServer['accepted'] = [];
  let n = 0;
  server.listenTcp(
    { port: 443 },
    {
      onConnection: (stream) => {
        const rec = new Recorder(server.clock);
        const channel = new StreamChannel({
          clock: server.clock,
          start: startResponder(p.bobConfig(`bob-${n++}`)),
          role: 'responder',
          events: rec.events,
          stream,
          ...o.server,
        });
        accepted.push({ channel, rec, stream, at: sim.now });
        return channel.handlers;
      },
    },
  );
  return { sim, server, client, accepted };
}

export interface SimPair extends SimServer {
  /** The bytes the client's stream received, and how it closed. */
  clientLog: { chunks: Uint8Array[]; closedWith?: NetError | 'clean' };
  /** The client's channel (alice, initiator) and its raw stream. */
  alice: StreamChannel<PeerIdentity>;
  aliceRec: Recorder;
  aliceStream: Stream;
}

/** simServer, and alice connecting to bob from the client host. */
export function simPair(o: { sim?: SimulatorOptions; server?: ChannelTuning; client?: ChannelTuning } = {}): SimPair {
  const t = simServer(o);
  const aliceRec = new Recorder(t.client.clock);
  const alice = new StreamChannel({
    clock: t.client.clock,
    start: startInitiator(parties().aliceConfig()),
    role: 'initiator',
    events: aliceRec.events,
    ...o.client,
  });
  const clientLog: SimPair['clientLog'] = { chunks: [] };
  const aliceStream = t.client.connectTcp({ host: t.server.address, port: 443 }, tap(alice.handlers, clientLog));
  alice.attach(aliceStream);
  return { ...t, clientLog, alice, aliceRec, aliceStream };
}
