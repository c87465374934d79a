/**
 * The parley-supernode command, in process: --help of every command, usage errors (exit 2, one line),
 * keygen, and serve over real TCP against a real login server (registration, a node attaching, status
 * --json, an orderly stop).
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServerSetup, LoginServer, LoginServerCore, opaqueReady, SqliteStore } from '@parley/login-server';
import { createRealTransport } from '@parley/net';
import { createNetworkKeys, issueCertificate, Role, seededRandom, systemRandom } from '@parley/wire';
import { afterAll, describe, expect, it } from 'vitest';
import { wallClock } from '../../src/cli/common.js';
import { main } from '../../src/cli/main.js';
import { SupernodeClient } from '../../src/runner/node-client.js';
import { suite } from '../fixtures.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'parley-sn-cli-'));
  dirs.push(d);
  return d;
}

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) }, out, err };
}

async function eventually<T>(fn: () => T, ok: (v: T) => boolean, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    let v: T | undefined;
    try {
      v = fn();
      if (ok(v)) return v;
    } catch {
      // not yet
    }
    if (Date.now() > end) return v as T;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('parley-supernode', () => {
  it('--help of every command shows its options and examples', async () => {
    for (const argv of [['--help'], ['serve', '--help'], ['status', '--help'], ['keygen', '--help']]) {
      const c = capture();
      expect(await main(argv, c.io)).toBe(0);
      const text = c.out.join('');
      expect(text).toContain('Examples:');
      expect(text).toContain('parley-supernode');
    }
    const c = capture();
    await main(['serve', '--help'], c.io);
    for (const o of ['--login', '--cert', '--key', '--data-dir', '--listen', '--capacity', '--memory-only', '--json']) {
      expect(c.out.join('')).toContain(o);
    }
  });

  it('usage errors exit 2 with one line on stderr', async () => {
    const c = capture();
    expect(await main(['serve'], c.io)).toBe(2);
    expect(c.err.join('')).toMatch(/^parley-supernode: error: required option/);
    const d = capture();
    expect(await main(['serve', '--login', 'nowhere', '--cert', 'x', '--key', 'y', '--data-dir', tmp()], d.io)).toBe(2);
    expect(d.err.join('').trim().split('\n')).toHaveLength(1);
    const e = capture();
    expect(await main(['status', '--data-dir', tmp()], e.io)).toBe(1);
    expect(e.err.join('')).toContain('status.json does not exist');
  });

  it('keygen writes a secret seed and prints its public key and a device id', async () => {
    const dir = tmp();
    const c = capture();
    expect(await main(['keygen', '--out', join(dir, 'sn.key'), '--json'], c.io)).toBe(0);
    const r = JSON.parse(c.out.join('')) as { publicKey: string; deviceId: string };
    const seed = Buffer.from(readFileSync(join(dir, 'sn.key'), 'utf8').trim(), 'hex');
    expect(Buffer.from(suite.ed25519PublicKey(seed)).toString('hex')).toBe(r.publicKey);
    expect(r.deviceId).toMatch(/^[0-9a-f]{32}$/);
    expect(statSync(join(dir, 'sn.key')).mode & 0o077).toBe(0);
    // never overwritten
    expect(await main(['keygen', '--out', join(dir, 'sn.key')], capture().io)).toBe(2);
  });

  it('[SN-LOGIN-1] serve registers with the login server, attaches a node, reports status, and stops in order', async () => {
    await opaqueReady();
    const dir = tmp();
    const now = Date.now();
    const keys = createNetworkKeys(suite, seededRandom('cli serve'), {
      subject: 'login.test',
      notBefore: now - 3_600_000,
      notAfter: now + 30 * 86_400_000,
    });
    const real = createRealTransport();
    const transport = { ...real, clock: wallClock(real.clock) };
    const store = new SqliteStore(':memory:');
    await store.migrate();
    const core = await LoginServerCore.open({
      store,
      clock: transport.clock,
      suite,
      identity: {
        loginKey: keys.login,
        loginCertificate: keys.loginCertificate,
        trustAnchors: [keys.root.publicKey],
        opaqueSetup: createServerSetup(),
      },
    });
    const login = new LoginServer({
      transport,
      core,
      suite,
      listen: { address: '127.0.0.1', port: 0 },
      refreshIntervalMs: 100,
    });
    const loginAddress = await login.start();
    try {
      const k = capture();
      await main(['keygen', '--out', join(dir, 'sn.key'), '--json'], k.io);
      const kg = JSON.parse(k.out.join('')) as { publicKey: string; deviceId: string };
      const cert = await core.issueSupernodeCertificate({
        subject: 'sn1.test',
        subjectKey: new Uint8Array(Buffer.from(kg.publicKey, 'hex')),
        deviceId: new Uint8Array(Buffer.from(kg.deviceId, 'hex')),
      });
      writeFileSync(join(dir, 'sn.cert'), cert);
      writeFileSync(join(dir, 'root.pub'), `# test network\n${Buffer.from(keys.root.publicKey).toString('hex')}\n`);
      let stop!: (s: string) => void;
      const stopped = new Promise<string>((r) => {
        stop = r;
      });
      const c = capture();
      const running = main(
        [
          'serve',
          ...[
            '--login',
            `127.0.0.1:${loginAddress.port}`,
            '--cert',
            join(dir, 'sn.cert'),
            '--key',
            join(dir, 'sn.key'),
          ],
          ...['--data-dir', dir, '--listen', '127.0.0.1:0', '--memory-only', '--json', '--log-level', 'silent'],
        ],
        c.io,
        stopped,
      );
      const ready = await eventually(
        () => JSON.parse(c.out[0]!) as { event: string; port: number; keyId: string },
        (r) => r?.event === 'ready',
      );
      expect(ready.port).toBeGreaterThan(0);
      const status = () => JSON.parse(readFileSync(join(dir, 'status.json'), 'utf8'));
      expect((await eventually(status, (s) => s.login.status === 'registered')).login.status).toBe('registered');

      // a node attaches
      const userKey = systemRandom.randomBytes(32);
      const user = issueCertificate(suite, keys.login, {
        subject: 'alice',
        subjectKey: suite.ed25519PublicKey(userKey),
        deviceId: new Uint8Array(16).fill(1),
        role: Role.ROLE_USER,
        serial: 99,
        notBefore: now - 3_600_000,
        notAfter: now + 3_600_000,
      });
      const node = await SupernodeClient.connect({
        transport,
        suite,
        supernode: { host: '127.0.0.1', port: ready.port },
        trustAnchors: [keys.root.publicKey],
        identity: { chain: [user, keys.loginCertificate], seed: userKey },
      });
      expect((await node.attach()).kind).toBe('attached');
      // status --json shows it within a status interval
      const s = await eventually(
        () => {
          const o = capture();
          void main(['status', '--data-dir', dir, '--json'], o.io);
          return JSON.parse(o.out.join('')) as { attachments: number; alive: boolean; listSize: number };
        },
        (x) => x?.attachments === 1 && x.listSize === 1,
        10_000,
      );
      expect(s).toMatchObject({ attachments: 1, alive: true, listSize: 1 });
      const text = capture();
      await main(['status', '--data-dir', dir], text.io);
      expect(text.out.join('')).toContain('attachments    1 (1 active)');

      const t0 = Date.now();
      stop('SIGTERM');
      expect(await running).toBe(0);
      expect(Date.now() - t0).toBeLessThan(5_000);
      expect(status().state).toBe('stopped');
      expect(
        await eventually(
          () => node.closed,
          (x) => x,
          5_000,
        ),
      ).toBe(true);
    } finally {
      login.close();
      real.close();
    }
  });
});
