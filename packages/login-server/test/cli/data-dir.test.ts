/**
 * The data directory module in-process (src/cli/data-dir.ts): what init writes and load reads back, the
 * typed errors for missing and corrupt files, several trust anchors (root rotation, spec/02-identity.md §8),
 * the store URL rules, and the policy edits of `policy set`.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createRootKey,
  fingerprintHex,
  issueCertificate,
  nodeCrypto,
  Role,
  seededRandom,
  signingKeyFromSeed,
} from '@parley/wire';
import { afterAll, describe, expect, it } from 'vitest';
import { editPolicy } from '../../src/cli/admin.js';
import {
  checkLoginCertificateTime,
  DataDirCorruptError,
  DataDirError,
  DataDirExistsError,
  DataDirMissingError,
  formatTrustAnchors,
  initDataDir,
  loadDataDir,
  parseTrustAnchors,
  readRootKeyFile,
  storeUrl,
} from '../../src/cli/data-dir.js';

const suite = nodeCrypto;
const T0 = Date.UTC(2026, 10, 22, 12, 0, 0);
const DAY = 86_400_000;
const tmp = mkdtempSync(join(tmpdir(), 'parley-datadir-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
async function fresh(o: Partial<Parameters<typeof initDataDir>[0]> = {}) {
  const dir = join(tmp, `d${n++}`);
  const r = await initDataDir({ dir, suite, random: seededRandom(`data-dir ${n}`), nowMs: T0, ...o });
  return { dir, r };
}

async function rejection(p: Promise<unknown>): Promise<DataDirError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  if (!(e instanceof DataDirError)) throw new Error(`expected a DataDirError, got ${String(e)}`);
  return e;
}

describe('data directory', () => {
  it('[LOGIN-OPAQUE-7] init then load: the identity, the fingerprint and the anchors round-trip', async () => {
    const { dir, r } = await fresh({ network: 'example.org', loginLifetimeDays: 90 });
    const d = await loadDataDir(suite, dir);
    expect(d.config).toMatchObject({ network: 'example.org', listen: '127.0.0.1:7400', rootKey: 'root.key' });
    expect(d.fingerprint).toBe(r.fingerprint);
    expect(Buffer.from(d.rootPublicKey).toString('hex')).toBe(r.rootPublicKey);
    expect(d.identity.trustAnchors).toHaveLength(1);
    expect(d.loginCertificate).toMatchObject({ role: Role.ROLE_LOGIN, subject: 'example.org', serial: 1 });
    expect(d.loginCertificate.notAfter).toBe(T0 + 90 * DAY);
    expect(d.insecureFiles).toEqual([]);
    const root = readRootKeyFile(suite, join(dir, 'root.key'));
    expect(fingerprintHex(root.networkFingerprint)).toBe(r.fingerprint);
    expect(() => checkLoginCertificateTime(d, T0)).not.toThrow();
    expect(() => checkLoginCertificateTime(d, T0 + 90 * DAY)).toThrow(/expired at/);
    expect(() => checkLoginCertificateTime(d, T0 - 1)).toThrow(/not valid before/);
    // Permissions loosened afterwards are reported.
    chmodSync(join(dir, 'opaque.setup'), 0o644);
    expect((await loadDataDir(suite, dir)).insecureFiles).toEqual([join(dir, 'opaque.setup')]);
  });

  it('init refuses what exists and options out of range, and leaves nothing behind', async () => {
    const { dir } = await fresh();
    await expect(fresh({ dir })).rejects.toBeInstanceOf(DataDirExistsError);
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'x');
    await expect(fresh({ dir: file })).rejects.toBeInstanceOf(DataDirExistsError);
    await expect(fresh({ loginLifetimeDays: 401 })).rejects.toThrow(RangeError);
    await expect(fresh({ network: '' })).rejects.toThrow(RangeError);
    await expect(fresh({ network: 'a\u202eb' })).rejects.toThrow(RangeError);
    await expect(fresh({ network: 'a\ud800' })).rejects.toThrow(RangeError);
    // An empty directory is fine (a mount point, say).
    const empty = join(tmp, 'empty');
    mkdirSync(empty);
    await expect(fresh({ dir: empty })).resolves.toBeDefined();
  });

  it('typed errors: a missing directory or file is DataDirMissingError, a damaged one DataDirCorruptError naming it', async () => {
    expect(await rejection(loadDataDir(suite, join(tmp, 'nope')))).toBeInstanceOf(DataDirMissingError);
    const cases: [string, (dir: string) => void, abstract new (...args: never[]) => DataDirError, RegExp][] = [
      ['config.json missing', (d) => rmSync(join(d, 'config.json')), DataDirMissingError, /not an initialised/],
      ['login.key missing', (d) => rmSync(join(d, 'login.key')), DataDirMissingError, /login\.key is missing/],
      ['opaque.setup missing', (d) => rmSync(join(d, 'opaque.setup')), DataDirMissingError, /opaque\.setup/],
      ['config.json garbage', (d) => writeFileSync(join(d, 'config.json'), '{'), DataDirCorruptError, /valid JSON/],
      [
        'config.json other format',
        (d) => writeFileSync(join(d, 'config.json'), '{"format":"x"}'),
        DataDirCorruptError,
        /"format"/,
      ],
      ['login.key garbage', (d) => writeFileSync(join(d, 'login.key'), 'zz\n'), DataDirCorruptError, /not a key file/],
      [
        'login.key another key',
        (d) => writeFileSync(join(d, 'login.key'), `${'11'.repeat(32)}\n`),
        DataDirCorruptError,
        /not the key .*login\.cert certifies/,
      ],
      ['login.cert garbage', (d) => writeFileSync(join(d, 'login.cert'), 'x'), DataDirCorruptError, /login\.cert/],
      [
        'login.cert flipped bit',
        (d) => {
          const b = readFileSync(join(d, 'login.cert'));
          b[b.length - 1]! ^= 1;
          writeFileSync(join(d, 'login.cert'), b);
        },
        DataDirCorruptError,
        /does not verify/,
      ],
      ['root.pub empty', (d) => writeFileSync(join(d, 'root.pub'), '# none\n'), DataDirCorruptError, /names no root/],
      [
        'root.pub another root',
        (d) => writeFileSync(join(d, 'root.pub'), `${'22'.repeat(32)}\n`),
        DataDirCorruptError,
        /not issued by a root key/,
      ],
      [
        'opaque.setup garbage',
        (d) => writeFileSync(join(d, 'opaque.setup'), 'AAAA\n'),
        DataDirCorruptError,
        /not OPAQUE server key material/,
      ],
    ];
    for (const [what, damage, type, message] of cases) {
      const { dir } = await fresh();
      const secret = readFileSync(join(dir, 'opaque.setup'), 'utf8').trim();
      damage(dir);
      const e = await rejection(loadDataDir(suite, dir));
      expect(e, what).toBeInstanceOf(type);
      expect(e.message, what).toMatch(message);
      expect(e.path.startsWith(dir), what).toBe(true);
      expect(e.message.includes(secret), what).toBe(false);
    }
  });

  it('[ID-ROOT-1] root.pub may pin several roots; the login certificate names the network by the one that issued it', async () => {
    const { dir, r } = await fresh({ network: 'rotating' });
    // Rotation step 3: a new root issues the login key's next certificate; both roots stay pinned.
    const next = createRootKey(suite, seededRandom('the next root'));
    const d = await loadDataDir(suite, dir);
    const cert = issueCertificate(suite, next, {
      subject: 'rotating',
      subjectKey: d.identity.loginKey.publicKey,
      deviceId: new Uint8Array(16),
      role: Role.ROLE_LOGIN,
      serial: 1,
      notBefore: T0,
      notAfter: T0 + 30 * DAY,
    });
    writeFileSync(join(dir, 'root.pub'), formatTrustAnchors([d.rootPublicKey, next.publicKey], 'old and new'));
    writeFileSync(join(dir, 'login.cert'), cert);
    const rotated = await loadDataDir(suite, dir);
    expect(rotated.identity.trustAnchors).toHaveLength(2);
    expect(rotated.fingerprint).toBe(fingerprintHex(next.networkFingerprint));
    expect(rotated.fingerprint).not.toBe(r.fingerprint);
    // Parsing: comments, blank lines, either case, duplicates once.
    const k = signingKeyFromSeed(suite, new Uint8Array(32).fill(3)).publicKey;
    const h = Buffer.from(k).toString('hex');
    expect(parseTrustAnchors(`# c\n\n${h.toUpperCase()}  # trailing\n${h}\n`)).toEqual([k]);
    expect(() => parseTrustAnchors('abc\n')).toThrow(/line 1/);
  });

  it('the store URL: --db, else config.json "db" (a relative sqlite path from the data directory), else sqlite:DIR/login.db', () => {
    const base = { dir: '/srv/login', config: { db: undefined } } as unknown as Parameters<typeof storeUrl>[0];
    expect(storeUrl(base)).toBe('sqlite:/srv/login/login.db');
    expect(storeUrl(base, 'postgres://h/db')).toBe('postgres://h/db');
    const withDb = (db: string) => ({ ...base, config: { ...base.config, db } }) as typeof base;
    expect(storeUrl(withDb('sqlite:state/login.db'))).toBe('sqlite:/srv/login/state/login.db');
    expect(storeUrl(withDb('sqlite:/var/db/login.db'))).toBe('sqlite:/var/db/login.db');
    expect(storeUrl(withDb('postgresql://h/db'))).toBe('postgresql://h/db');
    expect(storeUrl(withDb('postgresql://h/db'), 'sqlite:/x')).toBe('sqlite:/x');
  });

  it('[POLICY-GEN-5] policy edits: deny and allow software, lifetimes, any numeric field; unknown fields and no-ops refused', () => {
    const p = { version: 3 as never, deniedSoftware: ['a/'], protocolVersions: [] };
    const e = editPolicy(p, {
      data: '',
      denySoftware: ['b.', 'a/'],
      userCertHours: 12,
      set: ['rateLimits.addressBucketCapacity=99', 'election.minSupernodes=5'],
    });
    expect(e).toMatchObject({
      deniedSoftware: ['a/', 'b.'],
      userCertLifetimeS: 12 * 3600,
      rateLimits: { addressBucketCapacity: 99 },
      election: { minSupernodes: 5 },
    });
    expect(p.deniedSoftware).toEqual(['a/']); // the input is not changed
    expect(editPolicy(e, { data: '', allowSoftware: ['a/'] }).deniedSoftware).toEqual(['b.']);
    expect(() => editPolicy(p, { data: '' })).toThrow(/nothing to change/);
    expect(() => editPolicy(p, { data: '', set: ['rateLimits.nosuch=1'] })).toThrow(/unknown policy field/);
    expect(() => editPolicy(p, { data: '', set: ['userCertLifetimeS=-1'] })).toThrow(/FIELD=INTEGER/);
    expect(() => editPolicy(p, { data: '', allowSoftware: ['zz'] })).toThrow(/not on the deny list/);
  });
});
