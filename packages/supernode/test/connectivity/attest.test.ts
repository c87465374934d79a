/**
 * Reachability attestations (spec/08-connectivity.md §8, src/connectivity/attest.ts and
 * src/runner/dial-back.ts). End to end in the simulator: a supernode (the runner, on a transport that
 * records every connection it opens and every datagram it sends) and election candidates on public hosts,
 * behind a NAT, or answering wrongly — each with a listener that accepts stream channels as responder with
 * a ROLE_USER certificate and a UDP socket that answers probes (ATTEST-NODE-1). Then the service alone with
 * fake dependencies: every refusal, the rate limits and their table, the channel closing mid-way, and a
 * fuzz of the handler over random well-typed requests and random outcomes of both tests.
 */
import { type CloseReason, StreamChannel } from '@parley/channel';
import type { Listener, NetAddress, Transport, UdpSocket } from '@parley/net';
import {
  ATTESTATION_LIFETIME_MS,
  type AttestationTrust,
  certifiedPayloadCodec,
  DATAGRAM_TYPE_PROBE,
  decodeConnectivityDatagram,
  ErrorCode,
  encodeProbeReply,
  isParleyError,
  type LocalIdentity,
  MIN_PROBE_LENGTH,
  type Packet,
  type PacketBodies,
  type PeerIdentity,
  type ProbeReplyDatagram,
  Role,
  SUPPORTED_PROTOCOL_VERSIONS,
  seededRandom,
  startResponder,
  verifyAttestation,
} from '@parley/wire';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AttestService, DEFAULT_ATTEST_LIMITS } from '../../src/connectivity/attest.js';
import {
  type ConnectivityDeps,
  type ConnectivityLimits,
  DEFAULT_CONNECTIVITY_LIMITS,
} from '../../src/connectivity/service.js';
import type { CoreAction } from '../../src/core/core.js';
import { addressBytes } from '../../src/core/endpoint.js';
import { NetworkState } from '../../src/core/network-state.js';
import { NO_CHANNEL, newSession, type Session } from '../../src/core/session.js';
import type { SupernodeClient } from '../../src/runner/node-client.js';
import { Supernode } from '../../src/runner/supernode.js';
import {
  advance,
  certified,
  epochTransport,
  HOUR,
  SN_PORT,
  suite,
  T0,
  type TestNetwork,
  testNetwork,
  World,
} from '../fixtures.js';

const TCP_PORT = 7_000;
const UDP_PORT = 7_001;
const nonceOf = (n: number, length = 24) => new Uint8Array(length).fill(n);

// ---- Helpers: a recording supernode, a candidate's listener and probe answerer ------------------------------

interface Recorded {
  supernode: Supernode;
  address: NetAddress;
  identity: ReturnType<typeof certified>;
  /** Every TCP connection the supernode opened. */
  connects: NetAddress[];
  /** Every datagram the supernode sent. */
  sends: { data: Uint8Array; to: NetAddress }[];
}

/** A supernode on a new host of `w`, on a transport that records connections and datagrams ([NAT-AMP-2]). */
async function recordingSupernode(w: World, limits: Partial<ConnectivityLimits> = {}): Promise<Recorded> {
  const host = w.sim.addHost();
  const base = epochTransport(host);
  const connects: NetAddress[] = [];
  const sends: Recorded['sends'] = [];
  const transport: Transport = {
    clock: base.clock,
    random: base.random,
    listenTcp: (o, h) => base.listenTcp(o, h),
    connectTcp: (remote, h, o) => {
      connects.push(remote);
      return base.connectTcp(remote, h, o);
    },
    bindUdp: (o, h) => {
      const socket = base.bindUdp(o, h);
      return {
        get local() {
          return socket.local;
        },
        send: (data, to) => {
          sends.push({ data, to });
          socket.send(data, to);
        },
        close: () => socket.close(),
      };
    },
  };
  const identity = certified(w.net, Role.ROLE_SUPERNODE, 'attesting.test', 0x91);
  const supernode = new Supernode({
    transport,
    suite,
    identity,
    trustAnchors: [w.net.root.publicKey],
    listen: { address: '0.0.0.0', port: SN_PORT },
    connectivityLimits: limits,
  });
  await w.run(supernode.start());
  return { supernode, address: { host: host.address, port: SN_PORT }, identity, connects, sends };
}

/**
 * The candidate's listener: accepts stream channels as responder proving `identity` (ROLE_USER), and
 * requires a ROLE_SUPERNODE initiator of the network. `seen` collects the initiators that completed.
 */
