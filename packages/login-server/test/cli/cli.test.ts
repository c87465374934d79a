/**
 * The parley-login-server command, run from source in child processes: init, serve over real TCP with
 * LoginClients, the operator's commands acting on a running server's store (issue-supernode-cert, revoke,
 * policy set, status), --help of every command, exit codes and one-line errors, key material kept out of
 * logs and the database, and an orderly shutdown on SIGTERM.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  decodeCertificate,
  decodeSigned,
  ErrorCode,
  fingerprintHex,
  networkFingerprint,
  Role,
  signingKeyFromSeed,
  verifyChain,
} from '@parley/wire';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { opaqueReady } from '../../src/accounts/index.js';
import {
  cli,
  cliJson,
  connect,
  device,
  logRecords,
  PASSWORD,
  type ServeProcess,
  serve,
  suite,
  trustAnchors,
} from './fixtures.js';

const HOUR = 3_600_000;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Polls `fn` until it returns a value `ok` accepts (the server reloads published objects every 100 ms). */
async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

const codeOf = (e: unknown): number | undefined =>
  (e as { code?: number }).code ?? (e as { reason?: { code?: number } }).reason?.code;

interface InitJson {
  dir: string;
  network: string;
  fingerprint: string;
  rootPublicKey: string;
  rootKey: string;
  loginCertificateNotAfter: string;
  files: { path: string; secret: boolean }[];
}

