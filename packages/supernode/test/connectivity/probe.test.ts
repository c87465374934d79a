/**
 * The supernode's probes and classification (spec/08-connectivity.md §4-5, src/connectivity/probe.ts)
 * with fake dependencies: a fixed clock moved by hand, a recording UDP socket, a list set on a
 * NetworkState, and a peer requester that hands ClassifyProbe to a second ProbeService (or fails).
 * Probe replies byte for byte, token lifetime across secret rotations, the rate limits, the bounded table,
 * every refusal of ClassifyRequest and ClassifyProbe, the amplification property over arbitrary
 * datagrams, and a fuzz of the request handlers.
 */
import type { NetAddress } from '@parley/net';
import {
  DATAGRAM_TYPE_PROBE_REPLY,
  decodeConnectivityDatagram,
  derivePlacementKey,
  ErrorCode,
  encodeProbe,
  encodeProbeReply,
  isParleyError,
  isWireCode,
  type Packet,
  type PacketBodies,
  type PacketBody,
  type ProbeDatagram,
  type ProbeReplyDatagram,
  Role,
  type SupernodeListEntry,
  seededRandom,
} from '@parley/wire';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PROBE_LIMITS, type ProbeLimits, ProbeService } from '../../src/connectivity/probe.js';
import {
  type ConnectivityDeps,
  ConnectivityService,
  DEFAULT_CONNECTIVITY_LIMITS,
} from '../../src/connectivity/service.js';
import type { CoreAction, PeerRequester } from '../../src/core/core.js';
import { NetworkState } from '../../src/core/network-state.js';
import { NO_CHANNEL, newSession, type Session } from '../../src/core/session.js';
import { certified, HOUR, suite, T0, testNetwork } from '../fixtures.js';

const net = testNetwork('probe tests');
const homeId = certified(net, Role.ROLE_SUPERNODE, 'home.test', 0x61);
const secondId = certified(net, Role.ROLE_SUPERNODE, 'second.test', 0x62);
const neighbourId = certified(net, Role.ROLE_SUPERNODE, 'neighbour.test', 0x63);
const thirdId = certified(net, Role.ROLE_SUPERNODE, 'third.test', 0x64);
const alice = certified(net, Role.ROLE_USER, 'alice', 1);

const HOME = '30.0.1.1';
const SECOND = '30.0.2.1';
const NEIGHBOUR = '30.0.1.77'; // the home supernode's /24: never the second one
const THIRD = '30.0.3.1';
const PORT = 7500;

const ip = (host: string) => Uint8Array.from(host.split('.').map(Number));

function entry(id: { keyId: Uint8Array }, host: string, udp = true): SupernodeListEntry {
  return {
    keyId: id.keyId,
    placementKey: derivePlacementKey(suite, net.login, id.keyId),
    endpoints: [
      { protocol: 2, address: ip(host), port: PORT },
      ...(udp ? [{ protocol: 1, address: ip(host), port: PORT }] : []),
    ],
    software: 's',
    loadPercent: 0,
    hosted: true,
    notAfterMs: T0 + HOUR,
  };
}

const ALL = [entry(homeId, HOME), entry(secondId, SECOND), entry(neighbourId, NEIGHBOUR)];

function sessionOf(kind: 'node' | 'supernode', who = kind === 'node' ? alice : secondId): Session {
  const peer = {
    certificate: {
      subject: kind === 'node' ? 'alice' : 'peer.test',
      deviceId: who.deviceId,
      role: kind === 'node' ? Role.ROLE_USER : Role.ROLE_SUPERNODE,
    },
    keyId: who.keyId,
    chain: [],
  };
  return newSession(peer as never, { host: '203.0.113.9', port: 50000 }, NO_CHANNEL);
}

function attached(): Session {
  const s = sessionOf('node');
  s.attachment = 'active';
  return s;
}

interface Sent {
  data: Uint8Array;
  to: NetAddress;
}

interface Harness {
  deps: ConnectivityDeps;
  sent: Sent[];
  clock: { t: number };
}

