/**
 * The node's side of a hole punch (spec/08-connectivity.md §6, NAT-PUNCH-6..8): PunchAttempt's checks,
 * pacing and window, and property tests of two attempts — a caller and a callee — wired to each other
 * through a fake network on a simulated clock.
 *
 * The fake network. Each side has 1..4 addresses; some of them are its candidates (what its supernode
 * would forward), the others are addresses only the network knows (a symmetric NAT's per-destination
 * mapping: a peer-reflexive source). A path is a pair (a_i, b_j): a datagram A sends to b_j arrives at B
 * from a_i, and one B sends to a_i arrives at A from b_j; paths are disjoint (one socket per side, one
 * route per destination); anything else is dropped. Datagrams take 1..150 ms; the first few sent may be
 * lost (fast-check chooses which). A path can be found when at least one of its ends is a candidate.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  encodePunch,
  PUNCH_FLAG_CALLEE,
  PUNCH_FLAG_ECHO,
  PUNCH_LENGTH,
  type WireAddress,
} from '../../src/connectivity/datagrams.js';
import { sameEndpoint } from '../../src/connectivity/nat.js';
import {
  CandidateKind,
  candidatesFor,
  checkPunchCandidates,
  PUNCH_PACE_MS,
  PUNCH_TIMEOUT_MS,
  type PunchAction,
  PunchAttempt,
  type PunchRole,
  type PunchStart,
} from '../../src/connectivity/punch.js';
import { nodeCrypto as suite } from '../../src/crypto/index.js';
import { ApiMisuse, DecodeError, ErrorCode } from '../../src/errors.js';

const UDP = 1;
const ID = Uint8Array.from({ length: 12 }, (_, i) => i + 1);
const KEY = Uint8Array.from({ length: 32 }, (_, i) => 0xa0 + i);
const WRONG_KEY = Uint8Array.from({ length: 32 }, (_, i) => 0x10 + i);
const RECEIVED_AT = 1_000;

/** Address `i` of side A (20.0.0.x), B (40.0.0.x) or an attacker (66.0.0.x). */
const addressOf = (side: 'A' | 'B' | 'X', i: number): WireAddress => ({
  address: Uint8Array.of(side === 'A' ? 20 : side === 'B' ? 40 : 66, 0, 0, i + 1),
  port: 5_000 + i,
});
const sideOf = (a: WireAddress): 'A' | 'B' | 'X' => (a.address[0] === 20 ? 'A' : a.address[0] === 40 ? 'B' : 'X');

function startOf(candidates: readonly WireAddress[], startInMs: number, o: Partial<PunchStart> = {}): PunchStart {
  return {
    punchId: ID,
    punchKey: KEY,
    candidates: candidates.map((a) => ({
      endpoint: { protocol: UDP, address: a.address, port: a.port },
      kind: CandidateKind.CANDIDATE_KIND_REFLEXIVE,
    })),
    startInMs,
    timeoutMs: PUNCH_TIMEOUT_MS,
    relay: new Uint8Array(32),
    ...o,
  };
}

const attempt = (role: PunchRole, candidates: readonly WireAddress[], startInMs = 0, o: Partial<PunchStart> = {}) =>
  new PunchAttempt({ suite, role, start: startOf(candidates, startInMs, o), receivedAt: RECEIVED_AT });

const punchFrom = (role: PunchRole, echo = false, key = KEY, id = ID): Uint8Array =>
  encodePunch(suite, key, id, (role === 'callee' ? PUNCH_FLAG_CALLEE : 0) | (echo ? PUNCH_FLAG_ECHO : 0));

const sends = (actions: readonly PunchAction[]) => actions.filter((a) => a.kind === 'send');

