/**
 * The Store contract suite (src/store/store.ts; spec/06-login-server.md §9, LOGIN-STORE-*): every
 * method's documented contract as tests, run unchanged against every implementation (sqlite.test.ts,
 * postgres.test.ts). Each title cites the requirement ids it checks.
 *
 * `storeContract` gets a factory that opens a fresh, migrated store on an empty database for each test
 * (property tests open one store per property and give every run its own user names). Concurrency
 * tests start calls together with Promise.all: against PostgreSQL they really overlap (a pool of
 * several connections); against SQLite they serialise, and must give the same answers.
 *
 * `migrationContract` gets a target that opens stores with injected migration lists on one database, to
 * check versioning, atomic migrations and the refusal of newer schemas.
 *
 * Property tests use fast-check with the global seed of scripts/vitest-setup.ts and small numRuns, so
 * both stores together stay well under 20 s.
 */
import { ApiMisuse } from '@parley/wire';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Migration } from '../../src/store/migrations.js';
import {
  type DevicePrekeys,
  type IssuedCertificate,
  type OneTimePrekey,
  type Store,
  StoreError,
  type SupernodeRecord,
} from '../../src/store/store.js';

export interface StoreHandle {
  readonly store: Store;
  cleanup(): Promise<void>;
}
export type StoreFactory = () => Promise<StoreHandle>;

/** One empty database on which a test opens stores with the migration lists it chooses. */
export interface MigrationDatabase {
  /** A store (not yet migrated) on this database; throws as the constructor does for a bad list. */
  open(migrations: readonly Migration[]): Store;
  /** Closes every store opened here and discards the database. */
  cleanup(): Promise<void>;
}
export interface MigrationTarget {
  /** The implementation's real migration list. */
  readonly migrations: readonly Migration[];
  fresh(): Promise<MigrationDatabase>;
}

// Helpers ------------------------------------------------------------------------------------------------

const WINDOW = 60_000;

