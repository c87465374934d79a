/**
 * Every number of the login server's rate limits and load shedding, with its default and its bounds
 * (spec/06-login-server.md §7, LOGIN-RATE-*; the `login-rate-limits` parameter of spec/00-conventions.md
 * §5). Two sources set them [LOGIN-RATE-20]:
 *
 * - the network's signed `NetworkPolicy` (`RateLimitPolicy`, 0 meaning the default): `account` and the
 *   rate of `address` (`capacity`, `refillPerMinute`), which every login server of the network applies
 *   alike;
 * - the server's local configuration: the rest of `address` (memory and prefix lengths) and all of
 *   `admission`, which depend on the machine.
 *
 * The validator [LOGIN-RATE-21] rejects values that are nonsense (zero capacity, negative or fractional
 * counts) or absurd (a two-day lockout): a careless or compromised policy must not disable a limit or
 * exhaust the server (spec/00-conventions.md §6).
 */
import { ApiMisuse } from '@parley/wire';

/** The per-name failed-login rule (account-backoff.ts, LOGIN-RATE-1..7). Set by the policy. */
export interface AccountLimits {
  /** Failures a name may accumulate in one window before the backoff applies (`login_failures_per_window`). */
  readonly failuresPerWindow: number;
  /** Length of a failure-counting window, from its first failure (`login_failure_window_s` x 1000). */
  readonly windowMs: number;
  /** The first backoff, after `failuresPerWindow` failures (`login_backoff_base_ms`). */
  readonly backoffBaseMs: number;
  /** The backoff never exceeds this (`login_backoff_max_ms`). */
  readonly backoffMaxMs: number;
}

/** The per-address token buckets (token-bucket.ts, LOGIN-RATE-8..11). */
export interface AddressLimits {
  /** Tokens a full bucket holds: the burst one address key may send (policy `address_bucket_capacity`). */
  readonly capacity: number;
  /** Tokens added per minute, an integer (policy `address_refill_per_minute`). */
  readonly refillPerMinute: number;
  /** Local: the most buckets kept at once; beyond it the table evicts (full buckets first, then LRU). */
  readonly maxKeys: number;
  /** Local: IPv4 sources are aggregated into prefixes of this length (32: one bucket per address). */
  readonly ipv4PrefixBits: number;
  /** Local: IPv6 sources are aggregated into prefixes of this length (64: one bucket per /64). */
  readonly ipv6PrefixBits: number;
}

/** Admission control for expensive work (admission.ts, LOGIN-RATE-12..16). Local configuration. */
export interface AdmissionLimits {
  /** Expensive operations running at once. */
  readonly maxInFlight: number;
  /** Operations waiting for a slot, first in first out; 0 for no queue. */
  readonly maxQueued: number;
  /** A queued operation that has waited this long is dropped and answered BUSY. */
  readonly maxQueueWaitMs: number;
  /** Bounds of the retry_after_ms hint sent with BUSY. */
  readonly retryMinMs: number;
  readonly retryMaxMs: number;
  /** retry_jitter_ms = ceil(retry_after_ms x jitterRatio); 1 spreads a storm over [R, 2R]. */
  readonly jitterRatio: number;
  /** Completions per second assumed until the server has measured its own rate. */
  readonly initialServiceRate: number;
  /** Time constant of the service-rate EWMA, in time spent saturated. */
  readonly serviceRateTimeConstantMs: number;
}

export interface LimitsConfig {
  readonly account: AccountLimits;
  readonly address: AddressLimits;
  readonly admission: AdmissionLimits;
}

/** The defaults of spec/06-login-server.md §7.6 (and DESIGN §14: 5 failures per 15 min, then backoff). */
export const DEFAULT_LIMITS: LimitsConfig = Object.freeze({
  account: Object.freeze({
    failuresPerWindow: 5,
    windowMs: 15 * 60_000,
    backoffBaseMs: 1_000,
    backoffMaxMs: 15 * 60_000,
  }),
  address: Object.freeze({
    capacity: 20,
    refillPerMinute: 30,
    maxKeys: 100_000,
    ipv4PrefixBits: 32,
    ipv6PrefixBits: 64,
  }),
  admission: Object.freeze({
    maxInFlight: 32,
    maxQueued: 1_000,
    maxQueueWaitMs: 10_000,
    retryMinMs: 1_000,
    retryMaxMs: 60_000,
    jitterRatio: 1,
    initialServiceRate: 100,
    serviceRateTimeConstantMs: 10_000,
  }),
});