describe('PunchAttempt: checks', () => {
  it('[NAT-PUNCH-1] candidates: 1..8 UDP endpoints of 4 or 16 address bytes, port 1..65535, a kind; else MALFORMED', () => {
    const good = startOf([addressOf('B', 0)], 0).candidates[0]!;
    const bad: unknown[] = [
      [],
      new Array(9).fill(good),
      [{ kind: good.kind }],
      [{ ...good, endpoint: { ...good.endpoint!, protocol: 2 } }],
      [{ ...good, endpoint: { ...good.endpoint!, address: new Uint8Array(5) } }],
      [{ ...good, endpoint: { ...good.endpoint!, port: 0 } }],
      [{ ...good, endpoint: { ...good.endpoint!, port: 65_536 } }],
      [{ ...good, kind: CandidateKind.CANDIDATE_KIND_UNSPECIFIED }],
    ];
    for (const c of bad) {
      let caught: unknown;
      try {
        checkPunchCandidates(c as PunchStart['candidates'], 'x');
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(DecodeError);
      expect((caught as DecodeError).code).toBe(ErrorCode.MALFORMED);
    }
    checkPunchCandidates(new Array(8).fill(good), 'x');
    checkPunchCandidates([{ ...good, endpoint: { ...good.endpoint!, address: new Uint8Array(16).fill(1) } }], 'x');
  });

  it('[NAT-PUNCH-6] a PunchStart with a punch id other than 12 bytes or a key other than 32 is MALFORMED', () => {
    for (const o of [{ punchId: new Uint8Array(11) }, { punchKey: new Uint8Array(16) }]) {
      expect(() => attempt('caller', [addressOf('B', 0)], 0, o)).toThrow(DecodeError);
    }
  });
});

describe('PunchAttempt: one side', () => {
  it('[NAT-PUNCH-8] nothing is sent before the start: the first timer asks to be woken at the start', () => {
    const a = attempt('caller', [addressOf('B', 0)], 300);
    expect(a.startAt).toBe(RECEIVED_AT + 300);
    expect(a.endAt).toBe(RECEIVED_AT + 300 + PUNCH_TIMEOUT_MS);
    expect(a.onTimer(RECEIVED_AT)).toEqual([{ kind: 'timer', at: RECEIVED_AT + 300 }]);
    expect(a.onTimer(RECEIVED_AT + 299)).toEqual([{ kind: 'timer', at: RECEIVED_AT + 300 }]);
    // A valid punch before the start is not answered either.
    expect(a.onDatagram(punchFrom('callee'), addressOf('B', 0), RECEIVED_AT + 299)).toEqual([]);
    const first = a.onTimer(RECEIVED_AT + 300);
    expect(sends(first)).toHaveLength(1);
  });

  it('[NAT-PUNCH-7] punches go to every candidate in turn, one per 50 ms, with the role flag and no echo flag', () => {
    const peers = [addressOf('B', 0), addressOf('B', 1), addressOf('B', 2)];
    const a = attempt('callee', peers);
    const sent: { at: number; to: WireAddress; datagram: Uint8Array }[] = [];
    let now = RECEIVED_AT;
    for (let i = 0; i < 7; i++) {
      const actions = a.onTimer(now);
      for (const s of sends(actions)) sent.push({ at: now, to: s.to, datagram: s.datagram });
      const t = actions.find((x) => x.kind === 'timer');
      now = t!.at;
    }
    expect(sent.map((s) => s.at - RECEIVED_AT)).toEqual([0, 50, 100, 150, 200, 250, 300]);
    expect(sent.map((s) => peers.findIndex((p) => sameEndpoint(p, s.to)))).toEqual([0, 1, 2, 0, 1, 2, 0]);
    for (const s of sent) {
      expect(s.datagram).toEqual(punchFrom('callee'));
      expect(s.datagram.length).toBe(PUNCH_LENGTH);
    }
    expect(PUNCH_PACE_MS).toBe(50);
  });

  it('[NAT-PUNCH-8] a late timer never sends a burst: one punch, the next a whole pace later', () => {
    const a = attempt('caller', [addressOf('B', 0)]);
    expect(sends(a.onTimer(RECEIVED_AT))).toHaveLength(1);
    const late = a.onTimer(RECEIVED_AT + 400);
    expect(sends(late)).toHaveLength(1);
    expect(late.at(-1)).toEqual({ kind: 'timer', at: RECEIVED_AT + 450 });
  });

  it('[NAT-PUNCH-8] at the timeout without a path: failed, and nothing is sent or answered afterwards', () => {
    const a = attempt('caller', [addressOf('B', 0)]);
    a.onTimer(RECEIVED_AT);
    expect(a.onTimer(a.endAt)).toEqual([{ kind: 'failed' }]);
    expect(a.state).toBe('failed');
    expect(a.onTimer(a.endAt + 50)).toEqual([]);
    expect(a.onDatagram(punchFrom('callee'), addressOf('B', 0), a.endAt)).toEqual([]);
    expect(a.onDatagram(punchFrom('callee', true), addressOf('B', 0), a.endAt + 1)).toEqual([]);
  });

  it('[NAT-PUNCH-6] a punch with a bad MAC, another punch id, the own role or a bad length changes nothing', () => {
    const a = attempt('callee', [addressOf('A', 0)]);
    a.onTimer(RECEIVED_AT);
    const now = RECEIVED_AT + 10;
    const bad = [
      punchFrom('caller', false, WRONG_KEY),
      punchFrom('caller', false, KEY, new Uint8Array(12).fill(9)),
      punchFrom('callee'), // its own role: a reflection
      punchFrom('caller').subarray(0, 29),
      Uint8Array.of(...punchFrom('caller'), 0),
      (() => {
        const x = punchFrom('caller');
        x[13] = 0x04; // unknown flag
        return x;
      })(),
      (() => {
        const x = punchFrom('caller');
        x[0] = 0x06;
        return x;
      })(),
    ];
    for (const b of bad) expect(a.onDatagram(b, addressOf('X', 0), now)).toEqual([]);
    expect(a.state).toBe('punching');
  });

  it('[NAT-PUNCH-7] the callee: the first valid caller punch selects its source and is echoed once; later punches over other sources are not answered', () => {
    const b = attempt('callee', [addressOf('A', 0)]);
    b.onTimer(RECEIVED_AT);
    const now = RECEIVED_AT + 20;
    const first = b.onDatagram(punchFrom('caller'), addressOf('A', 3), now);
    expect(first).toEqual([
      { kind: 'send', datagram: punchFrom('callee', true), to: addressOf('A', 3), echo: true },
      { kind: 'succeeded', path: addressOf('A', 3) },
    ]);
    expect(b.path).toEqual(addressOf('A', 3));
    // No more punches of its own.
    expect(b.onTimer(now + 50)).toEqual([]);
    // Each punch over the path: one echo. Over another source: nothing.
    expect(b.onDatagram(punchFrom('caller'), addressOf('A', 3), now + 60)).toEqual([
      { kind: 'send', datagram: punchFrom('callee', true), to: addressOf('A', 3), echo: true },
    ]);
    expect(b.onDatagram(punchFrom('caller'), addressOf('A', 0), now + 70)).toEqual([]);
    expect(b.onDatagram(punchFrom('caller', true), addressOf('A', 3), now + 80)).toEqual([]);
  });

  it('[NAT-PUNCH-7] the caller: a valid punch is echoed and its unknown source punched next; the first valid echo selects', () => {
    const a = attempt('caller', [addressOf('B', 0), addressOf('B', 1)]);
    expect(sends(a.onTimer(RECEIVED_AT))[0]!.to).toEqual(addressOf('B', 0));
    const r = a.onDatagram(punchFrom('callee'), addressOf('B', 7), RECEIVED_AT + 10);
    expect(r).toEqual([{ kind: 'send', datagram: punchFrom('caller', true), to: addressOf('B', 7), echo: true }]);
    expect(a.state).toBe('punching');
    // The peer-reflexive source is punched next (a triggered check), then the round-robin goes on.
    const next = sends(a.onTimer(RECEIVED_AT + 50))[0]!;
    expect(next.to).toEqual(addressOf('B', 7));
    expect(next.datagram).toEqual(punchFrom('caller'));
    expect(sends(a.onTimer(RECEIVED_AT + 100))[0]!.to).toEqual(addressOf('B', 1));
    expect(a.remotes).toHaveLength(3);
    expect(a.onDatagram(punchFrom('callee', true), addressOf('B', 7), RECEIVED_AT + 120)).toEqual([
      { kind: 'succeeded', path: addressOf('B', 7) },
    ]);
    expect(a.onTimer(RECEIVED_AT + 150)).toEqual([]);
  });

  it('[NAT-PUNCH-6] [NAT-DGRAM-2] property: random datagrams from anyone never throw, never get an answer, never change the state', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            bytes: fc.oneof(
              fc.uint8Array({ maxLength: 64 }),
              fc.uint8Array({ minLength: PUNCH_LENGTH, maxLength: PUNCH_LENGTH }).map((b) => {
                b[0] = 0x07;
                b.set(ID, 1);
                return b;
              }),
              fc
                .tuple(fc.boolean(), fc.boolean(), fc.uint8Array({ minLength: 32, maxLength: 32 }))
                .map(([callee, echo, key]) =>
                  encodePunch(suite, key, ID, (callee ? PUNCH_FLAG_CALLEE : 0) | (echo ? PUNCH_FLAG_ECHO : 0)),
                ),
            ),
            at: fc.integer({ min: 0, max: 5_000 }),
            role: fc.constantFrom<PunchRole>('caller', 'callee'),
          }),
          { maxLength: 20 },
        ),
        (inputs) => {
          for (const role of ['caller', 'callee'] as const) {
            const a = attempt(role, [addressOf('B', 0)]);
            for (const x of inputs) {
              expect(a.onDatagram(x.bytes, addressOf('X', 1), RECEIVED_AT + x.at)).toEqual([]);
              expect(a.state).toBe('punching');
            }
            expect(a.remotes).toHaveLength(1);
          }
        },
      ),
    );
  });
});