/** Deterministic bytes: `len` bytes derived from `seed` (no randomness outside fast-check's seed). */
function bytes(seed: number, len = 32): Uint8Array {
  const out = new Uint8Array(len);
  let x = (seed * 2_654_435_761 + 0x9e37_79b9) >>> 0;
  for (let i = 0; i < len; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** A 16-byte device id whose first byte is `first` (the rest fixed), so ordering is by `first`. */
function deviceId(first: number, rest = 0x11): Uint8Array {
  const d = new Uint8Array(16).fill(rest);
  d[0] = first;
  return d;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Bytewise order (memcmp, then length): the order the contract gives key ids and device ids. */
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!;
  }
  return a.length - b.length;
}

/** A fresh plain Uint8Array equal to `expected` (not a Buffer, which compares differently in places). */
function expectBytes(actual: Uint8Array | undefined, expected: Uint8Array): void {
  expect(actual).toBeDefined();
  expect(Object.getPrototypeOf(actual)).toBe(Uint8Array.prototype);
  expect(hex(actual!)).toBe(hex(expected));
}

async function withStore<T>(factory: StoreFactory, fn: (store: Store) => Promise<T>): Promise<T> {
  const { store, cleanup } = await factory();
  try {
    return await fn(store);
  } finally {
    await cleanup();
  }
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected the call to reject');
}

async function expectMisuse(p: Promise<unknown>): Promise<void> {
  expect(await rejection(p)).toBeInstanceOf(ApiMisuse);
}

async function expectStoreError(p: Promise<unknown>, reason: StoreError['reason']): Promise<StoreError> {
  const e = await rejection(p);
  expect(e).toBeInstanceOf(StoreError);
  expect((e as StoreError).reason).toBe(reason);
  return e as StoreError;
}

function certInfo(subject: string, notAfterMs = 10_000): Omit<IssuedCertificate, 'serial' | 'certificate'> {
  return {
    role: 'user',
    subject,
    subjectKey: bytes(subject.length + 7),
    deviceId: deviceId(0x42),
    notBeforeMs: 1_000,
    notAfterMs,
    issuedAtMs: 1_000,
  };
}

/** A sign callback whose certificate encodes the serial, so a test can see it was given the right one. */
const signSerial = (serial: number): Uint8Array => {
  const c = bytes(serial, 64);
  new DataView(c.buffer).setUint32(0, serial);
  return c;
};

function supernode(keyFirst: number, heartbeatMs: number, notAfterMs: number, load = 3): SupernodeRecord {
  const keyId = bytes(keyFirst + 1000);
  keyId[0] = keyFirst;
  return {
    keyId,
    certificate: bytes(keyFirst + 2000, 80),
    serial: keyFirst + 1,
    notAfterMs,
    entry: bytes(keyFirst + 3000, 40),
    software: `parley/${keyFirst}`,
    registeredAtMs: 500,
    lastHeartbeatAtMs: heartbeatMs,
    load,
    capacity: 100,
  };
}

function expectSupernodes(actual: readonly SupernodeRecord[], expected: readonly SupernodeRecord[]): void {
  expect(actual.map((s) => hex(s.keyId))).toEqual(expected.map((s) => hex(s.keyId)));
  actual.forEach((s, i) => {
    const e = expected[i]!;
    expectBytes(s.certificate, e.certificate);
    expectBytes(s.entry, e.entry);
    expect({ ...s, keyId: 0, certificate: 0, entry: 0 }).toEqual({ ...e, keyId: 0, certificate: 0, entry: 0 });
  });
}

/** One one-time prekey; the public key depends on the device and id only. */
const otk = (device: Uint8Array, id: number): OneTimePrekey => ({ id, publicKey: bytes(device[0]! * 100_000 + id) });

/** A counter per property, so that every fast-check run gets names no earlier run used. */
function runNames(prefix: string): () => string {
  let run = 0;
  return () => `${prefix}-${++run}`;
}

// The store contract ---------------------------------------------------------------------------------------

export function storeContract(name: string, factory: StoreFactory): void {
  const test = (title: string, fn: (store: Store) => Promise<void>, timeoutMs?: number) =>
    it(title, () => withStore(factory, fn), timeoutMs);

  describe(`${name}: lifecycle`, () => {
    test('[LOGIN-STORE-9] a migrated store reports its last migration; migrate() again changes nothing', async (s) => {
      const v = await s.schemaVersion();
      expect(v).toBeGreaterThanOrEqual(1);
      await s.createAccount({ username: 'alice', registrationRecord: bytes(1), atMs: 5 });
      await s.migrate();
      expect(await s.schemaVersion()).toBe(v);
      expect((await s.getAccount('alice'))?.createdAtMs).toBe(5);
    });

    test('[LOGIN-STORE-2] every call after close() rejects with ApiMisuse; close() twice is harmless', async (s) => {
      await s.close();
      await s.close();
      await expectMisuse(s.getAccount('alice'));
      await expectMisuse(s.createAccount({ username: 'alice', registrationRecord: bytes(1), atMs: 1 }));
      await expectMisuse(s.countAccounts());
      await expectMisuse(s.migrate());
      await expectMisuse(s.schemaVersion());
    });

    test('[LOGIN-STORE-2] arguments that are not safe non-negative integers or bytes reject with ApiMisuse and write nothing', async (s) => {
      await expectMisuse(s.createAccount({ username: 'a', registrationRecord: bytes(1), atMs: 1.5 }));
      await expectMisuse(s.createAccount({ username: 'a', registrationRecord: bytes(1), atMs: -1 }));
      await expectMisuse(s.createAccount({ username: 'a', registrationRecord: 'x' as unknown as Uint8Array, atMs: 1 }));
      await expectMisuse(s.recordLoginFailure('a', Number.NaN, WINDOW));
      await expectMisuse(s.recordLoginFailure('a', 2 ** 53, WINDOW));
      await expectMisuse(s.publish('nonsense' as 'policy', { version: 1, pages: [], publishedAtMs: 1 }));
      await expectMisuse(s.putContactBlob('a', 0.5, bytes(1), 1));
      await expectMisuse(s.issueCertificate({ ...certInfo('a'), role: 'root' as 'user' }, signSerial));
      await expectMisuse(s.prune(1, 1, 0));
      await s.putSignedPrekey('a', deviceId(1), bytes(1), bytes(2), 1);
      await expectMisuse(
        s.addOneTimePrekeys('a', deviceId(1), [otk(deviceId(1), 1), { id: -3, publicKey: bytes(1) }], 5),
      );
      expect(await s.countAccounts()).toBe(0);
      expect(await s.getLoginFailures('a')).toBeUndefined();
      expect(await s.getContactBlob('a')).toBeUndefined();
      expect(await s.countOneTimePrekeys('a', deviceId(1))).toBe(0);
      expect(await s.getCertificate(1)).toBeUndefined();
    });
  });

  describe(`${name}: accounts`, () => {
    test('[LOGIN-STORE-2] [LOGIN-STORE-23] createAccount stores the exact record once; a taken name is "exists" and writes nothing', async (s) => {
      expect(await s.createAccount({ username: 'alice', registrationRecord: bytes(1, 192), atMs: 100 })).toBe(
        'created',
      );
      expect(await s.createAccount({ username: 'alice', registrationRecord: bytes(2, 192), atMs: 200 })).toBe('exists');
      const a = await s.getAccount('alice');
      expect(a).toEqual({
        username: 'alice',
        registrationRecord: a?.registrationRecord,
        createdAtMs: 100,
        passwordChangedAtMs: 100,
        disabled: false,
      });
      expectBytes(a?.registrationRecord, bytes(1, 192));
      expect(await s.countAccounts()).toBe(1);
      expect(await s.getAccount('bob')).toBeUndefined();
      expect(await s.getAccount('Alice')).toBeUndefined(); // names arrive normalised; the store compares exactly
    });

    test('[LOGIN-STORE-23] replaceRegistrationRecord replaces the record and its time, keeps createdAtMs; false for an unknown name', async (s) => {
      await s.createAccount({ username: 'alice', registrationRecord: bytes(1), atMs: 100 });
      expect(await s.replaceRegistrationRecord('alice', bytes(9, 200), 300)).toBe(true);
      expect(await s.replaceRegistrationRecord('nobody', bytes(9), 300)).toBe(false);
      const a = await s.getAccount('alice');
      expectBytes(a?.registrationRecord, bytes(9, 200));
      expect([a?.createdAtMs, a?.passwordChangedAtMs]).toEqual([100, 300]);
      expect(await s.getAccount('nobody')).toBeUndefined();
      expect(await s.countAccounts()).toBe(1);
    });

    test('setAccountDisabled sets and clears the flag; false for an unknown name', async (s) => {
      await s.createAccount({ username: 'alice', registrationRecord: bytes(1), atMs: 1 });
      await s.createAccount({ username: 'bob', registrationRecord: bytes(2), atMs: 1 });
      expect(await s.setAccountDisabled('alice', true)).toBe(true);
      expect((await s.getAccount('alice'))?.disabled).toBe(true);
      expect((await s.getAccount('bob'))?.disabled).toBe(false);
      expect(await s.setAccountDisabled('alice', false)).toBe(true);
      expect((await s.getAccount('alice'))?.disabled).toBe(false);
      expect(await s.setAccountDisabled('carol', true)).toBe(false);
      expect(await s.getAccount('carol')).toBeUndefined();
    });

    test('[LOGIN-STORE-5] countAccounts counts each name once, also when one name is created concurrently', async (s) => {
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          s.createAccount({ username: i % 2 === 0 ? 'same' : `user${i}`, registrationRecord: bytes(i), atMs: i }),
        ),
      );
      expect(results.filter((r) => r === 'created')).toHaveLength(5);
      expect(results.filter((r) => r === 'exists')).toHaveLength(3);
      expect(await s.countAccounts()).toBe(5);
    });
  });

  describe(`${name}: failed-login counters`, () => {
    test('[LOGIN-STORE-17] a failure windowMs after the window start counts in it; one ms later a new window starts', async (s) => {
      expect(await s.getLoginFailures('alice')).toBeUndefined();
      expect(await s.recordLoginFailure('alice', 1_000, WINDOW)).toEqual({
        count: 1,
        windowStartMs: 1_000,
        lastFailureAtMs: 1_000,
      });
      expect(await s.recordLoginFailure('alice', 1_000 + WINDOW, WINDOW)).toEqual({
        count: 2,
        windowStartMs: 1_000,
        lastFailureAtMs: 1_000 + WINDOW,
      });
      // An earlier time (another process's clock) counts but does not move lastFailureAtMs back.
      expect(await s.recordLoginFailure('alice', 900, WINDOW)).toEqual({
        count: 3,
        windowStartMs: 1_000,
        lastFailureAtMs: 1_000 + WINDOW,
      });
      const next = { count: 1, windowStartMs: 1_001 + WINDOW, lastFailureAtMs: 1_001 + WINDOW };
      expect(await s.recordLoginFailure('alice', 1_001 + WINDOW, WINDOW)).toEqual(next);
      expect(await s.getLoginFailures('alice')).toEqual(next);
    });

    test("[LOGIN-STORE-17] counters are per name, and clearLoginFailures removes one name's", async (s) => {
      await s.recordLoginFailure('alice', 10, WINDOW);
      await s.recordLoginFailure('alice', 20, WINDOW);
      await s.recordLoginFailure('bob', 30, WINDOW);
      await s.clearLoginFailures('alice');
      await s.clearLoginFailures('nobody');
      expect(await s.getLoginFailures('alice')).toBeUndefined();
      expect(await s.getLoginFailures('bob')).toEqual({ count: 1, windowStartMs: 30, lastFailureAtMs: 30 });
      expect(await s.recordLoginFailure('alice', 40, WINDOW)).toEqual({
        count: 1,
        windowStartMs: 40,
        lastFailureAtMs: 40,
      });
    });

    test('[LOGIN-STORE-5] [LOGIN-STORE-17] concurrent failures for one name are each counted', async (s) => {
      const n = 24;
      const after = await Promise.all(
        Array.from({ length: n }, (_, i) => s.recordLoginFailure('alice', 5_000 + i, WINDOW)),
      );
      expect(after.map((f) => f.count).sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
      expect((await s.getLoginFailures('alice'))?.count).toBe(n);
    });

    it('[LOGIN-STORE-17] random failure sequences match a model of the window rule', async () => {
      await withStore(factory, async (s) => {
        const names = runNames('lf');
        const op = fc.record({
          user: fc.integer({ min: 0, max: 2 }),
          kind: fc.constantFrom('record', 'record', 'record', 'clear', 'get'),
          dt: fc.integer({ min: -5, max: 150 }),
        });
        await fc.assert(
          fc.asyncProperty(fc.integer({ min: 0, max: 100 }), fc.array(op, { maxLength: 30 }), async (windowMs, ops) => {
            const prefix = names();
            const model = new Map<number, { count: number; windowStartMs: number; lastFailureAtMs: number }>();
            let t = 10_000;
            for (const o of ops) {
              t = Math.max(0, t + o.dt);
              const u = `${prefix}-${o.user}`;
              if (o.kind === 'clear') {
                await s.clearLoginFailures(u);
                model.delete(o.user);
              } else if (o.kind === 'get') {
                expect(await s.getLoginFailures(u)).toEqual(model.get(o.user));
              } else {
                const m = model.get(o.user);
                const next =
                  m === undefined || m.windowStartMs < t - windowMs
                    ? { count: 1, windowStartMs: t, lastFailureAtMs: t }
                    : {
                        count: m.count + 1,
                        windowStartMs: m.windowStartMs,
                        lastFailureAtMs: Math.max(m.lastFailureAtMs, t),
                      };
                model.set(o.user, next);
                expect(await s.recordLoginFailure(u, t, windowMs)).toEqual(next);
              }
            }
          }),
          { numRuns: 25 },
        );
      });
    });
  });

  describe(`${name}: certificates and revocation`, () => {
    test('[LOGIN-STORE-7] [LOGIN-STORE-8] serials start at 1 and strictly increase; each record is stored exactly', async (s) => {
      const issued: IssuedCertificate[] = [];
      for (let i = 0; i < 5; i++) {
        const seen: number[] = [];
        const c = await s.issueCertificate(certInfo(`user${i}`, 9_000 + i), (serial) => {
          seen.push(serial);
          return signSerial(serial);
        });
        expect(seen).toEqual([c.serial]);
        issued.push(c);
      }
      expect(issued[0]!.serial).toBe(1);
      for (let i = 1; i < issued.length; i++) expect(issued[i]!.serial).toBeGreaterThan(issued[i - 1]!.serial);
      for (const c of issued) {
        const got = await s.getCertificate(c.serial);
        expectBytes(got?.certificate, signSerial(c.serial));
        expectBytes(got?.subjectKey, c.subjectKey);
        expectBytes(got?.deviceId, deviceId(0x42));
        expect({ ...got, certificate: 0, subjectKey: 0, deviceId: 0 }).toEqual({
          ...c,
          certificate: 0,
          subjectKey: 0,
          deviceId: 0,
        });
        expectBytes(c.certificate, signSerial(c.serial));
      }
      expect(await s.getCertificate(issued.at(-1)!.serial + 1)).toBeUndefined();
      expect(await s.getCertificate(0)).toBeUndefined();
    });

    test('[LOGIN-STORE-2] [LOGIN-STORE-8] a sign callback that throws records nothing, and the next issue works with a new serial', async (s) => {
      const first = await s.issueCertificate(certInfo('alice'), signSerial);
      let failedSerial = 0;
      const boom = new Error('HSM unavailable');
      const e = await rejection(
        s.issueCertificate(certInfo('bob'), (serial) => {
          failedSerial = serial;
          throw boom;
        }),
      );
      expect(e).toBe(boom);
      expect(failedSerial).toBeGreaterThan(first.serial);
      expect(await s.getCertificate(failedSerial)).toBeUndefined();
      // A callback that returns something other than bytes is a misuse, and records nothing either.
      await expectMisuse(s.issueCertificate(certInfo('bob'), () => 'not bytes' as unknown as Uint8Array));
      const next = await s.issueCertificate(certInfo('carol'), signSerial);
      expect(next.serial).toBeGreaterThan(first.serial);
      expect((await s.getCertificate(next.serial))?.subject).toBe('carol');
      // No serial was used twice and no failed attempt left a record: only alice's and carol's exist.
      const found: string[] = [];
      for (let serial = 1; serial <= next.serial; serial++) {
        const c = await s.getCertificate(serial);
        if (c !== undefined) found.push(`${serial}:${c.subject}`);
      }
      expect(found).toEqual([`${first.serial}:alice`, `${next.serial}:carol`]);
    });

    test('[LOGIN-STORE-5] [LOGIN-STORE-7] concurrent issues get distinct serials', async (s) => {
      const certs = await Promise.all(
        Array.from({ length: 16 }, (_, i) => s.issueCertificate(certInfo(`u${i}`), signSerial)),
      );
      const serials = certs.map((c) => c.serial);
      expect(new Set(serials).size).toBe(16);
      for (const c of certs) expect((await s.getCertificate(c.serial))?.subject).toBe(c.subject);
    });

    test('[LOGIN-STORE-16] revoke answers revoked, then already (nothing changes), and unknown for a serial never issued', async (s) => {
      const c = await s.issueCertificate(certInfo('alice', 50_000), signSerial);
      expect(await s.isRevoked(c.serial)).toBe(false);
      expect(await s.revoke(c.serial, 'key compromise', 2_000)).toBe('revoked');
      expect(await s.revoke(c.serial, 'again', 3_000)).toBe('already');
      expect(await s.revoke(c.serial + 100, 'typo', 3_000)).toBe('unknown');
      expect(await s.isRevoked(c.serial)).toBe(true);
      expect(await s.isRevoked(c.serial + 100)).toBe(false);
      expect(await s.listRevocations(2_000)).toEqual([
        { serial: c.serial, revokedAtMs: 2_000, notAfterMs: 50_000, reason: 'key compromise' },
      ]);
    });

    test('[LOGIN-STORE-5] [LOGIN-STORE-16] of concurrent revocations of one serial exactly one is "revoked"', async (s) => {
      const c = await s.issueCertificate(certInfo('alice'), signSerial);
      const r = await Promise.all(Array.from({ length: 6 }, (_, i) => s.revoke(c.serial, `r${i}`, 10 + i)));
      expect(r.filter((x) => x === 'revoked')).toHaveLength(1);
      expect(r.filter((x) => x === 'already')).toHaveLength(5);
      expect(await s.listRevocations(0)).toHaveLength(1);
    });

    test("[LOGIN-STORE-16] listRevocations lists revocations by serial until the certificate's not_after, excluded from then on", async (s) => {
      const notAfters = [700, 300, 500, 300, 900];
      const certs: IssuedCertificate[] = [];
      for (const [i, na] of notAfters.entries())
        certs.push(await s.issueCertificate(certInfo(`u${i}`, na), signSerial));
      // Revoke in an order unlike serial order.
      for (const i of [3, 0, 4, 1]) expect(await s.revoke(certs[i]!.serial, `why ${i}`, 100 + i)).toBe('revoked');
      const listed = async (now: number) => (await s.listRevocations(now)).map((r) => r.serial);
      const serialsOf = (...idx: number[]) => idx.map((i) => certs[i]!.serial);
      expect(await listed(0)).toEqual(serialsOf(0, 1, 3, 4));
      expect(await listed(299)).toEqual(serialsOf(0, 1, 3, 4));
      expect(await listed(300)).toEqual(serialsOf(0, 4)); // notAfterMs > nowMs: 300 is expired at 300
      expect(await listed(899)).toEqual(serialsOf(4));
      expect(await listed(900)).toEqual([]);
      const r = (await s.listRevocations(0)).find((x) => x.serial === certs[3]!.serial);
      expect(r).toEqual({ serial: certs[3]!.serial, revokedAtMs: 103, notAfterMs: 300, reason: 'why 3' });
    });
  });

  describe(`${name}: published objects`, () => {
    test('[LOGIN-STORE-21] publish stores a greater version and refuses an equal or lower one without writing', async (s) => {
      expect(await s.getPublished('policy')).toBeUndefined();
      const v3 = { version: 3, pages: [bytes(30, 100)], publishedAtMs: 1_000 };
      expect(await s.publish('policy', v3)).toBe(true);
      expect(await s.publish('policy', { version: 3, pages: [bytes(31)], publishedAtMs: 2_000 })).toBe(false);
      expect(await s.publish('policy', { version: 2, pages: [bytes(32)], publishedAtMs: 2_000 })).toBe(false);
      const got = await s.getPublished('policy');
      expect([got?.version, got?.publishedAtMs, got?.pages.length]).toEqual([3, 1_000, 1]);
      expectBytes(got?.pages[0], bytes(30, 100));
      expect(await s.publish('policy', { version: 7, pages: [bytes(70)], publishedAtMs: 3_000 })).toBe(true);
      expect((await s.getPublished('policy'))?.version).toBe(7);
      // Version 0 is a version like any other: the first publication of a kind always succeeds.
      expect(await s.publish('revocation-list', { version: 0, pages: [], publishedAtMs: 1 })).toBe(true);
      expect(await s.getPublished('revocation-list')).toEqual({ version: 0, pages: [], publishedAtMs: 1 });
    });

    test('[LOGIN-STORE-21] [LOGIN-STORE-23] kinds are independent and every page comes back in order, byte for byte', async (s) => {
      const pages = [bytes(1, 1200), new Uint8Array(0), new Uint8Array([0, 0xff, 0]), bytes(4, 3)];
      expect(await s.publish('supernode-list', { version: 10, pages, publishedAtMs: 5 })).toBe(true);
      expect(await s.publish('revocation-list', { version: 1, pages: [bytes(9)], publishedAtMs: 6 })).toBe(true);
      expect(await s.getPublished('policy')).toBeUndefined();
      const got = await s.getPublished('supernode-list');
      expect(got?.pages).toHaveLength(pages.length);
      pages.forEach((p, i) => {
        expectBytes(got?.pages[i], p);
      });
      // A new version with fewer pages replaces every old page.
      expect(await s.publish('supernode-list', { version: 11, pages: [bytes(5)], publishedAtMs: 7 })).toBe(true);
      const after = await s.getPublished('supernode-list');
      expect(after?.pages).toHaveLength(1);
      expectBytes(after?.pages[0], bytes(5));
      expect((await s.getPublished('revocation-list'))?.version).toBe(1);
    });

    test('[LOGIN-STORE-5] [LOGIN-STORE-21] of concurrent publications of one version exactly one succeeds', async (s) => {
      const r = await Promise.all(
        Array.from({ length: 8 }, (_, i) => s.publish('policy', { version: 4, pages: [bytes(i)], publishedAtMs: i })),
      );
      expect(r.filter((x) => x)).toHaveLength(1);
      const winner = r.indexOf(true);
      const got = await s.getPublished('policy');
      expect(got?.publishedAtMs).toBe(winner);
      expectBytes(got?.pages[0], bytes(winner));
    });
  });

  describe(`${name}: supernodes`, () => {
    test('upsertSupernode inserts and replaces; heartbeat updates load and time; remove deletes; unknown key ids are false', async (s) => {
      const a = supernode(0x10, 1_000, 90_000);
      await s.upsertSupernode(a);
      expectSupernodes(await s.listLiveSupernodes(0, 0), [a]);
      const a2 = { ...supernode(0x10, 1_500, 95_000, 9), software: 'parley/2', entry: bytes(77, 10) };
      await s.upsertSupernode(a2);
      expectSupernodes(await s.listLiveSupernodes(0, 0), [a2]);
      expect(await s.supernodeHeartbeat(a.keyId, 42, 2_000)).toBe(true);
      expectSupernodes(await s.listLiveSupernodes(0, 0), [{ ...a2, load: 42, lastHeartbeatAtMs: 2_000 }]);
      expect(await s.supernodeHeartbeat(bytes(5), 1, 2_000)).toBe(false);
      expect(await s.removeSupernode(bytes(5))).toBe(false);
      expect(await s.removeSupernode(a.keyId)).toBe(true);
      expect(await s.removeSupernode(a.keyId)).toBe(false);
      expect(await s.listLiveSupernodes(0, 0)).toEqual([]);
      expect(await s.supernodeHeartbeat(a.keyId, 1, 3_000)).toBe(false);
    });

    test('listLiveSupernodes keeps heartbeats at or after sinceMs and certificates valid after nowMs, ordered by key id bytes', async (s) => {
      const nodes = [
        supernode(0xff, 100, 1_000),
        supernode(0x80, 100, 1_000),
        supernode(0x7f, 99, 1_000), // heartbeat too old for since = 100
        supernode(0x00, 150, 500), // certificate expired at now = 500
        supernode(0x01, 200, 501),
      ];
      for (const n of nodes) await s.upsertSupernode(n);
      expectSupernodes(await s.listLiveSupernodes(100, 500), [nodes[4]!, nodes[1]!, nodes[0]!]);
      expectSupernodes(await s.listLiveSupernodes(0, 0), [nodes[3]!, nodes[4]!, nodes[2]!, nodes[1]!, nodes[0]!]);
      expectSupernodes(await s.listLiveSupernodes(201, 0), []);
    });

    it('random supernode sets list like a model (filter, then bytewise key order)', async () => {
      await withStore(factory, async (s) => {
        const rec = fc.record({
          key: fc.uint8Array({ minLength: 1, maxLength: 3 }),
          hb: fc.integer({ min: 0, max: 50 }),
          na: fc.integer({ min: 0, max: 50 }),
        });
        await fc.assert(
          fc.asyncProperty(
            fc.uniqueArray(rec, { maxLength: 8, selector: (r) => hex(r.key) }),
            fc.integer({ min: 0, max: 50 }),
            fc.integer({ min: 0, max: 50 }),
            async (recs, since, now) => {
              const all = recs.map((r, i) => ({ ...supernode(i, r.hb, r.na), keyId: r.key }));
              try {
                for (const n of all) await s.upsertSupernode(n);
                const expected = all
                  .filter((n) => n.lastHeartbeatAtMs >= since && n.notAfterMs > now)
                  .sort((a, b) => compareBytes(a.keyId, b.keyId));
                expectSupernodes(await s.listLiveSupernodes(since, now), expected);
              } finally {
                for (const n of all) await s.removeSupernode(n.keyId);
              }
            },
          ),
          { numRuns: 20 },
        );
      });
    });
  });

  describe(`${name}: prekeys`, () => {
    const d1 = deviceId(0x01);
    const d2 = deviceId(0x80);
    const d3 = deviceId(0xff);

    test('[LOGIN-STORE-20] addOneTimePrekeys returns undefined and stores nothing for a device without a signed prekey', async (s) => {
      expect(await s.addOneTimePrekeys('alice', d1, [otk(d1, 1)], 10)).toBeUndefined();
      expect(await s.countOneTimePrekeys('alice', d1)).toBe(0);
      await s.putSignedPrekey('alice', d2, bytes(1), bytes(2), 1);
      expect(await s.addOneTimePrekeys('alice', d1, [otk(d1, 1)], 10)).toBeUndefined();
      expect(await s.addOneTimePrekeys('bob', d2, [otk(d2, 1)], 10)).toBeUndefined(); // another user's device
      expect(await s.countOneTimePrekeys('alice', d1)).toBe(0);
      expect(await s.takePrekeyBundles('alice', 10)).toEqual([
        { deviceId: expect.anything(), certificate: expect.anything(), signedPrekey: expect.anything() },
      ]);
    });

    test('[LOGIN-STORE-20] addOneTimePrekeys skips stored and repeated ids and never holds more than max', async (s) => {
      await s.putSignedPrekey('alice', d1, bytes(1), bytes(2), 1);
      expect(await s.addOneTimePrekeys('alice', d1, [otk(d1, 1), otk(d1, 2), otk(d1, 2), otk(d1, 3)], 10)).toBe(3);
      // id 2 again with another key: skipped, the stored key stays.
      const other = { id: 2, publicKey: bytes(999) };
      expect(await s.addOneTimePrekeys('alice', d1, [other, otk(d1, 4)], 10)).toBe(4);
      // The cap: only 2 of the 4 new ids fit under max 6.
      expect(await s.addOneTimePrekeys('alice', d1, [otk(d1, 5), otk(d1, 6), otk(d1, 7), otk(d1, 8)], 6)).toBe(6);
      expect(await s.addOneTimePrekeys('alice', d1, [otk(d1, 9)], 6)).toBe(6);
      // A smaller max than already held stores nothing and removes nothing.
      expect(await s.addOneTimePrekeys('alice', d1, [otk(d1, 10)], 2)).toBe(6);
      expect(await s.addOneTimePrekeys('alice', d1, [], 100)).toBe(6);
      expect(await s.countOneTimePrekeys('alice', d1)).toBe(6);
      const taken: number[] = [];
      for (let i = 0; i < 7; i++) {
        const [b] = await s.takePrekeyBundles('alice', 1);
        if (b?.oneTimePrekey !== undefined) {
          taken.push(b.oneTimePrekey.id);
          expectBytes(b.oneTimePrekey.publicKey, otk(d1, b.oneTimePrekey.id).publicKey);
        }
      }
      expect(taken).toEqual([1, 2, 3, 4, 5, 6]); // the first occurrence of id 2 won; 7..10 never stored
    });

    test('putSignedPrekey replaces the signed prekey and certificate and keeps the one-time prekeys', async (s) => {
      await s.putSignedPrekey('alice', d1, bytes(1), bytes(2), 1);
      await s.addOneTimePrekeys('alice', d1, [otk(d1, 1), otk(d1, 2)], 10);
      await s.putSignedPrekey('alice', d1, bytes(3), bytes(4), 2);
      expect(await s.countOneTimePrekeys('alice', d1)).toBe(2);
      const [b] = await s.takePrekeyBundles('alice', 5);
      expectBytes(b?.certificate, bytes(3));
      expectBytes(b?.signedPrekey, bytes(4));
      expect(b?.oneTimePrekey?.id).toBe(1);
    });

    test('[LOGIN-STORE-6] takePrekeyBundles removes exactly one one-time prekey per device, the lowest id, and none once exhausted', async (s) => {
      await s.putSignedPrekey('alice', d2, bytes(21), bytes(22), 1);
      await s.putSignedPrekey('alice', d1, bytes(11), bytes(12), 1);
      await s.putSignedPrekey('bob', d1, bytes(31), bytes(32), 1);
      await s.addOneTimePrekeys('alice', d1, [otk(d1, 7), otk(d1, 3)], 10);
      await s.addOneTimePrekeys('alice', d2, [otk(d2, 5)], 10);
      await s.addOneTimePrekeys('bob', d1, [otk(d1, 1)], 10);

      const first = await s.takePrekeyBundles('alice', 10);
      expect(first.map((b) => [hex(b.deviceId), b.oneTimePrekey?.id])).toEqual([
        [hex(d1), 3],
        [hex(d2), 5],
      ]);
      expectBytes(first[0]?.certificate, bytes(11));
      expectBytes(first[0]?.signedPrekey, bytes(12));
      expectBytes(first[0]?.oneTimePrekey?.publicKey, otk(d1, 3).publicKey);
      expectBytes(first[1]?.certificate, bytes(21));
      expect(await s.countOneTimePrekeys('alice', d1)).toBe(1);
      expect(await s.countOneTimePrekeys('alice', d2)).toBe(0);

      const second = await s.takePrekeyBundles('alice', 10);
      expect(second.map((b) => b.oneTimePrekey?.id)).toEqual([7, undefined]);
      expect(Object.hasOwn(second[1]!, 'oneTimePrekey')).toBe(false);
      const third = await s.takePrekeyBundles('alice', 10);
      expect(third.map((b) => Object.hasOwn(b, 'oneTimePrekey'))).toEqual([false, false]);
      expectBytes(third[1]?.signedPrekey, bytes(22)); // the signed prekey is handed out every time
      expect(await s.countOneTimePrekeys('bob', d1)).toBe(1); // another user's keys are untouched
      expect(await s.takePrekeyBundles('nobody', 10)).toEqual([]);
    });

    test('[LOGIN-STORE-20] takePrekeyBundles lists at most maxDevices devices, the first by device id bytes, and takes keys from those only', async (s) => {
      for (const d of [d3, d1, d2]) {
        await s.putSignedPrekey('alice', d, bytes(d[0]!), bytes(d[0]! + 1), 1);
        await s.addOneTimePrekeys('alice', d, [otk(d, 1), otk(d, 2)], 10);
      }
      const two = await s.takePrekeyBundles('alice', 2);
      expect(two.map((b) => hex(b.deviceId))).toEqual([hex(d1), hex(d2)]);
      expect(await s.countOneTimePrekeys('alice', d3)).toBe(2);
      expect(await s.takePrekeyBundles('alice', 0)).toEqual([]);
      expect([
        await s.countOneTimePrekeys('alice', d1),
        await s.countOneTimePrekeys('alice', d2),
        await s.countOneTimePrekeys('alice', d3),
      ]).toEqual([1, 1, 2]);
    });

    test('deleteDevicePrekeys removes the signed prekey and every one-time prekey of that device only', async (s) => {
      for (const d of [d1, d2]) {
        await s.putSignedPrekey('alice', d, bytes(1), bytes(2), 1);
        await s.addOneTimePrekeys('alice', d, [otk(d, 1), otk(d, 2)], 10);
      }
      await s.deleteDevicePrekeys('alice', d1);
      await s.deleteDevicePrekeys('alice', d3); // nothing there: no error
      expect(await s.countOneTimePrekeys('alice', d1)).toBe(0);
      expect(await s.countOneTimePrekeys('alice', d2)).toBe(2);
      expect((await s.takePrekeyBundles('alice', 10)).map((b) => hex(b.deviceId))).toEqual([hex(d2)]);
      expect(await s.addOneTimePrekeys('alice', d1, [otk(d1, 3)], 10)).toBeUndefined();
      // A new signed prekey starts the device afresh, without the deleted one-time prekeys.
      await s.putSignedPrekey('alice', d1, bytes(5), bytes(6), 2);
      expect(await s.countOneTimePrekeys('alice', d1)).toBe(0);
    });

    test('[LOGIN-STORE-5] [LOGIN-STORE-20] concurrent adds to one device never exceed max', async (s) => {
      await s.putSignedPrekey('alice', d1, bytes(1), bytes(2), 1);
      const batches = Array.from({ length: 6 }, (_, b) => Array.from({ length: 5 }, (_, i) => otk(d1, b * 10 + i)));
      const counts = await Promise.all(batches.map((keys) => s.addOneTimePrekeys('alice', d1, keys, 12)));
      expect(Math.max(...counts.map((c) => c ?? 0))).toBe(12);
      for (const c of counts) expect(c).toBeLessThanOrEqual(12);
      expect(await s.countOneTimePrekeys('alice', d1)).toBe(12);
    });

    it('[LOGIN-STORE-6] [LOGIN-STORE-20] random put/add/take/delete sequences match a model', async () => {
      await withStore(factory, async (s) => {
        const names = runNames('pk');
        const devices = [deviceId(0x00), deviceId(0x7f), deviceId(0x80), deviceId(0xff, 0x00)];
        const dev = fc.integer({ min: 0, max: devices.length - 1 });
        const op = fc.oneof(
          fc.record({ t: fc.constant('put' as const), d: dev }),
          fc.record({
            t: fc.constant('add' as const),
            d: dev,
            ids: fc.array(fc.integer({ min: 0, max: 12 }), { maxLength: 6 }),
            max: fc.integer({ min: 0, max: 6 }),
          }),
          fc.record({ t: fc.constant('take' as const), maxDevices: fc.integer({ min: 0, max: 4 }) }),
          fc.record({ t: fc.constant('delete' as const), d: dev }),
          fc.record({ t: fc.constant('count' as const), d: dev }),
        );
        await fc.assert(
          fc.asyncProperty(fc.array(op, { maxLength: 25 }), async (ops) => {
            const user = names();
            // device index -> stored one-time prekey ids (undefined: no signed prekey)
            const model = new Map<number, Set<number>>();
            for (const o of ops) {
              if (o.t === 'put') {
                await s.putSignedPrekey(user, devices[o.d]!, bytes(o.d), bytes(o.d + 50), 1);
                if (!model.has(o.d)) model.set(o.d, new Set());
              } else if (o.t === 'add') {
                const held = model.get(o.d);
                if (held !== undefined) {
                  for (const id of o.ids) if (held.size < o.max) held.add(id);
                }
                const keys = o.ids.map((id) => otk(devices[o.d]!, id));
                expect(await s.addOneTimePrekeys(user, devices[o.d]!, keys, o.max)).toBe(held?.size);
              } else if (o.t === 'take') {
                const listed = [...model.keys()]
                  .sort((a, b) => compareBytes(devices[a]!, devices[b]!))
                  .slice(0, o.maxDevices);
                const expected = listed.map((d) => {
                  const held = model.get(d)!;
                  if (held.size === 0) return [hex(devices[d]!)];
                  const id = Math.min(...held);
                  held.delete(id);
                  return [hex(devices[d]!), id, hex(otk(devices[d]!, id).publicKey)];
                });
                const got = await s.takePrekeyBundles(user, o.maxDevices);
                expect(
                  got.map((b: DevicePrekeys) =>
                    b.oneTimePrekey === undefined
                      ? [hex(b.deviceId)]
                      : [hex(b.deviceId), b.oneTimePrekey.id, hex(b.oneTimePrekey.publicKey)],
                  ),
                ).toEqual(expected);
              } else if (o.t === 'delete') {
                await s.deleteDevicePrekeys(user, devices[o.d]!);
                model.delete(o.d);
              } else {
                expect(await s.countOneTimePrekeys(user, devices[o.d]!)).toBe(model.get(o.d)?.size ?? 0);
              }
            }
          }),
          { numRuns: 25 },
        );
      });
    });

    it('[LOGIN-STORE-6] concurrent takePrekeyBundles hand every one-time prekey out at most once, none is refused while one is left, and all go eventually', async () => {
      await withStore(factory, async (s) => {
        const names = runNames('ct');
        await fc.assert(
          fc.asyncProperty(
            fc.array(fc.integer({ min: 0, max: 10 }), { minLength: 1, maxLength: 3 }),
            fc.integer({ min: 2, max: 6 }),
            async (perDevice, fetchers) => {
              const user = names();
              const all = new Set<string>();
              for (const [i, n] of perDevice.entries()) {
                const d = deviceId(i * 40);
                await s.putSignedPrekey(user, d, bytes(i), bytes(i + 1), 1);
                const keys = Array.from({ length: n }, (_, k) => otk(d, k * 3 + 1));
                expect(await s.addOneTimePrekeys(user, d, keys, 100)).toBe(n);
                for (const k of keys) all.add(`${hex(d)}/${k.id}`);
              }
              const handedOut: string[] = [];
              const remaining = [...perDevice];
              for (let round = 0; round <= all.size + 1; round++) {
                const results = await Promise.all(
                  Array.from({ length: fetchers }, () => s.takePrekeyBundles(user, perDevice.length)),
                );
                const perRound = perDevice.map(() => 0);
                for (const bundles of results) {
                  expect(bundles).toHaveLength(perDevice.length);
                  for (const [i, b] of bundles.entries()) {
                    if (b.oneTimePrekey === undefined) continue;
                    perRound[i]!++;
                    handedOut.push(`${hex(b.deviceId)}/${b.oneTimePrekey.id}`);
                    expectBytes(b.oneTimePrekey.publicKey, otk(b.deviceId, b.oneTimePrekey.id).publicKey);
                  }
                }
                // No fetch comes back without a key while one is left for it: with r keys left and f
                // concurrent fetches, exactly min(f, r) get one (a fetch skips keys others are taking).
                expect(perRound).toEqual(remaining.map((r) => Math.min(fetchers, r)));
                perRound.forEach((n, i) => {
                  remaining[i]! -= n;
                });
                if (perRound.every((n) => n === 0)) break;
              }
              expect(new Set(handedOut).size).toBe(handedOut.length); // at most once
              expect(new Set(handedOut)).toEqual(all); // all of them
              for (const i of perDevice.keys()) expect(await s.countOneTimePrekeys(user, deviceId(i * 40))).toBe(0);
            },
          ),
          { numRuns: 15 },
        );
      });
    });
  });

  describe(`${name}: contact blobs`, () => {
    test('[LOGIN-STORE-22] putContactBlob: version 1 from expected 0, then +1 per write; a wrong expected version writes nothing', async (s) => {
      expect(await s.getContactBlob('alice')).toBeUndefined();
      expect(await s.putContactBlob('alice', 1, bytes(1), 10)).toEqual({ ok: false, current: 0 });
      expect(await s.getContactBlob('alice')).toBeUndefined();
      expect(await s.putContactBlob('alice', 0, bytes(1, 300), 10)).toEqual({ ok: true, version: 1 });
      expect(await s.putContactBlob('alice', 0, bytes(2), 20)).toEqual({ ok: false, current: 1 });
      expect(await s.putContactBlob('alice', 2, bytes(2), 20)).toEqual({ ok: false, current: 1 });
      const one = await s.getContactBlob('alice');
      expect([one?.version, one?.updatedAtMs]).toEqual([1, 10]);
      expectBytes(one?.blob, bytes(1, 300));
      expect(await s.putContactBlob('alice', 1, new Uint8Array(0), 30)).toEqual({ ok: true, version: 2 });
      const two = await s.getContactBlob('alice');
      expect([two?.version, two?.updatedAtMs]).toEqual([2, 30]);
      expectBytes(two?.blob, new Uint8Array(0));
      expect(await s.getContactBlob('bob')).toBeUndefined();
    });

    test('[LOGIN-STORE-5] [LOGIN-STORE-22] of concurrent writes expecting one version exactly one succeeds', async (s) => {
      await s.putContactBlob('alice', 0, bytes(0), 1);
      const r = await Promise.all(
        Array.from({ length: 8 }, (_, i) => s.putContactBlob('alice', 1, bytes(i + 1), 2 + i)),
      );
      const won = r.flatMap((x, i) => (x.ok ? [i] : []));
      expect(won).toHaveLength(1);
      expect(r.filter((x) => x.ok)).toEqual([{ ok: true, version: 2 }]);
      for (const x of r) if (!x.ok) expect(x.current).toBe(2);
      expectBytes((await s.getContactBlob('alice'))?.blob, bytes(won[0]! + 1));
      // The same for the very first write (expected 0).
      const first = await Promise.all(Array.from({ length: 6 }, (_, i) => s.putContactBlob('bob', 0, bytes(i), i)));
      expect(first.filter((x) => x.ok)).toEqual([{ ok: true, version: 1 }]);
    });

    it('[LOGIN-STORE-22] random contact-blob writes behave like a compare-and-set model', async () => {
      await withStore(factory, async (s) => {
        const names = runNames('cb');
        const op = fc.record({
          user: fc.integer({ min: 0, max: 2 }),
          honest: fc.boolean(), // expect the current version, or a guess
          guess: fc.integer({ min: 0, max: 4 }),
          blob: fc.uint8Array({ maxLength: 24 }),
          read: fc.boolean(),
        });
        await fc.assert(
          fc.asyncProperty(fc.array(op, { maxLength: 25 }), async (ops) => {
            const prefix = names();
            const model = new Map<number, { version: number; blob: Uint8Array; updatedAtMs: number }>();
            for (const [t, o] of ops.entries()) {
              const u = `${prefix}-${o.user}`;
              const m = model.get(o.user);
              const current = m?.version ?? 0;
              const expected = o.honest ? current : o.guess;
              const r = await s.putContactBlob(u, expected, o.blob, t);
              if (expected === current) {
                expect(r).toEqual({ ok: true, version: current + 1 });
                model.set(o.user, { version: current + 1, blob: o.blob, updatedAtMs: t });
              } else {
                expect(r).toEqual({ ok: false, current });
              }
              if (o.read) {
                const got = await s.getContactBlob(u);
                const want = model.get(o.user);
                expect(got === undefined ? undefined : { ...got, blob: hex(got.blob) }).toEqual(
                  want === undefined ? undefined : { ...want, blob: hex(want.blob) },
                );
              }
            }
          }),
          { numRuns: 25 },
        );
      });
    });
  });

  describe(`${name}: retention`, () => {
    test('[LOGIN-STORE-18] prune deletes expired revocations, ended failure windows and expired supernodes, at most limit of each per call', async (s) => {
      const certs: IssuedCertificate[] = [];
      for (const na of [100, 200, 300, 5_000]) certs.push(await s.issueCertificate(certInfo(`c${na}`, na), signSerial));
      for (const c of certs) await s.revoke(c.serial, 'test', 50);
      for (const [i, t] of [10, 20, 30, 1_000].entries()) await s.recordLoginFailure(`user${i}`, t, 100);
      for (const [i, na] of [100, 200, 5_000].entries()) await s.upsertSupernode(supernode(i, 50, na));

      // At 300 with a 100 ms window: revocations with not_after <= 300 (3), windows begun before 200 (3),
      // supernodes with not_after <= 300 (2) may go.
      expect(await s.prune(300, 100, 2)).toEqual({ revocations: 2, loginFailures: 2, supernodes: 2 });
      expect(await s.prune(300, 100, 2)).toEqual({ revocations: 1, loginFailures: 1, supernodes: 0 });
      expect(await s.prune(300, 100, 2)).toEqual({ revocations: 0, loginFailures: 0, supernodes: 0 });
      expect((await s.listRevocations(0)).map((r) => r.serial)).toEqual([certs[3]!.serial]);
      expect(await s.isRevoked(certs[0]!.serial)).toBe(false);
      expect(await s.isRevoked(certs[3]!.serial)).toBe(true);
      expect(await s.getLoginFailures('user2')).toBeUndefined();
      expect((await s.getLoginFailures('user3'))?.count).toBe(1);
      expect((await s.listLiveSupernodes(0, 0)).map((n) => n.notAfterMs)).toEqual([5_000]);
      // Certificates themselves are kept (the issuer's record, [LOGIN-STORE-8]).
      expect((await s.getCertificate(certs[0]!.serial))?.subject).toBe('c100');
    });
  });

  describe(`${name}: bytes`, () => {
    test("[LOGIN-STORE-23] bytes come back exactly as given, as fresh plain Uint8Arrays; neither side's later changes leak", async (s) => {
      const record = new Uint8Array([0, 1, 0xfe, 0xff, 0]);
      await s.createAccount({ username: 'alice', registrationRecord: record, atMs: 1 });
      record.fill(7); // the caller reuses its buffer
      const a1 = await s.getAccount('alice');
      expectBytes(a1?.registrationRecord, new Uint8Array([0, 1, 0xfe, 0xff, 0]));
      a1!.registrationRecord.fill(9); // the caller modifies what it got
      expectBytes((await s.getAccount('alice'))?.registrationRecord, new Uint8Array([0, 1, 0xfe, 0xff, 0]));

      // A view into a larger buffer stores only the view's bytes.
      const big = bytes(5, 64);
      await s.putContactBlob('alice', 0, big.subarray(10, 20), 1);
      expectBytes((await s.getContactBlob('alice'))?.blob, bytes(5, 64).subarray(10, 20));
      // Small values are not views into a shared pool: the backing buffer holds exactly the value.
      const blob = (await s.getContactBlob('alice'))!.blob;
      expect(blob.buffer.byteLength).toBe(blob.byteLength);
    });
  });
}

