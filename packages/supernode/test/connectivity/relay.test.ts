/**
 * The relay (spec/08-connectivity.md §7) alone, with fake dependencies: a clock whose timers fire only
 * when a test advances it, a UDP socket that records what is sent, and sessions that record the notices
 * they are given. Allocation (pairing, quotas, capacity), binds (return routability, counters), relay
 * data and frames (both directions between UDP and TCP sides), quotas and the ends of an allocation; and
 * a fuzz of the three datagram and frame entry points.
 */
import type { NetAddress, Timer } from '@parley/net';
import {
  ALLOCATION_ID_BYTES,
  bytesEqual,
  DATAGRAM_TYPE_RELAY_BIND,
  DATAGRAM_TYPE_RELAY_BIND_ACK,
  DATAGRAM_TYPE_RELAY_DATA,
  DecodeError,
  decodeConnectivityDatagram,
  type EffectivePolicy,
  ErrorCode,
  encodeRelayBind,
  encodeRelayData,
  isParleyError,
  type PacketBodies,
  type PacketBody,
  POLICY_DEFAULTS,
  RELAY_BIND_LENGTH,
  type RelayBindDatagram,
  relayBindAuthentic,
  seededRandom,
} from '@parley/wire';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type RelayLimits, RelayService } from '../../src/connectivity/relay.js';
import { type ConnectivityDeps, DEFAULT_CONNECTIVITY_LIMITS } from '../../src/connectivity/service.js';
import type { CoreAction } from '../../src/core/core.js';
import { NetworkState } from '../../src/core/network-state.js';
import type { Session } from '../../src/core/session.js';
import { suite, T0 } from '../fixtures.js';

// ---- fakes ----------------------------------------------------------------------------------------------