// ---- Two attempts through a fake network -------------------------------------------------------------

interface FakeWorld {
  nA: number;
  nB: number;
  candA: number[];
  candB: number[];
  paths: [number, number][];
  /** Fate of the n-th datagram sent (both sides, in order): true = lost. Later ones all arrive. */
  drops: boolean[];
  /** One-way delays, cycled. */
  delays: number[];
  startInA: number;
  startInB: number;
  /** Forged datagrams an attacker sends to A or B (never authentic). */
  forged: { at: number; to: 'A' | 'B'; bytes: Uint8Array; from: number }[];
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

const forgedDatagram: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc
    .tuple(fc.boolean(), fc.boolean(), fc.uint8Array({ minLength: 32, maxLength: 32 }))
    .filter(([, , k]) => !k.every((x, i) => x === KEY[i]))
    .map(([callee, echo, key]) =>
      encodePunch(suite, key, ID, (callee ? PUNCH_FLAG_CALLEE : 0) | (echo ? PUNCH_FLAG_ECHO : 0)),
    ),
  fc.uint8Array({ minLength: PUNCH_LENGTH, maxLength: PUNCH_LENGTH }).map((b) => {
    b[0] = 0x07;
    b.set(ID, 1);
    b[13] = b[13]! & 0x03;
    return b;
  }),
);