// The migration contract -----------------------------------------------------------------------------------

export function migrationContract(name: string, target: MigrationTarget): void {
  const real = target.migrations;
  const probe = (version: number, sql: string): Migration => ({ version, name: `probe-${version}`, sql });

  const test = (title: string, fn: (db: MigrationDatabase) => Promise<void>) =>
    it(title, async () => {
      const db = await target.fresh();
      try {
        await fn(db);
      } finally {
        await db.cleanup();
      }
    });

  describe(`${name}: migrations`, () => {
    test('[LOGIN-STORE-9] an empty database is at version 0 and every method asks for migrate(); migrate() applies every migration', async (db) => {
      const s = db.open(real);
      expect(await s.schemaVersion()).toBe(0);
      await expectStoreError(s.countAccounts(), 'schema-outdated');
      await expectStoreError(s.getAccount('alice'), 'schema-outdated');
      await s.migrate();
      expect(await s.schemaVersion()).toBe(real.length);
      expect(await s.createAccount({ username: 'alice', registrationRecord: bytes(1), atMs: 1 })).toBe('created');
      await s.migrate();
      expect(await s.schemaVersion()).toBe(real.length);
      // A store opened later on the migrated database sees the same version and data.
      const again = db.open(real);
      expect(await again.schemaVersion()).toBe(real.length);
      expect((await again.getAccount('alice'))?.createdAtMs).toBe(1);
    });

    test('[LOGIN-STORE-9] a newer migration list applies only the new migrations, keeping the data', async (db) => {
      const s1 = db.open(real);
      await s1.migrate();
      await s1.createAccount({ username: 'alice', registrationRecord: bytes(1), atMs: 1 });
      const longer = [...real, probe(real.length + 1, 'CREATE TABLE probe_a (a INTEGER)')];
      const s2 = db.open(longer);
      await expectStoreError(s2.countAccounts(), 'schema-outdated');
      await s2.migrate();
      expect(await s2.schemaVersion()).toBe(real.length + 1);
      expect(await s2.countAccounts()).toBe(1);
    });

    test('[LOGIN-STORE-10] a migration that fails is rolled back whole; the schema and data stay at the previous version', async (db) => {
      const v = real.length;
      const good = probe(v + 1, 'CREATE TABLE probe_a (a INTEGER)');
      // Creates a table, then fails: the table must not survive.
      const broken = probe(v + 2, 'CREATE TABLE probe_b (b INTEGER); INSERT INTO no_such_table VALUES (1)');
      const s = db.open([...real, good, broken]);
      const e = await expectStoreError(s.migrate(), 'migration-failed');
      expect(e.message).toContain(`migration ${v + 2}`);
      expect(e.cause).toBeDefined();
      expect(await s.schemaVersion()).toBe(v + 1);
      // The store still refuses work until its list is fully applied...
      await expectStoreError(s.countAccounts(), 'schema-outdated');
      // ...while software whose list ends at the good migration works on.
      const current = db.open([...real, good]);
      expect(await current.createAccount({ username: 'alice', registrationRecord: bytes(1), atMs: 1 })).toBe('created');
      // The fixed migration creates probe_b again: it succeeds only if the failed one left nothing behind.
      const fixed = db.open([...real, good, probe(v + 2, 'CREATE TABLE probe_b (b INTEGER)')]);
      await fixed.migrate();
      expect(await fixed.schemaVersion()).toBe(v + 2);
      expect(await fixed.countAccounts()).toBe(1);
    });

    test('[LOGIN-STORE-10] a failing first migration leaves an empty database at version 0', async (db) => {
      const s = db.open([probe(1, 'CREATE TABLE probe_a (a INTEGER); SELECT * FROM no_such_table')]);
      await expectStoreError(s.migrate(), 'migration-failed');
      expect(await s.schemaVersion()).toBe(0);
      const ok = db.open(real);
      await ok.migrate();
      expect(await ok.schemaVersion()).toBe(real.length);
    });

    test('[LOGIN-STORE-11] a database migrated by newer software is refused: migrate() and every method reject with schema-newer', async (db) => {
      const newer = db.open([...real, probe(real.length + 1, 'CREATE TABLE probe_a (a INTEGER)')]);
      await newer.migrate();
      const older = db.open(real);
      const e = await expectStoreError(older.migrate(), 'schema-newer');
      expect(e.message).toContain(String(real.length + 1));
      await expectStoreError(older.countAccounts(), 'schema-newer');
      expect(await older.schemaVersion()).toBe(real.length + 1);
    });

    test('[LOGIN-STORE-12] stores migrating one empty database at once apply each migration exactly once', async (db) => {
      const list = [...real, probe(real.length + 1, 'CREATE TABLE probe_c (c INTEGER)')];
      const stores = Array.from({ length: 4 }, () => db.open(list));
      await Promise.all(stores.map((s) => s.migrate())); // a second CREATE TABLE probe_c would fail
      for (const s of stores) expect(await s.schemaVersion()).toBe(list.length);
      await Promise.all(
        stores.map((s, i) => s.createAccount({ username: `u${i}`, registrationRecord: bytes(i), atMs: i })),
      );
      expect(await stores[0]!.countAccounts()).toBe(4);
    });

    it('[LOGIN-STORE-9] a migration list that is not 1, 2, 3, ... in order is refused with ApiMisuse', async () => {
      const db = await target.fresh();
      try {
        expect(() => db.open([probe(2, 'SELECT 1')])).toThrow(ApiMisuse);
        expect(() => db.open([probe(1, 'SELECT 1'), probe(1, 'SELECT 1')])).toThrow(ApiMisuse);
        expect(() => db.open([probe(1, '  ')])).toThrow(ApiMisuse);
        expect(real.map((m) => m.version)).toEqual(real.map((_, i) => i + 1));
      } finally {
        await db.cleanup();
      }
    });
  });
}
