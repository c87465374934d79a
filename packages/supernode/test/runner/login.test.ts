/**
 * A supernode's link to a real login server (LoginServer over LoginServerCore and an in-memory SQLite
 * store) in the simulator (spec/07-supernode.md §4, SN-LOGIN-*): registration, heartbeats with the load,
 * the verified list, policy and revocation list followed through StateVersions, and reconnection with
 * backoff when the login server is unreachable.
 */
import { createServerSetup, LoginServer, LoginServerCore, opaqueReady, SqliteStore } from '@parley/login-server';
import type { NetAddress, Transport } from '@parley/net';
import { decodeCertificate, decodeSigned, generateSigningKey } from '@parley/wire';
import { describe, expect, it } from 'vitest';
import { backoffBoundMs, LOGIN_BACKOFF_MAX_MS, LoginLink } from '../../src/runner/login-link.js';
import { Supernode } from '../../src/runner/supernode.js';
import { epochTransport, presenceOf, settle, suite, verifyLookup, World } from '../fixtures.js';

const LOGIN_PORT = 443;

async function loginServer(w: World, transport: Transport) {
  await opaqueReady();
  const store = new SqliteStore(':memory:');
  await store.migrate();
  const core = await w.run(
    LoginServerCore.open({
      store,
      clock: transport.clock,
      suite,
      identity: {
        loginKey: w.net.login,
        loginCertificate: w.net.loginCertificate,
        trustAnchors: [w.net.root.publicKey],
        opaqueSetup: createServerSetup(),
      },
    }),
  );
  const server = new LoginServer({ transport, core, suite, listen: { address: '0.0.0.0', port: LOGIN_PORT } });
  await w.run(server.start());
  return { core, server, store };
}

interface Linked {
  supernode: Supernode;
  link: LoginLink;
  address: NetAddress;
  serial: number;
  events: { event: string; fields: Record<string, unknown> }[];
}

async function linkedSupernode(
  w: World,
  core: LoginServerCore,
  login: NetAddress,
  name: string,
  capacity = 4,
): Promise<Linked> {
  const host = w.sim.addHost();
  const transport = epochTransport(host);
  const key = generateSigningKey(suite, w.net.random);
  const deviceId = new Uint8Array(16).fill(name.length);
  const certificate = await w.run(
    core.issueSupernodeCertificate({ subject: name, subjectKey: key.publicKey, deviceId }),
  );
  const identity = { chain: [certificate, w.net.loginCertificate], seed: key.seed };
  const events: Linked['events'] = [];
  const log = (event: string, fields: Record<string, unknown>) => events.push({ event, fields });
  const supernode = new Supernode({
    transport,
    suite,
    identity,
    trustAnchors: [w.net.root.publicKey],
    listen: { address: '0.0.0.0', port: 7500 },
    limits: { capacity },
    log,
  });
  const address = await w.run(supernode.start());
  const link = new LoginLink({
    transport,
    suite,
    server: login,
    trustAnchors: [w.net.root.publicKey],
    identity,
    state: supernode.state,
    endpoints: () => [
      { protocol: 2, address: Uint8Array.from(host.address.split('.').map(Number)), port: address.port },
    ],
    capacity,
    load: () => supernode.core.load,
    log,
  });
  return {
    supernode,
    link,
    address: { host: host.address, port: address.port },
    serial: decodeCertificate(decodeSigned(certificate).body).serial,
    events,
  };
}

const wait = (w: World, ms: number) => w.run(new Promise<void>((r) => w.sim.schedule(ms, r)), ms + 1);

