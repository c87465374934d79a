/**
 * Two nodes behind two real Linux NATs connect (spec/08-connectivity.md §6, the node's paths): a
 * supernode on a public host of a network-namespace lab (@parley/net's netns), two private hosts each
 * behind its own port-restricted (port-preserving MASQUERADE) NAT, all real `node` processes speaking
 * the real protocol over real sockets (fixtures/peer.mjs, which runs the built packages). The punch
 * through both NATs gives a direct path on both sides, and datagrams cross it both ways. Behind two
 * symmetric NATs (random ports) the punch cannot work, and both sides fall back to the relay.
 *
 * Skipped, with the reason, where namespaces cannot be made (not root, no iproute2/nftables/iptables).
 * The packages are built first (turbo, cached), because the processes run the dist output.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createNetnsLab,
  type LabHost,
  type LabNat,
  type LabProcess,
  type NetnsLab,
  netnsAvailable,
} from '@parley/net/netns';
import { certified, suite, testNetwork } from '@parley/supernode/testing';
import { derivePlacementKey, Role } from '@parley/wire';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../../..');
const fixture = join(here, 'fixtures/peer.mjs');
const available = netnsAvailable();
const b64 = (u: Uint8Array) => Buffer.from(u).toString('base64');
const SN_PORT = 7500;

describe.runIf(available.ok)('paths through real NATs (network namespaces)', () => {
  let lab: NetnsLab;
  let dir: string;
  const net = testNetwork('real nat paths');
  const sn = certified(net, Role.ROLE_SUPERNODE, 'sn1.test', 0x81);
  let snHost: LabHost;

  const write = (name: string, config: unknown): string => {
    const f = join(dir, `${name}.json`);
    writeFileSync(f, JSON.stringify(config));
    return f;
  };
  const identity = (d: { chain: Uint8Array[]; seed: Uint8Array }) => ({ chain: d.chain.map(b64), seed: b64(d.seed) });

  beforeAll(async () => {
    // The fixtures run the dist output of the node package and everything it depends on.
    // Through the root script: `pnpm exec turbo` would not find the workspace's pnpm to run each package's build.
    execFileSync('pnpm', ['run', 'build', '--output-logs=errors-only', '--filter=@parley/node...'], {
      cwd: root,
      stdio: 'inherit',
      timeout: 300_000,
    });
    dir = mkdtempSync(join(tmpdir(), 'parley-realnat-'));
    lab = createNetnsLab();
    snHost = lab.addPublicHost('sn');
    const entry = {
      keyId: b64(sn.keyId),
      placementKey: b64(derivePlacementKey(suite, net.login, sn.keyId)),
      endpoints: [2, 1].map((protocol) => ({
        protocol,
        address: b64(Uint8Array.from(snHost.address.split('.').map(Number))),
        port: SN_PORT,
      })),
      software: 'parley-ref-supernode/0.1.0',
      loadPercent: 0,
      hosted: true,
      notAfterMs: Date.UTC(2026, 10, 23),
    };
    const p = lab.spawnNode(snHost, fixture, [
      write('sn', {
        role: 'supernode',
        identity: identity(sn),
        root: b64(net.root.publicKey),
        listen: snHost.address,
        port: SN_PORT,
        list: [entry],
      }),
    ]);
    await p.waitFor('ready', { timeoutMs: 20_000 });
  }, 360_000);

  afterAll(async () => {
    await lab?.destroy();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  async function node(name: string, nat: LabNat, device: number): Promise<{ p: LabProcess; deviceId: Uint8Array }> {
    const host = lab.addPrivateHost(name, nat);
    const d = certified(net, Role.ROLE_USER, name, device);
    const p = lab.spawnNode(host, fixture, [
      write(name, {
        role: 'node',
        identity: identity(d),
        root: b64(net.root.publicKey),
        supernode: { host: snHost.address, port: SN_PORT },
        keyId: b64(sn.keyId),
        hostAddress: host.address,
      }),
    ]);
    const ready = await p.waitFor('ready', { timeoutMs: 20_000 });
    expect(ready.reflexive).not.toBeNull();
    return { p, deviceId: d.deviceId };
  }

  async function call(a: LabProcess, bob: { p: LabProcess; deviceId: Uint8Array }, name: string) {
    a.send({ cmd: 'call', username: name, deviceId: b64(bob.deviceId), via: b64(sn.keyId) });
    const [pa, pb] = await Promise.all([
      a.waitFor('path', { timeoutMs: 20_000 }),
      bob.p.waitFor('path', { timeoutMs: 20_000 }),
    ]);
    // datagrams cross both ways
    await Promise.all([a.waitFor('datagram', { timeoutMs: 10_000 }), bob.p.waitFor('datagram', { timeoutMs: 10_000 })]);
    return { pa, pb };
  }

  it('[NAT-PUNCH-7] [NAT-PUNCH-9] behind two port-restricted NATs: the punch gives a direct path on both sides', async () => {
    const alice = await node('alice', lab.addNat('pr1', { kind: 'port-restricted' }), 1);
    const bob = await node('bob', lab.addNat('pr2', { kind: 'port-restricted' }), 2);
    const { pa, pb } = await call(alice.p, bob, 'bob');
    expect([pa.via, pa.kind, pb.via, pb.kind]).toEqual(['punch', 'direct', 'punch', 'direct']);
  }, 60_000);

  it('[NAT-PUNCH-8] [RELAY-BIND-3] behind two symmetric NATs: both sides fall back to the relay over UDP', async () => {
    const carol = await node('carol', lab.addNat('sym1', { kind: 'symmetric' }), 3);
    const dave = await node('dave', lab.addNat('sym2', { kind: 'symmetric' }), 4);
    const { pa, pb } = await call(carol.p, dave, 'dave');
    expect([pa.via, pa.kind, pb.via, pb.kind]).toEqual(['relay', 'relay-udp', 'relay', 'relay-udp']);
  }, 60_000);
});

if (!available.ok) {
  describe('paths through real NATs (network namespaces)', () => {
    it.skip(`skipped: ${available.reason}`, () => {});
  });
}