/** One rejected value: `path` names the field (`account.windowMs`), `message` says what is wrong. */
export interface LimitsProblem {
  readonly path: string;
  readonly message: string;
}

/** A limits configuration that failed validation; `problems` lists every rejected field. */
export class LimitsConfigError extends ApiMisuse {
  override readonly name: string = 'LimitsConfigError';
  readonly problems: readonly LimitsProblem[];
  constructor(problems: readonly LimitsProblem[]) {
    super(`invalid limits: ${problems.map((p) => `${p.path} ${p.message}`).join('; ')}`);
    this.problems = problems;
  }
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

type Rule = { readonly min: number; readonly max: number; readonly integer: boolean; readonly why?: string };

/** The accepted range of every field. The upper bounds are what no sane deployment needs. */
export const LIMITS_BOUNDS = {
  account: {
    failuresPerWindow: { min: 1, max: 1_000, integer: true },
    windowMs: { min: 1_000, max: 7 * DAY, integer: true },
    backoffBaseMs: { min: 1, max: HOUR, integer: true },
    backoffMaxMs: { min: 1, max: DAY, integer: true, why: 'a longer lockout is a denial of service' },
  },
  address: {
    capacity: { min: 1, max: 1_000_000, integer: true },
    refillPerMinute: { min: 1, max: 6_000_000, integer: true },
    maxKeys: { min: 1, max: 10_000_000, integer: true },
    ipv4PrefixBits: { min: 8, max: 32, integer: true },
    ipv6PrefixBits: { min: 32, max: 128, integer: true },
  },
  admission: {
    maxInFlight: { min: 1, max: 100_000, integer: true },
    maxQueued: { min: 0, max: 10_000_000, integer: true },
    maxQueueWaitMs: {
      min: 1,
      max: 30_000,
      integer: true,
      why: 'a client gives up after request-timeout (30 s); a longer wait serves nobody',
    },
    retryMinMs: { min: 1, max: HOUR, integer: true },
    retryMaxMs: { min: 1, max: HOUR, integer: true },
    jitterRatio: { min: 0, max: 4, integer: false },
    initialServiceRate: { min: 0.001, max: 1_000_000, integer: false },
    serviceRateTimeConstantMs: { min: 100, max: HOUR, integer: true },
  },
} as const satisfies { readonly [S in keyof LimitsConfig]: { readonly [F in keyof LimitsConfig[S]]: Rule } };

function checkSection<S extends keyof LimitsConfig>(
  section: S,
  values: LimitsConfig[S] | undefined,
  problems: LimitsProblem[],
): void {
  const rules = LIMITS_BOUNDS[section] as Readonly<Record<string, Rule>>;
  if (values === null || typeof values !== 'object') {
    problems.push({ path: section, message: 'is missing' });
    return;
  }
  const record = values as unknown as Readonly<Record<string, unknown>>;
  for (const [field, rule] of Object.entries(rules)) {
    const path = `${section}.${field}`;
    const v = record[field];
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      problems.push({ path, message: `must be a finite number, got ${String(v)}` });
    } else if (rule.integer && !Number.isInteger(v)) {
      problems.push({ path, message: `must be an integer, got ${v}` });
    } else if (v < rule.min || v > rule.max) {
      const why = rule.why ? ` (${rule.why})` : '';
      problems.push({ path, message: `must be in ${rule.min}..${rule.max}, got ${v}${why}` });
    }
  }
}

/** The rules that tie two fields of one section together. */
function crossCheck<S extends keyof LimitsConfig>(
  section: S,
  values: LimitsConfig[S],
  problems: LimitsProblem[],
): void {
  if (section === 'account') {
    const account = values as AccountLimits;
    if (account.backoffBaseMs > account.backoffMaxMs) {
      problems.push({ path: 'account.backoffBaseMs', message: 'must not exceed account.backoffMaxMs' });
    }
  } else if (section === 'admission') {
    const admission = values as AdmissionLimits;
    if (admission.retryMinMs > admission.retryMaxMs) {
      problems.push({ path: 'admission.retryMinMs', message: 'must not exceed admission.retryMaxMs' });
    }
  }
}