function harness(
  o: {
    self?: { keyId: Uint8Array };
    address?: string;
    entries?: SupernodeListEntry[];
    peers?: PeerRequester;
    limits?: Partial<ProbeLimits>;
    udp?: boolean;
    random?: ConnectivityDeps['random'];
  } = {},
): Harness {
  const clock = { t: T0 };
  const sent: Sent[] = [];
  const state = new NetworkState(suite);
  state.setList({ epoch: 1, issuedAtMs: T0, expiresAtMs: T0 + HOUR, entries: o.entries ?? ALL });
  const r = seededRandom('probe harness');
  const deps: ConnectivityDeps = {
    clock: { now: () => clock.t, setTimer: () => ({ cancel: () => {} }) },
    suite,
    random: o.random ?? { randomBytes: (n) => r.randomBytes(n), float: () => r.randomBytes(1)[0]! / 256 },
    state,
    selfKeyId: (o.self ?? homeId).keyId,
    peers: o.peers ?? { request: () => Promise.reject(new Error('no peers')) },
    findAttached: () => undefined,
    udp: o.udp === false ? undefined : { send: (data, to) => sent.push({ data, to }) },
    udpEndpoints: () => [{ host: o.address ?? HOME, port: PORT }],
    identity: homeId,
    dialBack: () => Promise.reject(new Error('no dial-back')),
    limits: { ...DEFAULT_CONNECTIVITY_LIMITS, ...o.limits },
  };
  return { deps, sent, clock };
}

const probeOf = (txid: Uint8Array, length = 64): ProbeDatagram =>
  decodeConnectivityDatagram(encodeProbe(txid, length)) as ProbeDatagram;

const replyOf = (s: Sent): ProbeReplyDatagram => decodeConnectivityDatagram(s.data) as ProbeReplyDatagram;

/** A second supernode answering ClassifyProbes, as the home supernode's peer requester reaches it. */
function secondSupernode(o: { address?: string; self?: { keyId: Uint8Array } } = {}) {
  const h = harness({ self: o.self ?? secondId, address: o.address ?? SECOND });
  const service = new ProbeService(h.deps);
  const asks: PacketBody[] = [];
  const from = sessionOf('supernode', homeId);
  const peers: PeerRequester = {
    request: async (_keyId, body) => {
      asks.push(body);
      if (body.case !== 'classifyProbe') throw new Error(`unexpected ${body.case}`);
      const a = await service.classifyProbe(from, 7, body.value);
      if (a.kind !== 'reply') throw new Error('closed');
      return a.packet;
    },
  };
  return { ...h, service, asks, peers };
}

async function refusal(p: Promise<CoreAction>): Promise<number> {
  try {
    const a = await p;
    if (a.kind === 'reply' && a.packet.body.case === 'error') return a.packet.body.value.code;
    throw new Error(`not refused: ${a.kind === 'reply' ? a.packet.body.case : a.kind}`);
  } catch (e) {
    if (!isParleyError(e)) throw e;
    return e.code;
  }
}

function bodyOf<K extends keyof PacketBodies>(a: CoreAction, k: K): PacketBodies[K] {
  if (a.kind !== 'reply' || a.packet.body.case !== k) throw new Error(`expected ${k}`);
  return a.packet.body.value as PacketBodies[K];
}

const CLIENT: NetAddress = { host: '198.51.100.7', port: 40000 };
const txid = (n: number) => {
  const t = new Uint8Array(12);
  new DataView(t.buffer).setUint32(8, n);
  return t;
};

// ---- Probes ----------------------------------------------------------------------------------------------

