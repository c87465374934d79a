/**
 * Hole-punch coordination (spec/08-connectivity.md §6, src/connectivity/punch.ts), in two parts.
 *
 * 1. The service with fake dependencies (a clock moved by hand, sessions whose PunchOffer answers the
 *    test scripts, a peer requester): the refusals, the 32-offer limit, the timing of both starts, and a
 *    fuzz of `request` with random well-typed bodies.
 * 2. End to end in the simulator: supernodes of a World, nodes attached through SupernodeClient, each
 *    with a UDP socket on its host driven by @parley/wire's PunchAttempt. A node's candidates are its
 *    reflexive endpoint — learnt with a 0x02 probe to its home supernode from that socket — and its host
 *    endpoint. The callee answers PunchOffer from the client's `onPacket`. The NAT matrix runs every pair
 *    of the four classic behaviours of @parley/net's NAT_PRESETS (and no NAT) on both sides.
 */
import type { NatPresetName, NetAddress, SimHost, Timer, Transport, UdpSocket } from '@parley/net';
import { NAT_PRESETS } from '@parley/net';
import {
  ApiMisuse,
  CandidateKind,
  candidatesFor,
  DATAGRAM_TYPE_PUNCH,
  DecodeError,
  derivePlacementKey,
  ErrorCode,
  isParleyError,
  NatFiltering,
  NatMapping,
  type Packet,
  type PacketBodies,
  type PacketBody,
  ProbeTransaction,
  PUNCH_TIMEOUT_MS,
  type PunchAction,
  PunchAttempt,
  type PunchCandidate,
  type PunchRole,
  type PunchStart,
  Role,
  type SupernodeListEntry,
  seededRandom,
} from '@parley/wire';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  callerStartIn,
  DEFAULT_PUNCH_LIMITS,
  type PunchLimits,
  PunchService,
  punchLead,
} from '../../src/connectivity/punch.js';
import { type ConnectivityDeps, DEFAULT_CONNECTIVITY_LIMITS } from '../../src/connectivity/service.js';
import type { CoreAction, PeerRequester } from '../../src/core/core.js';
import { addressBytes, netAddress } from '../../src/core/endpoint.js';
import { NetworkState } from '../../src/core/network-state.js';
import { newSession, type Session, type SessionChannel } from '../../src/core/session.js';
import type { SupernodeClient } from '../../src/runner/node-client.js';
import {
  advance,
  certified,
  epochTransport,
  HOUR,
  type SimSupernode,
  suite,
  T0,
  type TestDevice,
  testNetwork,
  World,
} from '../fixtures.js';

// ---- Part 1: the service with fake dependencies -----------------------------------------------------------

const net = testNetwork('punch tests');
const homeId = certified(net, Role.ROLE_SUPERNODE, 'home.test', 0x61);
const farId = certified(net, Role.ROLE_SUPERNODE, 'far.test', 0x62);
const strangerKeyId = new Uint8Array(32).fill(0x77); // on no list
const ALICE = certified(net, Role.ROLE_USER, 'alice', 1);
const BOB = certified(net, Role.ROLE_USER, 'bob', 2);

const UDP = 1;

function entry(id: { keyId: Uint8Array }, host: string): SupernodeListEntry {
  return {
    keyId: id.keyId,
    placementKey: derivePlacementKey(suite, net.login, id.keyId),
    endpoints: [{ protocol: 2, address: Uint8Array.from(host.split('.').map(Number)), port: 7500 }],
    software: 's',
    loadPercent: 0,
    hosted: true,
    notAfterMs: T0 + HOUR,
  };
}

const candidate = (a: string, port: number, kind = CandidateKind.CANDIDATE_KIND_REFLEXIVE): PunchCandidate => ({
  endpoint: { protocol: UDP, address: Uint8Array.from(a.split('.').map(Number)), port },
  kind,
});
const ALICE_CANDIDATES = [candidate('198.51.100.1', 40000), candidate('10.0.0.2', 40000, 1)];
const BOB_CANDIDATES = [candidate('203.0.113.5', 40001)];
const NAT_EIM = {
  mapping: NatMapping.NAT_MAPPING_ENDPOINT_INDEPENDENT,
  filtering: NatFiltering.NAT_FILTERING_DEPENDENT,
};

/** What a fake callee does with a PunchOffer. */
type Callee =
  | { kind: 'accept'; candidates?: readonly PunchCandidate[]; delayMs?: number }
  | { kind: 'decline' }
  | { kind: 'error' }
  | { kind: 'silent' }
  | { kind: 'held' };

interface FakeSession {
  session: Session;
  offers: PacketBodies['punchOffer'][];
  /** Held offers (kind 'held'): resolve one with an accepting answer. */
  held: ((p: Packet) => void)[];
}

const clock = { t: T0 };

function fakeSession(kind: 'node' | 'supernode', who: TestDevice, name: string, callee: () => Callee): FakeSession {
  const offers: PacketBodies['punchOffer'][] = [];
  const held: ((p: Packet) => void)[] = [];
  const channel: SessionChannel = {
    close: () => {},
    notify: () => true,
    request: (body: PacketBody, timeoutMs?: number) => {
      if (body.case !== 'punchOffer') return Promise.reject(new Error(`unexpected ${body.case}`));
      offers.push(body.value);
      const c = callee();
      const answer = (value: PacketBodies['punchOfferReply']): Packet => ({
        requestId: 1,
        body: { case: 'punchOfferReply', value },
      });
      switch (c.kind) {
        case 'accept':
          clock.t += c.delayMs ?? 0;
          return Promise.resolve(answer({ accept: true, candidates: c.candidates ?? BOB_CANDIDATES, nat: NAT_EIM }));
        case 'decline':
          return Promise.resolve(answer({ accept: false, candidates: [] }));
        case 'error':
          return Promise.resolve({
            requestId: 1,
            body: { case: 'error', value: { code: ErrorCode.UNKNOWN_BODY, detail: '' } },
          });
        case 'silent':
          clock.t += timeoutMs ?? 0;
          return Promise.reject(new Error('timed out'));
        case 'held':
          return new Promise<Packet>((resolve) => held.push(resolve));
      }
    },
  };
  const peer = {
    certificate: {
      subject: name,
      deviceId: who.deviceId,
      role: kind === 'node' ? Role.ROLE_USER : Role.ROLE_SUPERNODE,
    },
    keyId: who.keyId,
    chain: [],
  };
  const session = newSession(peer as never, { host: '198.51.100.1', port: 50000 }, channel);
  if (kind === 'node') session.attachment = 'active';
  return { session, offers, held };
}

interface Harness {
  service: PunchService;
  deps: ConnectivityDeps;
  attached: Map<string, Session>;
  forwards: PacketBody[];
}