function listenAsCandidate(
  transport: Transport,
  identity: LocalIdentity,
  trustAnchors: Uint8Array[],
  port = TCP_PORT,
): Promise<{ listener: Listener; seen: PeerIdentity[]; closes: CloseReason[] }> {
  const seen: PeerIdentity[] = [];
  const closes: CloseReason[] = [];
  return new Promise((resolve, reject) => {
    const listener = transport.listenTcp(
      { address: '0.0.0.0', port },
      {
        onConnection: (stream) =>
          new StreamChannel<PeerIdentity>({
            clock: transport.clock,
            role: 'responder',
            stream,
            start: startResponder<PeerIdentity>({
              suite,
              random: transport.random,
              protocolVersions: SUPPORTED_PROTOCOL_VERSIONS,
              payload: certifiedPayloadCodec(suite, {
                identity,
                software: 'candidate/test',
                policy: () => ({ trustAnchors, nowMs: transport.clock.now(), acceptedRoles: [Role.ROLE_SUPERNODE] }),
              }),
            }),
            events: {
              onEstablished: (c) => seen.push(c.peer),
              onPacket: () => {},
              onClosed: (reason) => closes.push(reason),
            },
          }).handlers,
        onReady: () => resolve({ listener, seen, closes }),
        onError: reject,
      },
    );
  });
}

/** A listener that accepts connections and never answers (a handshake that never completes). */
function listenSilently(transport: Transport, port = TCP_PORT): Promise<{ accepted: number }> {
  const r = { accepted: 0 };
  return new Promise((resolve, reject) => {
    transport.listenTcp(
      { address: '0.0.0.0', port },
      {
        onConnection: () => {
          r.accepted++;
          return { onData: () => {}, onClose: () => {} };
        },
        onReady: () => resolve(r),
        onError: reject,
      },
    );
  });
}

type Answer = 'right' | 'wrong-txid' | 'other-port' | 'none';

interface Answerer {
  socket: UdpSocket;
  probes: { length: number; from: NetAddress }[];
  replies: number[];
}

/**
 * [ATTEST-NODE-1] The candidate's UDP socket at `port`: each probe (0x02) is answered with one probe reply
 * of the probe's length, the probe's transaction id and its source as observed — or, to test the
 * supernode, with another transaction id, or from another socket (another port).
 */
async function answerProbes(transport: Transport, answer: Answer, port = UDP_PORT): Promise<Answerer> {
  const bind = (p: number, onMessage: (data: Uint8Array, from: NetAddress) => void) =>
    new Promise<UdpSocket>((resolve, reject) => {
      const s = transport.bindUdp({ port: p }, { onMessage, onReady: () => resolve(s), onError: reject });
    });
  const r: Answerer = { socket: undefined as never, probes: [], replies: [] };
  const other = await bind(port + 100, () => {});
  r.socket = await bind(port, (data, from) => {
    let d: ReturnType<typeof decodeConnectivityDatagram>;
    try {
      d = decodeConnectivityDatagram(data);
    } catch {
      return;
    }
    if (d.type !== DATAGRAM_TYPE_PROBE) return;
    r.probes.push({ length: data.length, from });
    if (answer === 'none') return;
    const txid = Uint8Array.from(d.transactionId);
    if (answer === 'wrong-txid') txid[0]! ^= 1;
    const reply = encodeProbeReply(
      txid,
      { address: addressBytes(from.host), port: from.port },
      new Uint8Array(8),
      d.length,
    );
    r.replies.push(reply.length);
    (answer === 'other-port' ? other : r.socket).send(reply, from);
  });
  return r;
}

/** A candidate's host with a public address: its transport (on the T0 clock) and that address. */
function publicHost(w: World): { t: Transport; host: string } {
  const h = w.sim.addHost();
  return { t: epochTransport(h), host: h.address };
}

function trustOf(net: TestNetwork, nowMs: number): AttestationTrust {
  return { trustAnchors: [net.root.publicKey], loginCertificates: [net.loginCertificate], nowMs };
}

/** The AttestReply body of a request on `client`, or the ErrorReply's value. */
async function attestOn(
  w: World,
  client: SupernodeClient,
  value: PacketBodies['attestRequest'],
): Promise<Packet['body']> {
  return (await w.run(client.channel.request({ case: 'attestRequest', value }))).body;
}

function attestReply(body: Packet['body']): PacketBodies['attestReply'] {
  if (body.case !== 'attestReply') throw new Error(`expected attestReply, got ${JSON.stringify(body.value)}`);
  return body.value;
}

function errorReply(body: Packet['body']): PacketBodies['error'] {
  if (body.case !== 'error') throw new Error(`expected an error, got ${body.case}`);
  return body.value;
}

// ---- In the simulator ----------------------------------------------------------------------------------