describe('probes [NAT-OBS-2] [NAT-OBS-3] [NAT-OBS-4]', () => {
  it("[NAT-OBS-2] [NAT-OBS-3] [NAT-OBS-4] a probe is answered byte for byte: txid, source, HMAC token, the probe's length, to the source", () => {
    const secret = new Uint8Array(32).fill(7);
    const h = harness({ random: { randomBytes: (n) => new Uint8Array(n).fill(7), float: () => 0 } });
    const p = new ProbeService(h.deps);
    for (const [from, length] of [
      [CLIENT, 64],
      [{ host: '198.51.100.7', port: 1 }, 1_200],
      [{ host: '2001:db8::5', port: 65535 }, 64],
      [{ host: '::ffff:198.51.100.8', port: 9 }, 333],
    ] as const) {
      h.sent.length = 0;
      const id = txid(length);
      expect(p.onProbe(probeOf(id, length), from)).toBe(true);
      expect(h.sent).toHaveLength(1);
      const s = h.sent[0]!;
      expect(s.to).toBe(from);
      const address =
        from.host === '2001:db8::5'
          ? Uint8Array.of(0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 5)
          : ip(from.host.replace('::ffff:', ''));
      const input = Uint8Array.of(...id, address.length === 4 ? 4 : 6, from.port >> 8, from.port & 0xff, ...address);
      const token = suite.hmacSha256(secret, input).subarray(0, 8);
      expect(s.data).toEqual(encodeProbeReply(id, { address, port: from.port }, token, length));
    }
    expect(p.stats.answered).toBe(4);
  });

  it('[NAT-OBS-4] the token depends on the source and the txid, and changes when the secret rotates (60 s)', () => {
    const h = harness();
    const p = new ProbeService(h.deps);
    const tokenAt = (from: NetAddress, id = txid(1)) => {
      h.sent.length = 0;
      p.onProbe(probeOf(id), from);
      return replyOf(h.sent[0]!).token.slice();
    };
    const a = tokenAt(CLIENT);
    expect(tokenAt(CLIENT)).toEqual(a);
    expect(tokenAt({ host: CLIENT.host, port: 40001 })).not.toEqual(a);
    expect(tokenAt({ host: '198.51.100.8', port: 40000 })).not.toEqual(a);
    expect(tokenAt(CLIENT, txid(2))).not.toEqual(a);
    h.clock.t += 59_999;
    expect(tokenAt(CLIENT)).toEqual(a);
    h.clock.t += 1;
    expect(tokenAt(CLIENT)).not.toEqual(a);
  });

  it('[NAT-OBS-4] [NAT-CLASS-1] a token is accepted 60-120 s: under the current and the previous secret only', async () => {
    // A table that outlives the secrets, so that only the token decides.
    const second = secondSupernode();
    for (const [madeAt, usedAt, ok] of [
      [1_000, 119_999, true], // made under the first secret, used before its second rotation
      [1_000, 120_000, false], // the first secret dropped at 120 s
      [59_000, 119_999, true],
      [59_000, 120_001, false], // lived 61 s
      [60_000, 179_999, true], // the second secret, until 180 s
      [60_000, 180_000, false],
      [1_000, 300_000, false], // several rotations at once
    ] as const) {
      const h = harness({ peers: second.peers, limits: { probeTableTtlMs: 1_000_000 } });
      const p = new ProbeService(h.deps);
      h.clock.t = T0 + madeAt;
      p.onProbe(probeOf(txid(5)), CLIENT);
      const token = replyOf(h.sent[0]!).token.slice();
      h.clock.t = T0 + usedAt;
      const got = p.classify(attached(), 1, { transactionId: txid(5), token });
      if (ok) expect(bodyOf(await got, 'classifyReply').supernodeKeyId).toEqual(secondId.keyId);
      else expect(await refusal(got)).toBe(ErrorCode.NOT_FOUND);
    }
  });

  it('[NAT-OBS-5] above 10 answers/s per source address probes are dropped silently; the bucket refills', () => {
    const h = harness();
    const p = new ProbeService(h.deps);
    const answered = (from: NetAddress, n: number) => {
      let k = 0;
      for (let i = 0; i < n; i++) if (p.onProbe(probeOf(txid(i)), from)) k++;
      return k;
    };
    const before = h.sent.length;
    expect(answered(CLIENT, 25)).toBe(10);
    // Another port of the same address shares its bucket; another address has its own.
    expect(answered({ host: CLIENT.host, port: 1 }, 5)).toBe(0);
    expect(answered({ host: '198.51.100.8', port: 1 }, 25)).toBe(10);
    expect(h.sent.length - before).toBe(20);
    expect(p.stats.rateLimited).toBe(15 + 5 + 15);
    h.clock.t += 100;
    expect(answered(CLIENT, 5)).toBe(1);
    h.clock.t += 1_000;
    expect(answered(CLIENT, 25)).toBe(10);
    h.clock.t += 10_000;
    expect(answered(CLIENT, 25)).toBe(10);
  });

  it('[NAT-OBS-5] above 1,000 answers/s in total probes are dropped silently, and the per-source table stays bounded', () => {
    const h = harness();
    const p = new ProbeService(h.deps);
    const host = (i: number) => `100.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    let answered = 0;
    for (let i = 0; i < 3_000; i++) if (p.onProbe(probeOf(txid(i)), { host: host(i), port: 5 })) answered++;
    expect(answered).toBe(1_000);
    expect(h.sent).toHaveLength(1_000);
    // One second of the global rate later; 10 s of probes from ever new sources answer 1,000/s.
    let total = 0;
    for (let s = 0; s < 10; s++) {
      h.clock.t += 1_000;
      for (let i = 0; i < 2_000; i++)
        if (p.onProbe(probeOf(txid(i)), { host: host(10_000 * (s + 1) + i), port: 5 })) total++;
    }
    expect(total).toBe(10_000);
  });

  it('[NAT-OBS-2] [NAT-DGRAM-2] no probe is answered without a UDP socket, or from a source that is not an IP address', () => {
    const off = harness({ udp: false });
    expect(new ProbeService(off.deps).onProbe(probeOf(txid(1)), CLIENT)).toBe(false);
    const h = harness();
    const p = new ProbeService(h.deps);
    for (const from of [
      { host: 'example.org', port: 5 },
      { host: '1.2.3', port: 5 },
      { host: '1.2.3.256', port: 5 },
      { host: CLIENT.host, port: 0 },
    ]) {
      expect(p.onProbe(probeOf(txid(1)), from)).toBe(false);
    }
    expect(h.sent).toHaveLength(0);
    expect(p.stats).toMatchObject({ answered: 0, rateLimited: 0 });
  });

  it("[NAT-OBS-1] ObserveRequest: the channel's observed TCP endpoint and the UDP probe endpoints, on user channels only", async () => {
    const h = harness();
    const p = new ProbeService(h.deps);
    const r = bodyOf(await p.observe(sessionOf('node'), 3), 'observeReply');
    expect(r.observed).toEqual({ protocol: 2, address: ip('203.0.113.9'), port: 50000 });
    expect(r.probeEndpoints).toEqual([{ protocol: 1, address: ip(HOME), port: PORT }]);
    expect(await refusal(p.observe(sessionOf('supernode'), 3))).toBe(ErrorCode.NOT_AUTHORIZED);
    const off = new ProbeService(harness({ udp: false }).deps);
    expect(bodyOf(await off.observe(sessionOf('node'), 3), 'observeReply').probeEndpoints).toEqual([]);
    const unbound = harness({ address: '0.0.0.0' });
    expect(
      bodyOf(await new ProbeService(unbound.deps).observe(sessionOf('node'), 3), 'observeReply').probeEndpoints,
    ).toEqual([]);
  });
});

// ---- Classification ------------------------------------------------------------------------------------

/** A home supernode with one answered probe from CLIENT: its txid and token. */
function homeWithProbe(o: Parameters<typeof harness>[0] = {}) {
  const h = harness(o);
  const p = new ProbeService(h.deps);
  const id = txid(77);
  p.onProbe(probeOf(id, 100), CLIENT);
  const token = replyOf(h.sent[0]!).token.slice();
  h.sent.length = 0;
  return { ...h, p, id, token };
}

describe('ClassifyRequest [NAT-CLASS-1] [NAT-CLASS-2] [NAT-CLASS-3]', () => {
  it('[NAT-CLASS-2] [NAT-CLASS-3] the second supernode (another /24) sends one 64-byte unsolicited reply to the reflexive endpoint', async () => {
    const second = secondSupernode();
    const home = homeWithProbe({ peers: second.peers });
    const r = bodyOf(
      await home.p.classify(attached(), 4, { transactionId: home.id, token: home.token }),
      'classifyReply',
    );
    expect(r.supernodeKeyId).toEqual(secondId.keyId);
    expect(r.probeEndpoint).toEqual({ protocol: 1, address: ip(SECOND), port: PORT });
    expect(r.transactionId).toHaveLength(12);
    // What the home supernode asked: the observed source of the probe, a fresh txid.
    expect(second.asks).toEqual([
      {
        case: 'classifyProbe',
        value: { target: { protocol: 1, address: ip(CLIENT.host), port: CLIENT.port }, transactionId: r.transactionId },
      },
    ]);
    // What the second one sent: one probe reply, 64 bytes, to the target, naming it, token zero.
    expect(second.sent).toHaveLength(1);
    expect(second.sent[0]!.to).toEqual(CLIENT);
    expect(second.sent[0]!.data).toEqual(
      encodeProbeReply(r.transactionId, { address: ip(CLIENT.host), port: CLIENT.port }, new Uint8Array(8), 64),
    );
    expect(home.sent).toHaveLength(0);
    expect(home.p.stats.classified).toBe(1);
  });

  it('[NAT-CLASS-2] the second supernode is chosen at random among those in another /24, never itself', async () => {
    const chosen = new Set<string>();
    const entries = [
      entry(homeId, HOME),
      entry(secondId, SECOND),
      entry(neighbourId, NEIGHBOUR),
      entry(thirdId, THIRD),
    ];
    for (let i = 0; i < 20; i++) {
      const asked: string[] = [];
      const peers: PeerRequester = {
        request: async (keyId) => {
          asked.push(Buffer.from(keyId).toString('hex'));
          return { requestId: 1, body: { case: 'classifyProbeReply', value: {} } } as Packet;
        },
      };
      const r = seededRandom(`choice ${i}`);
      const home = homeWithProbe({
        entries,
        peers,
        random: { randomBytes: (n) => r.randomBytes(n), float: () => r.randomBytes(1)[0]! / 256 },
      });
      const reply = bodyOf(
        await home.p.classify(attached(), 4, { transactionId: home.id, token: home.token }),
        'classifyReply',
      );
      chosen.add(Buffer.from(reply.supernodeKeyId).toString('hex'));
      // No probe endpoint named by the second one: the list's.
      expect(reply.probeEndpoint?.address).toEqual(
        Buffer.from(reply.supernodeKeyId).equals(Buffer.from(secondId.keyId)) ? ip(SECOND) : ip(THIRD),
      );
    }
    expect([...chosen].sort()).toEqual(
      [secondId.keyId, thirdId.keyId].map((k) => Buffer.from(k).toString('hex')).sort(),
    );
  });

  it('[NAT-CLASS-2] a supernode that fails is marked down and another is tried; none left is BUSY, none at all NOT_FOUND', async () => {
    const failing: PeerRequester = { request: () => Promise.reject(new Error('unreachable')) };
    const entries = [entry(homeId, HOME), entry(secondId, SECOND), entry(thirdId, THIRD)];
    const home = homeWithProbe({ entries, peers: failing, limits: { classifyPerMinute: 100 } });
    const req = { transactionId: home.id, token: home.token };
    expect(await refusal(home.p.classify(attached(), 4, req))).toBe(ErrorCode.BUSY);
    expect(home.p.health.isUp(secondId.keyId)).toBe(false);
    expect(home.p.health.isUp(thirdId.keyId)).toBe(false);
    // Both known down: no second supernode qualifies.
    expect(await refusal(home.p.classify(attached(), 4, req))).toBe(ErrorCode.NOT_FOUND);
    // Only supernodes in this one's /24, or without a UDP endpoint: NOT_FOUND.
    for (const list of [
      [entry(homeId, HOME), entry(neighbourId, NEIGHBOUR)],
      [entry(homeId, HOME), entry(secondId, SECOND, false)],
      [entry(homeId, HOME)],
    ]) {
      const other = homeWithProbe({ entries: list, peers: secondSupernode().peers });
      expect(await refusal(other.p.classify(attached(), 4, { transactionId: other.id, token: other.token }))).toBe(
        ErrorCode.NOT_FOUND,
      );
    }
  });

  it('[NAT-CLASS-1] ClassifyRequest needs an active attachment: NOT_AUTHORIZED otherwise', async () => {
    const home = homeWithProbe({ peers: secondSupernode().peers });
    const req = { transactionId: home.id, token: home.token };
    const standby = sessionOf('node');
    standby.attachment = 'standby';
    for (const s of [sessionOf('node'), standby, sessionOf('supernode')]) {
      expect(await refusal(home.p.classify(s, 4, req))).toBe(ErrorCode.NOT_AUTHORIZED);
    }
  });

  it('[NAT-CLASS-1] an unknown txid, a wrong token, an expired or evicted probe is NOT_FOUND; wrong lengths are MALFORMED', async () => {
    const home = homeWithProbe({ peers: secondSupernode().peers, limits: { classifyPerMinute: 10_000 } });
    const s = attached();
    const bad = home.token.slice();
    bad[0]! ^= 1;
    expect(await refusal(home.p.classify(s, 4, { transactionId: home.id, token: bad }))).toBe(ErrorCode.NOT_FOUND);
    expect(await refusal(home.p.classify(s, 4, { transactionId: txid(78), token: home.token }))).toBe(
      ErrorCode.NOT_FOUND,
    );
    expect(await refusal(home.p.classify(s, 4, { transactionId: home.id.subarray(1), token: home.token }))).toBe(
      ErrorCode.MALFORMED,
    );
    expect(await refusal(home.p.classify(s, 4, { transactionId: home.id, token: home.token.subarray(1) }))).toBe(
      ErrorCode.MALFORMED,
    );
    // Still there after all that.
    expect(
      bodyOf(await home.p.classify(s, 4, { transactionId: home.id, token: home.token }), 'classifyReply'),
    ).toBeDefined();
    // 120 s later it is gone.
    home.clock.t += 120_000;
    expect(await refusal(home.p.classify(s, 4, { transactionId: home.id, token: home.token }))).toBe(
      ErrorCode.NOT_FOUND,
    );
  });

  it('[NAT-CLASS-1] [NAT-RES-1] the table of answered probes holds 4,096, the oldest evicted first', async () => {
    const h = harness({ peers: secondSupernode().peers, limits: { classifyPerMinute: 10_000 } });
    const p = new ProbeService(h.deps);
    const tokens: Uint8Array[] = [];
    for (let i = 0; i <= 4_096; i++) {
      if (i % 1_000 === 999) h.clock.t += 1_000; // within the global rate
      h.sent.length = 0;
      p.onProbe(probeOf(txid(i)), { host: `100.0.${i >> 8}.${i & 255}`, port: 5 });
      tokens.push(replyOf(h.sent[0]!).token.slice());
    }
    expect(p.answeredProbe(txid(0))).toBeUndefined();
    expect(p.answeredProbe(txid(1))).toEqual({ host: '100.0.0.1', port: 5 });
    const s = attached();
    expect(await refusal(p.classify(s, 4, { transactionId: txid(0), token: tokens[0]! }))).toBe(ErrorCode.NOT_FOUND);
    expect(
      bodyOf(await p.classify(s, 4, { transactionId: txid(1), token: tokens[1]! }), 'classifyReply'),
    ).toBeDefined();
    // A probe retransmitted (same txid) from a new source replaces its entry, and is not evicted early.
    h.sent.length = 0;
    p.onProbe(probeOf(txid(2)), { host: '100.9.9.9', port: 6 });
    expect(p.answeredProbe(txid(2))).toEqual({ host: '100.9.9.9', port: 6 });
  });

  it('[NAT-CLASS-6] 6 ClassifyRequests per minute per attachment; beyond, RATE_LIMITED with a retry hint', async () => {
    const home = homeWithProbe({ peers: secondSupernode().peers });
    const s = attached();
    const req = { transactionId: home.id, token: home.token };
    for (let i = 0; i < 6; i++) expect(bodyOf(await home.p.classify(s, 4, req), 'classifyReply')).toBeDefined();
    const a = await home.p.classify(s, 4, req);
    const e = bodyOf(a, 'error');
    expect(e.code).toBe(ErrorCode.RATE_LIMITED);
    expect(e.retryAfterMs).toBe(10_000);
    // Another attachment has its own budget; the first one's refills at one per 10 s.
    expect(bodyOf(await home.p.classify(attached(), 4, req), 'classifyReply')).toBeDefined();
    home.clock.t += 10_000;
    expect(bodyOf(await home.p.classify(s, 4, req), 'classifyReply')).toBeDefined();
    expect(await refusal(home.p.classify(s, 4, req))).toBe(ErrorCode.RATE_LIMITED);
  });
});

describe('ClassifyProbe [NAT-CLASS-3] [NAT-CLASS-4]', () => {
  const target = { protocol: 1, address: ip(CLIENT.host), port: CLIENT.port };

  it('[NAT-CLASS-3] ClassifyProbe is accepted only on a supernode channel', async () => {
    const h = harness({ self: secondId, address: SECOND });
    const p = new ProbeService(h.deps);
    for (const s of [sessionOf('node'), attached()]) {
      expect(await refusal(p.classifyProbe(s, 1, { target, transactionId: txid(1) }))).toBe(ErrorCode.NOT_AUTHORIZED);
    }
    expect(h.sent).toHaveLength(0);
    const r = bodyOf(
      await p.classifyProbe(sessionOf('supernode', homeId), 1, { target, transactionId: txid(1) }),
      'classifyProbeReply',
    );
    expect(r.probeEndpoint).toEqual({ protocol: 1, address: ip(SECOND), port: PORT });
    expect(h.sent).toHaveLength(1);
  });

  it('[NAT-CLASS-3] [NAT-DGRAM-2] a target that is not a UDP endpoint, or a txid of another length, is refused and nothing is sent', async () => {
    const h = harness({ self: secondId, address: SECOND });
    const p = new ProbeService(h.deps);
    const s = sessionOf('supernode', homeId);
    for (const [value, code] of [
      [{ transactionId: txid(1) }, ErrorCode.MISSING_FIELD],
      [{ target, transactionId: txid(1).subarray(2) }, ErrorCode.MALFORMED],
      [{ target: { ...target, protocol: 2 }, transactionId: txid(1) }, ErrorCode.MALFORMED],
      [{ target: { ...target, address: new Uint8Array(5) }, transactionId: txid(1) }, ErrorCode.MALFORMED],
      [{ target: { ...target, port: 0 }, transactionId: txid(1) }, ErrorCode.MALFORMED],
    ] as const) {
      expect(await refusal(p.classifyProbe(s, 1, value as PacketBodies['classifyProbe']))).toBe(code);
    }
    expect(h.sent).toHaveLength(0);
    const off = new ProbeService(harness({ self: secondId, udp: false }).deps);
    expect(await refusal(off.classifyProbe(s, 1, { target, transactionId: txid(1) }))).toBe(ErrorCode.NOT_FOUND);
  });

  it('[NAT-CLASS-4] at most 100 ClassifyProbes per second per asking supernode (RATE_LIMITED)', async () => {
    const h = harness({ self: secondId, address: SECOND });
    const p = new ProbeService(h.deps);
    const a = sessionOf('supernode', homeId);
    const a2 = sessionOf('supernode', homeId); // the same supernode on another channel
    const b = sessionOf('supernode', thirdId);
    let ok = 0;
    for (let i = 0; i < 150; i++) {
      const r = await p.classifyProbe(i % 2 ? a : a2, 1, { target, transactionId: txid(i) });
      if (r.kind === 'reply' && r.packet.body.case === 'classifyProbeReply') ok++;
      else expect(bodyOf(r, 'error')).toMatchObject({ code: ErrorCode.RATE_LIMITED, retryAfterMs: 10 });
    }
    expect(ok).toBe(100);
    expect(h.sent).toHaveLength(100);
    expect(bodyOf(await p.classifyProbe(b, 1, { target, transactionId: txid(1) }), 'classifyProbeReply')).toBeDefined();
    h.clock.t += 10;
    expect(bodyOf(await p.classifyProbe(a, 1, { target, transactionId: txid(1) }), 'classifyProbeReply')).toBeDefined();
  });
});

// ---- Properties ----------------------------------------------------------------------------------------

const source: fc.Arbitrary<NetAddress> = fc.oneof(
  fc
    .tuple(fc.constantFrom(198, 203, 30), fc.nat(3), fc.nat(255), fc.integer({ min: 1, max: 65535 }))
    .map(([a, b, c, port]) => ({ host: `${a}.${b}.0.${c}`, port })),
  fc
    .tuple(fc.nat(0xffff), fc.integer({ min: 1, max: 65535 }))
    .map(([x, port]) => ({ host: `2001:db8::${x.toString(16)}`, port })),
);

/** Valid probes (of every length), near-misses of every type, and arbitrary bytes. */
const datagram: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc
    .tuple(fc.uint8Array({ minLength: 12, maxLength: 12 }), fc.integer({ min: 64, max: 1_200 }))
    .map(([t, n]) => encodeProbe(t, n)),
  fc
    .tuple(fc.integer({ min: 0, max: 8 }), fc.uint8Array({ maxLength: 1_300 }))
    .map(([type, rest]) => Uint8Array.of(type, ...rest)),
  fc.uint8Array({ maxLength: 80 }),
);

describe('amplification [NAT-AMP-1] [NAT-AMP-2] [NAT-DGRAM-2]', () => {
  it('[NAT-AMP-1] [NAT-AMP-2] [NAT-DGRAM-2] every datagram sent in answer is at most as long as what it answers, and goes to its source only', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(datagram, source, fc.nat(300)), { minLength: 1, maxLength: 60 }), (inputs) => {
        const h = harness();
        const service = new ConnectivityService(h.deps);
        for (const [bytes, from, gap] of inputs) {
          h.clock.t += gap;
          const before = h.sent.length;
          const answered = service.probe.stats.answered;
          let decodes = true;
          try {
            decodeConnectivityDatagram(bytes);
          } catch {
            decodes = false;
          }
          service.onDatagram(bytes, from);
          const out = h.sent.slice(before);
          for (const s of out) {
            expect(s.data.length).toBeLessThanOrEqual(bytes.length);
            expect(s.to).toBe(from);
          }
          if (!decodes) {
            // [NAT-DGRAM-2] discarded, never answered, no state changed.
            expect(out).toHaveLength(0);
            expect(service.probe.stats.answered).toBe(answered);
          }
          for (const s of out) if (s.data[0] === DATAGRAM_TYPE_PROBE_REPLY) expect(s.data.length).toBe(bytes.length);
        }
        service.close();
      }),
      { numRuns: 300 },
    );
  });
});

describe('arbitrary requests [NAT-OBS-1] [NAT-CLASS-1] [NAT-CLASS-3]', () => {
  const bytes = (max: number) => fc.uint8Array({ maxLength: max });
  const endpoint = fc.record({
    protocol: fc.integer({ min: 0, max: 3 }),
    address: fc.oneof(bytes(17), fc.constant(ip(CLIENT.host))),
    port: fc.oneof(fc.integer({ min: 0, max: 70_000 }), fc.constant(CLIENT.port)),
  });

  it('[NAT-OBS-1] [NAT-CLASS-1] [NAT-CLASS-3] every handler answers or refuses with a wire code, and never throws anything else', async () => {
    const goodTx = txid(77);
    /** 'good' stands for the token of the probe the service answered (known once it did). */
    const body: fc.Arbitrary<
      PacketBody | { case: 'classifyRequest'; value: { transactionId: Uint8Array; token: 'good' } }
    > = fc.oneof(
      fc.constant<PacketBody>({ case: 'observeRequest', value: {} }),
      fc
        .record({
          transactionId: fc.oneof(bytes(14), fc.constant(goodTx)),
          token: fc.oneof(bytes(10), fc.constant('good' as const)),
        })
        .map((value) => ({ case: 'classifyRequest', value }) as never),
      fc
        .record({
          target: fc.option(endpoint, { nil: undefined }),
          transactionId: fc.oneof(bytes(14), fc.constant(goodTx)),
        })
        .map((value) => ({ case: 'classifyProbe', value }) as PacketBody),
    );
    const who = fc.constantFrom<'node' | 'attached' | 'supernode'>('node', 'attached', 'supernode');
    const peerAnswer = fc.constantFrom('second', 'fail', 'refuse', 'wrong', 'junk-endpoint');
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(body, who, fc.nat(5_000)), { minLength: 1, maxLength: 12 }),
        peerAnswer,
        async (requests, peer) => {
          const second = secondSupernode();
          const peers: PeerRequester = {
            request: async (keyId, b, t) => {
              if (peer === 'second') return second.peers.request(keyId, b, t);
              if (peer === 'fail') throw new Error('down');
              if (peer === 'refuse')
                return { requestId: 1, body: { case: 'error', value: { code: ErrorCode.RATE_LIMITED, detail: '' } } };
              if (peer === 'wrong')
                return { requestId: 1, body: { case: 'pong', value: { sequence: 1, data: new Uint8Array(0) } } };
              const junk = { protocol: 9, address: new Uint8Array(3), port: 0 };
              return { requestId: 1, body: { case: 'classifyProbeReply', value: { probeEndpoint: junk } } };
            },
          };
          const h = harness({ peers });
          const service = new ConnectivityService(h.deps);
          service.onDatagram(encodeProbe(goodTx, 64), CLIENT);
          const token = replyOf(h.sent[0]!).token.slice();
          for (const [b, kind, gap] of requests) {
            h.clock.t += gap;
            const s =
              kind === 'supernode'
                ? sessionOf('supernode', homeId)
                : kind === 'attached'
                  ? attached()
                  : sessionOf('node');
            const packetBody =
              b.case === 'classifyRequest' && b.value.token === 'good'
                ? ({ case: 'classifyRequest', value: { transactionId: b.value.transactionId, token } } as PacketBody)
                : (b as PacketBody);
            try {
              const a = await service.handle(s, { requestId: 9, body: packetBody });
              expect(a.kind).toBe('reply');
            } catch (e) {
              if (!isParleyError(e) || !isWireCode(e.code)) throw e;
            }
          }
          // [NAT-AMP-2] datagrams go to the source of the probe answered, or (a supernode's ClassifyProbe) are
          // one 64-byte unsolicited reply with a zero token; the second supernode was only ever asked for that source.
          for (const x of h.sent) {
            if (x.to === CLIENT) continue;
            expect(x.data.length).toBe(64);
            expect(replyOf(x).token).toEqual(new Uint8Array(8));
          }
          for (const x of second.sent) expect(x.to).toEqual(CLIENT);
          service.close();
        },
      ),
      { numRuns: 150 },
    );
  });

  it('[NAT-LIMIT-2] the defaults are the parameters of the chapter', () => {
    expect(DEFAULT_PROBE_LIMITS).toMatchObject({
      probeAnswersPerAddressPerSecond: 10,
      probeAnswersPerSecond: 1_000,
      probeSecretRotationMs: 60_000,
      probeTableEntries: 4_096,
      probeTableTtlMs: 120_000,
      classifyPerMinute: 6,
      classifyProbesPerSecond: 100,
    });
  });
});
