/**
 * Two supernodes and two nodes over real TCP on loopback (createRealTransport): the same runner and client
 * code as in the simulator, with real sockets, Noise and the system's timers. The transport's clock counts
 * from process start, so every side gets it shifted to T0 (certificates need unix time).
 */
import { createRealTransport, type RealTransport } from '@parley/net';
import { derivePlacementKey, Role } from '@parley/wire';
import { afterEach, describe, expect, it } from 'vitest';
import { SupernodeClient } from '../../src/runner/node-client.js';
import { Supernode } from '../../src/runner/supernode.js';
import {
  certified,
  epochTransport,
  HOUR,
  messageOf,
  presenceOf,
  suite,
  T0,
  testNetwork,
  verifyLookup,
} from '../fixtures.js';

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanup.splice(0).reverse()) f();
});

describe('supernodes over real TCP (loopback)', () => {
  it('[SN-ATTACH-4] [DIR-PUB-4] [SN-OVER-5] [STORE-REPL-1] attach, publish, look up across supernodes, store and fetch a message', async () => {
    const net = testNetwork('real tcp');
    const real: RealTransport = createRealTransport();
    cleanup.push(() => real.close());
    const transport = epochTransport(real, T0, real.clock.now());
    const sns: Supernode[] = [];
    for (const [i, name] of ['sn1.test', 'sn2.test'].entries()) {
      const identity = certified(net, Role.ROLE_SUPERNODE, name, 0x90 + i);
      const sn = new Supernode({
        transport,
        suite,
        identity,
        trustAnchors: [net.root.publicKey],
        listen: { address: '127.0.0.1', port: 0 },
      });
      await sn.start();
      cleanup.push(() => sn.close());
      sns.push(sn);
    }
    const entries = sns.map((s) => ({
      keyId: s.keyId,
      placementKey: derivePlacementKey(suite, net.login, s.keyId),
      endpoints: [{ protocol: 2, address: Uint8Array.of(127, 0, 0, 1), port: s.address!.port }],
      software: 'real',
      loadPercent: 0,
      hosted: true,
      notAfterMs: T0 + HOUR,
    }));
    for (const s of sns) s.state.setList({ epoch: 1, issuedAtMs: T0, expiresAtMs: T0 + HOUR, entries });

    const connect = async (to: Supernode, device: ReturnType<typeof certified>) => {
      const c = await SupernodeClient.connect({
        transport,
        suite,
        supernode: to.address!,
        trustAnchors: [net.root.publicKey],
        identity: device,
        expectKeyId: to.keyId,
      });
      cleanup.push(() => c.close());
      return c;
    };
    const aliceDevice = certified(net, Role.ROLE_USER, 'alice', 1);
    const bobDevice = certified(net, Role.ROLE_USER, 'bob', 2);
    const alice = await connect(sns[0]!, aliceDevice);
    const bob = await connect(sns[1]!, bobDevice);
    const attached = await alice.attach();
    if (attached.kind !== 'attached') throw new Error('expected attached');
    expect(attached.value.observed?.address).toEqual(Uint8Array.of(127, 0, 0, 1));
    expect(attached.value.listEpoch).toBe(1);
    await bob.attach();

    const published = await alice.publish(presenceOf(aliceDevice, sns[0]!.keyId, { issuedAt: transport.clock.now() }));
    expect(published.replicas).toBe(2); // k = 3, two supernodes: both hold it
    const records = await bob.lookup('Alice');
    expect(verifyLookup(net, 'alice', records, transport.clock.now())[0]!.homeSupernode).toEqual(sns[0]!.keyId);

    const m = messageOf(aliceDevice, 'bob', { createdAt: transport.clock.now(), text: 'over tcp' });
    expect((await alice.store(m)).replicas).toBe(2);
    const fetched = await bob.fetch();
    expect(fetched.messages).toHaveLength(1);
    expect(await bob.ack([{ sender: 'alice', messageId: m.messageId }])).toBe(1);
    expect((await bob.fetch()).messages).toHaveLength(0);
  });
});