function harness(
  o: { peers?: PeerRequester; limits?: Partial<PunchLimits>; self?: { keyId: Uint8Array } } = {},
): Harness {
  const state = new NetworkState(suite);
  state.setList({
    epoch: 1,
    issuedAtMs: T0,
    expiresAtMs: T0 + HOUR,
    entries: [entry(homeId, '30.0.1.1'), entry(farId, '30.0.2.1')],
  });
  const r = seededRandom('punch harness');
  const attached = new Map<string, Session>();
  const forwards: PacketBody[] = [];
  const deps: ConnectivityDeps = {
    clock: { now: () => clock.t, setTimer: () => ({ cancel: () => {} }) },
    suite,
    random: { randomBytes: (n) => r.randomBytes(n), float: () => r.randomBytes(1)[0]! / 256 },
    state,
    selfKeyId: (o.self ?? homeId).keyId,
    peers: o.peers ?? {
      request: (_k, body) => {
        forwards.push(body);
        return Promise.reject(new Error('no peers'));
      },
    },
    findAttached: (username, deviceId) => attached.get(`${username}/${Buffer.from(deviceId).toString('hex')}`),
    udp: undefined,
    udpEndpoints: () => [],
    identity: homeId,
    dialBack: () => Promise.reject(new Error('no dial-back')),
    limits: { ...DEFAULT_CONNECTIVITY_LIMITS, ...o.limits },
  };
  return { service: new PunchService(deps), deps, attached, forwards };
}

const attach = (h: Harness, name: string, f: FakeSession) =>
  h.attached.set(`${name}/${Buffer.from(f.session.deviceId).toString('hex')}`, f.session);

/** A node's PunchRequest for bob's device, through `via`. */
const requestFor = (via: Uint8Array, o: Partial<PacketBodies['punchRequest']> = {}): PacketBodies['punchRequest'] => ({
  username: 'bob',
  deviceId: BOB.deviceId,
  via,
  candidates: ALICE_CANDIDATES,
  nat: NAT_EIM,
  caller: '',
  callerDeviceId: new Uint8Array(0),
  ...o,
});

async function outcome(p: Promise<CoreAction>): Promise<{ code: number; retryAfterMs?: number } | CoreAction> {
  try {
    const a = await p;
    if (a.kind === 'reply' && a.packet.body.case === 'error') {
      const v = a.packet.body.value;
      return { code: v.code, ...(v.retryAfterMs ? { retryAfterMs: v.retryAfterMs } : {}) };
    }
    return a;
  } catch (e) {
    if (!isParleyError(e)) throw e;
    return { code: e.code };
  }
}

function startOf(a: CoreAction): PunchStart {
  if (a.kind !== 'reply' || a.packet.body.case !== 'punchReply') throw new Error('not a PunchReply');
  return a.packet.body.value.start!;
}

