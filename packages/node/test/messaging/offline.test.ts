/**
 * End-to-end messaging through the offline store in the simulator (src/messaging/, spec/10-e2e.md, 07
 * §7-8): devices on different supernodes of a World, each with its E2E keys; bundles come from a
 * stand-in for the login server's FetchPrekeys that hands each one-time prekey out once (06
 * LOGIN-PREKEY-3). Every packet each supernode handles is recorded, and the plaintexts are searched for
 * in all of it.
 */

import { SupernodeCore } from '@parley/supernode';
import { type SimSupernode, suite, type TestDevice, World } from '@parley/supernode/testing';
import {
  createPrekeys,
  decodeCertificate,
  decodeSigned,
  E2eSessions,
  encodePacket,
  generateX25519,
  MemoryPrekeyStore,
  type Random,
  seededRandom,
} from '@parley/wire';
import { describe, expect, it } from 'vitest';
import { type FetchedBundle, Messenger, type PrekeySource } from '../../src/messaging/index.js';

class Directory implements PrekeySource {
  readonly devices = new Map<
    string,
    { certificate: Uint8Array; signedPrekey: Uint8Array; oneTime: { id: number; publicKey: Uint8Array }[] }[]
  >();
  async fetchPrekeys(username: string): Promise<FetchedBundle[]> {
    return (this.devices.get(username) ?? []).map((d) => ({
      certificateBytes: d.certificate,
      signedPrekeyBytes: d.signedPrekey,
      oneTimePrekey: d.oneTime.shift(),
    }));
  }
}

/** Every byte string and string a supernode's core handled (requests in, answers out). */
function recordingWorld(seed: string, supernodes = 3) {
  const handled: (Uint8Array | string)[] = [];
  const collect = (v: unknown, depth = 0): void => {
    if (depth > 12 || v === null || v === undefined) return;
    if (v instanceof Uint8Array) handled.push(v);
    else if (typeof v === 'string') handled.push(v);
    else if (Array.isArray(v)) for (const x of v) collect(x, depth + 1);
    else if (typeof v === 'object') for (const x of Object.values(v as object)) collect(x, depth + 1);
  };
  const w = new World({
    seed,
    options: {
      core: (deps) => {
        const core = new SupernodeCore(deps);
        const handle = core.handle.bind(core);
        core.handle = async (session, packet) => {
          handled.push(encodePacket(packet));
          const action = await handle(session, packet);
          collect(action);
          return action;
        };
        return core;
      },
    },
  });
  return { w, handled, supernodes };
}

interface Device {
  readonly device: TestDevice;
  readonly name: string;
  readonly messenger: Messenger;
  home: SimSupernode;
  client?: Awaited<ReturnType<World['connect']>>;
}

async function setup(seed: string) {
  const { w, handled } = recordingWorld(seed);
  const sns: SimSupernode[] = [];
  for (let i = 0; i < 3; i++) sns.push(await w.addSupernode({ address: `30.0.${i + 1}.1` }));
  w.publishList();
  const directory = new Directory();
  const now = () => w.sim.now + Date.UTC(2026, 10, 22, 12, 0, 0);
  const make = (name: string, deviceByte: number, home: SimSupernode): Device => {
    const device = w.user(name, deviceByte);
    const certificate = decodeCertificate(decodeSigned(device.chain[0]!).body);
    const random: Random = seededRandom(`${seed} ${name} ${deviceByte}`);
    const identityDh = generateX25519(suite, random);
    const created = createPrekeys(suite, random, {
      seed: device.seed,
      deviceId: device.deviceId,
      identityDhKey: identityDh.publicKey,
      signedPrekeyId: 1,
      firstOneTimeId: 1,
      count: 4,
      nowMs: now(),
    });
    const prekeys = new MemoryPrekeyStore();
    prekeys.signed.set(1, created.signed.keyPair.privateKey);
    for (const k of created.oneTime) prekeys.oneTime.set(k.id, k.keyPair.privateKey);
    const list = directory.devices.get(name) ?? [];
    list.push({
      certificate: device.chain[0]!,
      signedPrekey: created.upload.signedPrekey,
      oneTime: created.upload.oneTimePrekeys,
    });
    directory.devices.set(name, list);
    const local = { username: name, deviceId: device.deviceId, identityDh, signedPrekey: created.upload.signedPrekey };
    const d: Device = {
      device,
      name,
      home,
      messenger: new Messenger({
        suite,
        random,
        now,
        username: name,
        identity: device,
        certificate,
        sessions: new E2eSessions(suite, random, local, prekeys),
        trust: { trustAnchors: [w.net.root.publicKey], loginCertificates: [w.net.loginCertificate] },
        prekeys: directory,
        home: () => {
          if (d.client === undefined) throw new Error(`${name} is not attached`);
          return d.client;
        },
      }),
    };
    return d;
  };
  const attach = async (d: Device) => {
    d.client = await w.connect(d.home, d.device);
    await w.run(d.client.attach());
  };
  return { w, sns, make, attach, handled };
}

