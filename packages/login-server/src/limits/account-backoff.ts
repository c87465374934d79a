/**
 * The per-name failed-login rule (spec/06-login-server.md §7.1, LOGIN-RATE-1..7): a pure function of a
 * name's failure counters (`LoginFailures`, kept by the store for every name tried) and the time.
 *
 * With F = failuresPerWindow, B = backoffBaseMs and M = backoffMaxMs, a name whose counters hold
 * `count >= F` failures is refused until
 *
 *     lockedUntil = lastFailureAtMs + min(B * 2^(count - F), M)
 *
 * so with the defaults (5, 1 s, 15 min) the 6th attempt waits 1 s after the 5th failure, the 7th 2 s,
 * then 4 s, 8 s, ... up to 15 min, which is never exceeded. The store starts a new window (count 1) at
 * the first failure more than `windowMs` after the window began, and a successful login clears the
 * counters [LOGIN-RATE-3]; refused attempts are not failures [LOGIN-RATE-6], so waiting out a backoff
 * always gives the next attempt.
 *
 * The function takes no user name and no account: the server applies it, unchanged, to names that have
 * no account [LOGIN-RATE-5], so a refusal says nothing about whether an account exists.
 */
import type { LoginFailures } from '../store/store.js';
import type { AccountLimits } from './config.js';

export type AccountDecision = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterMs: number };

const ALLOWED: AccountDecision = Object.freeze({ allowed: true });

/**
 * The backoff after `count` failures in the current window [LOGIN-RATE-4]: 0 below F, else
 * min(B * 2^(count - F), M). Non-decreasing in `count` and never above M.
 */
export function accountBackoffMs(count: number, limits: AccountLimits): number {
  if (count < limits.failuresPerWindow) return 0;
  const doublings = count - limits.failuresPerWindow;
  // 2^doublings overflows nothing before it passes any M <= 1 day: stop doubling at M.
  if (doublings >= 53) return limits.backoffMaxMs;
  return Math.min(limits.backoffBaseMs * 2 ** doublings, limits.backoffMaxMs);
}

/** When the backoff of `failures` ends; undefined when none applies (fewer than F failures, or none). */
export function lockedUntilMs(failures: LoginFailures | undefined, limits: AccountLimits): number | undefined {
  if (failures === undefined || failures.count < limits.failuresPerWindow) return undefined;
  return failures.lastFailureAtMs + accountBackoffMs(failures.count, limits);
}

/**
 * Whether a login for a name with these counters may proceed at `nowMs` [LOGIN-RATE-4]. Refused:
 * `retryAfterMs` is the whole milliseconds until `lockedUntil`, and never more than the backoff itself
 * (a clock behind the one that recorded the failure, another process's or before a jump back, must not
 * announce a wait longer than M). [LOGIN-RATE-5] The counters are all it reads: call it before looking
 * the account up, for every name.
 */
export function accountLoginDecision(
  failures: LoginFailures | undefined,
  nowMs: number,
  limits: AccountLimits,
): AccountDecision {
  if (failures === undefined || failures.count < limits.failuresPerWindow) return ALLOWED;
  const backoffMs = accountBackoffMs(failures.count, limits);
  const until = failures.lastFailureAtMs + backoffMs;
  if (nowMs >= until) return ALLOWED;
  return { allowed: false, retryAfterMs: Math.min(Math.ceil(until - nowMs), backoffMs) };
}