describe('parley-login-server', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'parley-cli-'));
  const dir = join(tmp, 'data');
  let init: InitJson;
  let server: ServeProcess;
  let supernodeSerial = 0;

  beforeAll(async () => {
    await opaqueReady();
    init = await cliJson<InitJson>(['init', '--data', dir, '--network', 'cli.test', '--login-lifetime-days', '30']);
    server = await serve(dir, ['--refresh-interval-ms', '100']);
  }, 60_000);
  afterAll(async () => {
    await server?.stop('SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
  });

  it('[LOGIN-OPAQUE-7] init writes the data directory: secrets 0600, root.pub, the fingerprint it prints; never overwrites', async () => {
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    for (const f of ['root.key', 'login.key', 'opaque.setup']) expect(statSync(join(dir, f)).mode & 0o777).toBe(0o600);
    for (const f of ['root.pub', 'login.cert', 'config.json']) expect(existsSync(join(dir, f))).toBe(true);
    expect(init.files.filter((f) => f.secret).map((f) => f.path.split('/').pop())).toEqual([
      'root.key',
      'login.key',
      'opaque.setup',
    ]);
    // What a client pins: the root public key; the fingerprint is its key id (ID-KEY-3).
    const anchors = trustAnchors(dir);
    expect(anchors.map(hex)).toEqual([init.rootPublicKey]);
    expect(init.fingerprint).toBe(fingerprintHex(networkFingerprint(suite, anchors[0]!)));
    expect(server.ready.fingerprint).toBe(init.fingerprint);
    // The login certificate: ROLE_LOGIN, subject the network name, 30 days, under the root.
    const chain = verifyChain(suite, [readFileSync(join(dir, 'login.cert'))], {
      trustAnchors: anchors,
      nowMs: Date.now(),
      acceptedRoles: [Role.ROLE_LOGIN],
    });
    expect(chain.leaf.subject).toBe('cli.test');
    expect(chain.leaf.notAfter - chain.leaf.notBefore).toBe(30 * 24 * HOUR);
    expect(new Date(init.loginCertificateNotAfter).getTime()).toBe(chain.leaf.notAfter);
    // [LOGIN-OPAQUE-7] the OPAQUE key material is apart from the database (the default sqlite:DIR/login.db).
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))).toMatchObject({
      format: 'parley-login-server/1',
      network: 'cli.test',
      rootKey: 'root.key',
    });

    // Again on the same directory; and --root-key-out: the root key outside the directory (0600).
    const offline = join(tmp, 'offline-root.key');
    const [again, other] = await Promise.all([
      cli(['init', '--data', dir]),
      cliJson<InitJson>(['init', '--data', join(tmp, 'other'), '--root-key-out', offline]),
    ]);
    expect(again.code).toBe(1);
    expect(again.stderr.trim().split('\n')).toHaveLength(1);
    expect(again.stderr).toMatch(/not empty; init never overwrites/);
    expect(other.rootKey).toBe(offline);
    expect(existsSync(join(tmp, 'other', 'root.key'))).toBe(false);
    expect(statSync(offline).mode & 0o777).toBe(0o600);
    expect(readFileSync(offline, 'utf8')).toMatch(/^[0-9a-f]{64}\n$/);
    // The directory works without its root key; a --root-key-out file that exists is never overwritten.
    const [status, taken] = await Promise.all([
      cliJson<{ fingerprint: string }>(['status', '--data', join(tmp, 'other')]),
      cli(['init', '--data', join(tmp, 'third'), '--root-key-out', offline]),
    ]);
    expect(status.fingerprint).toBe(other.fingerprint);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toMatch(/offline-root\.key already exists/);
    expect(existsSync(join(tmp, 'third'))).toBe(false);
  });

  it('serve: a LoginClient registers and logs in over real TCP; the certificate chains to root.pub', async () => {
    const { client, close } = await connect(dir, server.ready.port);
    try {
      expect(client.server.certificate.role).toBe(Role.ROLE_LOGIN);
      expect(await client.register('Alice', PASSWORD)).toBe('alice');
      const r = await client.login('alice', PASSWORD, device(1));
      const chain = verifyChain(suite, r.chain, {
        trustAnchors: trustAnchors(dir),
        nowMs: Date.now(),
        acceptedRoles: [Role.ROLE_USER],
      });
      expect(chain.leaf.subject).toBe('alice');
      expect(fingerprintHex(chain.networkFingerprint)).toBe(server.ready.fingerprint);
      await expect(client.register('alice', PASSWORD)).rejects.toMatchObject({ code: ErrorCode.USERNAME_TAKEN });
    } finally {
      close();
    }
    const record = logRecords(server.logLines).find((l) => l.msg === 'ready');
    expect(record).toMatchObject({ address: '127.0.0.1', port: server.ready.port, fingerprint: init.fingerprint });
  });

  it('[LOGIN-CERT-7] issue-supernode-cert: recorded in the store, verifies under root.pub, and the supernode registers with it', async () => {
    const key = signingKeyFromSeed(suite, new Uint8Array(32).fill(7));
    const deviceId = '00112233445566778899aabbccddeeff';
    const out = join(tmp, 'sn1.cert');
    const issued = await cliJson<{ serial: number; notBefore: string; notAfter: string; out: string }>([
      'issue-supernode-cert',
      '--data',
      dir,
      '--subject',
      'sn1.cli.test',
      '--key',
      hex(key.publicKey),
      '--device',
      deviceId,
      '--lifetime-hours',
      '2',
      '--out',
      out,
    ]);
    const certificate = new Uint8Array(readFileSync(out));
    const loginCertificate = new Uint8Array(readFileSync(join(dir, 'login.cert')));
    const chain = verifyChain(suite, [certificate, loginCertificate], {
      trustAnchors: trustAnchors(dir),
      nowMs: Date.now(),
      acceptedRoles: [Role.ROLE_SUPERNODE],
    });
    expect(chain.leaf).toMatchObject({ subject: 'sn1.cli.test', role: Role.ROLE_SUPERNODE, serial: issued.serial });
    expect(hex(chain.leaf.subjectKey)).toBe(hex(key.publicKey));
    expect(hex(chain.leaf.deviceId)).toBe(deviceId);
    expect(chain.leaf.notAfter - chain.leaf.notBefore).toBe(2 * HOUR);
    supernodeSerial = issued.serial;

    // The running server knows the serial (recorded by the CLI's process in the shared store): the
    // supernode's certified channel registers.
    const { client, close } = await connect(dir, server.ready.port, {
      identity: { chain: [certificate, loginCertificate], seed: key.seed },
    });
    try {
      const r = await client.supernodeRegister(
        [{ protocol: 1, address: Uint8Array.of(192, 0, 2, 7), port: 7401 }],
        500,
      );
      expect(r.heartbeatIntervalMs).toBe(30_000);
    } finally {
      close();
    }

    // Without --out: the certificate in hex; the next serial is higher.
    const second = await cliJson<{ serial: number; certificate: string }>([
      'issue-supernode-cert',
      '--data',
      dir,
      '--subject',
      'sn2',
      '--key',
      hex(key.publicKey),
      '--device',
      deviceId,
    ]);
    expect(second.serial).toBeGreaterThan(issued.serial);
    const c2 = decodeCertificate(decodeSigned(new Uint8Array(Buffer.from(second.certificate, 'hex'))).body);
    expect(c2.notAfter - c2.notBefore).toBe(6 * HOUR); // the policy's default supernode lifetime

    const bad = [
      ['--key', 'abcd'],
      ['--device', '0011'],
      ['--lifetime-hours', '25'],
      ['--subject', ''],
    ];
    const results = await Promise.all(
      bad.map(([option, value]) => {
        const args = ['--subject', 'x', '--key', hex(key.publicKey), '--device', deviceId];
        args[args.indexOf(option!) + 1] = value!;
        return cli(['issue-supernode-cert', '--data', dir, ...args]);
      }),
    );
    for (const [i, r] of results.entries()) {
      expect(r.code, `${bad[i]!.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
    }
  });

  it('[LOGIN-REVOKE-1] revoke publishes the next revocation list with the serial; a client fetches it', async () => {
    expect(supernodeSerial).toBeGreaterThan(0);
    const { client, close } = await connect(dir, server.ready.port);
    try {
      const before = await client.getRevocationList();
      if (before === 'unchanged') throw new Error('unchanged');
      const r = await cliJson<{ result: string; revocationListNumber: number }>([
        'revoke',
        '--data',
        dir,
        '--serial',
        String(supernodeSerial),
        '--reason',
        'test',
      ]);
      expect(r).toMatchObject({ result: 'revoked', revocationListNumber: before.version + 1 });
      const after = await eventually(
        () => client.getRevocationList(),
        (l) => l !== 'unchanged' && l.version > before.version,
      );
      if (after === 'unchanged') throw new Error('unchanged');
      expect(after.version).toBe(before.version + 1);
      expect(after.entries.map((e) => e.serial)).toContain(supernodeSerial);
    } finally {
      close();
    }
    const again = await cliJson<{ result: string }>(['revoke', '--data', dir, '--serial', String(supernodeSerial)]);
    expect(again.result).toBe('already');
    const unknown = await cli(['revoke', '--data', dir, '--serial', '999999']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr.trim()).toMatch(/^parley-login-server: error: no certificate with serial 999999/);
  });

  it('[POLICY-GEN-5] [POLICY-DENY-2] policy set publishes the next version, clients fetch it, and denied software gets no certificate', async () => {
    const shown = { version: 1 }; // published by serve at its first start (LOGIN-PUB-3)
    const set = await cliJson<{
      version: number;
      deniedSoftware: string[];
      userCertLifetimeMs: number;
      directory: { offlineLifetimeMs: number };
    }>([
      'policy',
      'set',
      '--data',
      dir,
      '--deny-software',
      'parley-evil/',
      '--user-cert-hours',
      '12',
      '--set',
      'directory.offlineLifetimeS=604800',
    ]);
    expect(set).toMatchObject({
      version: shown.version + 1,
      deniedSoftware: ['parley-evil/'],
      userCertLifetimeMs: 12 * HOUR,
      directory: { offlineLifetimeMs: 7 * 24 * HOUR, offlineMessagesPerRecipient: 1_000 },
    });

    const { client, close } = await connect(dir, server.ready.port);
    try {
      const p = await eventually(
        () => client.getPolicy(),
        (x) => x !== 'unchanged' && x.version === set.version,
      );
      expect(p).toMatchObject({
        version: set.version,
        deniedSoftware: ['parley-evil/'],
        userCertLifetimeMs: 12 * HOUR,
      });
      // The running server applies it: the next certificate lives 12 hours.
      const r = await client.login('alice', PASSWORD, device(2));
      expect(r.leaf.notAfter - r.leaf.notBefore).toBe(12 * HOUR);
    } finally {
      close();
    }
    // The kill switch: software on the deny list gets no certificate.
    const evil = await connect(dir, server.ready.port, { software: 'parley-evil/2.0' });
    try {
      const e = await evil.client.login('alice', PASSWORD, device(3)).catch((x: unknown) => x);
      expect(codeOf(e)).toBe(ErrorCode.SOFTWARE_DENIED);
    } finally {
      evil.close();
    }
    // The refusal is logged (one pino line, with the code and the source address).
    const logged = await eventually(
      async () =>
        logRecords(server.logLines).find((l) => l.event === 'refused' && l.code === ErrorCode.SOFTWARE_DENIED),
      (l) => l !== undefined,
    );
    expect(logged).toMatchObject({ level: 30, body: 'loginFinish', remote: '127.0.0.1' });

    // Refused, nothing published: a policy receivers would refuse (POLICY-GEN-4), rate limits out of bounds
    // (LOGIN-RATE-21), an unknown field, a version not above the current one.
    const refused = [
      ['--set', 'certClockSkewS=7200'],
      ['--set', 'rateLimits.addressBucketCapacity=2000000'],
      ['--set', 'directory.presenceLifetimeS=901'],
      ['--set', 'nosuch=1'],
      ['--deny-software', 'x/', '--policy-version', String(set.version)],
    ];
    const results = await Promise.all(refused.map((args) => cli(['policy', 'set', '--data', dir, ...args])));
    for (const [i, r] of results.entries()) {
      expect(r.code, `${refused[i]!.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    const after = await cli(['policy', 'show', '--data', dir]);
    expect(after.code).toBe(0);
    expect(after.stdout).toContain(`version: ${set.version}\n`);
    expect(after.stdout).toContain('deniedSoftware: parley-evil/\n');
  });

  it('status reports counts and the published versions', async () => {
    const s = await cliJson<{
      network: string;
      fingerprint: string;
      store: { kind: string };
      accounts: number;
      revocations: number;
      liveSupernodes: number;
      versions: { policy: number; supernodeList: number; revocationList: number };
    }>(['status', '--data', dir]);
    expect(s).toMatchObject({
      network: 'cli.test',
      fingerprint: init.fingerprint,
      store: { kind: 'sqlite' },
      accounts: 1,
      revocations: 1,
      versions: { policy: 2, revocationList: 2 },
    });
    expect(s.versions.supernodeList).toBeGreaterThanOrEqual(2); // sn1 joined the list
    const text = await cli(['status', '--data', dir]);
    expect(text.stdout).toMatch(/^accounts +1$/m);
  });

  it('--help of every command exits 0 and shows an example', async () => {
    const commands = [
      [],
      ['init'],
      ['serve'],
      ['issue-supernode-cert'],
      ['revoke'],
      ['policy'],
      ['policy', 'show'],
      ['policy', 'set'],
      ['status'],
    ];
    const results = await Promise.all(commands.map((c) => cli([...c, '--help'])));
    for (const [i, r] of results.entries()) {
      const name = commands[i]!.join(' ') || '(program)';
      expect(r.code, name).toBe(0);
      expect(r.stdout, name).toMatch(/^Usage: parley-login-server/);
      expect(r.stdout, name).toMatch(/Examples:\n {2}\$ parley-login-server /);
    }
  });

  it('usage errors exit 2, runtime failures exit 1, each with one line on stderr', async () => {
    const corrupt = join(tmp, 'corrupt');
    await cliJson(['init', '--data', corrupt]);
    writeFileSync(join(corrupt, 'login.key'), 'not a key\n');
    const cases: [string[], number, RegExp][] = [
      [[], 2, /parley-login-server/],
      [['bogus'], 2, /unknown command 'bogus'/],
      [['status'], 2, /required option '--data <dir>' not specified/],
      [['serve', '--data', dir, '--frobnicate'], 2, /unknown option '--frobnicate'/],
      [['serve', '--data', dir, '--listen', 'nowhere'], 2, /must be HOST:PORT/],
      [['init', '--data', join(tmp, 'x'), '--login-lifetime-days', '401'], 2, /1\.\.400/],
      [['status', '--data', dir, '--db', 'mysql://x'], 2, /unsupported store URL \(scheme mysql:\)/],
      [['revoke', '--data', dir, '--serial', '0'], 2, /--serial/],
      [['status', '--data', join(tmp, 'nonexistent')], 1, /does not exist \(run init\)/],
      [['serve', '--data', corrupt], 1, /login\.key is not a key file/],
    ];
    const results = await Promise.all(cases.map(([args]) => cli(args)));
    for (const [i, r] of results.entries()) {
      const [args, code, message] = cases[i]!;
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(code);
      if (args.length > 0) expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
  });

  it('[LOGIN-OPAQUE-7] [LOGIN-STORE-4] SIGTERM: orderly close of open channels, exit 0, the database closed and intact; no key material in the logs or the database', async () => {
    const { client, close } = await connect(dir, server.ready.port);
    const closed = new Promise<number | undefined>((resolve) => {
      const poll = setInterval(() => {
        if (client.closed) {
          clearInterval(poll);
          resolve(client.closeReason?.code);
        }
      }, 10);
    });
    const exit = await server.stop('SIGTERM');
    expect(exit).toEqual({ code: 0, signal: null });
    expect(await closed).toBe(0); // the server's Close, code 0: an orderly close
    close();
    const records = logRecords(server.logLines);
    expect(records.map((r) => r.msg)).toEqual(expect.arrayContaining(['shutting down', 'stopped']));
    expect(records.find((r) => r.msg === 'shutting down')).toMatchObject({ signal: 'SIGTERM' });

    // Closed: SQLite removes the WAL when the last connection closes cleanly; the file is intact.
    const path = join(dir, 'login.db');
    expect(existsSync(`${path}-wal`)).toBe(false);
    const db = new Database(path, { readonly: true });
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      expect(db.prepare('SELECT count(*) FROM accounts').pluck().get()).toBe(1);
    } finally {
      db.close();
    }

    // [LOGIN-OPAQUE-7] the secrets appear in no log line, no output, and not in the database file.
    const secrets = ['opaque.setup', 'login.key', 'root.key'].map((f) => readFileSync(join(dir, f), 'utf8').trim());
    const setupBytes = Buffer.from(secrets[0]!, 'base64url');
    const everything = [...server.logLines, ...server.stdoutLines].join('\n');
    const database = readFileSync(path);
    for (const s of secrets) {
      expect(everything.includes(s)).toBe(false);
      expect(database.includes(Buffer.from(s))).toBe(false);
    }
    expect(database.includes(setupBytes.subarray(0, 32))).toBe(false);
  });
});
