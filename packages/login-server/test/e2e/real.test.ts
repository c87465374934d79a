/**
 * The login server and its client over real TCP on loopback (createRealTransport): the same runner and
 * client code as in the simulator, with real sockets and the system's timers. The transport's clock
 * counts from process start, so both sides get it shifted to T0 (certificates need unix time).
 */
import { createRealTransport, type RealTransport } from '@parley/net';
import { ErrorCode, generateSigningKey, Role, seededRandom } from '@parley/wire';
import { afterEach, describe, expect, it } from 'vitest';
import { LoginClient } from '../../src/client/index.js';
import { LoginServerCore } from '../../src/server/core.js';
import { LoginServer } from '../../src/server/runner.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { epochTransport, network, PASSWORD, suite, T0 } from './fixtures.js';

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanup.splice(0).reverse()) f();
});

describe('login server and client over real TCP (loopback)', () => {
  it('[LOGIN-CHAN-1] [LOGIN-OPAQUE-1] [LOGIN-PUB-2] register, log in and fetch the policy', async () => {
    const net = await network();
    const real: RealTransport = createRealTransport();
    cleanup.push(() => real.close());
    const transport = epochTransport(real, T0, real.clock.now());
    const store = new SqliteStore(':memory:');
    await store.migrate();
    const core = await LoginServerCore.open({ store, clock: transport.clock, suite, identity: net.identity });
    const server = new LoginServer({ transport, core, suite, listen: { address: '127.0.0.1', port: 0 } });
    const address = await server.start();
    cleanup.push(() => server.close());
    expect(address.port).toBeGreaterThan(0);

    const client = await LoginClient.connect({ transport, server: address, suite, trustAnchors: [net.root.publicKey] });
    cleanup.push(() => client.close());
    expect(client.server.certificate.role).toBe(Role.ROLE_LOGIN);
    expect(await client.register('Rita', PASSWORD)).toBe('rita');
    const key = generateSigningKey(suite, seededRandom('real tcp device'));
    const login = await client.login('rita', PASSWORD, { seed: key.seed, deviceId: new Uint8Array(16).fill(5) });
    expect(login.leaf.subject).toBe('rita');
    expect(login.leaf.subjectKey).toEqual(key.publicKey);
    const policy = await client.getPolicy();
    expect(policy).toMatchObject({ version: 1 });
    // a refusal over real sockets: a taken name, and the channel stays open
    await expect(client.register('rita', PASSWORD)).rejects.toMatchObject({ code: ErrorCode.USERNAME_TAKEN });
    expect(await client.getPolicy(1)).toBe('unchanged');
    expect(await store.countAccounts()).toBe(1);
  });
});
