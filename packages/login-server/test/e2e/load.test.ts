/**
 * Load shedding end to end (spec/06-login-server.md §6.3-6.4): a login server with one slot for expensive
 * work and no queue (login-max-in-flight 1, login-max-queued 0) and a store 20 ms away, and a crowd of
 * clients renewing their certificates at the same instant. The server refuses what it cannot start with
 * BUSY and a hint; each client waits the hint plus its jitter on its own clock, tries again, and every
 * one gets its certificate. Everything runs in simulated time, so the waits are measured exactly.
 */
import { ErrorCode, generateSigningKey, type LocalIdentity, seededRandom } from '@parley/wire';
import { describe, expect, it } from 'vitest';
import type { Device, RetryEvent } from '../../src/client/index.js';
import { DEFAULT_LIMITS } from '../../src/limits/config.js';
import { type CoreCall, certifiedUser, spyCore, suite, world } from './fixtures.js';

const CLIENTS = 24;
const HOSTS = 6;
const MAX_ATTEMPTS = 10;
/** One-way delay between two simulated hosts (10 ms per access link). */
const ONE_WAY_MS = 20;

const busyOf = (c: CoreCall) =>
  typeof c.outcome === 'object' && c.outcome.code === ErrorCode.BUSY ? c.outcome : undefined;