describe('attestations in the simulator [ATTEST-DIAL-1] [ATTEST-DIAL-2] [ATTEST-DIAL-3] [ATTEST-SIGN-1]', () => {
  it('[ATTEST-REQ-1] [ATTEST-DIAL-2] [ATTEST-DIAL-3] [ATTEST-SIGN-1] [ATTEST-NODE-1] a reachable candidate gets a signed attestation (tcp and udp true) that verifies', async () => {
    const w = new World({ seed: 'attest reachable' });
    const sn = await recordingSupernode(w);
    const alice = w.user('alice');
    const { t, host } = publicHost(w);
    const { seen, closes } = await w.run(listenAsCandidate(t, alice, [w.net.root.publicKey]));
    const udp = await w.run(answerProbes(t, 'right'));
    const client = await w.connect(sn, alice, { transport: t });
    const nonce = nonceOf(7);
    const startedAt = t.clock.now();
    const reply = attestReply(await attestOn(w, client, { tcpPort: TCP_PORT, udpPort: UDP_PORT, nonce }));
    const v = verifyAttestation(suite, reply, trustOf(w.net, t.clock.now()), { subjectKeyId: alice.keyId, nonce });
    expect(v.tcpReachable).toBe(true);
    expect(v.udpReachable).toBe(true);
    expect(v.username).toBe('alice');
    expect([...v.deviceId]).toEqual([...alice.deviceId]);
    expect([...v.address]).toEqual([...addressBytes(host)]);
    expect(v.tcpPort).toBe(TCP_PORT);
    expect(v.udpPort).toBe(UDP_PORT);
    expect([...v.supernodeKeyId]).toEqual([...sn.identity.keyId]);
    expect(v.issuedAt).toBeGreaterThanOrEqual(startedAt);
    expect(v.expiresAt - v.issuedAt).toBe(ATTESTATION_LIFETIME_MS);
    expect([...reply.certificate]).toEqual([...sn.identity.chain[0]!]);
    // the dial-back proved the supernode to the candidate and was closed; one 64-byte probe, one reply of its length
    expect(seen.map((p) => [...p.keyId])).toEqual([[...sn.identity.keyId]]);
    expect(closes.map((r) => [r.code, r.local])).toEqual([[0, false]]);
    expect(udp.probes.map((p) => p.length)).toEqual([MIN_PROBE_LENGTH]);
    expect(udp.replies).toEqual([MIN_PROBE_LENGTH]);
    expect(sn.supernode.connectivity.attest.stats).toMatchObject({ attested: 1, tcpReachable: 1, udpReachable: 1 });
    expect(sn.supernode.connectivity.attest.inProgress).toBe(0);
    // [ATTEST-DIAL-1] [NAT-AMP-2] the supernode connected and sent only to the channel's observed address
    expect(sn.connects).toEqual([{ host, port: TCP_PORT }]);
    expect(sn.sends.map((s) => s.to)).toEqual([{ host, port: UDP_PORT }]);
    expect(client.closed).toBe(false);
  });

  it("[ATTEST-DIAL-1] [ATTEST-DIAL-4] [NAT-AMP-2] a candidate behind a NAT is attested unreachable (false, false), within attest-timeout, at the NAT's address only", async () => {
    const w = new World({ seed: 'attest nat' });
    const sn = await recordingSupernode(w);
    const alice = w.user('alice');
    const { transport: t, nat } = w.natHost({ mapping: 'address-dependent', filtering: 'address-dependent' });
    await w.run(listenAsCandidate(t, alice, [w.net.root.publicKey]));
    const udp = await w.run(answerProbes(t, 'right'));
    const client = await w.connect(sn, alice, { transport: t });
    const nonce = nonceOf(8, 16);
    const startedAt = t.clock.now();
    const reply = attestReply(await attestOn(w, client, { tcpPort: TCP_PORT, udpPort: UDP_PORT, nonce }));
    const elapsed = t.clock.now() - startedAt;
    const v = verifyAttestation(suite, reply, trustOf(w.net, t.clock.now()), { subjectKeyId: alice.keyId, nonce });
    expect(v.tcpReachable).toBe(false);
    expect(v.udpReachable).toBe(false);
    expect(udp.probes).toHaveLength(0);
    expect(elapsed).toBeLessThanOrEqual(DEFAULT_ATTEST_LIMITS.attestTimeoutMs + 1_000);
    const observed = nat.publicHost;
    expect(sn.supernode.sessions()[0]!.observed.host).toBe(observed);
    expect([...v.address]).toEqual([...addressBytes(observed)]);
    expect(sn.connects).toEqual([{ host: observed, port: TCP_PORT }]);
    expect(sn.sends.map((s) => s.to)).toEqual([{ host: observed, port: UDP_PORT }]);
  });

  it("[ATTEST-DIAL-2] a listener proving another user's certificate, or a supernode's, is not the candidate: tcp false", async () => {
    const w = new World({ seed: 'attest other key' });
    const sn = await recordingSupernode(w);
    const alice = w.user('alice');
    const mallory = w.user('mallory');
    const t = w.host();
    const { seen } = await w.run(listenAsCandidate(t, mallory, [w.net.root.publicKey]));
    await w.run(answerProbes(t, 'right'));
    const client = await w.connect(sn, alice, { transport: t });
    const nonce = nonceOf(9);
    const v = verifyAttestation(
      suite,
      attestReply(await attestOn(w, client, { tcpPort: TCP_PORT, udpPort: UDP_PORT, nonce })),
      trustOf(w.net, t.clock.now()),
      { subjectKeyId: alice.keyId, nonce },
    );
    expect(seen).toHaveLength(1); // the handshake completed, with mallory's certificate
    expect(v.tcpReachable).toBe(false);
    expect(v.udpReachable).toBe(true);
    // a listener proving a ROLE_SUPERNODE certificate fails the dial-back's handshake
    const t2 = w.host();
    const bob = w.user('bob');
    const other = certified(w.net, Role.ROLE_SUPERNODE, 'other.test', 0x92);
    await w.run(listenAsCandidate(t2, other, [w.net.root.publicKey]));
    const client2 = await w.connect(sn, bob, { transport: t2 });
    const v2 = verifyAttestation(
      suite,
      attestReply(await attestOn(w, client2, { tcpPort: TCP_PORT, udpPort: 0, nonce })),
      trustOf(w.net, t2.clock.now()),
      { subjectKeyId: bob.keyId, nonce },
    );
    expect(v2.tcpReachable).toBe(false);
  });

  it('[ATTEST-DIAL-3] a probe answered with another transaction id, or from another port, is not an answer: udp false', async () => {
    for (const answer of ['wrong-txid', 'other-port'] as const) {
      const w = new World({ seed: `attest ${answer}` });
      const sn = await recordingSupernode(w);
      const alice = w.user('alice');
      const t = w.host();
      await w.run(listenAsCandidate(t, alice, [w.net.root.publicKey]));
      const udp = await w.run(answerProbes(t, answer));
      const client = await w.connect(sn, alice, { transport: t });
      const nonce = nonceOf(10);
      const v = verifyAttestation(
        suite,
        attestReply(await attestOn(w, client, { tcpPort: TCP_PORT, udpPort: UDP_PORT, nonce })),
        trustOf(w.net, t.clock.now()),
        { subjectKeyId: alice.keyId, nonce },
      );
      expect(udp.replies, answer).toHaveLength(1);
      expect(v.tcpReachable, answer).toBe(true);
      expect(v.udpReachable, answer).toBe(false);
      expect(sn.supernode.connectivity.attest.stats.probeRepliesDropped, answer).toBe(1);
    }
  });

  it('[ATTEST-DIAL-3] [ATTEST-DIAL-4] udp_port 0 is not tested; a handshake that never completes is tcp false within attest-timeout', async () => {
    const w = new World({ seed: 'attest silent' });
    const sn = await recordingSupernode(w);
    const alice = w.user('alice');
    const t = w.host();
    const silent = await w.run(listenSilently(t));
    const client = await w.connect(sn, alice, { transport: t });
    const nonce = nonceOf(11, 32);
    const startedAt = t.clock.now();
    const v = verifyAttestation(
      suite,
      attestReply(await attestOn(w, client, { tcpPort: TCP_PORT, udpPort: 0, nonce })),
      trustOf(w.net, t.clock.now()),
      { subjectKeyId: alice.keyId, nonce },
    );
    const elapsed = t.clock.now() - startedAt;
    expect(silent.accepted).toBe(1);
    expect(v).toMatchObject({ tcpReachable: false, udpReachable: false, udpPort: 0 });
    expect(elapsed).toBeGreaterThanOrEqual(DEFAULT_ATTEST_LIMITS.attestTimeoutMs);
    expect(elapsed).toBeLessThanOrEqual(DEFAULT_ATTEST_LIMITS.attestTimeoutMs + 1_000);
    expect(sn.sends).toHaveLength(0);
  });

  it('[ATTEST-RATE-1] 4 per candidate per hour: the 5th is RATE_LIMITED with a retry hint, on any channel of that key; another candidate is not; an hour later it is allowed', async () => {
    const w = new World({ seed: 'attest rate' });
    const sn = await recordingSupernode(w);
    const alice = w.user('alice');
    const t = w.host();
    await w.run(listenAsCandidate(t, alice, [w.net.root.publicKey]));
    const client = await w.connect(sn, alice, { transport: t });
    const ask = (c: SupernodeClient, n: number) => attestOn(w, c, { tcpPort: TCP_PORT, udpPort: 0, nonce: nonceOf(n) });
    for (let i = 0; i < 4; i++) expect(attestReply(await ask(client, i + 1)).attestation.length).toBeGreaterThan(0);
    const fifth = errorReply(await ask(client, 5));
    expect(fifth.code).toBe(ErrorCode.RATE_LIMITED);
    expect(fifth.retryAfterMs).toBeGreaterThan(HOUR - 60_000);
    expect(fifth.retryAfterMs).toBeLessThanOrEqual(HOUR);
    // another channel of the same key (another device of alice's key: the same certificate) is limited too
    const again = await w.connect(sn, alice, { transport: t });
    expect(errorReply(await ask(again, 6)).code).toBe(ErrorCode.RATE_LIMITED);
    // another candidate is not
    const bob = w.user('bob');
    const tb = w.host();
    await w.run(listenAsCandidate(tb, bob, [w.net.root.publicKey]));
    expect(attestReply(await ask(await w.connect(sn, bob, { transport: tb }), 7)).attestation.length).toBeGreaterThan(
      0,
    );
    expect(sn.connects).toHaveLength(5); // nothing dialled for a refused request
    await advance(w.sim, fifth.retryAfterMs ?? HOUR);
    const later = await w.connect(sn, alice, { transport: t });
    expect(attestReply(await ask(later, 8)).attestation.length).toBeGreaterThan(0);
    expect(sn.supernode.connectivity.attest.stats.rateLimited).toBe(2);
  });

  it('[ATTEST-RATE-1] one attestation in progress per channel: a second is BUSY and not counted', async () => {
    const w = new World({ seed: 'attest busy' });
    const sn = await recordingSupernode(w);
    const alice = w.user('alice');
    const t = w.host();
    await w.run(listenSilently(t)); // the first one takes the whole attest-timeout
    const client = await w.connect(sn, alice, { transport: t });
    const value = (n: number) => ({ tcpPort: TCP_PORT, udpPort: 0, nonce: nonceOf(n) });
    const first = client.channel.request({ case: 'attestRequest', value: value(1) });
    const second = client.channel.request({ case: 'attestRequest', value: value(2) });
    const [a, b] = await w.run(Promise.all([first, second]));
    expect(a.body.case).toBe('attestReply');
    expect(errorReply(b.body).code).toBe(ErrorCode.BUSY);
    expect(sn.connects).toHaveLength(1);
    // the BUSY one cost nothing: 3 more pass, then the hour's 4 are spent
    for (let i = 0; i < 3; i++) expect((await attestOn(w, client, value(3 + i))).case).toBe('attestReply');
    expect(errorReply(await attestOn(w, client, value(9))).code).toBe(ErrorCode.RATE_LIMITED);
  });

  it('[ATTEST-REQ-1] a request with port 0 or a 15-byte nonce is MALFORMED (the channel closes) and dials nothing', async () => {
    for (const value of [
      { tcpPort: 0, udpPort: UDP_PORT, nonce: nonceOf(1) },
      { tcpPort: TCP_PORT, udpPort: UDP_PORT, nonce: nonceOf(1, 15) },
    ]) {
      const w = new World({ seed: 'attest malformed' });
      const sn = await recordingSupernode(w);
      const alice = w.user('alice');
      const client = await w.connect(sn, alice);
      const outcome = await w.run(
        client.channel.request({ case: 'attestRequest', value }).then(
          () => 'answered',
          () => 'closed',
        ),
      );
      expect(outcome).toBe('closed');
      expect(client.channel.closeReason?.code).toBe(ErrorCode.MALFORMED);
      expect(sn.connects).toHaveLength(0);
      expect(sn.sends).toHaveLength(0);
    }
  });

  it('[ATTEST-DIAL-1] [NAT-AMP-2] over random requests of several candidates, the supernode connects and sends to observed addresses only', async () => {
    const w = new World({ seed: 'attest amp' });
    const sn = await recordingSupernode(w);
    const r = seededRandom('attest amp requests');
    const hosts: string[] = [];
    for (let i = 0; i < 6; i++) {
      const user = w.user(`user${i}`);
      const { t, host } = publicHost(w);
      hosts.push(host);
      if (i % 2 === 0) await w.run(listenAsCandidate(t, user, [w.net.root.publicKey], 1_000 + i));
      if (i % 3 === 0) await w.run(answerProbes(t, 'right', 2_000 + i));
      const client = await w.connect(sn, user, { transport: t });
      const b = r.randomBytes(4);
      const value = {
        tcpPort: 1 + (((b[0]! << 8) | b[1]!) % 65_535),
        udpPort: ((b[2]! << 8) | b[3]!) % 65_536,
        nonce: r.randomBytes(16 + (b[0]! % 17)),
      };
      for (const v of [value, { ...value, tcpPort: 1_000 + i, udpPort: 2_000 + i }]) {
        expect((await attestOn(w, client, v)).case).toBe('attestReply');
      }
      const observed = sn.supernode.sessions().find((s) => s.username === `user${i}`)!.observed.host;
      expect(observed).toBe(host);
    }
    expect(sn.connects.length).toBeGreaterThan(0);
    for (const c of sn.connects) expect(hosts).toContain(c.host);
    for (const s of sn.sends) expect(hosts).toContain(s.to.host);
  });
});