const chats = (r: Awaited<ReturnType<Messenger['fetchAll']>>) =>
  r.filter((m) => m.message.body.kind === 'chat').map((m) => (m.message.body as { text: string }).text);

describe('end-to-end messages through the offline store (simulator)', () => {
  it("[E2E-X3DH-3] [STORE-ACK-2] bob is offline: alice's messages wait at his holders, arrive on attach in order, once, and are answered with a receipt", async () => {
    const { w, sns, make, attach } = await setup('offline e2e');
    const alice = make('alice', 1, sns[0]!);
    const bob = make('bob', 2, sns[1]!);
    await attach(alice);
    for (const text of ['one', 'two', 'three']) {
      await w.run(alice.messenger.sendText('bob', text));
    }
    await attach(bob);
    const got = await w.run(bob.messenger.fetchAll());
    expect(chats(got)).toEqual(['one', 'two', 'three']);
    expect(got.every((m) => m.from === 'alice')).toBe(true);
    // acknowledged: nothing the second time
    expect(await w.run(bob.messenger.fetchAll())).toEqual([]);
    // the receipt names all three
    const receipts = await w.run(alice.messenger.fetchAll());
    const ids = receipts.flatMap((r) => (r.message.body.kind === 'receipt' ? r.message.body.messageIds : []));
    expect(ids.length).toBe(3);
    // and the conversation goes on in both directions
    await w.run(bob.messenger.sendText('alice', 'hi alice'));
    expect(chats(await w.run(alice.messenger.fetchAll()))).toEqual(['hi alice']);
  });

  it('[E2E-BUNDLE-1] a user with two devices: the bundle is encrypted for both, and the first to fetch acknowledges it for the user (07 §8.3 deletes per user)', async () => {
    const { w, sns, make, attach } = await setup('two devices');
    const alice = make('alice', 1, sns[0]!);
    const bob1 = make('bob', 2, sns[1]!);
    const bob2 = make('bob', 3, sns[2]!);
    await attach(alice);
    await w.run(alice.messenger.sendText('bob', 'to both'));
    await attach(bob1);
    await attach(bob2);
    expect(chats(await w.run(bob1.messenger.fetchAll()))).toEqual(['to both']);
    // the first device acknowledged: the holders deleted the message for the user (07 §8.3)
    expect(chats(await w.run(bob2.messenger.fetchAll()))).toEqual([]);
  });

  it('[E2E-RATCHET-4] no supernode ever handles a plaintext: every packet in and answer out is searched for it', async () => {
    const { w, sns, make, attach, handled } = await setup('plaintext scan');
    const alice = make('alice', 1, sns[0]!);
    const bob = make('bob', 2, sns[1]!);
    await attach(alice);
    const secrets = ['the eagle lands at midnight', 'cabbage-7a0f-secret-payload', 'x'.repeat(40)];
    for (const s of secrets) await w.run(alice.messenger.sendText('bob', s));
    await attach(bob);
    expect(chats(await w.run(bob.messenger.fetchAll()))).toEqual(secrets);
    await w.run(bob.messenger.sendText('alice', secrets[0]!));
    expect(chats(await w.run(alice.messenger.fetchAll()))).toContain(secrets[0]);
    expect(handled.length).toBeGreaterThan(10);
    const contains = (hay: Uint8Array, needle: Uint8Array) => Buffer.from(hay).indexOf(Buffer.from(needle)) >= 0;
    for (const s of secrets) {
      const needle = new TextEncoder().encode(s);
      for (const h of handled) {
        if (typeof h === 'string') expect(h.includes(s)).toBe(false);
        else expect(contains(h, needle)).toBe(false);
      }
    }
    // the scan sees real traffic: the envelopes did pass (the sender's name is in them, in the clear)
    expect(handled.some((h) => h instanceof Uint8Array && contains(h, new TextEncoder().encode('alice')))).toBe(true);
  });
});