function sectionProblems<S extends keyof LimitsConfig>(section: S, values: LimitsConfig[S]): LimitsProblem[] {
  const problems: LimitsProblem[] = [];
  checkSection(section, values, problems);
  if (problems.length === 0) crossCheck(section, values, problems);
  return problems;
}

/** Every problem of `config`; empty when it is valid. */
export function limitsProblems(config: LimitsConfig): LimitsProblem[] {
  if (config === null || typeof config !== 'object') return [{ path: '', message: 'is not an object' }];
  return [
    ...sectionProblems('account', config.account),
    ...sectionProblems('address', config.address),
    ...sectionProblems('admission', config.admission),
  ];
}

/** [LOGIN-RATE-21] Returns `config` when it is valid; else throws LimitsConfigError naming every bad field. */
export function validateLimits(config: LimitsConfig): LimitsConfig {
  const problems = limitsProblems(config);
  if (problems.length > 0) throw new LimitsConfigError(problems);
  return config;
}

/** Validates one section alone (each limiter's constructor checks its own section with this). */
export function validateSection<S extends keyof LimitsConfig>(section: S, values: LimitsConfig[S]): LimitsConfig[S] {
  const problems = sectionProblems(section, values);
  if (problems.length > 0) throw new LimitsConfigError(problems);
  return values;
}

/** The fields that only the server's local configuration sets [LOGIN-RATE-20]. */
export interface LocalLimits {
  readonly address: Pick<AddressLimits, 'maxKeys' | 'ipv4PrefixBits' | 'ipv6PrefixBits'>;
  readonly admission: AdmissionLimits;
}

/**
 * The rate-limit fields of a `NetworkPolicy` (`RateLimitPolicy` in spec/proto/parley/v1/login.proto), as
 * a decoder yields them: absent, null or 0 means the parameter's default [LOGIN-RATE-20].
 */
export interface RateLimitPolicyFields {
  readonly loginFailuresPerWindow?: number | null;
  readonly loginFailureWindowS?: number | null;
  readonly loginBackoffBaseMs?: number | null;
  readonly loginBackoffMaxMs?: number | null;
  readonly addressBucketCapacity?: number | null;
  readonly addressRefillPerMinute?: number | null;
}

/**
 * The limits in force under a policy [LOGIN-RATE-20]: the policy's value for each policy field it sets,
 * the default (DEFAULT_LIMITS) for each it leaves at 0, and `local` for the fields only the server's
 * configuration sets. Throws LimitsConfigError when the result is out of bounds, so a policy can neither
 * switch a limit off nor set an absurd one.
 */
export function limitsFromPolicy(
  policy: RateLimitPolicyFields | null | undefined,
  local: LocalLimits = DEFAULT_LIMITS,
): LimitsConfig {
  const pick = (v: number | null | undefined, fallback: number, scale = 1): number =>
    v === undefined || v === null || v === 0 ? fallback : v * scale;
  const p = policy ?? {};
  const d = DEFAULT_LIMITS;
  return validateLimits({
    account: {
      failuresPerWindow: pick(p.loginFailuresPerWindow, d.account.failuresPerWindow),
      windowMs: pick(p.loginFailureWindowS, d.account.windowMs, 1000),
      backoffBaseMs: pick(p.loginBackoffBaseMs, d.account.backoffBaseMs),
      backoffMaxMs: pick(p.loginBackoffMaxMs, d.account.backoffMaxMs),
    },
    address: {
      capacity: pick(p.addressBucketCapacity, d.address.capacity),
      refillPerMinute: pick(p.addressRefillPerMinute, d.address.refillPerMinute),
      maxKeys: local.address.maxKeys,
      ipv4PrefixBits: local.address.ipv4PrefixBits,
      ipv6PrefixBits: local.address.ipv6PrefixBits,
    },
    admission: local.admission,
  });
}