const fakeWorld = (o: { forged: boolean }): fc.Arbitrary<FakeWorld> =>
  fc
    .record({ nA: fc.integer({ min: 1, max: 4 }), nB: fc.integer({ min: 1, max: 4 }) })
    .chain(({ nA, nB }) =>
      fc.record({
        nA: fc.constant(nA),
        nB: fc.constant(nB),
        candA: fc.shuffledSubarray(range(nA), { minLength: 1 }),
        candB: fc.shuffledSubarray(range(nB), { minLength: 1 }),
        pathA: fc.shuffledSubarray(range(nA)),
        pathB: fc.shuffledSubarray(range(nB)),
        drops: fc.array(fc.boolean(), { maxLength: 24 }),
        delays: fc.array(fc.integer({ min: 1, max: 150 }), { minLength: 1, maxLength: 8 }),
        startInA: fc.integer({ min: 0, max: 500 }),
        startInB: fc.integer({ min: 0, max: 500 }),
        forged: o.forged
          ? fc.array(
              fc.record({
                at: fc.integer({ min: 0, max: 4_000 }),
                to: fc.constantFrom<'A' | 'B'>('A', 'B'),
                bytes: forgedDatagram,
                from: fc.integer({ min: 0, max: 3 }),
              }),
              { maxLength: 30 },
            )
          : fc.constant<FakeWorld['forged']>([]),
      }),
    )
    .map(({ pathA, pathB, ...w }) => ({
      ...w,
      paths: pathA.slice(0, Math.min(pathA.length, pathB.length)).map((i, k) => [i, pathB[k]!] as [number, number]),
    }));