class FakeClock {
  t = T0;
  #timers: { at: number; fn: () => void; cancelled: boolean }[] = [];
  now = (): number => this.t;
  setTimer = (delayMs: number, fn: () => void): Timer => {
    const timer = { at: this.t + delayMs, fn, cancelled: false };
    this.#timers.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  };
  /** Moves time forward by `ms`, firing due timers in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = this.#timers.filter((x) => !x.cancelled && x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      due.cancelled = true;
      this.t = Math.max(this.t, due.at);
      due.fn();
    }
    this.t = end;
  }
  get live(): number {
    return this.#timers.filter((x) => !x.cancelled).length;
  }
}

interface Sent {
  /** The buffer given to send (the relay forwards the datagram it received). */
  data: Uint8Array;
  to: NetAddress;
}

interface TestSession extends Session {
  notices: PacketBody[];
  /** What notify returns (false: the write buffer is full). */
  accepting: boolean;
}

let sessionIds = 0;
function session(username: string, device: number, kind: 'node' | 'supernode' = 'node'): TestSession {
  const s: TestSession = {
    id: ++sessionIds,
    kind,
    peer: undefined as never,
    username,
    deviceId: new Uint8Array(16).fill(device),
    observed: { host: '30.0.9.9', port: 40_000 + device },
    attachment: undefined,
    close: () => {},
    request: () => Promise.reject(new Error('no requests in these tests')),
    notify: (body) => {
      if (!s.accepting) return false;
      s.notices.push(body);
      return true;
    },
    notices: [],
    accepting: true,
  };
  return s;
}

const RELAY_ENDPOINT: NetAddress = { host: '30.0.0.1', port: 7500 };

interface Harness {
  relay: RelayService;
  clock: FakeClock;
  sent: Sent[];
  state: NetworkState;
}

function harness(o: { limits?: Partial<RelayLimits>; relayPolicy?: Partial<EffectivePolicy['relay']> } = {}): Harness {
  const clock = new FakeClock();
  const sent: Sent[] = [];
  const state = new NetworkState(suite);
  if (o.relayPolicy !== undefined) {
    // A policy as LoginLink sets it (verified, defaults applied), with other relay quotas.
    state.setPolicy({
      ...POLICY_DEFAULTS,
      version: 1,
      issuedAtMs: T0,
      relay: { ...POLICY_DEFAULTS.relay, ...o.relayPolicy },
    });
  }
  const random = seededRandom('relay unit tests');
  const deps: ConnectivityDeps = {
    clock,
    suite,
    random: { randomBytes: (n) => random.randomBytes(n), float: () => 0.5 },
    state,
    selfKeyId: new Uint8Array(32),
    peers: { request: () => Promise.reject(new Error('no peers')) },
    findAttached: () => undefined,
    udp: { send: (data, to) => sent.push({ data, to }) },
    udpEndpoints: () => [RELAY_ENDPOINT],
    identity: undefined as never,
    dialBack: () => Promise.reject(new Error('no dial-back')),
    limits: { ...DEFAULT_CONNECTIVITY_LIMITS, ...o.limits },
  };
  return { relay: new RelayService(deps), clock, sent, state };
}

type AllocateReply = PacketBodies['relayAllocateReply'];

/** Collects a request's outcome without awaiting it: the reply body, or the refusal. */
function outcome(p: Promise<CoreAction>): { value?: CoreAction; error?: unknown; settled: boolean } {
  const o: { value?: CoreAction; error?: unknown; settled: boolean } = { settled: false };
  p.then(
    (v) => {
      o.value = v;
      o.settled = true;
    },
    (e) => {
      o.error = e;
      o.settled = true;
    },
  );
  return o;
}

const flush = () => new Promise<void>((r) => setTimeout(r, 0));

function allocateReplyOf(action: CoreAction | undefined): AllocateReply {
  if (action?.kind !== 'reply' || action.packet.body.case !== 'relayAllocateReply') {
    throw new Error(`not a RelayAllocateReply: ${JSON.stringify(action)}`);
  }
  return action.packet.body.value;
}

const ask = (h: Harness, from: Session, to: Session, requestId = 1) =>
  h.relay.allocate(from, requestId, { username: to.username, deviceId: to.deviceId });

/** Both sides ask; resolves with the two replies (first asker's, second's). */
async function pair(h: Harness, a: Session, b: Session): Promise<[AllocateReply, AllocateReply]> {
  const first = ask(h, a, b);
  const second = await ask(h, b, a);
  return [allocateReplyOf(await first), allocateReplyOf(second)];
}

const ZERO_COOKIE = new Uint8Array(16);
const bind = (side: AllocateReply, counter: bigint, cookie: Uint8Array = ZERO_COOKIE, key = side.allocationKey) =>
  encodeRelayBind(suite, DATAGRAM_TYPE_RELAY_BIND, key, side.allocationId, counter, cookie);

function onBind(h: Harness, bytes: Uint8Array, from: NetAddress): boolean {
  const d = decodeConnectivityDatagram(bytes);
  if (d.type !== DATAGRAM_TYPE_RELAY_BIND) throw new Error('not a bind');
  return h.relay.onBind(d as RelayBindDatagram, bytes, from);
}

/** Binds `side` at `from` with the challenge and the confirmation ([RELAY-BIND-2]); returns the cookie. */
function bindAt(h: Harness, side: AllocateReply, from: NetAddress, counter = 1n): Uint8Array {
  const before = h.sent.length;
  expect(onBind(h, bind(side, counter), from)).toBe(true);
  const challenge = h.sent[before]!;
  expect(challenge.to).toEqual(from);
  const cookie = challenge.data.slice(17, 33);
  expect(onBind(h, bind(side, counter, cookie), from)).toBe(true);
  return cookie;
}

/** A well-formed channel datagram (type 0x01) of `length` bytes, with recognisable content. */
function channelDatagram(length: number, fill = 0x5a): Uint8Array {
  const d = new Uint8Array(length).fill(fill);
  d[0] = 0x01;
  for (let i = 1; i < length; i++) d[i] = (fill + i) & 0xff;
  return d;
}

const ALICE: NetAddress = { host: '30.1.0.1', port: 50_001 };
const BOB: NetAddress = { host: '30.2.0.1', port: 50_002 };
const MALLORY: NetAddress = { host: '30.3.0.1', port: 50_003 };

/** A paired allocation between alice (first asker) and bob, both sides bound over UDP. */
async function boundPair(h: Harness) {
  const alice = session('alice', 1);
  const bob = session('bob', 2);
  const [a, b] = await pair(h, alice, bob);
  bindAt(h, a, ALICE);
  bindAt(h, b, BOB);
  h.sent.length = 0;
  return { alice, bob, a, b };
}

async function expectRefused(p: Promise<unknown>, code: ErrorCode): Promise<void> {
  try {
    await p;
  } catch (e) {
    expect(isParleyError(e)).toBe(true);
    expect((e as { code: ErrorCode }).code).toBe(code);
    return;
  }
  throw new Error(`not refused (want ${ErrorCode[code]})`);
}

// ---- allocation --------------------------------------------------------------------------------------

describe('RelayAllocate [RELAY-ALLOC-1] [RELAY-ALLOC-2]', () => {
  it('[RELAY-ALLOC-1] [RELAY-ALLOC-2] both asks are answered once the named device asks back, each with its own side and the policy quotas', async () => {
    const h = harness();
    const alice = session('alice', 1);
    const bob = session('bob', 2);
    const first = outcome(ask(h, alice, bob, 7));
    await flush();
    expect(first.settled).toBe(false);
    expect(h.relay.stats.pending).toBe(1);
    const second = await ask(h, bob, alice, 9);
    await flush();
    const a = allocateReplyOf(first.value);
    const b = allocateReplyOf(second);
    expect(first.value?.kind === 'reply' && first.value.packet.requestId).toBe(7);
    expect(second.kind === 'reply' && second.packet.requestId).toBe(9);
    for (const side of [a, b]) {
      expect(side.allocationId.length).toBe(ALLOCATION_ID_BYTES);
      expect(side.allocationKey.length).toBe(32);
      expect(side.relayEndpoints).toEqual([{ protocol: 1, address: Uint8Array.of(30, 0, 0, 1), port: 7500 }]);
      expect(side.lifetimeS).toBe(600);
      expect(side.byteQuota).toBe(128 * 1024 * 1024);
      expect(side.bytesPerS).toBe(2 * 1024 * 1024);
    }
    expect(bytesEqual(a.allocationId, b.allocationId)).toBe(false);
    expect(bytesEqual(a.allocationKey, b.allocationKey)).toBe(false);
    expect(h.relay.stats).toMatchObject({ pending: 0, active: 1, paired: 1 });
  });

  it('[RELAY-ALLOC-2] the quotas follow the policy held', async () => {
    const h = harness({
      relayPolicy: {
        allocationLifetimeMs: 60_000,
        allocationBytes: 5_000,
        allocationBytesPerS: 1_000,
        allocationsPerUser: 2,
      },
    });
    const [a] = await pair(h, session('alice', 1), session('bob', 2));
    expect(a).toMatchObject({ lifetimeS: 60, byteQuota: 5_000, bytesPerS: 1_000 });
  });

  it('[RELAY-ALLOC-1] one side alone is refused NOT_FOUND after relay-pair-wait (10 s), and nothing is forwarded meanwhile', async () => {
    const h = harness();
    const alice = session('alice', 1);
    const lonely = outcome(ask(h, alice, session('bob', 2)));
    h.clock.advance(9_999);
    await flush();
    expect(lonely.settled).toBe(false);
    // Relay data or binds with any id do nothing: no side exists yet.
    const id = new Uint8Array(8).fill(1);
    expect(h.relay.onData(encodeRelayData(id, channelDatagram(100)), ALICE)).toBe(false);
    expect(h.sent).toEqual([]);
    h.clock.advance(1);
    await flush();
    expect(isParleyError(lonely.error, ErrorCode.NOT_FOUND)).toBe(true);
    expect(h.relay.stats).toMatchObject({ pending: 0, active: 0, forwardedDatagrams: 0 });
    expect(h.clock.live).toBe(0);
    // the late mirror finds nothing to pair with: it waits in turn
    const late = outcome(ask(h, session('bob', 2), alice));
    await flush();
    expect(late.settled).toBe(false);
    h.relay.close();
  });

  it('[RELAY-ALLOC-1] a device asking twice for the same peer while pending is refused CONFLICT', async () => {
    const h = harness();
    const alice = session('alice', 1);
    const bob = session('bob', 2);
    const first = outcome(ask(h, alice, bob));
    await expectRefused(ask(h, alice, bob), ErrorCode.CONFLICT);
    // the same device on another channel is the same asker
    await expectRefused(ask(h, session('alice', 1), bob), ErrorCode.CONFLICT);
    // another device of the same user, or another peer, is another ask
    const other = outcome(ask(h, session('alice', 3), bob));
    await flush();
    expect(other.settled).toBe(false);
    expect(first.settled).toBe(false);
    expect(h.relay.stats.pending).toBe(2);
    h.relay.close();
  });

  it('[RELAY-ALLOC-2] the 5th allocation of a user (pending and active, all devices) is refused QUOTA_EXCEEDED', async () => {
    const h = harness();
    const bob = session('bob', 2);
    // one active allocation (alice device 1 with bob), three pending from alice's devices 1 and 2
    await pair(h, session('alice', 1), bob);
    const pending = [
      outcome(ask(h, session('alice', 1), session('carol', 1))),
      outcome(ask(h, session('alice', 2), session('dave', 1))),
      outcome(ask(h, session('alice', 2), session('erin', 1))),
    ];
    await flush();
    expect(pending.every((p) => !p.settled)).toBe(true);
    await expectRefused(ask(h, session('alice', 3), session('frank', 1)), ErrorCode.QUOTA_EXCEEDED);
    // answering another user's ask would make one more side of alice's too
    const gina = outcome(ask(h, session('gina', 1), session('alice', 1)));
    await expectRefused(ask(h, session('alice', 1), session('gina', 1)), ErrorCode.QUOTA_EXCEEDED);
    // bob, with one, may still ask
    const forBob = outcome(ask(h, bob, session('carol', 1)));
    await flush();
    expect(forBob.settled).toBe(false);
    // one ending frees a place
    h.clock.advance(10_000);
    await flush();
    expect([...pending, gina].every((p) => isParleyError(p.error, ErrorCode.NOT_FOUND))).toBe(true);
    const again = outcome(ask(h, session('alice', 3), session('frank', 1)));
    await flush();
    expect(again.settled).toBe(false);
    h.relay.close();
  });

  it('[RELAY-ALLOC-2] at relay-capacity a new allocation is refused BUSY with a retry hint; a mirror ask still pairs', async () => {
    const h = harness({ limits: { relayCapacity: 2 } });
    const waiting = outcome(ask(h, session('alice', 1), session('bob', 2)));
    await pair(h, session('carol', 1), session('dave', 1));
    const busy = await ask(h, session('erin', 1), session('frank', 1));
    expect(busy.kind).toBe('reply');
    const body = busy.kind === 'reply' ? busy.packet.body : undefined;
    expect(body?.case).toBe('error');
    if (body?.case === 'error') {
      expect(body.value.code).toBe(ErrorCode.BUSY);
      expect(body.value.retryAfterMs).toBeGreaterThan(0);
    }
    expect(h.relay.size).toBe(2);
    // bob's mirror pairs with alice's pending ask: no new allocation
    allocateReplyOf(await ask(h, session('bob', 2), session('alice', 1)));
    await flush();
    allocateReplyOf(waiting.value);
    expect(h.relay.size).toBe(2);
  });

  it('[RELAY-ALLOC-1] a supernode channel cannot allocate; malformed asks are refused', async () => {
    const h = harness();
    await expectRefused(ask(h, session('sn1.test', 9, 'supernode'), session('bob', 2)), ErrorCode.NOT_AUTHORIZED);
    const alice = session('alice', 1);
    await expectRefused(
      h.relay.allocate(alice, 1, { username: 'bob', deviceId: new Uint8Array(15) }),
      ErrorCode.MALFORMED,
    );
    await expectRefused(
      h.relay.allocate(alice, 1, { username: 'bob', deviceId: new Uint8Array(0) }),
      ErrorCode.MISSING_FIELD,
    );
    await expectRefused(
      h.relay.allocate(alice, 1, { username: '', deviceId: new Uint8Array(16) }),
      ErrorCode.MISSING_FIELD,
    );
    await expectRefused(
      h.relay.allocate(alice, 1, { username: 'Not Normalised', deviceId: new Uint8Array(16) }),
      ErrorCode.USERNAME_INVALID,
    );
    expect(h.relay.size).toBe(0);
  });
});

// ---- binds -------------------------------------------------------------------------------------------

describe('relay binds [RELAY-BIND-1] [RELAY-BIND-2]', () => {
  it('[RELAY-BIND-2] [NAT-AMP-1] an authentic bind without a valid cookie is challenged with a bind ack of its size, and binds nothing', async () => {
    const h = harness();
    const [a, b] = await pair(h, session('alice', 1), session('bob', 2));
    expect(onBind(h, bind(a, 1n), ALICE)).toBe(true);
    expect(h.sent.length).toBe(1);
    const ack = h.sent[0]!;
    expect(ack.to).toEqual(ALICE);
    expect(ack.data.length).toBe(RELAY_BIND_LENGTH); // [NAT-AMP-1] no larger than the bind
    expect(ack.data[0]).toBe(DATAGRAM_TYPE_RELAY_BIND_ACK);
    expect(relayBindAuthentic(suite, a.allocationKey, ack.data)).toBe(true);
    expect(bytesEqual(ack.data.subarray(1, 9), a.allocationId)).toBe(true);
    expect(new DataView(ack.data.buffer).getBigUint64(9)).toBe(1n);
    expect(h.relay.stats).toMatchObject({ binds: 0, challenges: 1 });
    // nothing bound: data from that source is not accepted
    bindAt(h, b, BOB);
    expect(h.relay.onData(encodeRelayData(a.allocationId, channelDatagram(64)), ALICE)).toBe(false);
    expect(h.relay.stats.dropped.unbound).toBe(1);
  });

  it('[RELAY-BIND-2] a bind with the cookie for its source binds the side and is confirmed by an ack with a zero cookie', async () => {
    const h = harness();
    const [a, b] = await pair(h, session('alice', 1), session('bob', 2));
    expect(onBind(h, bind(a, 5n), ALICE)).toBe(true);
    const cookie = h.sent[0]!.data.slice(17, 33);
    expect(onBind(h, bind(a, 5n, cookie), ALICE)).toBe(true);
    const ack = h.sent[1]!;
    expect(ack.to).toEqual(ALICE);
    expect(relayBindAuthentic(suite, a.allocationKey, ack.data)).toBe(true);
    expect(bytesEqual(ack.data.subarray(17, 33), new Uint8Array(16))).toBe(true);
    expect(bytesEqual(cookie, new Uint8Array(16))).toBe(false); // a challenge never carries zeros
    expect(h.relay.stats.binds).toBe(1);
    bindAt(h, b, BOB);
    expect(h.relay.onData(encodeRelayData(a.allocationId, channelDatagram(64)), ALICE)).toBe(true);
  });

  it('[RELAY-BIND-1] binds with a bad MAC, another side key, a replayed or a stale counter are discarded unanswered', async () => {
    const h = harness();
    const [a, b] = await pair(h, session('alice', 1), session('bob', 2));
    const cookie = bindAt(h, a, ALICE, 10n);
    h.sent.length = 0;
    const forged = bind(a, 11n, cookie);
    forged[40] = (forged[40]! ^ 1) & 0xff;
    expect(onBind(h, forged, ALICE)).toBe(false);
    expect(onBind(h, bind(a, 11n, cookie, b.allocationKey), ALICE)).toBe(false); // wrong key
    expect(onBind(h, bind(a, 10n, new Uint8Array(16)), ALICE)).toBe(false); // the binding counter, no cookie
    expect(onBind(h, bind(a, 10n, cookie), MALLORY)).toBe(false); // replayed elsewhere
    expect(onBind(h, bind(a, 3n), ALICE)).toBe(false); // stale
    expect(onBind(h, bind(a, 9n), MALLORY)).toBe(false); // stale, elsewhere
    const unknown = encodeRelayBind(suite, DATAGRAM_TYPE_RELAY_BIND, a.allocationKey, new Uint8Array(8), 99n, cookie);
    expect(onBind(h, unknown, ALICE)).toBe(false);
    expect(h.sent).toEqual([]);
    expect(h.relay.stats.dropped.bind).toBe(6);
  });

  it('[RELAY-BIND-1] a repeat of the binding bind from the bound source is confirmed again and changes nothing', async () => {
    const h = harness();
    const [a] = await pair(h, session('alice', 1), session('bob', 2));
    const cookie = bindAt(h, a, ALICE, 10n);
    const binds = h.relay.stats.binds;
    h.sent.length = 0;
    // the confirmation was lost: alice repeats her bind (same counter, same cookie)
    expect(onBind(h, bind(a, 10n, cookie), ALICE)).toBe(true);
    expect(h.sent.length).toBe(1);
    expect(h.sent[0]!.to).toEqual(ALICE);
    expect(bytesEqual(h.sent[0]!.data.subarray(17, 33), new Uint8Array(16))).toBe(true);
    expect(h.relay.stats.binds).toBe(binds);
  });

  it('[RELAY-BIND-2] [NAT-AMP-2] a bind carrying the cookie of another source is challenged there and moves nothing', async () => {
    const h = harness();
    const { a } = await boundPair(h);
    // Mallory replays alice's next bind (fresh counter, alice's cookie for that counter) from elsewhere.
    const probe = bind(a, 2n);
    onBind(h, probe, ALICE);
    const aliceCookie = h.sent[0]!.data.slice(17, 33);
    h.sent.length = 0;
    expect(onBind(h, bind(a, 2n, aliceCookie), MALLORY)).toBe(true);
    expect(h.sent.length).toBe(1);
    expect(h.sent[0]!.to).toEqual(MALLORY);
    expect(bytesEqual(h.sent[0]!.data.subarray(17, 33), aliceCookie)).toBe(false);
    h.sent.length = 0;
    // still bound to alice: her data is forwarded, Mallory's is not
    expect(h.relay.onData(encodeRelayData(a.allocationId, channelDatagram(64)), MALLORY)).toBe(false);
    expect(h.relay.onData(encodeRelayData(a.allocationId, channelDatagram(64)), ALICE)).toBe(true);
    expect(h.sent.length).toBe(1);
    expect(h.sent[0]!.to).toEqual(BOB);
  });

  it('[RELAY-BIND-2] [RELAY-DATA-1] after a NAT mapping change the side binds again at its new source, which replaces the old', async () => {
    const h = harness();
    const { a, b } = await boundPair(h);
    const moved: NetAddress = { host: ALICE.host, port: ALICE.port + 1 };
    bindAt(h, a, moved, 2n);
    h.sent.length = 0;
    expect(h.relay.onData(encodeRelayData(a.allocationId, channelDatagram(64)), ALICE)).toBe(false);
    expect(h.relay.onData(encodeRelayData(a.allocationId, channelDatagram(64)), moved)).toBe(true);
    // and bob's data now goes to the new source
    expect(h.relay.onData(encodeRelayData(b.allocationId, channelDatagram(64)), BOB)).toBe(true);
    expect(h.sent.map((s) => s.to)).toEqual([BOB, moved]);
  });
});

// ---- data --------------------------------------------------------------------------------------------

describe('relay data [RELAY-DATA-1] [RELAY-DATA-2] [NAT-AMP-1] [NAT-AMP-3]', () => {
  it('[RELAY-DATA-2] [NAT-AMP-1] data is forwarded to the other side with only its id rewritten: same buffer, same length, inner datagram untouched', async () => {
    const h = harness();
    const { a, b } = await boundPair(h);
    for (const length of [29, 200, 1_200]) {
      const inner = channelDatagram(length);
      const datagram = encodeRelayData(a.allocationId, inner);
      expect(h.relay.onData(datagram, ALICE)).toBe(true);
      const out = h.sent.pop()!;
      expect(out.to).toEqual(BOB);
      expect(out.data).toBe(datagram);
      expect(out.data.length).toBe(9 + length);
      expect(out.data[0]).toBe(DATAGRAM_TYPE_RELAY_DATA);
      expect(bytesEqual(out.data.subarray(1, 9), b.allocationId)).toBe(true);
      expect(bytesEqual(out.data.subarray(9), inner)).toBe(true);
    }
    const back = channelDatagram(300, 0x33);
    expect(h.relay.onData(encodeRelayData(b.allocationId, back), BOB)).toBe(true);
    const out = h.sent.pop()!;
    expect(out.to).toEqual(ALICE);
    expect(bytesEqual(out.data.subarray(1, 9), a.allocationId)).toBe(true);
    expect(bytesEqual(out.data.subarray(9), back)).toBe(true);
    expect(h.relay.stats.forwardedDatagrams).toBe(4);
    expect(h.relay.stats.forwardedBytes).toBe(29 + 200 + 1_200 + 300);
  });

  it('[RELAY-DATA-2] [RELAY-TCP-1] [NAT-DGRAM-1] a session handshake datagram (0x08) is a peer datagram: carried over UDP and in frames, unaltered', async () => {
    const h = harness();
    const { bob, a, b } = await boundPair(h);
    const handshake = channelDatagram(1_200, 0x44);
    handshake[0] = 0x08;
    expect(h.relay.onData(encodeRelayData(a.allocationId, handshake), ALICE)).toBe(true);
    const out = h.sent.pop()!;
    expect(out.to).toEqual(BOB);
    expect(bytesEqual(out.data.subarray(9), handshake)).toBe(true);
    // from bob's channel as a RelayFrame: forwarded as relay data to alice
    h.relay.frame(bob, { allocationId: b.allocationId, datagram: handshake });
    const back = h.sent.pop()!;
    expect(back.to).toEqual(ALICE);
    expect(bytesEqual(back.data.subarray(9), handshake)).toBe(true);
    // other types are not peer datagrams: 0x07 (a punch) in a frame is MALFORMED
    const punch = channelDatagram(64);
    punch[0] = 0x07;
    expect(() => h.relay.frame(bob, { allocationId: b.allocationId, datagram: punch })).toThrow(DecodeError);
  });

  it('[RELAY-DATA-1] [NAT-AMP-3] data from a source that is not the side bound one, or before any bind, is dropped', async () => {
    const h = harness();
    const [a, b] = await pair(h, session('alice', 1), session('bob', 2));
    bindAt(h, b, BOB);
    h.sent.length = 0;
    expect(h.relay.onData(encodeRelayData(a.allocationId, channelDatagram(64)), ALICE)).toBe(false);
    bindAt(h, a, ALICE);
    h.sent.length = 0;
    for (const from of [MALLORY, { host: ALICE.host, port: ALICE.port + 1 }, { host: '30.1.0.2', port: ALICE.port }]) {
      expect(h.relay.onData(encodeRelayData(a.allocationId, channelDatagram(64)), from)).toBe(false);
    }
    // b's id from a's source: not b's bound source
    expect(h.relay.onData(encodeRelayData(b.allocationId, channelDatagram(64)), ALICE)).toBe(false);
    expect(h.sent).toEqual([]);
    expect(h.relay.stats.dropped.unbound).toBe(5);
  });

  it('[RELAY-DATA-2] data for an other side bound nowhere is dropped; malformed relay data is dropped', async () => {
    const h = harness();
    const [a] = await pair(h, session('alice', 1), session('bob', 2));
    bindAt(h, a, ALICE);
    h.sent.length = 0;
    expect(h.relay.onData(encodeRelayData(a.allocationId, channelDatagram(64)), ALICE)).toBe(false);
    expect(h.relay.stats.dropped.peerUnbound).toBe(1);
    const good = encodeRelayData(a.allocationId, channelDatagram(64));
    const wrongInner = good.slice();
    wrongInner[9] = 0x02;
    for (const bad of [good.subarray(0, 37), wrongInner, new Uint8Array(1_210).fill(6)]) {
      expect(h.relay.onData(bad, ALICE)).toBe(false);
    }
    expect(h.relay.stats.dropped.malformed).toBe(3);
    expect(h.sent).toEqual([]);
  });

  it('[RELAY-QUOTA-1] bytes of inner datagrams are counted both ways; the datagram the quota cannot carry ends the allocation', async () => {
    const h = harness({ relayPolicy: { allocationBytes: 1_000, allocationBytesPerS: 1_000_000 } });
    const { alice, a, b } = await boundPair(h);
    expect(h.relay.onData(encodeRelayData(a.allocationId, channelDatagram(400)), ALICE)).toBe(true);
    expect(h.relay.onData(encodeRelayData(b.allocationId, channelDatagram(400)), BOB)).toBe(true);
    expect(h.relay.onData(encodeRelayData(a.allocationId, channelDatagram(201)), ALICE)).toBe(false);
    expect(h.relay.stats.dropped.quota).toBe(1);
    expect(h.relay.stats).toMatchObject({ active: 0, ended: 1 });
    expect(h.relay.onData(encodeRelayData(b.allocationId, channelDatagram(29)), BOB)).toBe(false);
    expect(h.relay.stats.dropped.unknown).toBe(1);
    await expectRefused(
      h.relay.refresh(alice, 1, { allocationId: a.allocationId, lifetimeS: 60 }),
      ErrorCode.NOT_FOUND,
    );
  });

  it('[RELAY-QUOTA-2] over the rate (one bucket for both directions, burst one second) datagrams are dropped until it refills', async () => {
    const h = harness({ relayPolicy: { allocationBytesPerS: 2_000 } });
    const { a, b } = await boundPair(h);
    let forwarded = 0;
    for (let i = 0; i < 12; i++) {
      const [id, from] = i % 2 === 0 ? [a.allocationId, ALICE] : [b.allocationId, BOB];
      if (h.relay.onData(encodeRelayData(id, channelDatagram(200)), from)) forwarded++;
    }
    expect(forwarded).toBe(10);
    expect(h.relay.stats.dropped.rate).toBe(2);
    h.clock.advance(100); // 200 bytes refilled
    expect(h.relay.onData(encodeRelayData(a.allocationId, channelDatagram(200)), ALICE)).toBe(true);
    expect(h.relay.onData(encodeRelayData(a.allocationId, channelDatagram(200)), ALICE)).toBe(false);
    h.clock.advance(10_000); // never more than one second's worth
    let burst = 0;
    for (let i = 0; i < 20; i++) {
      if (h.relay.onData(encodeRelayData(a.allocationId, channelDatagram(200)), ALICE)) burst++;
    }
    expect(burst).toBe(10);
    expect(h.relay.stats.active).toBe(1);
  });
});

// ---- lifetime, refresh, release, close ---------------------------------------------------------------

describe('the end of an allocation [RELAY-ALLOC-3]', () => {
  it('[RELAY-ALLOC-3] an allocation ends when its lifetime passes; a refresh extends it from now, capped at the policy lifetime', async () => {
    const h = harness();
    const { alice, bob, a, b } = await boundPair(h);
    h.clock.advance(500_000);
    const r = await h.relay.refresh(alice, 3, { allocationId: a.allocationId, lifetimeS: 100_000 });
    expect(r).toEqual({
      kind: 'reply',
      packet: { requestId: 3, body: { case: 'relayRefreshReply', value: { lifetimeS: 600 } } },
    });
    h.clock.advance(599_000);
    expect(h.relay.onData(encodeRelayData(a.allocationId, channelDatagram(64)), ALICE)).toBe(true);
    // bob refreshes his own side for 30 s: the allocation's lifetime is now 30 s from now
    const rb = await h.relay.refresh(bob, 4, { allocationId: b.allocationId, lifetimeS: 30 });
    expect(rb.kind === 'reply' && rb.packet.body).toEqual({ case: 'relayRefreshReply', value: { lifetimeS: 30 } });
    h.clock.advance(29_999);
    expect(h.relay.stats.active).toBe(1);
    h.clock.advance(1);
    expect(h.relay.stats).toMatchObject({ active: 0, ended: 1 });
    expect(h.relay.onData(encodeRelayData(a.allocationId, channelDatagram(64)), ALICE)).toBe(false);
    expect(h.clock.live).toBe(0);
  });

  it('[RELAY-ALLOC-3] without a refresh the allocation ends at the lifetime granted', async () => {
    const h = harness({ relayPolicy: { allocationLifetimeMs: 60_000 } });
    await boundPair(h);
    h.clock.advance(59_999);
    expect(h.relay.stats.active).toBe(1);
    h.clock.advance(1);
    expect(h.relay.stats.active).toBe(0);
  });

  it('[RELAY-ALLOC-3] RelayRefresh only on the owning channel (else NOT_FOUND); lifetime 0 releases both sides', async () => {
    const h = harness();
    const { alice, bob, a, b } = await boundPair(h);
    await expectRefused(h.relay.refresh(bob, 1, { allocationId: a.allocationId, lifetimeS: 60 }), ErrorCode.NOT_FOUND);
    await expectRefused(
      h.relay.refresh(session('alice', 1), 1, { allocationId: a.allocationId, lifetimeS: 60 }),
      ErrorCode.NOT_FOUND,
    );
    await expectRefused(
      h.relay.refresh(alice, 1, { allocationId: new Uint8Array(8), lifetimeS: 60 }),
      ErrorCode.NOT_FOUND,
    );
    await expectRefused(
      h.relay.refresh(alice, 1, { allocationId: new Uint8Array(7), lifetimeS: 60 }),
      ErrorCode.MALFORMED,
    );
    const released = await h.relay.refresh(bob, 2, { allocationId: b.allocationId, lifetimeS: 0 });
    expect(released.kind === 'reply' && released.packet.body).toEqual({
      case: 'relayRefreshReply',
      value: { lifetimeS: 0 },
    });
    expect(h.relay.stats).toMatchObject({ active: 0, ended: 1 });
    expect(h.relay.onData(encodeRelayData(a.allocationId, channelDatagram(64)), ALICE)).toBe(false);
    await expectRefused(
      h.relay.refresh(alice, 3, { allocationId: a.allocationId, lifetimeS: 60 }),
      ErrorCode.NOT_FOUND,
    );
    // the user's places are free again
    for (let i = 0; i < 4; i++) await pair(h, session('alice', 1), session(`peer${i}`, 1));
  });

  it('[RELAY-ALLOC-3] when either channel closes both sides end; a pending ask of a closed channel ends', async () => {
    const h = harness();
    const { bob, a, b } = await boundPair(h);
    const waiting = outcome(ask(h, bob, session('carol', 1)));
    h.relay.closed(bob);
    await flush();
    expect(isParleyError(waiting.error, ErrorCode.NOT_FOUND)).toBe(true);
    expect(h.relay.stats).toMatchObject({ active: 0, pending: 0, ended: 1 });
    expect(h.relay.onData(encodeRelayData(a.allocationId, channelDatagram(64)), ALICE)).toBe(false);
    expect(h.relay.onData(encodeRelayData(b.allocationId, channelDatagram(64)), BOB)).toBe(false);
    expect(h.sent).toEqual([]);
    expect(h.clock.live).toBe(0);
  });

  it('close() ends every allocation and ask and stops every timer', async () => {
    const h = harness();
    await boundPair(h);
    const waiting = outcome(ask(h, session('carol', 1), session('dave', 1)));
    h.relay.close();
    await flush();
    expect(isParleyError(waiting.error)).toBe(true);
    expect(h.relay.size).toBe(0);
    expect(h.clock.live).toBe(0);
    await expectRefused(ask(h, session('carol', 1), session('dave', 1)), ErrorCode.BUSY);
  });
});

// ---- TCP sides ---------------------------------------------------------------------------------------

describe('relay frames [RELAY-TCP-1] [RELAY-DATA-2]', () => {
  it('[RELAY-TCP-1] [RELAY-DATA-2] a RelayFrame goes out as relay data to a UDP side, and UDP data reaches a TCP side as a RelayFrame, unaltered', async () => {
    const h = harness();
    const { alice, bob, a, b } = await boundPair(h);
    // bob's UDP is gone: he sends a frame, which makes his side TCP-bound
    const fromBob = channelDatagram(500, 0x11);
    h.relay.frame(bob, { allocationId: b.allocationId, datagram: fromBob });
    expect(h.sent.length).toBe(1);
    const out = h.sent[0]!;
    expect(out.to).toEqual(ALICE);
    expect(out.data.length).toBe(9 + 500);
    expect(out.data[0]).toBe(DATAGRAM_TYPE_RELAY_DATA);
    expect(bytesEqual(out.data.subarray(1, 9), a.allocationId)).toBe(true);
    expect(bytesEqual(out.data.subarray(9), fromBob)).toBe(true);
    // alice's UDP data now goes to bob's channel
    const fromAlice = channelDatagram(700, 0x22);
    const datagram = encodeRelayData(a.allocationId, fromAlice);
    expect(h.relay.onData(datagram, ALICE)).toBe(true);
    expect(h.sent.length).toBe(1);
    expect(bob.notices.length).toBe(1);
    const notice = bob.notices[0]!;
    expect(notice.case).toBe('relayFrame');
    if (notice.case === 'relayFrame') {
      expect(bytesEqual(notice.value.allocationId, b.allocationId)).toBe(true);
      expect(bytesEqual(notice.value.datagram, fromAlice)).toBe(true);
    }
    // bob's old UDP source is no longer his binding
    expect(h.relay.onData(encodeRelayData(b.allocationId, channelDatagram(64)), BOB)).toBe(false);
    expect(alice.notices).toEqual([]);
    expect(h.relay.stats).toMatchObject({ framesIn: 1, framesOut: 1, forwardedDatagrams: 2 });
  });

  it('[RELAY-TCP-1] two TCP sides relay frames to each other; a later authentic UDP bind moves a side back to UDP', async () => {
    const h = harness();
    const alice = session('alice', 1);
    const bob = session('bob', 2);
    const [a, b] = await pair(h, alice, bob);
    const first = channelDatagram(40);
    h.relay.frame(alice, { allocationId: a.allocationId, datagram: first });
    expect(h.relay.stats.dropped.peerUnbound).toBe(1); // bob bound nowhere yet
    h.relay.frame(bob, { allocationId: b.allocationId, datagram: channelDatagram(41) });
    expect(alice.notices.length).toBe(1);
    h.relay.frame(alice, { allocationId: a.allocationId, datagram: first });
    expect(bob.notices.length).toBe(1);
    bindAt(h, b, BOB);
    h.sent.length = 0;
    h.relay.frame(alice, { allocationId: a.allocationId, datagram: first });
    expect(bob.notices.length).toBe(1);
    expect(h.sent.length).toBe(1);
    expect(h.sent[0]!.to).toEqual(BOB);
  });

  it('[RELAY-TCP-1] a frame for a side of another channel is discarded; a malformed frame is MALFORMED', async () => {
    const h = harness();
    const { alice, bob, a, b } = await boundPair(h);
    h.relay.frame(alice, { allocationId: b.allocationId, datagram: channelDatagram(64) });
    h.relay.frame(session('alice', 1), { allocationId: a.allocationId, datagram: channelDatagram(64) });
    h.relay.frame(alice, { allocationId: new Uint8Array(8), datagram: channelDatagram(64) });
    expect(h.sent).toEqual([]);
    expect(bob.notices).toEqual([]);
    expect(h.relay.stats.dropped.unknown).toBe(3);
    // still UDP-bound: the discarded frames bound nothing
    expect(h.relay.onData(encodeRelayData(b.allocationId, channelDatagram(64)), BOB)).toBe(true);
    const bad: PacketBodies['relayFrame'][] = [
      { allocationId: new Uint8Array(7), datagram: channelDatagram(64) },
      { allocationId: new Uint8Array(0), datagram: channelDatagram(64) },
      { allocationId: a.allocationId, datagram: channelDatagram(28) },
      { allocationId: a.allocationId, datagram: new Uint8Array(64).fill(2) },
      { allocationId: a.allocationId, datagram: channelDatagram(1_201) },
    ];
    for (const body of bad) {
      let error: unknown;
      try {
        h.relay.frame(alice, body);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(DecodeError);
      expect([ErrorCode.MALFORMED, ErrorCode.MISSING_FIELD]).toContain((error as DecodeError).code);
    }
  });

  it('[RELAY-TCP-1] [RELAY-TCP-2] an empty frame is a TCP bind: the side becomes TCP-bound, nothing is forwarded or counted', async () => {
    const h = harness({ relayPolicy: { allocationBytes: 1_000, allocationBytesPerS: 1_000_000 } });
    const { bob, a, b } = await boundPair(h);
    const before = { ...h.relay.stats };
    h.relay.frame(bob, { allocationId: b.allocationId, datagram: new Uint8Array(0) });
    expect(h.sent).toEqual([]);
    expect(h.relay.stats.forwardedDatagrams).toBe(before.forwardedDatagrams);
    expect(h.relay.stats.forwardedBytes).toBe(before.forwardedBytes);
    // bob's UDP source is no longer bound; alice's data now reaches bob's channel as a frame
    expect(h.relay.onData(encodeRelayData(b.allocationId, channelDatagram(64)), BOB)).toBe(false);
    expect(h.relay.onData(encodeRelayData(a.allocationId, channelDatagram(900)), ALICE)).toBe(true);
    expect(bob.notices.length).toBe(1);
    // the 900 bytes counted; the bind did not (1,000 - 900 = 100 left: a 101-byte datagram ends it)
    expect(h.relay.onData(encodeRelayData(a.allocationId, channelDatagram(101)), ALICE)).toBe(false);
    expect(h.relay.stats.dropped.quota).toBe(1);
  });

  it('[RELAY-DATA-2] a TCP side whose channel cannot take the frame drops the datagram', async () => {
    const h = harness();
    const { bob, a, b } = await boundPair(h);
    h.relay.frame(bob, { allocationId: b.allocationId, datagram: channelDatagram(64) });
    bob.accepting = false;
    expect(h.relay.onData(encodeRelayData(a.allocationId, channelDatagram(64)), ALICE)).toBe(false);
    expect(h.relay.stats.dropped.congested).toBe(1);
  });
});

// ---- fuzz --------------------------------------------------------------------------------------------

const sources: NetAddress[] = [ALICE, BOB, MALLORY, { host: '30.1.0.1', port: 1 }, { host: '::1', port: 9 }];
const source = fc.constantFrom(...sources);

type Op =
  | { kind: 'bind'; bytes: Uint8Array; from: NetAddress }
  | { kind: 'data'; bytes: Uint8Array; from: NetAddress }
  | { kind: 'frame'; who: number; allocationId: Uint8Array | undefined; datagram: Uint8Array };

describe('hostile datagrams and frames [RELAY-BIND-1] [RELAY-DATA-1] [NAT-AMP-1] [NAT-AMP-3]', () => {
  it('[RELAY-BIND-1] [RELAY-DATA-1] [NAT-AMP-1] [NAT-AMP-3] random binds, data and frames never crash, bind nothing and forward nothing; answers are never larger', async () => {
    const h = harness();
    const alice = session('alice', 1);
    const bob = session('bob', 2);
    const mallory = session('mallory', 3);
    const [a, b] = await pair(h, alice, bob);
    const ids = [a.allocationId, b.allocationId, new Uint8Array(8)];
    const id = fc.constantFrom(...ids);
    // Datagrams that look right: a known id with random content, binds with random MACs and counters.
    const bindBytes = fc.oneof(
      fc.uint8Array({ minLength: 49, maxLength: 49 }).map((x) => {
        x[0] = DATAGRAM_TYPE_RELAY_BIND;
        return x;
      }),
      fc
        .tuple(id, fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.uint8Array({ minLength: 32, maxLength: 32 }))
        .map(([i, counter, rest]) => {
          const x = new Uint8Array(49);
          x[0] = DATAGRAM_TYPE_RELAY_BIND;
          x.set(i, 1);
          new DataView(x.buffer).setBigUint64(9, counter);
          x.set(rest, 17);
          return x;
        }),
      // authentic binds with a made-up cookie: challenged, never bound
      fc
        .tuple(
          fc.constantFrom(a, b),
          fc.bigInt({ min: 0n, max: 1000n }),
          fc.uint8Array({ minLength: 16, maxLength: 16 }),
        )
        .map(([side, counter, cookie]) => bind(side, counter, cookie)),
    );
    const dataBytes = fc.oneof(
      fc.uint8Array({ maxLength: 1_300 }),
      fc.tuple(id, fc.uint8Array({ minLength: 28, maxLength: 1_199 })).map(([i, rest]) => {
        const x = new Uint8Array(10 + rest.length);
        x[0] = DATAGRAM_TYPE_RELAY_DATA;
        x.set(i, 1);
        x[9] = 0x01;
        x.set(rest, 10);
        return x;
      }),
    );
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('bind' as const), bytes: bindBytes, from: source }),
      fc.record({ kind: fc.constant('data' as const), bytes: dataBytes, from: source }),
      fc.record({
        kind: fc.constant('frame' as const),
        who: fc.integer({ min: 0, max: 2 }),
        // undefined: the id of a side the sender does not own (a's for bob, b's for alice and mallory)
        allocationId: fc.option(fc.uint8Array({ maxLength: 10 }), { nil: undefined }),
        datagram: fc.uint8Array({ maxLength: 1_300 }),
      }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 40 }), async (ops) => {
        h.sent.length = 0;
        for (const s of [alice, bob, mallory]) s.notices.length = 0;
        const forwardedBefore = h.relay.stats.forwardedDatagrams;
        for (const o of ops) {
          if (o.kind === 'bind') {
            const before = h.sent.length;
            let d: ReturnType<typeof decodeConnectivityDatagram> | undefined;
            try {
              d = decodeConnectivityDatagram(o.bytes);
            } catch (e) {
              if (!isParleyError(e)) throw e;
            }
            if (d?.type === DATAGRAM_TYPE_RELAY_BIND) h.relay.onBind(d, o.bytes, o.from);
            // [NAT-AMP-1] at most one answer, to the source, never larger than the bind
            expect(h.sent.length - before).toBeLessThanOrEqual(1);
            for (const s of h.sent.slice(before)) {
              expect(s.to).toEqual(o.from);
              expect(s.data.length).toBeLessThanOrEqual(o.bytes.length);
              expect(s.data[0]).toBe(DATAGRAM_TYPE_RELAY_BIND_ACK);
            }
          } else if (o.kind === 'data') {
            expect(h.relay.onData(o.bytes, o.from)).toBe(false);
          } else {
            try {
              const from = [alice, bob, mallory][o.who]!;
              const allocationId = o.allocationId ?? (from === bob ? a.allocationId : b.allocationId);
              h.relay.frame(from, { allocationId, datagram: o.datagram });
            } catch (e) {
              if (!(e instanceof DecodeError)) throw e;
            }
          }
        }
        // [NAT-AMP-3] nothing relayed: no side was ever bound (by a bind or by a frame of its own channel)
        expect(h.relay.stats.binds).toBe(0);
        expect(h.relay.stats.forwardedDatagrams).toBe(forwardedBefore);
        expect(h.sent.every((s) => s.data[0] === DATAGRAM_TYPE_RELAY_BIND_ACK)).toBe(true);
        expect(mallory.notices).toEqual([]);
      }),
      { numRuns: 200 },
    );
    h.relay.close();
  });

  it('[RELAY-DATA-1] [NAT-AMP-3] with both sides bound, random data is forwarded only from a bound source, to the other side, with its length', async () => {
    const h = harness({ relayPolicy: { allocationBytesPerS: 4_000_000_000, allocationBytes: 1e12 } });
    const { a, b } = await boundPair(h);
    const op = fc.record({
      bytes: fc.oneof(
        fc.uint8Array({ maxLength: 1_300 }),
        fc
          .tuple(fc.constantFrom(a.allocationId, b.allocationId), fc.uint8Array({ minLength: 28, maxLength: 1_199 }))
          .map(([i, rest]) => {
            const x = new Uint8Array(10 + rest.length);
            x[0] = DATAGRAM_TYPE_RELAY_DATA;
            x.set(i, 1);
            x[9] = 0x01;
            x.set(rest, 10);
            return x;
          }),
      ),
      from: source,
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
        for (const o of ops) {
          h.sent.length = 0;
          const copy = o.bytes.slice();
          const forwarded = h.relay.onData(o.bytes, o.from);
          const fromA = bytesEqual(copy.subarray(1, 9), a.allocationId) && o.from === ALICE;
          const fromB = bytesEqual(copy.subarray(1, 9), b.allocationId) && o.from === BOB;
          const wellFormed = copy.length >= 38 && copy.length <= 1_209 && copy[9] === 0x01;
          expect(forwarded).toBe(wellFormed && (fromA || fromB));
          if (!forwarded) {
            expect(h.sent).toEqual([]);
            expect(o.bytes).toEqual(copy);
            continue;
          }
          const out = h.sent[0]!;
          expect(out.to).toEqual(fromA ? BOB : ALICE);
          expect(out.data.length).toBe(copy.length);
          expect(bytesEqual(out.data.subarray(1, 9), fromA ? b.allocationId : a.allocationId)).toBe(true);
          expect(bytesEqual(out.data.subarray(9), copy.subarray(9))).toBe(true);
        }
      }),
      { numRuns: 200 },
    );
  });
});
