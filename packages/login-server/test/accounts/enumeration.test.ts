/**
 * No user enumeration by timing (spec/06-login-server.md §5.4, LOGIN-OPAQUE-19): the server's OPAQUE
 * steps take the same time for a name with an account and a name without.
 *
 * Robust on a loaded machine by construction. The two cases are measured in interleaved pairs whose
 * order alternates (ABBA...), so the two calls of a pair run microseconds apart under the same load. The
 * statistic is paired: the median over all pairs of the ratio existing/unknown (the median of the log
 * ratios, exponentiated). Load that comes and goes scales both calls of a pair alike and cancels in
 * the ratio; a pair disturbed on one side only (a GC pause, a descheduling) is an outlier the median
 * ignores, up to half of them. The bound is generous: the ratio within 25% of 1, against a real
 * difference measured at about 1% (the fake record skips decoding one stored element). The plain
 * medians of the two series are printed too but not asserted: on a machine with a load average of 5
 * on 2 cores they were once 30% apart while the paired ratio stayed within 0.3%. What is computed is
 * deterministic: fixed sample counts, a fixed order, the same inputs. A leak worth the name (a store
 * lookup or a key stretching on one path only) shifts every pair, by 100% or more, and fails at once.
 *
 * The rates printed by the last test are informative only.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  clientStartLogin,
  clientStartRegistration,
  createServerSetup,
  finishLogin,
  KE3_BYTES,
  opaqueReady,
  registrationResponse,
  startLogin,
} from '../../src/accounts/index.js';
import { type Registered, register } from './helpers.js';

const PASSWORD = 'correct horse battery staple';
const PAIRS = 200;
const WARMUP = 40;
const BOUND = 0.25;

let setup: string;
let alice: Registered;
let ke1s: Uint8Array[];

beforeAll(async () => {
  await opaqueReady();
  setup = createServerSetup();
  alice = register(setup, 'alice', PASSWORD);
  ke1s = Array.from({ length: 16 }, () => clientStartLogin(PASSWORD).ke1);
});

function nowNs(): bigint {
  return process.hrtime.bigint();
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

/**
 * Times `a(i)` and `b(i)` in PAIRS interleaved pairs, alternating which goes first, after WARMUP
 * untimed pairs; returns the microseconds of each.
 */
function interleaved(a: (i: number) => void, b: (i: number) => void): { a: number[]; b: number[] } {
  for (let i = 0; i < WARMUP; i++) {
    a(i);
    b(i);
  }
  const ta: number[] = [];
  const tb: number[] = [];
  const time = (f: (i: number) => void, i: number, into: number[]) => {
    const t0 = nowNs();
    f(i);
    into.push(Number(nowNs() - t0) / 1_000);
  };
  for (let i = 0; i < PAIRS; i++) {
    if (i % 2 === 0) {
      time(a, i, ta);
      time(b, i, tb);
    } else {
      time(b, i, tb);
      time(a, i, ta);
    }
  }
  return { a: ta, b: tb };
}

/** Prints the figures; returns the paired ratio's distance from 1 (0.1 = 10%). */
function report(what: string, t: { a: number[]; b: number[] }): number {
  const ratio = Math.exp(median(t.a.map((a, i) => Math.log(a / t.b[i]!))));
  const distance = Math.abs(ratio - 1);
  const fmt = (x: number) => x.toFixed(1);
  const series = (xs: number[]) =>
    `median ${fmt(median(xs))} us (p10 ${fmt(quantile(xs, 0.1))}, p90 ${fmt(quantile(xs, 0.9))})`;
  console.log(
    `${what}, ${PAIRS} pairs: existing ${series(t.a)}; unknown ${series(t.b)}; ` +
      `paired median ratio ${ratio.toFixed(3)} (|ratio - 1| = ${(distance * 100).toFixed(1)}%, bound ${BOUND * 100}%)`,
  );
  return distance;
}

describe('timing', () => {
  it('[LOGIN-OPAQUE-19] startLogin takes the same time for an existing and an unknown user', () => {
    const t = interleaved(
      (i) => startLogin(setup, 'alice', alice.record, ke1s[i % ke1s.length]!),
      (i) => startLogin(setup, 'alicf', undefined, ke1s[i % ke1s.length]!),
    );
    expect(report('startLogin', t)).toBeLessThan(BOUND);
  });

  it('[LOGIN-OPAQUE-19] [LOGIN-OPAQUE-21] finishLogin fails in the same time for an existing and an unknown user', () => {
    const real = ke1s.map((ke1) => startLogin(setup, 'alice', alice.record, ke1).state);
    const fake = ke1s.map((ke1) => startLogin(setup, 'alicf', undefined, ke1).state);
    const ke3 = new Uint8Array(KE3_BYTES).fill(7);
    // One call is a few microseconds: time batches of 20 so that the clock's resolution does not matter.
    const batch = (states: Uint8Array[]) => (i: number) => {
      for (let k = 0; k < 20; k++) finishLogin(states[(i + k) % states.length]!, ke3);
    };
    const t = interleaved(batch(real), batch(fake));
    expect(report('finishLogin x20 (wrong KE3)', t)).toBeLessThan(BOUND);
  });

  it('[LOGIN-OPAQUE-19] the statistic sees a leak: one extra startLogin on one path is far outside the bound', () => {
    // The power of the two tests above: a path doing twice the work gives a ratio near 2.
    const t = interleaved(
      (i) => startLogin(setup, 'alice', alice.record, ke1s[i % ke1s.length]!),
      (i) => {
        startLogin(setup, 'alicf', undefined, ke1s[i % ke1s.length]!);
        startLogin(setup, 'alicf', undefined, ke1s[(i + 1) % ke1s.length]!);
      },
    );
    expect(report('calibration: startLogin against 2 x startLogin', t)).toBeGreaterThan(BOUND);
  });

  it('figures: server operations per second on one core (informative)', () => {
    const rate = (what: string, n: number, f: (i: number) => void) => {
      const t0 = nowNs();
      for (let i = 0; i < n; i++) f(i);
      const s = Number(nowNs() - t0) / 1e9;
      console.log(`${what}: ${(n / s).toFixed(0)} per second (${n} in ${s.toFixed(2)} s)`);
      return n / s;
    };
    const request = clientStartRegistration(PASSWORD).request;
    const ke3 = new Uint8Array(KE3_BYTES);
    expect(rate('registrationResponse', 200, () => registrationResponse(setup, 'alice', request))).toBeGreaterThan(0);
    expect(
      rate('startLogin + finishLogin', 200, (i) => {
        const { state } = startLogin(setup, 'alice', alice.record, ke1s[i % ke1s.length]!);
        finishLogin(state, ke3);
      }),
    ).toBeGreaterThan(0);
  });
});