interface SideOutcome {
  attempt: PunchAttempt;
  result: PunchAction | undefined;
  resultAt: number;
  sent: { at: number; to: WireAddress; echo: boolean }[];
}

/** Runs a caller on side A and a callee on side B until both are done (or 10 s of simulated time). */
function runPunch(w: FakeWorld): { a: SideOutcome; b: SideOutcome } {
  const a: SideOutcome = {
    attempt: attempt(
      'caller',
      w.candB.map((j) => addressOf('B', j)),
      w.startInA,
    ),
    result: undefined,
    resultAt: -1,
    sent: [],
  };
  const b: SideOutcome = {
    attempt: attempt(
      'callee',
      w.candA.map((i) => addressOf('A', i)),
      w.startInB,
    ),
    result: undefined,
    resultAt: -1,
    sent: [],
  };
  const queue: { at: number; seq: number; run: () => void }[] = [];
  let seq = 0;
  let now = RECEIVED_AT;
  let sentCount = 0;
  const timers = new Map<SideOutcome, number>();
  const schedule = (at: number, run: () => void) => {
    queue.push({ at, seq: seq++, run });
    queue.sort((x, y) => x.at - y.at || x.seq - y.seq);
  };
  const route = (from: 'A' | 'B', to: WireAddress): WireAddress | undefined => {
    const dest = sideOf(to);
    const k = to.address[3]! - 1;
    if (from === 'A' && dest === 'B') {
      const p = w.paths.find(([, j]) => j === k && to.port === addressOf('B', j).port);
      return p === undefined ? undefined : addressOf('A', p[0]);
    }
    if (from === 'B' && dest === 'A') {
      const p = w.paths.find(([i]) => i === k && to.port === addressOf('A', i).port);
      return p === undefined ? undefined : addressOf('B', p[1]);
    }
    return undefined;
  };
  const perform = (side: SideOutcome, actions: readonly PunchAction[]) => {
    const name = side === a ? 'A' : 'B';
    const other = side === a ? b : a;
    for (const x of actions) {
      if (x.kind === 'send') {
        side.sent.push({ at: now, to: x.to, echo: x.echo });
        const n = sentCount++;
        const source = route(name, x.to);
        if (source === undefined || w.drops[n] === true) continue;
        const bytes = Uint8Array.from(x.datagram);
        schedule(now + w.delays[n % w.delays.length]!, () =>
          perform(other, other.attempt.onDatagram(bytes, source, now)),
        );
      } else if (x.kind === 'timer') {
        const token = seq;
        timers.set(side, token);
        schedule(x.at, () => {
          if (timers.get(side) === token) perform(side, side.attempt.onTimer(now));
        });
      } else {
        expect(side.result).toBeUndefined();
        side.result = x;
        side.resultAt = now;
      }
    }
  };
  for (const f of w.forged) {
    schedule(RECEIVED_AT + f.at, () => {
      const target = f.to === 'A' ? a : b;
      perform(target, target.attempt.onDatagram(f.bytes, addressOf('X', f.from), now));
    });
  }
  perform(a, a.attempt.onTimer(now));
  perform(b, b.attempt.onTimer(now));
  while (queue.length > 0) {
    const e = queue.shift()!;
    if (e.at > RECEIVED_AT + 10_000) break;
    now = e.at;
    e.run();
  }
  return { a, b };
}

/** Whether some path has at least one end among the candidates its peer is given. */
const findable = (w: FakeWorld): boolean => w.paths.some(([i, j]) => w.candA.includes(i) || w.candB.includes(j));

