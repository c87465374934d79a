/**
 * The per-name failed-login rule (spec/06-login-server.md §6.1, LOGIN-RATE-1..6): the formula, its
 * properties (monotone, capped), and a model of the server's login flow over counters kept as the
 * store keeps them (store.ts `recordLoginFailure`), to show that names with and without an account are
 * treated alike and that no lockout outlasts backoffMaxMs.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AccountLimits } from '../../src/limits/index.js';
import {
  accountBackoffMs,
  accountLoginDecision,
  DEFAULT_LIMITS,
  limitsProblems,
  lockedUntilMs,
} from '../../src/limits/index.js';
import type { LoginFailures } from '../../src/store/store.js';

const D = DEFAULT_LIMITS.account;

/** The failure counters as store.ts specifies them: a new window at a failure more than windowMs after its start. */
class FailureCounters {
  readonly #byName = new Map<string, LoginFailures>();
  record(name: string, atMs: number, windowMs: number): LoginFailures {
    const cur = this.#byName.get(name);
    const next =
      cur === undefined || atMs - cur.windowStartMs > windowMs
        ? { count: 1, windowStartMs: atMs, lastFailureAtMs: atMs }
        : { count: cur.count + 1, windowStartMs: cur.windowStartMs, lastFailureAtMs: atMs };
    this.#byName.set(name, next);
    return next;
  }
  get(name: string): LoginFailures | undefined {
    return this.#byName.get(name);
  }
  clear(name: string): void {
    this.#byName.delete(name);
  }
}

type Outcome = { readonly result: 'refused'; readonly retryAfterMs: number } | { readonly result: 'ok' | 'failed' };

/** The login flow of §6.1, reduced to what the rule sees. */
class LoginModel {
  readonly counters = new FailureCounters();
  constructor(
    readonly limits: AccountLimits,
    readonly passwords: ReadonlyMap<string, string>,
  ) {}
  attempt(name: string, password: string, nowMs: number): Outcome {
    // [LOGIN-RATE-5] decided from the counters alone, before the account is looked up.
    const decision = accountLoginDecision(this.counters.get(name), nowMs, this.limits);
    // [LOGIN-RATE-6] a refused attempt is not a failure.
    if (!decision.allowed) return { result: 'refused', retryAfterMs: decision.retryAfterMs };
    // [LOGIN-RATE-1][LOGIN-RATE-2] counted when LoginStartReply goes out, for any name.
    this.counters.record(name, nowMs, this.limits.windowMs);
    if (this.passwords.get(name) === password) {
      this.counters.clear(name); // [LOGIN-RATE-3]
      return { result: 'ok' };
    }
    return { result: 'failed' };
  }
}

const arbLimits: fc.Arbitrary<AccountLimits> = fc
  .record({
    failuresPerWindow: fc.integer({ min: 1, max: 10 }),
    windowMs: fc.integer({ min: 1_000, max: 3_600_000 }),
    backoffBaseMs: fc.integer({ min: 1, max: 60_000 }),
    backoffMaxMs: fc.integer({ min: 1, max: 86_400_000 }),
  })
  .map((l) => ({ ...l, backoffMaxMs: Math.max(l.backoffBaseMs, l.backoffMaxMs) }));

describe('account backoff: the formula', () => {
  it('[LOGIN-RATE-4] defaults: 5 failures are free, then 1 s, 2 s, 4 s ... capped at 15 min', () => {
    expect([0, 4].map((c) => accountBackoffMs(c, D))).toEqual([0, 0]);
    expect([5, 6, 7, 8, 14].map((c) => accountBackoffMs(c, D))).toEqual([1_000, 2_000, 4_000, 8_000, 512_000]);
    expect(accountBackoffMs(15, D)).toBe(900_000); // 1,024 s capped
    expect(accountBackoffMs(1_000_000, D)).toBe(900_000);
  });

  it('[LOGIN-RATE-4] refuses until lastFailure + backoff, with the exact remaining wait', () => {
    const f: LoginFailures = { count: 5, windowStartMs: 0, lastFailureAtMs: 10_000 };
    expect(accountLoginDecision(undefined, 0, D)).toEqual({ allowed: true });
    expect(accountLoginDecision({ ...f, count: 4 }, 10_000, D)).toEqual({ allowed: true });
    expect(accountLoginDecision(f, 10_000, D)).toEqual({ allowed: false, retryAfterMs: 1_000 });
    expect(accountLoginDecision(f, 10_999, D)).toEqual({ allowed: false, retryAfterMs: 1 });
    expect(accountLoginDecision(f, 11_000, D)).toEqual({ allowed: true });
    expect(lockedUntilMs({ ...f, count: 20 }, D)).toBe(910_000);
    // A clock behind the one that recorded the failure is never told to wait longer than the backoff.
    expect(accountLoginDecision({ ...f, count: 20 }, 0, D)).toEqual({ allowed: false, retryAfterMs: 900_000 });
  });

  it('[LOGIN-RATE-4] property: monotone in the failure count, 0 below the threshold, B x 2^(n-F) then capped at M', () => {
    fc.assert(
      fc.property(arbLimits, fc.nat({ max: 200 }), (limits, count) => {
        expect(limitsProblems({ ...DEFAULT_LIMITS, account: limits })).toEqual([]);
        const b = accountBackoffMs(count, limits);
        expect(accountBackoffMs(count + 1, limits)).toBeGreaterThanOrEqual(b);
        expect(b).toBeLessThanOrEqual(limits.backoffMaxMs);
        if (count < limits.failuresPerWindow) expect(b).toBe(0);
        else {
          const uncapped = limits.backoffBaseMs * 2 ** (count - limits.failuresPerWindow);
          expect(b).toBe(Math.min(uncapped, limits.backoffMaxMs));
        }
      }),
    );
  });

  it('[LOGIN-RATE-4] property: a refusal waits between 1 ms and backoffMaxMs, and waiting it out is enough', () => {
    fc.assert(
      fc.property(
        arbLimits,
        fc.record({ count: fc.nat({ max: 100 }), windowStartMs: fc.nat(), lastDelta: fc.nat(), nowDelta: fc.nat() }),
        (limits, f) => {
          const failures = {
            count: f.count,
            windowStartMs: f.windowStartMs,
            lastFailureAtMs: f.windowStartMs + f.lastDelta,
          };
          const now = failures.lastFailureAtMs + (f.nowDelta % (2 * limits.backoffMaxMs));
          const d = accountLoginDecision(failures, now, limits);
          if (d.allowed) return;
          expect(d.retryAfterMs).toBeGreaterThanOrEqual(1);
          expect(d.retryAfterMs).toBeLessThanOrEqual(limits.backoffMaxMs);
          expect(accountLoginDecision(failures, now + d.retryAfterMs, limits)).toEqual({ allowed: true });
          expect(accountLoginDecision(failures, now + d.retryAfterMs - 1, limits).allowed).toBe(false);
        },
      ),
    );
  });
});