// ---- The service alone ------------------------------------------------------------------------------------

const net = testNetwork('attest service');
const snId = certified(net, Role.ROLE_SUPERNODE, 'sn.test', 0x71);
const aliceId = certified(net, Role.ROLE_USER, 'alice', 1);
const otherId = certified(net, Role.ROLE_USER, 'mallory', 2);
const OBSERVED: NetAddress = { host: '198.51.100.7', port: 40_000 };

function sessionOf(who: ReturnType<typeof certified>, role = Role.ROLE_USER, subject = 'alice'): Session {
  const peer = {
    certificate: { subject, deviceId: who.deviceId, role },
    keyId: who.keyId,
    chain: [],
  };
  return newSession(peer as never, OBSERVED, NO_CHANNEL);
}

/** A clock whose timers fire when the test advances it. */
class ManualClock {
  t = T0;
  readonly #timers: { at: number; fn: () => void; live: boolean }[] = [];
  now = (): number => this.t;
  setTimer = (delayMs: number, fn: () => void) => {
    const e = { at: this.t + delayMs, fn, live: true };
    this.#timers.push(e);
    return { cancel: () => (e.live = false) };
  };
  get pending(): number {
    return this.#timers.filter((e) => e.live).length;
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = this.#timers.filter((e) => e.live && e.at <= end).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      due.live = false;
      this.t = due.at;
      due.fn();
    }
    this.t = end;
  }
}