describe('PunchAttempt: two sides through a lossy network (property)', () => {
  it('[NAT-PUNCH-7] [NAT-PUNCH-8] whenever a path can be found both sides succeed, before the timeout, on the same pair of endpoints; otherwise both fail at the timeout', () => {
    fc.assert(
      fc.property(fakeWorld({ forged: false }), (w) => {
        const { a, b } = runPunch(w);
        if (findable(w)) {
          expect(a.result?.kind).toBe('succeeded');
          expect(b.result?.kind).toBe('succeeded');
          expect(a.resultAt).toBeLessThan(a.attempt.endAt);
          expect(b.resultAt).toBeLessThan(b.attempt.endAt);
          const pa = a.attempt.path!;
          const pb = b.attempt.path!;
          // A sends to b_j and B to a_i, for one path (a_i, b_j).
          expect(sideOf(pa)).toBe('B');
          expect(sideOf(pb)).toBe('A');
          const j = pa.address[3]! - 1;
          const i = pb.address[3]! - 1;
          expect(w.paths).toContainEqual([i, j]);
          // The callee decides first; the caller follows over the same path.
          expect(b.resultAt).toBeLessThanOrEqual(a.resultAt);
        } else {
          expect(a.result).toEqual({ kind: 'failed' });
          expect(b.result).toEqual({ kind: 'failed' });
          expect(a.resultAt).toBe(a.attempt.endAt);
          expect(b.resultAt).toBe(b.attempt.endAt);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('[NAT-PUNCH-8] property: nothing is sent before the start or from the timeout on, and punches are paced 50 ms apart', () => {
    fc.assert(
      fc.property(fakeWorld({ forged: true }), (w) => {
        const { a, b } = runPunch(w);
        for (const side of [a, b]) {
          for (const s of side.sent) {
            expect(s.at).toBeGreaterThanOrEqual(side.attempt.startAt);
            expect(s.at).toBeLessThan(side.attempt.endAt);
          }
          const punches = side.sent.filter((s) => !s.echo);
          for (let k = 1; k < punches.length; k++) {
            expect(punches[k]!.at - punches[k - 1]!.at).toBeGreaterThanOrEqual(PUNCH_PACE_MS);
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it('[NAT-PUNCH-6] property: forged punches (another key) never cause success, are never answered, and never become the path', () => {
    fc.assert(
      fc.property(fakeWorld({ forged: true }), fc.boolean(), (w0, cut) => {
        // Half the runs with no path at all: only forged datagrams arrive, and both must fail.
        const w = cut ? { ...w0, paths: [] } : w0;
        const { a, b } = runPunch(w);
        for (const side of [a, b]) {
          expect(side.sent.every((s) => sideOf(s.to) !== 'X')).toBe(true);
          const path = side.attempt.path;
          if (path !== undefined) expect(sideOf(path)).not.toBe('X');
        }
        if (!findable(w)) {
          expect(a.result).toEqual({ kind: 'failed' });
          expect(b.result).toEqual({ kind: 'failed' });
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('candidatesFor: the candidates of one socket [NAT-PUNCH-9]', () => {
  const v4 = (...b: number[]) => Uint8Array.from(b);
  const ANY4: WireAddress = { address: v4(0, 0, 0, 0), port: 40_000 };
  const ANY6: WireAddress = { address: new Uint8Array(16), port: 40_000 };
  const LAN = v4(192, 168, 1, 20);
  const LAN2 = v4(10, 1, 2, 3);
  const LOOP = v4(127, 0, 0, 1);
  const LINK = v4(169, 254, 9, 9);
  const V6 = Uint8Array.of(0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 5);
  const V6_LINK = Uint8Array.of(0xfe, 0x80, ...new Array(13).fill(0), 5);
  const V6_LOOP = Uint8Array.of(...new Array(15).fill(0), 1);
  const R: WireAddress = { address: v4(198, 51, 100, 1), port: 61_000 };
  const endpoints = (cs: ReturnType<typeof candidatesFor>) =>
    cs.map((c) => [Array.from(c.endpoint!.address).join('.'), c.endpoint!.port, c.kind]);
  const HOST = CandidateKind.CANDIDATE_KIND_HOST;
  const REFLEXIVE = CandidateKind.CANDIDATE_KIND_REFLEXIVE;

  it('[NAT-PUNCH-9] the reflexive endpoint of this socket first, then one host endpoint per interface address at the socket port, without loopback and link-local', () => {
    const cs = candidatesFor({
      socket: ANY4,
      interfaces: [LOOP, LAN, LINK, LAN2, LAN, V6],
      reflexive: { socket: ANY4, reflexive: R },
    });
    expect(endpoints(cs)).toEqual([
      ['198.51.100.1', 61_000, REFLEXIVE],
      ['192.168.1.20', 40_000, HOST],
      ['10.1.2.3', 40_000, HOST],
    ]);
    checkPunchCandidates(cs, 'candidates');
    // a dual-stack socket (bound to ::) offers its IPv6 addresses too, still without loopback and link-local
    const six = candidatesFor({ socket: ANY6, interfaces: [LAN, V6, V6_LINK, V6_LOOP] });
    expect(six.map((c) => c.endpoint!.address.length)).toEqual([4, 16]);
    // a socket bound to one address receives only there
    const one = candidatesFor({ socket: { address: LAN2, port: 40_000 }, interfaces: [LAN, LAN2] });
    expect(endpoints(one)).toEqual([['10.1.2.3', 40_000, HOST]]);
  });

  it('[NAT-PUNCH-9] a reflexive endpoint equal to a host endpoint (no NAT) is offered once, as the host endpoint; at most 8 candidates', () => {
    const cs = candidatesFor({
      socket: ANY4,
      interfaces: [LAN],
      reflexive: { socket: ANY4, reflexive: { address: LAN, port: 40_000 } },
    });
    expect(endpoints(cs)).toEqual([['192.168.1.20', 40_000, HOST]]);
    const many = Array.from({ length: 12 }, (_, i) => v4(10, 0, 0, i + 1));
    const capped = candidatesFor({ socket: ANY4, interfaces: many, reflexive: { socket: ANY4, reflexive: R } });
    expect(capped).toHaveLength(8);
    expect(capped[0]!.kind).toBe(REFLEXIVE);
  });

  it('[NAT-PUNCH-9] a reflexive endpoint learnt on another socket of the host is refused (ApiMisuse), as is a list with no candidate', () => {
    for (const other of [
      { address: ANY4.address, port: 40_001 },
      { address: LAN, port: 40_000 },
    ]) {
      expect(() =>
        candidatesFor({ socket: ANY4, interfaces: [LAN], reflexive: { socket: other, reflexive: R } }),
      ).toThrow(ApiMisuse);
    }
    expect(() => candidatesFor({ socket: ANY4, interfaces: [LOOP, LINK] })).toThrow(ApiMisuse);
    expect(() => candidatesFor({ socket: { address: ANY4.address, port: 0 }, interfaces: [LAN] })).toThrow(ApiMisuse);
  });

  it('[NAT-PUNCH-9] property: every candidate is an endpoint of the socket (its port, or the reflexive endpoint learnt on it), each at most once, 1..8, valid for a PunchRequest', () => {
    const address = fc.oneof(
      fc.uint8Array({ minLength: 4, maxLength: 4 }),
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
    );
    fc.assert(
      fc.property(
        fc.array(address, { maxLength: 12 }),
        fc.option(fc.record({ address, port: fc.integer({ min: 1, max: 65_535 }) }), { nil: undefined }),
        fc.integer({ min: 1, max: 65_535 }),
        fc.boolean(),
        (interfaces, r, port, six) => {
          const socket: WireAddress = { address: new Uint8Array(six ? 16 : 4), port };
          let cs: ReturnType<typeof candidatesFor>;
          try {
            cs = candidatesFor({ socket, interfaces, reflexive: r && { socket, reflexive: r } });
          } catch (e) {
            expect(e).toBeInstanceOf(ApiMisuse);
            return;
          }
          checkPunchCandidates(cs, 'candidates');
          for (const [i, c] of cs.entries()) {
            const e = { address: c.endpoint!.address, port: c.endpoint!.port };
            if (c.kind === HOST) expect(e.port).toBe(port);
            else expect(r !== undefined && sameEndpoint(e, r)).toBe(true);
            for (const d of cs.slice(i + 1))
              expect(sameEndpoint(e, { address: d.endpoint!.address, port: d.endpoint!.port })).toBe(false);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
