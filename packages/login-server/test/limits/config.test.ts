/**
 * The limits configuration (spec/06-login-server.md §6.5-6.6, LOGIN-RATE-20, LOGIN-RATE-21): defaults,
 * the validator, and the mapping from a NetworkPolicy's RateLimitPolicy; the defaults must match the
 * spec's parameter table.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ErrorCode, isParleyError } from '@parley/wire';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LimitsConfig } from '../../src/limits/index.js';
import {
  DEFAULT_LIMITS,
  LIMITS_BOUNDS,
  LimitsConfigError,
  limitsFromPolicy,
  limitsProblems,
  validateLimits,
} from '../../src/limits/index.js';

function problemPaths(config: LimitsConfig): string[] {
  try {
    validateLimits(config);
    return [];
  } catch (e) {
    expect(e).toBeInstanceOf(LimitsConfigError);
    expect(isParleyError(e, ErrorCode.API_MISUSE)).toBe(true);
    return (e as LimitsConfigError).problems.map((p) => p.path);
  }
}

const with_ = <S extends keyof LimitsConfig>(section: S, patch: Partial<LimitsConfig[S]>): LimitsConfig => ({
  ...DEFAULT_LIMITS,
  [section]: { ...DEFAULT_LIMITS[section], ...patch },
});

describe('limits configuration', () => {
  it('[LOGIN-RATE-21] the defaults are valid and frozen', () => {
    expect(limitsProblems(DEFAULT_LIMITS)).toEqual([]);
    expect(Object.isFrozen(DEFAULT_LIMITS.account)).toBe(true);
    expect(Object.isFrozen(DEFAULT_LIMITS.admission)).toBe(true);
  });

  it('[LOGIN-RATE-21] rejects zero capacity, negative, fractional, non-finite and absurd values, naming each field', () => {
    expect(problemPaths(with_('address', { capacity: 0 }))).toEqual(['address.capacity']);
    expect(problemPaths(with_('address', { refillPerMinute: 0.5 }))).toEqual(['address.refillPerMinute']);
    expect(problemPaths(with_('account', { failuresPerWindow: -1 }))).toEqual(['account.failuresPerWindow']);
    expect(problemPaths(with_('account', { windowMs: Number.NaN }))).toEqual(['account.windowMs']);
    expect(problemPaths(with_('account', { backoffMaxMs: 30 * 86_400_000 }))).toEqual(['account.backoffMaxMs']);
    expect(problemPaths(with_('admission', { maxInFlight: 1.5 }))).toEqual(['admission.maxInFlight']);
    expect(problemPaths(with_('admission', { maxQueueWaitMs: 600_000 }))).toEqual(['admission.maxQueueWaitMs']);
    expect(problemPaths(with_('admission', { jitterRatio: Number.POSITIVE_INFINITY }))).toEqual([
      'admission.jitterRatio',
    ]);
    expect(problemPaths(with_('address', { ipv6PrefixBits: 129 }))).toEqual(['address.ipv6PrefixBits']);
    // Every problem at once, across sections.
    expect(
      problemPaths({
        account: { ...DEFAULT_LIMITS.account, windowMs: 0 },
        address: { ...DEFAULT_LIMITS.address, maxKeys: 0 },
        admission: { ...DEFAULT_LIMITS.admission, maxQueued: -5 },
      }),
    ).toEqual(['account.windowMs', 'address.maxKeys', 'admission.maxQueued']);
    expect(problemPaths({ account: undefined } as unknown as LimitsConfig)).toEqual([
      'account',
      'address',
      'admission',
    ]);
  });

  it('[LOGIN-RATE-21] rejects a base above the maximum backoff, and a minimum retry above the maximum', () => {
    expect(problemPaths(with_('account', { backoffBaseMs: 10_000, backoffMaxMs: 5_000 }))).toEqual([
      'account.backoffBaseMs',
    ]);
    expect(problemPaths(with_('admission', { retryMinMs: 10_000, retryMaxMs: 5_000 }))).toEqual([
      'admission.retryMinMs',
    ]);
  });

  it('[LOGIN-RATE-21] property: a value inside its bounds passes, one outside fails, for every field', () => {
    const fields = Object.entries(LIMITS_BOUNDS).flatMap(([section, rules]) =>
      Object.entries(rules).map(([field, rule]) => ({ section: section as keyof LimitsConfig, field, rule })),
    );
    fc.assert(
      fc.property(
        fc.constantFrom(...fields),
        fc.double({ min: 0, max: 1, noNaN: true }),
        ({ section, field, rule }, u) => {
          const inside = rule.integer
            ? Math.round(rule.min + u * (rule.max - rule.min))
            : rule.min + u * (rule.max - rule.min);
          const base = with_(section, {});
          // Keep the cross-field rules satisfied while one field moves.
          const patch: Record<string, number> = { [field]: inside };
          if (field === 'backoffBaseMs') patch.backoffMaxMs = Math.max(inside, DEFAULT_LIMITS.account.backoffMaxMs);
          if (field === 'backoffMaxMs') patch.backoffBaseMs = Math.min(inside, DEFAULT_LIMITS.account.backoffBaseMs);
          if (field === 'retryMinMs') patch.retryMaxMs = Math.max(inside, DEFAULT_LIMITS.admission.retryMaxMs);
          if (field === 'retryMaxMs') patch.retryMinMs = Math.min(inside, DEFAULT_LIMITS.admission.retryMinMs);
          expect(limitsProblems({ ...base, [section]: { ...base[section], ...patch } })).toEqual([]);
          for (const outside of [rule.min - 1, rule.max + 1, Number.NaN]) {
            const paths = problemPaths({ ...base, [section]: { ...base[section], ...patch, [field]: outside } });
            expect(paths).toContain(`${section}.${field}`);
          }
        },
      ),
    );
  });

  it('[LOGIN-RATE-20] a policy sets the account rule and the bucket rate; 0 or absent means the default; the rest is local', () => {
    expect(limitsFromPolicy(undefined)).toEqual(DEFAULT_LIMITS);
    expect(limitsFromPolicy({ loginFailuresPerWindow: 0, addressBucketCapacity: null })).toEqual(DEFAULT_LIMITS);
    const local = {
      address: { maxKeys: 5_000, ipv4PrefixBits: 32, ipv6PrefixBits: 56 },
      admission: { ...DEFAULT_LIMITS.admission, maxInFlight: 4 },
    };
    const l = limitsFromPolicy(
      {
        loginFailuresPerWindow: 3,
        loginFailureWindowS: 3_600,
        loginBackoffBaseMs: 500,
        loginBackoffMaxMs: 600_000,
        addressBucketCapacity: 10,
        addressRefillPerMinute: 12,
      },
      local,
    );
    expect(l).toEqual({
      account: { failuresPerWindow: 3, windowMs: 3_600_000, backoffBaseMs: 500, backoffMaxMs: 600_000 },
      address: { capacity: 10, refillPerMinute: 12, maxKeys: 5_000, ipv4PrefixBits: 32, ipv6PrefixBits: 56 },
      admission: local.admission,
    });
  });

  it('[LOGIN-RATE-21] a policy cannot switch a limit off or set an absurd one', () => {
    expect(() => limitsFromPolicy({ loginBackoffMaxMs: 4_000_000_000 })).toThrow(LimitsConfigError);
    expect(() => limitsFromPolicy({ loginFailureWindowS: 30 * 86_400 })).toThrow(LimitsConfigError);
    expect(() => limitsFromPolicy({ loginBackoffBaseMs: 3_000_000 })).toThrow(LimitsConfigError); // > max 15 min
  });

  it('[LOGIN-RATE-20] the defaults are those of the spec parameter table', () => {
    const root = fileURLToPath(new URL('../../../../', import.meta.url));
    const path = `${root}spec/06-login-server.md`;
    const text = readFileSync(path, 'utf8');
    const row = (name: string): string => {
      const line = text.split('\n').find((l) => l.startsWith(`| \`${name}\``));
      expect(line, `${name} in ${path}`).toBeDefined();
      return line!.split('|')[2]!.trim();
    };
    const a = DEFAULT_LIMITS.account;
    const b = DEFAULT_LIMITS.address;
    const q = DEFAULT_LIMITS.admission;
    expect(row('login-failures-per-window')).toBe(`${a.failuresPerWindow}`);
    expect(row('login-failure-window')).toBe(`${a.windowMs / 60_000} min`);
    expect(row('login-backoff-base')).toBe(`${a.backoffBaseMs / 1000} s`);
    expect(row('login-backoff-max')).toBe(`${a.backoffMaxMs / 60_000} min`);
    expect(row('address-bucket-capacity')).toBe(`${b.capacity} tokens`);
    expect(row('address-refill')).toBe(`${b.refillPerMinute} tokens per minute`);
    expect(row('address-table-max')).toBe(`${b.maxKeys.toLocaleString('en-US')} buckets`);
    expect(row('address-prefix')).toBe(`/${b.ipv4PrefixBits} (IPv4), /${b.ipv6PrefixBits} (IPv6)`);
    expect(row('login-max-in-flight')).toBe(`${q.maxInFlight}`);
    expect(row('login-max-queued')).toBe(`${q.maxQueued.toLocaleString('en-US')}`);
    expect(row('login-max-queue-wait')).toBe(`${q.maxQueueWaitMs / 1000} s`);
    expect(row('busy-retry-bounds')).toBe(`${q.retryMinMs / 1000} s to ${q.retryMaxMs / 1000} s`);
    expect(row('busy-jitter-ratio')).toBe(`${q.jitterRatio}`);
    expect(row('service-rate-prior')).toBe(`${q.initialServiceRate} per second`);
    expect(row('service-rate-time-constant')).toBe(`${q.serviceRateTimeConstantMs / 1000} s`);
  });
});