describe('login server link [SN-LOGIN]', () => {
  it('[SN-LOGIN-1] [SN-LOGIN-2] [SN-LOGIN-3] supernodes register, report their load, and follow the list and policy the server publishes', async () => {
    const w = new World({ seed: 'login link' });
    const loginHost = w.sim.addHost();
    const { core, server } = await loginServer(w, epochTransport(loginHost));
    const login = { host: loginHost.address, port: LOGIN_PORT };
    const sns = [];
    for (const name of ['sn-a.test', 'sn-b.test', 'sn-c.test']) sns.push(await linkedSupernode(w, core, login, name));
    for (const s of sns) await w.run(s.link.start());
    for (const s of sns) expect(s.link.status).toBe('registered');
    expect(sns[0]!.link.heartbeatIntervalMs).toBe(30_000);
    // the server rebuilds its list every few seconds; heartbeats name the new epoch, and each supernode fetches it
    await wait(w, 70_000);
    for (const s of sns) {
      expect(s.supernode.state.list.entries).toHaveLength(3);
      expect(s.supernode.state.policy?.replicationFactor).toBe(3);
      expect(s.supernode.state.loginCertificates.length).toBeGreaterThanOrEqual(1);
      expect(s.link.stats.heartbeats).toBeGreaterThanOrEqual(2);
    }
    // [SN-LOGIN-2] one node attached to sn-a: its heartbeats report a load of 1, every interval
    const heartbeats: { at: number; load: number; from: string }[] = [];
    const handle = core.handle.bind(core);
    core.handle = (session, packet) => {
      if (packet.body.case === 'supernodeHeartbeat') {
        heartbeats.push({ at: w.sim.now, load: packet.body.value.load, from: session.peer?.certificate.subject ?? '' });
      }
      return handle(session, packet);
    };
    const c = await w.connect(sns[0]!, w.user('alice'));
    await w.run(c.attach());
    await wait(w, 95_000);
    const fromA = heartbeats.filter((h) => h.from === 'sn-a.test');
    expect(fromA.length).toBeGreaterThanOrEqual(3);
    expect(fromA.at(-1)!.load).toBe(1);
    expect(fromA[1]!.at - fromA[0]!.at).toBeGreaterThanOrEqual(30_000);
    expect(heartbeats.filter((h) => h.from === 'sn-b.test').every((h) => h.load === 0)).toBe(true);
    // a newer policy is followed too ([SN-LOGIN-3])
    const p = core.policy;
    await w.run(core.publishPolicy({ ...p, version: p.version + 1, replicationFactor: 2 } as never));
    await wait(w, 40_000);
    for (const s of sns) {
      expect(s.supernode.state.policy?.version).toBe(p.version + 1);
      expect(s.supernode.core.view.k).toBe(2);
    }
    for (const s of sns) s.link.close();
    server.close();
    c.close();
  });

  it('[SN-LOGIN-3] [DIR-PUB-4] [SN-OVER-5] supernodes placed by the list the login server signs serve nodes end to end', async () => {
    const w = new World({ seed: 'login e2e' });
    const loginHost = w.sim.addHost();
    const { core, server } = await loginServer(w, epochTransport(loginHost));
    const login = { host: loginHost.address, port: LOGIN_PORT };
    const sns: Linked[] = [];
    for (const name of ['sn-a.test', 'sn-b.test', 'sn-c.test', 'sn-d.test']) {
      const s = await linkedSupernode(w, core, login, name, 100);
      await w.run(s.link.start());
      sns.push(s);
    }
    await wait(w, 70_000);
    for (const s of sns) expect(s.supernode.state.list.entries).toHaveLength(4);
    const nodes = [];
    for (let i = 0; i < 8; i++) {
      const device = w.user(`member${i}`);
      const home = sns[i % sns.length]!;
      const client = await w.connect(home, device);
      const attached = await w.run(client.attach());
      expect(attached).toMatchObject({ kind: 'attached', value: { listEpoch: home.supernode.state.epoch } });
      const r = await w.run(
        client.publish(presenceOf(device, home.supernode.keyId, { issuedAt: home.supernode.core.clock.now() })),
      );
      expect(r.replicas).toBe(3);
      nodes.push({ name: `member${i}`, client, home });
    }
    for (const [i, asker] of nodes.entries()) {
      const target = nodes[(i + 3) % nodes.length]!;
      const records = await w.run(asker.client.lookup(target.name));
      const verified = verifyLookup(w.net, target.name, records, asker.home.supernode.core.clock.now());
      expect(verified[0]!.homeSupernode).toEqual(target.home.supernode.keyId);
    }
    for (const s of sns) s.link.close();
    server.close();
  });

  it('[SN-LOGIN-3] [SN-LOGIN-5] a revocation the server publishes reaches the supernodes, which refuse the revoked certificate', async () => {
    const w = new World({ seed: 'login revoke' });
    const loginHost = w.sim.addHost();
    const { core, server } = await loginServer(w, epochTransport(loginHost));
    const login = { host: loginHost.address, port: LOGIN_PORT };
    const a = await linkedSupernode(w, core, login, 'sn-a.test');
    const b = await linkedSupernode(w, core, login, 'sn-b.test');
    await w.run(a.link.start());
    await w.run(b.link.start());
    await wait(w, 40_000);
    expect(a.supernode.state.has(b.supernode.keyId)).toBe(true);
    // b opens a channel to a (a supernode channel) before the revocation
    await w.run(
      b.supernode.peers.request(a.supernode.keyId, { case: 'lookupPresence', value: { username: 'nobody' } }),
    );
    expect(a.supernode.sessions().map((s) => s.kind)).toEqual(['supernode']);
    expect(await w.run(core.revoke(b.serial, 'compromised'))).toBe('revoked');
    await wait(w, 40_000);
    expect(a.supernode.state.isRevokedSerial(b.serial)).toBe(true);
    // the channel from b was closed, and a new one is refused in the handshake
    expect(a.supernode.sessions()).toHaveLength(0);
    await expect(
      w.run(b.supernode.peers.request(a.supernode.keyId, { case: 'lookupPresence', value: { username: 'nobody' } })),
    ).rejects.toBeDefined();
    expect(a.supernode.sessions()).toHaveLength(0);
    a.link.close();
    b.link.close();
    server.close();
  });

  it('[SN-LOGIN-4] an unreachable login server is retried with backoff: 1 s doubling to 5 min, full jitter; registration resets it', async () => {
    const w = new World({ seed: 'login backoff' });
    const loginHost = w.sim.addHost();
    const loginTransport = epochTransport(loginHost);
    const login = { host: loginHost.address, port: LOGIN_PORT };
    // a core only to issue the certificate; nothing listens yet
    await opaqueReady();
    const store = new SqliteStore(':memory:');
    await store.migrate();
    const issuer = await w.run(
      LoginServerCore.open({
        store,
        clock: loginTransport.clock,
        suite,
        identity: {
          loginKey: w.net.login,
          loginCertificate: w.net.loginCertificate,
          trustAnchors: [w.net.root.publicKey],
          opaqueSetup: createServerSetup(),
        },
      }),
    );
    const s = await linkedSupernode(w, issuer, login, 'sn-z.test');
    const registered = s.link.start();
    await wait(w, 40 * 60_000);
    const failures = s.events
      .filter((e) => e.event === 'login-failed')
      .map((e) => e.fields as { retryInMs: number; attempt: number });
    expect(failures.length).toBeGreaterThanOrEqual(12);
    for (const f of failures) {
      expect(f.retryInMs).toBeGreaterThanOrEqual(0);
      expect(f.retryInMs).toBeLessThan(backoffBoundMs(f.attempt - 1));
    }
    expect(backoffBoundMs(0)).toBe(1_000);
    expect(backoffBoundMs(1)).toBe(2_000);
    expect(backoffBoundMs(20)).toBe(LOGIN_BACKOFF_MAX_MS);
    // full jitter: the draws spread over the bound (not all near it, not all near zero)
    const late = failures.filter((f) => f.attempt > 10);
    expect(late.some((f) => f.retryInMs > LOGIN_BACKOFF_MAX_MS / 2)).toBe(true);
    expect(late.some((f) => f.retryInMs < LOGIN_BACKOFF_MAX_MS / 2)).toBe(true);
    // the server comes up: the next attempt registers and the backoff starts again from 1 s
    const server = new LoginServer({
      transport: loginTransport,
      core: issuer,
      suite,
      listen: { address: '0.0.0.0', port: LOGIN_PORT },
    });
    await w.run(server.start());
    await settle(w.sim, registered, 10 * 60_000);
    expect(s.link.status).toBe('registered');
    expect(s.link.stats.registrations).toBe(1);
    // the server goes away again: the first retry is within 1 s
    server.close();
    await wait(w, 5_000);
    const after = s.events.filter((e) => e.event === 'login-failed').slice(failures.length);
    expect(after.length).toBeGreaterThanOrEqual(1);
    expect((after[0]!.fields as { retryInMs: number }).retryInMs).toBeLessThan(1_000);
    s.link.close();
  });
});