describe('PunchService (fake dependencies)', () => {
  const alice = () => fakeSession('node', ALICE, 'alice', () => ({ kind: 'accept' }));

  it('[NAT-PUNCH-3] [NAT-PUNCH-4] the offer carries the caller, its candidates, a fresh id and key, the lead, punch-timeout and this relay; the reply the callee candidates and the same id and key', async () => {
    const h = harness();
    const bob = fakeSession('node', BOB, 'bob', () => ({ kind: 'accept', delayMs: 300 }));
    attach(h, 'bob', bob);
    const start = startOf(await h.service.request(alice().session, 1, requestFor(homeId.keyId)));
    expect(bob.offers).toHaveLength(1);
    const offer = bob.offers[0]!;
    expect(offer.caller).toBe('alice');
    expect(offer.callerDeviceId).toEqual(ALICE.deviceId);
    const o = offer.start!;
    expect(o.punchId).toHaveLength(12);
    expect(o.punchKey).toHaveLength(32);
    expect(o.candidates).toEqual(ALICE_CANDIDATES);
    expect(o.nat).toEqual(NAT_EIM);
    expect(o.timeoutMs).toBe(PUNCH_TIMEOUT_MS);
    expect(o.relay).toEqual(homeId.keyId);
    // No RTT measured on bob's channel yet: the initial 250 ms, so a lead of 500 ms.
    expect(o.startInMs).toBe(punchLead(DEFAULT_PUNCH_LIMITS.punchInitialRttMs));
    expect(o.startInMs).toBe(500);
    expect(start.punchId).toEqual(o.punchId);
    expect(start.punchKey).toEqual(o.punchKey);
    expect(start.candidates).toEqual(BOB_CANDIDATES);
    expect(start.timeoutMs).toBe(PUNCH_TIMEOUT_MS);
    expect(start.relay).toEqual(homeId.keyId);
    // The answer took 300 ms: the caller starts 500 - 150 ms after the reply.
    expect(start.startInMs).toBe(350);
    // The next offer's lead: twice the lowest RTT measured on the channel.
    const second = startOf(await h.service.request(alice().session, 2, requestFor(homeId.keyId)));
    expect(bob.offers[1]!.start!.startInMs).toBe(600);
    expect(second.startInMs).toBe(450);
    expect(second.punchId).not.toEqual(start.punchId);
    expect(second.punchKey).not.toEqual(start.punchKey);
  });

  it('[NAT-PUNCH-4] lead = clamp(2 rtt, 100, 2,000); the caller start = max(0, lead - rtt/2)', () => {
    expect(punchLead(0)).toBe(100);
    expect(punchLead(49)).toBe(100);
    expect(punchLead(60)).toBe(120);
    expect(punchLead(999)).toBe(1_998);
    expect(punchLead(5_000)).toBe(2_000);
    expect(callerStartIn(500, 300)).toBe(350);
    expect(callerStartIn(100, 5_000)).toBe(0);
    fc.assert(
      fc.property(fc.nat({ max: 10_000 }), fc.nat({ max: 10_000 }), (est, rtt) => {
        const lead = punchLead(est);
        expect(lead).toBeGreaterThanOrEqual(100);
        expect(lead).toBeLessThanOrEqual(2_000);
        const s = callerStartIn(lead, rtt);
        expect(s).toBeGreaterThanOrEqual(0);
        expect(s).toBeLessThanOrEqual(lead);
      }),
    );
  });

  it('[NAT-PUNCH-4] a decline, an error reply, silence and absence all give the caller the same NOT_FOUND', async () => {
    const outcomes: unknown[] = [];
    for (const c of [{ kind: 'decline' }, { kind: 'error' }, { kind: 'silent' }] as const) {
      const h = harness();
      attach(
        h,
        'bob',
        fakeSession('node', BOB, 'bob', () => c),
      );
      outcomes.push(await outcome(h.service.request(alice().session, 1, requestFor(homeId.keyId))));
    }
    // Accepting with no usable candidate is no acceptance either.
    const h = harness();
    attach(
      h,
      'bob',
      fakeSession('node', BOB, 'bob', () => ({ kind: 'accept', candidates: [] })),
    );
    outcomes.push(await outcome(h.service.request(alice().session, 1, requestFor(homeId.keyId))));
    outcomes.push(await outcome(harness().service.request(alice().session, 1, requestFor(homeId.keyId))));
    expect(outcomes).toEqual(new Array(5).fill({ code: ErrorCode.NOT_FOUND }));
  });

  it('[NAT-PUNCH-1] without an active attachment, or with caller fields set by the node: NOT_AUTHORIZED', async () => {
    const h = harness();
    attach(
      h,
      'bob',
      fakeSession('node', BOB, 'bob', () => ({ kind: 'accept' })),
    );
    for (const mode of [undefined, 'standby'] as const) {
      const a = alice();
      a.session.attachment = mode;
      expect(await outcome(h.service.request(a.session, 1, requestFor(homeId.keyId)))).toEqual({
        code: ErrorCode.NOT_AUTHORIZED,
      });
    }
    for (const o of [{ caller: 'mallory' }, { callerDeviceId: new Uint8Array(16) }, { caller: 'alice' }]) {
      expect(await outcome(h.service.request(alice().session, 1, requestFor(homeId.keyId, o)))).toEqual({
        code: ErrorCode.NOT_AUTHORIZED,
      });
    }
  });

  it('[NAT-PUNCH-1] malformed candidates, device id or via close the channel (MALFORMED); a bad user name is USERNAME_INVALID', async () => {
    const h = harness();
    const bad: Partial<PacketBodies['punchRequest']>[] = [
      { candidates: [] },
      { candidates: new Array(9).fill(ALICE_CANDIDATES[0]) },
      { candidates: [{ kind: 1 }] },
      { candidates: [{ ...ALICE_CANDIDATES[0]!, endpoint: { protocol: 2, address: new Uint8Array(4), port: 1 } }] },
      { candidates: [{ ...ALICE_CANDIDATES[0]!, endpoint: { protocol: UDP, address: new Uint8Array(6), port: 1 } }] },
      { candidates: [{ ...ALICE_CANDIDATES[0]!, endpoint: { protocol: UDP, address: new Uint8Array(4), port: 0 } }] },
      { candidates: [{ ...ALICE_CANDIDATES[0]!, kind: 0 }] },
      { deviceId: new Uint8Array(15) },
      { via: new Uint8Array(31) },
    ];
    for (const o of bad) {
      let caught: unknown;
      try {
        await h.service.request(alice().session, 1, requestFor(homeId.keyId, o));
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(DecodeError);
      expect((caught as DecodeError).code).toBe(ErrorCode.MALFORMED);
    }
    expect(await outcome(h.service.request(alice().session, 1, requestFor(homeId.keyId, { username: 'Bob' })))).toEqual(
      { code: ErrorCode.USERNAME_INVALID },
    );
  });

  it('[NAT-PUNCH-2] forwarded one hop with the caller filled in from the channel; a via not on the list or unreachable is NOT_FOUND', async () => {
    const h = harness();
    expect(await outcome(h.service.request(alice().session, 1, requestFor(farId.keyId)))).toEqual({
      code: ErrorCode.NOT_FOUND,
    });
    expect(h.forwards).toHaveLength(1);
    const f = h.forwards[0]!;
    expect(f.case).toBe('punchRequest');
    if (f.case !== 'punchRequest') return;
    expect(f.value.caller).toBe('alice');
    expect(f.value.callerDeviceId).toEqual(ALICE.deviceId);
    expect(f.value.via).toEqual(farId.keyId);
    expect(f.value.candidates).toEqual(ALICE_CANDIDATES);
    expect(await outcome(h.service.request(alice().session, 2, requestFor(strangerKeyId)))).toEqual({
      code: ErrorCode.NOT_FOUND,
    });
    expect(h.forwards).toHaveLength(1);
  });

  it('[NAT-PUNCH-2] the far supernode answers for the callee: its PunchReply passes, its BUSY passes with the hint, anything else is NOT_FOUND', async () => {
    const far = harness({ self: farId });
    attach(
      far,
      'bob',
      fakeSession('node', BOB, 'bob', () => ({ kind: 'accept' })),
    );
    const farSession = fakeSession('supernode', homeId, 'home.test', () => ({ kind: 'silent' })).session;
    let answer: (body: PacketBodies['punchRequest']) => Promise<Packet> = async (body) => {
      const a = await far.service.request(farSession, 9, body);
      if (a.kind !== 'reply') throw new Error('closed');
      return a.packet;
    };
    const home = harness({
      peers: { request: (_k, body) => answer((body as { value: PacketBodies['punchRequest'] }).value) },
    });
    const start = startOf(await home.service.request(alice().session, 1, requestFor(farId.keyId)));
    expect(start.relay).toEqual(farId.keyId);
    expect(start.candidates).toEqual(BOB_CANDIDATES);
    answer = async () => ({
      requestId: 9,
      body: { case: 'error', value: { code: ErrorCode.BUSY, detail: '', retryAfterMs: 1234, retryJitterMs: 5 } },
    });
    expect(await outcome(home.service.request(alice().session, 2, requestFor(farId.keyId)))).toEqual({
      code: ErrorCode.BUSY,
      retryAfterMs: 1234,
    });
    for (const body of [
      { case: 'error', value: { code: ErrorCode.NOT_AUTHORIZED, detail: 'x' } },
      { case: 'pong', value: { sequence: 1, data: new Uint8Array(0) } },
      { case: 'punchReply', value: {} },
      { case: 'punchReply', value: { start: { ...start, punchKey: new Uint8Array(3) } } },
    ] as PacketBody[]) {
      answer = async () => ({ requestId: 9, body });
      expect(await outcome(home.service.request(alice().session, 3, requestFor(farId.keyId)))).toEqual({
        code: ErrorCode.NOT_FOUND,
      });
    }
  });

  it('[NAT-PUNCH-2] from a supernode: caller and caller_device_id are required, and it is never forwarded again', async () => {
    const h = harness();
    attach(
      h,
      'bob',
      fakeSession('node', BOB, 'bob', () => ({ kind: 'accept' })),
    );
    const sn = fakeSession('supernode', farId, 'far.test', () => ({ kind: 'silent' })).session;
    const withCaller = { caller: 'alice', callerDeviceId: ALICE.deviceId };
    const start = startOf(await h.service.request(sn, 1, requestFor(homeId.keyId, withCaller)));
    expect(start.candidates).toEqual(BOB_CANDIDATES);
    for (const [o, code] of [
      [{ caller: '' }, ErrorCode.MISSING_FIELD],
      [{ caller: 'Alice' }, ErrorCode.MALFORMED],
      [{ callerDeviceId: new Uint8Array(0) }, ErrorCode.MALFORMED],
    ] as const) {
      let caught: unknown;
      try {
        await h.service.request(sn, 1, requestFor(homeId.keyId, { ...withCaller, ...o }));
      } catch (e) {
        caught = e;
      }
      expect((caught as DecodeError).code).toBe(code);
    }
    // Naming another supernode as via: not forwarded, NOT_FOUND.
    expect(await outcome(h.service.request(sn, 1, requestFor(farId.keyId, withCaller)))).toEqual({
      code: ErrorCode.NOT_FOUND,
    });
    expect(h.forwards).toHaveLength(0);
  });

  it('[NAT-PUNCH-5] 32 offers outstanding per callee device: the 33rd is BUSY with a retry hint; one answered frees a place; a closed channel frees them all', async () => {
    const h = harness();
    const bob = fakeSession('node', BOB, 'bob', () => ({ kind: 'held' }));
    attach(h, 'bob', bob);
    const sn = fakeSession('supernode', farId, 'far.test', () => ({ kind: 'silent' })).session;
    const req = requestFor(homeId.keyId, { caller: 'carol', callerDeviceId: new Uint8Array(16).fill(3) });
    const pending = Array.from({ length: 32 }, (_, i) => h.service.request(sn, i + 1, req));
    await Promise.resolve();
    expect(h.service.outstanding(bob.session)).toBe(32);
    const busy = await outcome(h.service.request(sn, 99, req));
    expect(busy).toEqual({ code: ErrorCode.BUSY, retryAfterMs: DEFAULT_PUNCH_LIMITS.punchOfferTimeoutMs });
    expect(bob.offers).toHaveLength(32);
    bob.held[0]!({ requestId: 1, body: { case: 'punchOfferReply', value: { accept: false, candidates: [] } } });
    expect(await outcome(pending[0]!)).toEqual({ code: ErrorCode.NOT_FOUND });
    expect(h.service.outstanding(bob.session)).toBe(31);
    const more = h.service.request(sn, 100, req);
    await Promise.resolve();
    expect(h.service.outstanding(bob.session)).toBe(32);
    h.service.closed(bob.session);
    expect(h.service.outstanding(bob.session)).toBe(0);
    // The held offers end later (their requests reject when the channel closes): nothing comes back.
    for (const r of bob.held.slice(1))
      r({ requestId: 1, body: { case: 'error', value: { code: ErrorCode.UNKNOWN_BODY, detail: '' } } });
    await Promise.all([...pending.slice(1), more].map((p) => outcome(p)));
    expect(h.service.outstanding(bob.session)).toBe(0);
  });

  it('[NAT-PUNCH-5] 10 PunchRequests per minute per user: the 11th is RATE_LIMITED with a retry hint, then a token returns', async () => {
    const h = harness();
    const a = alice();
    for (let i = 0; i < 10; i++) {
      expect(await outcome(h.service.request(a.session, i + 1, requestFor(homeId.keyId)))).toEqual({
        code: ErrorCode.NOT_FOUND,
      });
    }
    // Another channel of the same user shares the bucket.
    const limited = await outcome(h.service.request(alice().session, 11, requestFor(homeId.keyId)));
    expect(limited).toEqual({ code: ErrorCode.RATE_LIMITED, retryAfterMs: 6_000 });
    clock.t += 6_000;
    expect(await outcome(h.service.request(a.session, 12, requestFor(homeId.keyId)))).toEqual({
      code: ErrorCode.NOT_FOUND,
    });
    expect(await outcome(h.service.request(a.session, 13, requestFor(homeId.keyId)))).toMatchObject({
      code: ErrorCode.RATE_LIMITED,
    });
    // Another user is not affected.
    const b = fakeSession('node', BOB, 'bob', () => ({ kind: 'silent' }));
    expect(await outcome(h.service.request(b.session, 14, requestFor(homeId.keyId, { username: 'alice' })))).toEqual({
      code: ErrorCode.NOT_FOUND,
    });
    // Two idle minutes: the bucket is full again (and forgotten).
    clock.t += 2 * 60_000;
    for (let i = 0; i < 10; i++) {
      expect(await outcome(h.service.request(a.session, 20 + i, requestFor(homeId.keyId)))).toEqual({
        code: ErrorCode.NOT_FOUND,
      });
    }
  });

  it('[NAT-PUNCH-1] [NAT-PUNCH-3] fuzz: random well-typed PunchRequests from nodes and supernodes, with random callees and peers, give a reply or a ParleyError', async () => {
    const bytes = (max: number) => fc.uint8Array({ maxLength: max });
    const endpoint = fc.record({
      protocol: fc.integer({ min: 0, max: 3 }),
      address: fc.oneof(bytes(17), fc.uint8Array({ minLength: 4, maxLength: 4 })),
      port: fc.oneof(fc.integer({ min: 0, max: 70_000 }), fc.constant(40_000)),
    });
    const cand = fc.record({
      endpoint: fc.option(endpoint, { nil: undefined }),
      kind: fc.integer({ min: 0, max: 3 }),
    });
    const candidates = fc.oneof(fc.array(cand, { maxLength: 10 }), fc.constant(ALICE_CANDIDATES));
    const body = fc.record({
      username: fc.oneof(fc.constantFrom('bob', 'alice', '', 'Bob'), fc.string({ maxLength: 40 })),
      deviceId: fc.oneof(fc.constant(BOB.deviceId), bytes(17)),
      via: fc.oneof(fc.constantFrom(homeId.keyId, farId.keyId, strangerKeyId), bytes(33)),
      candidates,
      nat: fc.option(
        fc.record({ mapping: fc.integer({ min: 0, max: 6 }), filtering: fc.integer({ min: 0, max: 3 }) }),
        { nil: undefined },
      ),
      caller: fc.oneof(fc.constantFrom('', 'carol'), fc.string({ maxLength: 10 })),
      callerDeviceId: fc.oneof(fc.constant(new Uint8Array(0)), fc.constant(new Uint8Array(16)), bytes(17)),
    });
    const callee = fc.oneof(
      fc.record({ kind: fc.constant('accept' as const), candidates }),
      fc.constantFrom<Callee>({ kind: 'decline' }, { kind: 'error' }, { kind: 'silent' }),
    );
    const peerAnswer = fc.oneof(
      fc.constant(undefined),
      fc.record({ code: fc.integer({ min: 0, max: 1_000 }), retryAfterMs: fc.nat({ max: 100_000 }) }),
    );
    await fc.assert(
      fc.asyncProperty(
        body,
        callee,
        peerAnswer,
        fc.constantFrom('node', 'node-standby', 'supernode'),
        async (b, c, pa, from) => {
          const peers: PeerRequester = {
            request: async () => {
              if (pa === undefined) throw new Error('unreachable');
              return {
                requestId: 1,
                body: { case: 'error', value: { code: pa.code, detail: '', retryAfterMs: pa.retryAfterMs } },
              };
            },
          };
          const h = harness({ peers });
          attach(
            h,
            'bob',
            fakeSession('node', BOB, 'bob', () => c),
          );
          const s =
            from === 'supernode'
              ? fakeSession('supernode', farId, 'far.test', () => ({ kind: 'silent' })).session
              : alice().session;
          if (from === 'node-standby') s.attachment = 'standby';
          try {
            const a = await h.service.request(s, 1, b as PacketBodies['punchRequest']);
            expect(a.kind).toBe('reply');
            if (a.kind === 'reply') expect(['punchReply', 'error']).toContain(a.packet.body.case);
          } catch (e) {
            expect(isParleyError(e)).toBe(true);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

// ---- Part 2: end to end in the simulator ------------------------------------------------------------------

const NODE_PORT = 40_000;
/** [NAT-PUNCH-9] The local endpoint of the socket a PunchNode punches from (bound to 0.0.0.0), and of its second one. */
const PUNCHING_SOCKET = { address: new Uint8Array(4), port: NODE_PORT };
const OTHER_SOCKET = { address: new Uint8Array(4), port: NODE_PORT + 1 };
type Behaviour = NatPresetName | 'none';

const wire = (a: NetAddress) => ({ address: addressBytes(a.host), port: a.port });
const sameAddress = (a: NetAddress, b: NetAddress) => a.host === b.host && a.port === b.port;

/**
 * A node: a host (behind a NAT box of the given behaviour, or public), its SupernodeClient, and one UDP
 * socket on the host for probes and punches, driven by PunchAttempt on the host's clock.
 */
class PunchNode {
  readonly transport: Transport;
  readonly host: SimHost;
  readonly socket: UdpSocket;
  readonly device: TestDevice;
  client!: SupernodeClient;
  candidates: PunchCandidate[] = [];
  /** What this node does with a PunchOffer. */
  answer: 'accept' | 'decline' | 'refuse' | 'silent' = 'accept';
  readonly offers: PacketBodies['punchOffer'][] = [];
  attempt: PunchAttempt | undefined;
  start: PunchStart | undefined;
  result: PunchAction | undefined;
  resultAt = 0;
  /** Every punch datagram sent: when, where, whether an echo. */
  readonly sent: { at: number; to: NetAddress; echo: boolean }[] = [];
  /** Datagrams of other types that arrived (the path check's). */
  readonly received: { data: Uint8Array; from: NetAddress }[] = [];
  /** The reflexive endpoint of the punching socket, as the home supernode saw it. */
  reflexive: NetAddress | undefined;
  /** A second UDP socket of the host (NAT-PUNCH-9 test), at OTHER_PORT, and its reflexive endpoint. */
  other: { socket: UdpSocket; reflexive: NetAddress; received: { data: Uint8Array; from: NetAddress }[] } | undefined;
  #probe: { tx: ProbeTransaction; to: NetAddress } | undefined;
  #timer: Timer | undefined;
  readonly #finished: Promise<PunchAction>;
  #finish!: (a: PunchAction) => void;

  constructor(
    readonly w: World,
    readonly name: string,
    readonly behaviour: Behaviour,
    device: number,
  ) {
    if (behaviour === 'none') {
      this.host = w.sim.addHost();
    } else {
      const nat = w.sim.addNat({ ...NAT_PRESETS[behaviour] });
      this.host = w.sim.addHost({ behind: nat.id });
    }
    this.transport = epochTransport(this.host);
    this.device = w.user(name, device);
    this.#finished = new Promise((resolve) => {
      this.#finish = resolve;
    });
    this.socket = this.transport.bindUdp(
      { address: '0.0.0.0', port: NODE_PORT },
      { onMessage: (data, from) => this.#onDatagram(data, from) },
    );
  }

  get clock() {
    return this.transport.clock;
  }
  get finished(): Promise<PunchAction> {
    return this.#finished;
  }

  /**
   * Connects to `home`, attaches (unless told not to) and learns its candidates from a probe of the
   * socket it punches from ([NAT-PUNCH-9], candidatesFor). `otherSocket`: the host also opens a second
   * UDP socket and probes from it too; 'offered' makes the node offer that socket's candidates instead
   * (breaking NAT-PUNCH-9: it still punches from its first socket).
   */
  async join(home: SimSupernode, o: { attach?: boolean; otherSocket?: 'unused' | 'offered' } = {}): Promise<this> {
    this.client = await this.w.connect(home, this.device, {
      transport: this.transport,
      onPacket: (p) => this.#onPacket(p),
    });
    if (o.attach !== false) await this.w.run(this.client.attach());
    const reflexive = await this.#probeTo(home.address, this.socket);
    expect(reflexive).toBeDefined();
    this.reflexive = reflexive;
    this.candidates = candidatesFor({
      socket: PUNCHING_SOCKET,
      interfaces: [addressBytes(this.host.address)],
      reflexive: { socket: PUNCHING_SOCKET, reflexive: wire(reflexive!) },
    });
    if (o.otherSocket !== undefined) {
      // The second socket takes its probe's replies; anything else that reaches it is only recorded (the
      // punch runs on the first socket).
      const received: { data: Uint8Array; from: NetAddress }[] = [];
      const socket = this.transport.bindUdp(
        { address: '0.0.0.0', port: OTHER_SOCKET.port },
        {
          onMessage: (data, from) => {
            const p = this.#probe;
            if (p !== undefined && sameAddress(from, p.to)) p.tx.receive(data);
            else received.push({ data: data.slice(), from });
          },
        },
      );
      const r = await this.#probeTo(home.address, socket);
      expect(r).toBeDefined();
      this.other = { socket, reflexive: r!, received };
      if (o.otherSocket === 'offered') {
        this.candidates = candidatesFor({
          socket: OTHER_SOCKET,
          interfaces: [addressBytes(this.host.address)],
          reflexive: { socket: OTHER_SOCKET, reflexive: wire(r!) },
        });
      }
    }
    return this;
  }

  /** [NAT-OBS-2] The reflexive endpoint of `socket` as `to` sees it. */
  async #probeTo(to: NetAddress, socket: UdpSocket): Promise<NetAddress | undefined> {
    const tx = new ProbeTransaction(this.transport.random.randomBytes(12));
    this.#probe = { tx, to };
    let step = tx.start(this.clock.now());
    try {
      for (;;) {
        if (step.kind === 'send') socket.send(step.datagram, to);
        else if (step.kind === 'answered') return netAddress(step.answer.observed);
        else if (step.kind === 'failed') return undefined;
        await advance(this.w.sim, 10);
        step = tx.poll(this.clock.now());
      }
    } finally {
      this.#probe = undefined;
    }
  }

  /** The body of a PunchRequest to `callee` through `via`. */
  requestBody(callee: PunchNode, via: SimSupernode, o: Partial<PacketBodies['punchRequest']> = {}): PacketBody {
    return {
      case: 'punchRequest',
      value: {
        username: callee.name,
        deviceId: callee.device.deviceId,
        via: via.identity.keyId,
        candidates: this.candidates,
        nat: { mapping: NatMapping.NAT_MAPPING_UNKNOWN, filtering: NatFiltering.NAT_FILTERING_UNKNOWN },
        caller: '',
        callerDeviceId: new Uint8Array(0),
        ...o,
      },
    };
  }

  /** Asks for a punch to `callee` (attached to `via`); starts punching when the PunchReply arrives. */
  requestPunch(callee: PunchNode, via: SimSupernode): Promise<PacketBodies['punchReply']> {
    return this.client.request(this.requestBody(callee, via), 'punchReply').then((r) => {
      this.#begin('caller', r.start!, this.clock.now());
      return r;
    });
  }

  #onPacket(p: Packet): PacketBody | Promise<PacketBody | undefined> | undefined {
    if (p.body.case !== 'punchOffer') return undefined;
    const offer = p.body.value;
    this.offers.push(offer);
    switch (this.answer) {
      case 'refuse':
        return undefined; // the client answers with an ErrorReply
      case 'silent':
        return new Promise<undefined>(() => {});
      case 'decline':
        return { case: 'punchOfferReply', value: { accept: false, candidates: [] } };
      case 'accept':
        // [NAT-PUNCH-4] the callee starts `lead` after sending its answer: the answer goes out now.
        this.#begin('callee', offer.start!, this.clock.now());
        return { case: 'punchOfferReply', value: { accept: true, candidates: this.candidates } };
    }
  }

  #begin(role: PunchRole, start: PunchStart, now: number): void {
    this.start = start;
    this.attempt = new PunchAttempt({ suite, role, start, receivedAt: now });
    this.#perform(this.attempt.onTimer(now));
  }

  #perform(actions: readonly PunchAction[]): void {
    const now = this.clock.now();
    for (const a of actions) {
      if (a.kind === 'send') {
        const to = netAddress(a.to);
        this.sent.push({ at: now, to, echo: a.echo });
        this.socket.send(a.datagram, to);
      } else if (a.kind === 'timer') {
        this.#timer?.cancel();
        this.#timer = this.clock.setTimer(Math.max(0, a.at - now), () => {
          this.#timer = undefined;
          if (this.attempt !== undefined) this.#perform(this.attempt.onTimer(this.clock.now()));
        });
      } else {
        this.result = a;
        this.resultAt = now;
        this.#finish(a);
      }
    }
  }

  #onDatagram(data: Uint8Array, from: NetAddress): void {
    const p = this.#probe;
    if (p !== undefined && sameAddress(from, p.to)) {
      p.tx.receive(data);
      return;
    }
    if (data[0] === DATAGRAM_TYPE_PUNCH && this.attempt !== undefined) {
      this.#perform(this.attempt.onDatagram(data, wire(from), this.clock.now()));
      return;
    }
    this.received.push({ data, from });
  }

  /** The path selected, as an address. */
  get path(): NetAddress | undefined {
    const p = this.attempt?.path;
    return p === undefined ? undefined : netAddress(p);
  }
}

/** A World with `n` supernodes on one list. */
async function world(seed: string, n = 2): Promise<{ w: World; sn: SimSupernode[] }> {
  const w = new World({ seed });
  const sn: SimSupernode[] = [];
  for (let i = 0; i < n; i++) sn.push(await w.addSupernode({ address: `30.0.${i + 1}.1` }));
  w.publishList();
  return { w, sn };
}

/** Runs a punch of `a` (attached to `sa`) to `b` (attached to `sb`) to its end on both sides. */
async function punch(w: World, a: PunchNode, b: PunchNode, sb: SimSupernode) {
  const reply = await w.run(a.requestPunch(b, sb));
  const [ra, rb] = await w.run(Promise.all([a.finished, b.finished]));
  return { reply, ra, rb };
}

/**
 * [NAT-PUNCH-7] After a punch succeeded, the path works both ways and is one pair of endpoints: what A
 * sends to its path arrives at B from B's path, and the other way round.
 */
async function checkPath(w: World, a: PunchNode, b: PunchNode): Promise<void> {
  const ping = (n: number) => Uint8Array.of(0x01, ...new Array(39).fill(n));
  a.socket.send(ping(1), a.path!);
  b.socket.send(ping(2), b.path!);
  await advance(w.sim, 500);
  const atB = b.received.find((r) => r.data[1] === 1);
  const atA = a.received.find((r) => r.data[1] === 2);
  expect(atB?.from).toEqual(b.path);
  expect(atA?.from).toEqual(a.path);
}

/** [NAT-PUNCH-8] Every punch datagram of a node was sent within [start, start + timeout). */
function checkWindow(n: PunchNode): void {
  const at = n.attempt!;
  for (const s of n.sent) {
    expect(s.at).toBeGreaterThanOrEqual(at.startAt);
    expect(s.at).toBeLessThan(at.endAt);
  }
}

describe('hole punching end to end (simulator)', () => {
  it('[NAT-PUNCH-2] [NAT-PUNCH-3] [NAT-PUNCH-4] [NAT-PUNCH-7] alice on S1 punches to bob on S2: forwarded one hop, offered, both succeed on one path', async () => {
    const { w, sn } = await world('punch two supernodes');
    const alice = await new PunchNode(w, 'alice', 'portRestrictedCone', 1).join(sn[0]!);
    const bob = await new PunchNode(w, 'bob', 'fullCone', 2).join(sn[1]!);
    const { reply, ra, rb } = await punch(w, alice, bob, sn[1]!);
    expect(sn[0]!.supernode.connectivity.punch.stats.forwarded).toBe(1);
    expect(sn[1]!.supernode.connectivity.punch.stats.offers).toBe(1);
    // [NAT-PUNCH-3] the offer: alice's identity from her certificate, her candidates, the relay S2.
    const offer = bob.offers[0]!;
    expect(offer.caller).toBe('alice');
    expect(offer.callerDeviceId).toEqual(alice.device.deviceId);
    expect(offer.start!.candidates).toEqual(alice.candidates);
    expect(offer.start!.relay).toEqual(sn[1]!.identity.keyId);
    // [NAT-PUNCH-4] the reply: bob's candidates, the same id and key, the caller's start shifted.
    const start = reply.start!;
    expect(start.candidates).toEqual(bob.candidates);
    expect(start.punchId).toEqual(offer.start!.punchId);
    expect(start.punchKey).toEqual(offer.start!.punchKey);
    expect(start.timeoutMs).toBe(PUNCH_TIMEOUT_MS);
    expect(start.startInMs).toBeLessThan(offer.start!.startInMs);
    // The two starts: within the answer's flight (a few tens of simulated ms) of each other.
    expect(Math.abs(alice.attempt!.startAt - bob.attempt!.startAt)).toBeLessThan(100);
    expect(ra.kind).toBe('succeeded');
    expect(rb.kind).toBe('succeeded');
    expect(alice.resultAt).toBeLessThan(alice.attempt!.endAt);
    await checkPath(w, alice, bob);
    checkWindow(alice);
    checkWindow(bob);
  });

  it('[NAT-PUNCH-2] [NAT-PUNCH-7] via = the home supernode itself: handled there, nothing forwarded', async () => {
    const { w, sn } = await world('punch one supernode');
    const alice = await new PunchNode(w, 'alice', 'restrictedCone', 1).join(sn[0]!);
    const bob = await new PunchNode(w, 'bob', 'portRestrictedCone', 2).join(sn[0]!);
    const { reply, ra, rb } = await punch(w, alice, bob, sn[0]!);
    expect(sn[0]!.supernode.connectivity.punch.stats.forwarded).toBe(0);
    expect(sn[0]!.supernode.connectivity.punch.stats.offers).toBe(1);
    expect(reply.start!.relay).toEqual(sn[0]!.identity.keyId);
    expect([ra.kind, rb.kind]).toEqual(['succeeded', 'succeeded']);
    await checkPath(w, alice, bob);
  });

  it('[NAT-PUNCH-4] a decline, a refused offer, an unanswered offer and an absent device look alike to the caller: NOT_FOUND', async () => {
    const { w, sn } = await world('punch refusals');
    const alice = await new PunchNode(w, 'alice', 'fullCone', 1).join(sn[0]!);
    const bob = await new PunchNode(w, 'bob', 'fullCone', 2).join(sn[1]!);
    const ghost = new PunchNode(w, 'ghost', 'fullCone', 3); // never attached
    const refusal = async (callee: PunchNode) => {
      try {
        await w.run(alice.client.request(alice.requestBody(callee, sn[1]!), 'punchReply'));
        return undefined;
      } catch (e) {
        if (!isParleyError(e)) throw e;
        return { code: e.code, kind: e.kind, retry: (e as { retryAfterMs?: number }).retryAfterMs };
      }
    };
    const seen: unknown[] = [];
    for (const answer of ['decline', 'refuse', 'silent'] as const) {
      bob.answer = answer;
      const t0 = w.sim.now;
      seen.push(await refusal(bob));
      if (answer === 'silent') expect(w.sim.now - t0).toBeGreaterThanOrEqual(5_000); // punch-offer-timeout
    }
    seen.push(await refusal(ghost));
    expect(bob.offers).toHaveLength(3);
    expect(seen).toEqual(new Array(4).fill({ code: ErrorCode.NOT_FOUND, kind: 'refused', retry: undefined }));
    // Nothing was punched.
    expect(alice.sent).toHaveLength(0);
    expect(bob.sent).toHaveLength(0);
  });

  it('[NAT-PUNCH-1] a node without an active attachment, or that names a caller, is NOT_AUTHORIZED; the channel stays open', async () => {
    const { w, sn } = await world('punch authorisation');
    const bob = await new PunchNode(w, 'bob', 'fullCone', 2).join(sn[0]!);
    const alice = await new PunchNode(w, 'alice', 'fullCone', 1).join(sn[0]!, { attach: false });
    const code = async (n: PunchNode, o: Partial<PacketBodies['punchRequest']> = {}) => {
      try {
        await w.run(n.client.request(n.requestBody(bob, sn[0]!, o), 'punchReply'));
        return 0;
      } catch (e) {
        if (!isParleyError(e)) throw e;
        return e.code;
      }
    };
    expect(await code(alice)).toBe(ErrorCode.NOT_AUTHORIZED);
    await w.run(alice.client.attach({ standby: true }));
    expect(await code(alice)).toBe(ErrorCode.NOT_AUTHORIZED);
    const carol = await new PunchNode(w, 'carol', 'fullCone', 3).join(sn[0]!);
    expect(await code(carol, { caller: 'mallory' })).toBe(ErrorCode.NOT_AUTHORIZED);
    expect(await code(carol, { callerDeviceId: new Uint8Array(16).fill(9) })).toBe(ErrorCode.NOT_AUTHORIZED);
    expect(carol.client.closed).toBe(false);
    expect(bob.offers).toHaveLength(0);
    // The same channel, asking properly, gets its punch.
    const reply = await w.run(carol.requestPunch(bob, sn[0]!));
    expect(reply.start!.candidates).toEqual(bob.candidates);
  });

  it('[NAT-PUNCH-5] the 11th PunchRequest of a user within a minute is RATE_LIMITED with a retry hint', async () => {
    const { w, sn } = await world('punch rate');
    const alice = await new PunchNode(w, 'alice', 'fullCone', 1).join(sn[0]!);
    const ghost = new PunchNode(w, 'ghost', 'fullCone', 3);
    const attemptOnce = async () => {
      try {
        await w.run(alice.client.request(alice.requestBody(ghost, sn[1]!), 'punchReply'));
        return { code: 0 };
      } catch (e) {
        if (!isParleyError(e)) throw e;
        return { code: e.code, retry: (e as { retryAfterMs?: number }).retryAfterMs };
      }
    };
    for (let i = 0; i < 10; i++) expect((await attemptOnce()).code).toBe(ErrorCode.NOT_FOUND);
    const limited = await attemptOnce();
    expect(limited.code).toBe(ErrorCode.RATE_LIMITED);
    expect(limited.retry).toBeGreaterThan(0);
    expect(limited.retry).toBeLessThanOrEqual(6_000);
    await advance(w.sim, limited.retry!);
    expect((await attemptOnce()).code).toBe(ErrorCode.NOT_FOUND);
  });

  /**
   * [NAT-PUNCH-7] [NAT-PUNCH-8] Which pairs can punch, with candidates {reflexive as the home supernode
   * saw it, host} on each side. Columns and rows are the same; the table is symmetric.
   *
   *                       none  fullCone  restrictedCone  portRestrictedCone  symmetric
   *   none                 ok      ok          ok                ok              ok
   *   fullCone             ok      ok          ok                ok              ok
   *   restrictedCone       ok      ok          ok                ok              ok
   *   portRestrictedCone   ok      ok          ok                ok              --
   *   symmetric            ok      ok          ok                --              --
   *
   * With endpoint-independent mapping on both sides (the cones), each side punches the other's reflexive
   * endpoint, which opens its own filter to it. A symmetric NAT (address-and-port-dependent mapping,
   * random ports) punches from a new port the other side never learnt: it gets through only a filter that
   * does not look at the port (full cone: none; restricted cone: the address, opened when that side
   * punched the symmetric side's reflexive address), and the symmetric side's own filter admits only the
   * destination it punched — so the other side must answer, not punch. A port-restricted cone does not
   * admit the unknown port; two symmetric NATs never meet. Those pairs report `failed` at the timeout,
   * and the node falls back to the relay the PunchStart names (the callee's supernode).
   */
  const BEHAVIOURS: Behaviour[] = ['none', 'fullCone', 'restrictedCone', 'portRestrictedCone', 'symmetric'];
  const expected = (a: Behaviour, b: Behaviour): boolean => {
    const apdf = (x: Behaviour) => x === 'portRestrictedCone' || x === 'symmetric';
    return !((a === 'symmetric' && apdf(b)) || (b === 'symmetric' && apdf(a)));
  };
  const pairs = BEHAVIOURS.flatMap((a) => BEHAVIOURS.map((b) => [a, b] as const));

  it.each(pairs)(
    '[NAT-PUNCH-7] [NAT-PUNCH-8] NAT matrix: caller behind %s, callee behind %s',
    async (ca, cb) => {
      const { w, sn } = await world(`punch matrix ${ca} ${cb}`);
      const alice = await new PunchNode(w, 'alice', ca, 1).join(sn[0]!);
      const bob = await new PunchNode(w, 'bob', cb, 2).join(sn[1]!);
      const { reply, ra, rb } = await punch(w, alice, bob, sn[1]!);
      checkWindow(alice);
      checkWindow(bob);
      if (expected(ca, cb)) {
        expect([ra.kind, rb.kind]).toEqual(['succeeded', 'succeeded']);
        expect(alice.resultAt).toBeLessThan(alice.attempt!.endAt);
        expect(bob.resultAt).toBeLessThan(bob.attempt!.endAt);
        await checkPath(w, alice, bob);
      } else {
        expect([ra.kind, rb.kind]).toEqual(['failed', 'failed']);
        expect(alice.resultAt).toBe(alice.attempt!.endAt);
        expect(bob.resultAt).toBe(bob.attempt!.endAt);
        // [NAT-PUNCH-8] then both use the relay named: the callee's supernode.
        expect(reply.start!.relay).toEqual(sn[1]!.identity.keyId);
        expect(bob.offers[0]!.start!.relay).toEqual(sn[1]!.identity.keyId);
      }
    },
    60_000,
  );

  /**
   * [NAT-PUNCH-9] Why a node's candidates must be endpoints of the socket it punches from. Behind a
   * port-restricted cone (endpoint-independent mapping, address-and-port-dependent filtering), each UDP
   * socket of a host has its own mapping, and a mapping's filter opens only towards the endpoints that
   * socket sent to. A reflexive endpoint learnt on another socket of the host names that other mapping:
   * the peer's punches to it are filtered (that socket never sent to the peer) and would reach the wrong
   * socket anyway; the node's own punches, from its punching socket, reach a peer whose filter the peer
   * opened only towards the other mapping. The punch fails at the timeout.
   */
  it('[NAT-PUNCH-9] [NAT-PUNCH-8] behind port-restricted cones, candidates of the punching socket succeed; the reflexive endpoint of another socket of the same host fails at the timeout', async () => {
    // Both offer their punching socket's candidates (each host has a second, probed socket too).
    {
      const { w, sn } = await world('punch nine: the punching socket');
      const alice = await new PunchNode(w, 'alice', 'portRestrictedCone', 1).join(sn[0]!, { otherSocket: 'unused' });
      const bob = await new PunchNode(w, 'bob', 'portRestrictedCone', 2).join(sn[1]!, { otherSocket: 'unused' });
      for (const n of [alice, bob]) {
        // two sockets, two mappings: the reflexive endpoints differ
        expect(n.other!.reflexive).not.toEqual(n.reflexive);
        expect(n.candidates[0]!.endpoint).toEqual({ protocol: UDP, ...wire(n.reflexive!) });
        expect(n.candidates[0]!.kind).toBe(CandidateKind.CANDIDATE_KIND_REFLEXIVE);
        // candidatesFor refuses a reflexive endpoint learnt on the other socket
        expect(() =>
          candidatesFor({
            socket: PUNCHING_SOCKET,
            interfaces: [addressBytes(n.host.address)],
            reflexive: { socket: OTHER_SOCKET, reflexive: wire(n.other!.reflexive) },
          }),
        ).toThrow(ApiMisuse);
      }
      const { ra, rb } = await punch(w, alice, bob, sn[1]!);
      expect([ra.kind, rb.kind]).toEqual(['succeeded', 'succeeded']);
      await checkPath(w, alice, bob);
    }
    // One of them offers its other socket's candidates but punches from its punching socket: no path.
    for (const wrong of ['alice', 'bob'] as const) {
      const { w, sn } = await world(`punch nine: another socket (${wrong})`);
      const alice = await new PunchNode(w, 'alice', 'portRestrictedCone', 1).join(sn[0]!, {
        otherSocket: wrong === 'alice' ? 'offered' : 'unused',
      });
      const bob = await new PunchNode(w, 'bob', 'portRestrictedCone', 2).join(sn[1]!, {
        otherSocket: wrong === 'bob' ? 'offered' : 'unused',
      });
      const liar = wrong === 'alice' ? alice : bob;
      expect(liar.candidates[0]!.endpoint).toEqual({ protocol: UDP, ...wire(liar.other!.reflexive) });
      const { ra, rb } = await punch(w, alice, bob, sn[1]!);
      expect([ra.kind, rb.kind]).toEqual(['failed', 'failed']);
      // the peer's punches to the other mapping were filtered by the liar's NAT: none reached that socket
      expect(liar.other!.received).toEqual([]);
      expect(alice.resultAt).toBe(alice.attempt!.endAt);
      expect(bob.resultAt).toBe(bob.attempt!.endAt);
      checkWindow(alice);
      checkWindow(bob);
    }
  }, 60_000);
});