/** The gaps, in ms, between one attacker's wrong guesses. */
const arbAttempts = fc.array(fc.nat({ max: 120_000 }), { maxLength: 80 });

describe('account backoff: the login flow', () => {
  it('[LOGIN-RATE-1][LOGIN-RATE-5] a name with no account is refused exactly when, and with the hint, a name with one would be', () => {
    fc.assert(
      fc.property(arbLimits, arbAttempts, (limits, attempts) => {
        const server = new LoginModel(limits, new Map([['alice', 'right']]));
        let now = 0;
        for (const dt of attempts) {
          now += dt;
          // The same wrong guesses for an existing and a missing name: the answers cannot tell them apart.
          const known = server.attempt('alice', 'wrong', now);
          const unknown = server.attempt('nobody', 'wrong', now);
          expect(unknown).toEqual(known);
          expect(server.counters.get('nobody')).toEqual(server.counters.get('alice'));
        }
      }),
    );
  });

  it('[LOGIN-RATE-3][LOGIN-RATE-4][LOGIN-RATE-6] whatever an attacker did, the owner waits at most backoffMaxMs and then logs in, which clears the counters', () => {
    fc.assert(
      fc.property(arbLimits, arbAttempts, fc.nat({ max: 10_000_000 }), (limits, attacker, ownerDelay) => {
        const server = new LoginModel(limits, new Map([['alice', 'right']]));
        let now = 0;
        for (const dt of attacker) {
          now += dt;
          server.attempt('alice', 'wrong', now);
        }
        now += ownerDelay % (3 * limits.backoffMaxMs);
        let outcome = server.attempt('alice', 'right', now);
        if (outcome.result === 'refused') {
          expect(outcome.retryAfterMs).toBeLessThanOrEqual(limits.backoffMaxMs);
          outcome = server.attempt('alice', 'right', now + outcome.retryAfterMs);
        }
        expect(outcome).toEqual({ result: 'ok' });
        expect(server.counters.get('alice')).toBeUndefined();
      }),
    );
  });

  it('[LOGIN-RATE-6] hammering during a lockout does not extend it', () => {
    const server = new LoginModel(D, new Map([['alice', 'right']]));
    for (let i = 0; i < 7; i++) server.attempt('alice', 'wrong', i * 10_000); // 7th failure at 60 s
    const until = lockedUntilMs(server.counters.get('alice'), D)!;
    expect(until).toBe(60_000 + 4_000);
    for (let t = 60_001; t < until; t += 7) expect(server.attempt('alice', 'wrong', t).result).toBe('refused');
    expect(lockedUntilMs(server.counters.get('alice'), D)).toBe(until);
    expect(server.attempt('alice', 'right', until)).toEqual({ result: 'ok' });
  });

  it('[LOGIN-RATE-4] defaults: an attacker guessing as fast as allowed gets 14 guesses per 1,023 s, 1,189 per day', () => {
    const server = new LoginModel(D, new Map([['alice', 'right']]));
    let now = 0;
    let guesses = 0;
    const day = 86_400_000;
    const firstCycle: number[] = [];
    while (now < day) {
      const outcome = server.attempt('alice', 'wrong', now);
      if (outcome.result === 'refused') {
        now += outcome.retryAfterMs;
        continue;
      }
      guesses++;
      if (now < 1_023_000) firstCycle.push(now / 1000);
    }
    // 5 at once, then after 1, 2, 4 ... 256 s; the next (at 1,023 s) falls outside the 15-min window and
    // opens a new one.
    expect(firstCycle).toEqual([0, 0, 0, 0, 0, 1, 3, 7, 15, 31, 63, 127, 255, 511]);
    expect(guesses).toBe(1_189);
  });

  it('[LOGIN-RATE-4] a 24-hour window cuts the budget to about 110 guesses a day', () => {
    expect(greedyGuessesPerDay(D)).toBe(1_189);
    expect(greedyGuessesPerDay({ ...D, windowMs: 3_600_000 })).toBe(405);
    expect(greedyGuessesPerDay({ ...D, windowMs: 86_400_000 })).toBe(109);
  });
});

/** Guesses in 24 h by an attacker who tries again the moment LOGIN-RATE-4 allows. */
function greedyGuessesPerDay(limits: AccountLimits): number {
  const server = new LoginModel(limits, new Map());
  let guesses = 0;
  for (let now = 0; now < 86_400_000; ) {
    const outcome = server.attempt('victim', 'guess', now);
    if (outcome.result === 'refused') now += outcome.retryAfterMs;
    else guesses++;
  }
  return guesses;
}