type DialOutcome = 'same' | 'other' | 'fail' | 'hang';

interface Harness {
  deps: ConnectivityDeps;
  service: AttestService;
  clock: ManualClock;
  dials: NetAddress[];
  sent: { data: Uint8Array; to: NetAddress }[];
}

/** The service with fake deps: the dial-back ends as `dial` says, the candidate answers probes as `udp` says. */
function harness(
  o: { dial?: DialOutcome; udp?: Answer; limits?: Partial<ConnectivityLimits>; noUdp?: boolean } = {},
): Harness {
  const clock = new ManualClock();
  const random = seededRandom('attest harness');
  const dials: NetAddress[] = [];
  const sent: Harness['sent'] = [];
  const h = { clock, dials, sent } as Harness;
  const identityOf = (who: ReturnType<typeof certified>) =>
    ({ keyId: who.keyId, certificate: { role: Role.ROLE_USER, subject: 'x', deviceId: who.deviceId } }) as never;
  h.deps = {
    clock,
    suite,
    random: { randomBytes: (n) => random.randomBytes(n), float: () => 0.5 },
    state: new NetworkState(suite),
    selfKeyId: snId.keyId,
    peers: { request: () => Promise.reject(new Error('no peers')) },
    findAttached: () => undefined,
    udp: o.noUdp
      ? undefined
      : {
          send: (data, to) => {
            sent.push({ data, to });
            const answer = o.udp ?? 'right';
            if (answer === 'none') return;
            const d = decodeConnectivityDatagram(data);
            if (d.type !== DATAGRAM_TYPE_PROBE) return;
            const txid = Uint8Array.from(d.transactionId);
            if (answer === 'wrong-txid') txid[11]! ^= 0x80;
            const reply = decodeConnectivityDatagram(
              encodeProbeReply(txid, { address: addressBytes(OBSERVED.host), port: 1 }, new Uint8Array(8), data.length),
            ) as ProbeReplyDatagram;
            const from = answer === 'other-port' ? { ...to, port: to.port === 1 ? 2 : to.port - 1 } : to;
            queueMicrotask(() => h.service.onProbeReply(reply, from));
          },
        },
    udpEndpoints: () => [],
    identity: snId,
    dialBack: (to) => {
      dials.push(to);
      switch (o.dial ?? 'same') {
        case 'same':
          return Promise.resolve(identityOf(aliceId));
        case 'other':
          return Promise.resolve(identityOf(otherId));
        case 'fail':
          return Promise.reject(new Error('ECONNREFUSED'));
        case 'hang':
          return new Promise(() => {});
      }
    },
    limits: { ...DEFAULT_CONNECTIVITY_LIMITS, ...o.limits },
  };
  h.service = new AttestService(h.deps);
  return h;
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Runs one request to its end: lets promise chains settle, then passes the attest-timeout. */
async function run(h: Harness, p: Promise<CoreAction>): Promise<CoreAction> {
  p.catch(() => {}); // awaited below: a refusal is not unhandled meanwhile
  await turn();
  h.clock.advance(DEFAULT_ATTEST_LIMITS.attestTimeoutMs);
  return p;
}

async function codeOf(p: Promise<CoreAction>): Promise<number> {
  try {
    const a = await p;
    if (a.kind === 'reply' && a.packet.body.case === 'error') return a.packet.body.value.code;
    return 0;
  } catch (e) {
    if (!isParleyError(e)) throw e;
    return e.code;
  }
}

function verified(a: CoreAction, nowMs: number, nonce: Uint8Array) {
  if (a.kind !== 'reply' || a.packet.body.case !== 'attestReply') throw new Error('expected an AttestReply');
  return verifyAttestation(
    suite,
    a.packet.body.value,
    { trustAnchors: [net.root.publicKey], loginCertificates: [net.loginCertificate], nowMs },
    { subjectKeyId: aliceId.keyId, nonce },
  );
}

const request = (o: Partial<PacketBodies['attestRequest']> = {}): PacketBodies['attestRequest'] => ({
  tcpPort: TCP_PORT,
  udpPort: UDP_PORT,
  nonce: nonceOf(3),
  ...o,
});

describe('the attestation service [ATTEST-REQ-1] [ATTEST-RATE-1] [ATTEST-SIGN-1]', () => {
  it('[ATTEST-REQ-1] ports out of range and nonces of 15 or 33 bytes are MALFORMED; nothing is dialled or sent', async () => {
    const h = harness();
    const s = sessionOf(aliceId);
    for (const bad of [
      { tcpPort: 0 },
      { tcpPort: 65_536 },
      { udpPort: 65_536 },
      { nonce: new Uint8Array(15) },
      { nonce: new Uint8Array(33) },
      { nonce: new Uint8Array(0) },
    ]) {
      expect(await codeOf(h.service.attest(s, 1, request(bad))), JSON.stringify(bad)).toBe(ErrorCode.MALFORMED);
    }
    for (const ok of [{ tcpPort: 1 }, { tcpPort: 65_535, udpPort: 65_535 }, { nonce: new Uint8Array(16) }]) {
      expect(await codeOf(run(h, h.service.attest(s, 1, request(ok))))).toBe(0);
    }
    expect(h.dials).toHaveLength(3);
  });

  it("[ATTEST-REQ-1] only a user channel may ask: a supernode's channel is NOT_AUTHORIZED", async () => {
    const h = harness();
    const s = sessionOf(snId, Role.ROLE_SUPERNODE, 'sn.test');
    expect(await codeOf(h.service.attest(s, 1, request()))).toBe(ErrorCode.NOT_AUTHORIZED);
    expect(h.dials).toHaveLength(0);
  });

  it('[ATTEST-SIGN-1] [ATTEST-DIAL-3] the reply: issued now, expires in an hour, the probe 64 bytes to the observed host', async () => {
    const h = harness();
    const nonce = nonceOf(4, 20);
    const a = await run(h, h.service.attest(sessionOf(aliceId), 5, request({ nonce })));
    const v = verified(a, T0, nonce);
    expect(v).toMatchObject({
      issuedAt: T0,
      expiresAt: T0 + HOUR,
      tcpReachable: true,
      udpReachable: true,
      username: 'alice',
    });
    expect(a.kind === 'reply' && a.packet.requestId).toBe(5);
    expect(h.dials).toEqual([{ host: OBSERVED.host, port: TCP_PORT }]);
    expect(h.sent.map((s) => [s.data.length, s.data[0], s.to])).toEqual([
      [MIN_PROBE_LENGTH, DATAGRAM_TYPE_PROBE, { host: OBSERVED.host, port: UDP_PORT }],
    ]);
    expect(h.clock.pending).toBe(0);
  });

  it('[ATTEST-DIAL-2] [ATTEST-DIAL-3] [ATTEST-DIAL-4] each outcome of the two tests gives its result', async () => {
    const cases: [DialOutcome, Answer, boolean, boolean][] = [
      ['same', 'right', true, true],
      ['other', 'right', false, true],
      ['fail', 'none', false, false],
      ['hang', 'wrong-txid', false, false],
      ['same', 'other-port', true, false],
    ];
    for (const [dial, udp, tcpReachable, udpReachable] of cases) {
      const h = harness({ dial, udp });
      const nonce = nonceOf(5);
      const v = verified(await run(h, h.service.attest(sessionOf(aliceId), 1, request({ nonce }))), T0, nonce);
      expect({ dial, udp, tcp: v.tcpReachable, udpR: v.udpReachable }).toEqual({
        dial,
        udp,
        tcp: tcpReachable,
        udpR: udpReachable,
      });
      expect(h.service.inProgress).toBe(0);
    }
    // no UDP socket: nothing sent, false
    const h = harness({ noUdp: true });
    expect(
      verified(await run(h, h.service.attest(sessionOf(aliceId), 1, request())), T0, nonceOf(3)).udpReachable,
    ).toBe(false);
  });

  it('[ATTEST-RATE-1] [NAT-RES-1] the rate table is bounded: beyond it a new candidate is BUSY with a retry hint until entries age out', async () => {
    const h = harness({ limits: { attestCandidatesTracked: 2 } });
    const ids = [aliceId, otherId, certified(net, Role.ROLE_USER, 'carol', 3)];
    for (const id of ids.slice(0, 2))
      expect(await codeOf(run(h, h.service.attest(sessionOf(id), 1, request())))).toBe(0);
    const a = await h.service.attest(sessionOf(ids[2]!), 1, request());
    expect(a.kind === 'reply' && a.packet.body.case === 'error' && a.packet.body.value).toMatchObject({
      code: ErrorCode.BUSY,
    });
    expect(h.service.tracked).toBe(2);
    h.clock.advance(HOUR);
    expect(await codeOf(run(h, h.service.attest(sessionOf(ids[2]!), 1, request())))).toBe(0);
    expect(h.service.tracked).toBe(1);
  });

  it('[ATTEST-RATE-1] the channel closing mid-way ends the attestation unanswered; a late probe reply is dropped', async () => {
    const h = harness({ dial: 'hang', udp: 'none' });
    const s = sessionOf(aliceId);
    const p = h.service.attest(s, 1, request());
    p.catch(() => {});
    await turn();
    expect(h.service.inProgress).toBe(1);
    h.service.closed(s);
    expect(await codeOf(p)).toBe(ErrorCode.RESOURCE_LIMIT);
    expect(h.service.inProgress).toBe(0);
    expect(h.clock.pending).toBe(0);
    const probe = decodeConnectivityDatagram(h.sent[0]!.data);
    const late = decodeConnectivityDatagram(
      encodeProbeReply(
        (probe as { transactionId: Uint8Array }).transactionId,
        { address: addressBytes(OBSERVED.host), port: 1 },
        new Uint8Array(8),
        64,
      ),
    ) as ProbeReplyDatagram;
    expect(h.service.onProbeReply(late, h.sent[0]!.to)).toBe(false);
    // and close() ends everything
    const p2 = h.service.attest(sessionOf(aliceId), 2, request());
    p2.catch(() => {});
    await turn();
    h.service.close();
    expect(await codeOf(p2)).toBe(ErrorCode.RESOURCE_LIMIT);
    expect(await codeOf(h.service.attest(sessionOf(aliceId), 3, request()))).toBe(ErrorCode.RESOURCE_LIMIT);
  });

  it('[ATTEST-DIAL-3] [NAT-DGRAM-2] probe replies that match no probe, or come from elsewhere, are dropped and change nothing', () => {
    const h = harness({ dial: 'hang', udp: 'none' });
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 12, maxLength: 12 }),
        fc.integer({ min: 1, max: 65_535 }),
        fc.constantFrom('198.51.100.7', '198.51.100.8', '2001:db8::7'),
        (txid, port, host) => {
          const d = decodeConnectivityDatagram(
            encodeProbeReply(txid, { address: addressBytes(host), port }, new Uint8Array(8), 64),
          ) as ProbeReplyDatagram;
          expect(h.service.onProbeReply(d, { host, port })).toBe(false);
        },
      ),
    );
    expect(h.service.stats.probeReplies).toBe(0);
  });

  it('[ATTEST-REQ-1] [ATTEST-DIAL-1] [NAT-AMP-2] fuzz: random well-typed requests and outcomes give a reply or a typed refusal, dial the observed host only, and leave nothing behind', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          tcpPort: fc.oneof(fc.integer({ min: 0, max: 70_000 }), fc.constant(0xffffffff)),
          udpPort: fc.oneof(fc.integer({ min: 0, max: 70_000 }), fc.constant(0)),
          nonce: fc.uint8Array({ maxLength: 40 }),
        }),
        fc.constantFrom<DialOutcome>('same', 'other', 'fail', 'hang'),
        fc.constantFrom<Answer>('right', 'wrong-txid', 'other-port', 'none'),
        fc.boolean(),
        async (body, dial, udp, closeEarly) => {
          const h = harness({ dial, udp, limits: { attestsPerCandidatePerHour: 1_000 } });
          const s = sessionOf(aliceId);
          const p = h.service.attest(s, 9, body);
          p.catch(() => {});
          if (closeEarly) {
            await turn();
            h.service.closed(s);
          }
          let a: CoreAction | undefined;
          try {
            a = await run(h, p);
          } catch (e) {
            expect(isParleyError(e)).toBe(true);
          }
          const valid =
            body.tcpPort >= 1 &&
            body.tcpPort <= 65_535 &&
            body.udpPort <= 65_535 &&
            body.nonce.length >= 16 &&
            body.nonce.length <= 32;
          if (!valid) {
            expect(a).toBeUndefined();
            expect(h.dials).toHaveLength(0);
            expect(h.sent).toHaveLength(0);
          } else if (a !== undefined) {
            const v = verified(a, T0 + DEFAULT_ATTEST_LIMITS.attestTimeoutMs, Uint8Array.from(body.nonce));
            expect(v.tcpReachable).toBe(dial === 'same' && !closeEarly);
            expect(v.udpReachable).toBe(body.udpPort !== 0 && udp === 'right' && !closeEarly);
          }
          for (const d of h.dials) expect(d).toEqual({ host: OBSERVED.host, port: body.tcpPort });
          for (const x of h.sent) {
            expect(x.to).toEqual({ host: OBSERVED.host, port: body.udpPort });
            expect(x.data.length).toBe(MIN_PROBE_LENGTH);
          }
          expect(h.service.inProgress).toBe(0);
          expect(h.clock.pending).toBe(0);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('[ATTEST-DIAL-4] [ATTEST-SIGN-1] [ATTEST-RATE-1] [NAT-LIMIT-2] defaults: attest-timeout 5 s, attestation-lifetime 1 h, 4 per hour', () => {
    expect(DEFAULT_ATTEST_LIMITS).toMatchObject({
      attestTimeoutMs: 5_000,
      attestationLifetimeMs: ATTESTATION_LIFETIME_MS,
      attestsPerCandidatePerHour: 4,
    });
  });
});