describe('load shedding end to end [LOGIN-RATE]', () => {
  it('[LOGIN-RATE-12] [LOGIN-RATE-13] [LOGIN-RATE-15] [LOGIN-RATE-18] [WIRE-ERRREPLY-3] a crowd renewing at once: BUSY with a hint, retries no earlier than the hint, everyone served', async () => {
    const admission = { ...DEFAULT_LIMITS.admission, maxInFlight: 1, maxQueued: 0 };
    const w = await world({
      seed: 'load shedding',
      storeDelayMs: 20,
      localLimits: { address: DEFAULT_LIMITS.address, admission },
    });
    const clock = w.serverTransport.clock;
    // Accounts and certificates straight into the store: this test is about admission, not OPAQUE.
    const random = seededRandom('load shedding devices');
    const users: { name: string; identity: LocalIdentity; device: Device }[] = [];
    for (let i = 0; i < CLIENTS; i++) {
      const name = `user${i}`;
      const device = { seed: generateSigningKey(suite, random).seed, deviceId: new Uint8Array(16).fill(i + 1) };
      users.push({ name, identity: await certifiedUser(w, name, device.seed, device.deviceId), device });
    }
    const hosts = Array.from({ length: HOSTS }, () => w.host());
    const retries: RetryEvent[] = [];
    const clients = await w.run(
      Promise.all(
        users.map((u, i) =>
          w.client({
            transport: hosts[i % HOSTS]!,
            identity: u.identity,
            retry: { maxAttempts: MAX_ATTEMPTS },
            onRetry: (e) => retries.push(e),
          }),
        ),
      ),
    );

    const calls = spyCore(w.core, clock);
    const start = clock.now();
    const results = await w.run(
      Promise.all(clients.map((c, i) => c.renew(users[i]!.device).then((r) => ({ r, at: clock.now() })))),
    );

    // Everyone got a new certificate for their own name and device.
    results.forEach(({ r }, i) => {
      expect(r.username).toBe(users[i]!.name);
      expect(r.leaf.deviceId).toEqual(users[i]!.device.deviceId);
    });
    // [LOGIN-RATE-13] some were refused with BUSY and a hint [LOGIN-RATE-15] within the configured bounds
    const renewals = calls.filter((c) => c.packet.body.case === 'renewCertificate');
    const busy = renewals.filter((c) => busyOf(c) !== undefined);
    expect(busy.length).toBeGreaterThan(0);
    for (const b of busy) {
      const hint = busyOf(b)!;
      expect(hint.retryAfterMs).toBeGreaterThanOrEqual(admission.retryMinMs);
      expect(hint.retryAfterMs).toBeLessThanOrEqual(admission.retryMaxMs);
      expect(hint.retryJitterMs).toBe(Math.ceil(hint.retryAfterMs! * admission.jitterRatio));
    }
    expect(renewals.length).toBe(CLIENTS + busy.length);

    // [WIRE-ERRREPLY-3] [LOGIN-RATE-18] the next attempt of the same channel arrives no earlier than the
    // refusal plus the hint (and the two network crossings), and no later than hint + jitter allow.
    for (const b of busy) {
      const hint = busyOf(b)!;
      const next = renewals.find((c) => c.session === b.session && c.atMs > b.doneAtMs!);
      expect(next).toBeDefined();
      const gap = next!.atMs - b.doneAtMs!;
      expect(gap).toBeGreaterThanOrEqual(hint.retryAfterMs! + 2 * ONE_WAY_MS);
      expect(gap).toBeLessThanOrEqual(hint.retryAfterMs! + hint.retryJitterMs! + 2 * ONE_WAY_MS + 1);
    }
    // The client reported each refusal, and drew its waits from [hint, hint + jitter].
    expect(retries).toHaveLength(busy.length);
    for (const e of retries) {
      expect(e.error.code).toBe(ErrorCode.BUSY);
      expect(e.willRetry).toBe(true);
      expect(e.delayMs).toBeGreaterThanOrEqual(e.error.retryAfterMs);
      expect(e.delayMs).toBeLessThanOrEqual(e.error.retryAfterMs + e.error.retryJitterMs);
    }
    // Served within a bound: the first wave's hint and jitter, then a few more windows at one slot.
    const elapsed = Math.max(...results.map((x) => x.at)) - start;
    expect(elapsed).toBeLessThanOrEqual(20_000);
    const attempts = new Map<unknown, number>();
    for (const c of renewals) attempts.set(c.session, (attempts.get(c.session) ?? 0) + 1);
    expect(Math.max(...attempts.values())).toBeLessThanOrEqual(MAX_ATTEMPTS);
    expect(w.log.filter((e) => e.event === 'internal-error')).toEqual([]);
    for (const c of clients) c.close();
  });

  it('[LOGIN-RATE-8] [LOGIN-RATE-7] [LOGIN-RATE-18] renewals are charged to the source address: RATE_LIMITED with retry_jitter_ms 0, and the client waits exactly the hint', async () => {
    const w = await world({ seed: 'address bucket' });
    const clock = w.serverTransport.clock;
    const device = {
      seed: generateSigningKey(suite, seededRandom('bucket')).seed,
      deviceId: new Uint8Array(16).fill(9),
    };
    const identity = await certifiedUser(w, 'busy-bee', device.seed, device.deviceId);
    const retries: RetryEvent[] = [];
    const c = await w.connect({ identity, onRetry: (e) => retries.push(e) });
    const calls = spyCore(w.core, clock);
    const capacity = DEFAULT_LIMITS.address.capacity;
    // a full bucket's worth at once, then one more: refused with the time until the bucket holds a token
    const renewed = await w.run(Promise.all(Array.from({ length: capacity + 1 }, () => c.renew(device))));
    expect(new Set(renewed.map((r) => r.leaf.serial)).size).toBe(capacity + 1);
    const limited = calls.filter((x) => typeof x.outcome === 'object');
    expect(limited).toHaveLength(1);
    expect(limited[0]!.outcome).toEqual({ code: ErrorCode.RATE_LIMITED, retryAfterMs: 2_000, retryJitterMs: 0 });
    expect(retries.map((e) => [e.error.code, e.delayMs])).toEqual([[ErrorCode.RATE_LIMITED, 2_000]]);
    const again = calls.find((x) => x.session === limited[0]!.session && x.atMs > limited[0]!.doneAtMs!)!;
    expect(again.atMs - limited[0]!.doneAtMs!).toBe(2_000 + 2 * ONE_WAY_MS);
    c.close();
  });
});
