/**
 * The directory and the offline store across several supernodes, over the simulator (spec/07-supernode.md
 * §5-9): many nodes attached to several supernodes; publishes written to the k responsible supernodes;
 * lookups through any supernode; a lying supernode caught by the verifying client; a lost replica; offline
 * messages stored, fetched (merged and deduplicated) and acknowledged at every replica; handoff on a list
 * change.
 */
import { ErrorCode, type PacketBodies } from '@parley/wire';
import { describe, expect, it } from 'vitest';
import type { SupernodeClient } from '../../src/runner/node-client.js';
import { HOUR, messageOf, presenceOf, type SimSupernode, type TestDevice, verifyLookup, World } from '../fixtures.js';

interface Node {
  name: string;
  device: TestDevice;
  home: SimSupernode;
  client: SupernodeClient;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** `n` supernodes, one list, and `users` nodes attached round-robin, each with its record published. */
async function network(seed: string, n: number, users: number): Promise<{ w: World; nodes: Node[] }> {
  const w = new World({ seed });
  for (let i = 0; i < n; i++) await w.addSupernode();
  w.publishList();
  const nodes: Node[] = [];
  for (let i = 0; i < users; i++) {
    const name = `user${i}`;
    const device = w.user(name);
    const home = w.supernodes[i % n]!;
    const client = await w.connect(home, device);
    await w.run(client.attach());
    nodes.push({ name, device, home, client });
  }
  return { w, nodes };
}

async function publishAll(w: World, nodes: Node[], sequence = 1): Promise<void> {
  for (const node of nodes) {
    const r = await w.run(
      node.client.publish(
        presenceOf(node.device, node.home.identity.keyId, { sequence, issuedAt: node.home.transport.clock.now() }),
      ),
    );
    expect(r.sequence).toBe(sequence);
    expect(r.replicas).toBe(3);
  }
}

/** The supernodes that hold a record of `name`. */
function holders(w: World, name: string): string[] {
  return w.supernodes.filter((s) => s.supernode.core.directory.holds(name)).map((s) => hex(s.identity.keyId));
}

describe('publish and lookup [DIR-PUB] [SN-OVER]', () => {
  it('[DIR-PUB-4] [SN-OVER-1] [SN-OVER-5] a record is held by exactly the k responsible supernodes, and a lookup through any supernode finds any online user', async () => {
    const { w, nodes } = await network('lookup all', 6, 24);
    await publishAll(w, nodes);
    for (const node of nodes) {
      const expected = w.supernodes[0]!.supernode.core.view.responsibleFor(node.name).map(hex).sort();
      expect(holders(w, node.name).sort()).toEqual(expected);
    }
    // every node looks up five others, through its own supernode
    const now = () => w.supernodes[0]!.transport.clock.now();
    for (const [i, asker] of nodes.entries()) {
      for (let j = 1; j <= 5; j++) {
        const target = nodes[(i + j * 5) % nodes.length]!;
        const records = await w.run(asker.client.lookup(target.name.toUpperCase()));
        const verified = verifyLookup(w.net, target.name, records, now());
        expect(verified).toHaveLength(1);
        expect(verified[0]!.homeSupernode).toEqual(target.home.identity.keyId);
      }
    }
    // an unknown user: an empty answer
    expect(await w.run(nodes[0]!.client.lookup('nobody'))).toEqual([]);
    // [SN-OVER-1] one channel per pair of supernodes, reused
    for (const s of w.supernodes) expect(s.supernode.peers.opened).toBeLessThanOrEqual(w.supernodes.length - 1);
  });

  it("[DIR-PUB-1] [DIR-PUB-2] [SN-ATTACH-7] a node publishes only its own device's record naming this supernode, after attaching", async () => {
    const { w, nodes } = await network('publish rules', 3, 2);
    const [a, b] = nodes as [Node, Node];
    const now = a.home.transport.clock.now();
    // [DIR-PUB-1] another user's record, even validly signed, is refused
    await expect(
      w.run(a.client.publish(presenceOf(b.device, a.home.identity.keyId, { issuedAt: now }))),
    ).rejects.toMatchObject({ code: ErrorCode.NOT_AUTHORIZED });
    // [DIR-PUB-2] a record naming another home supernode is refused
    await expect(
      w.run(a.client.publish(presenceOf(a.device, b.home.identity.keyId, { issuedAt: now }))),
    ).rejects.toMatchObject({ code: ErrorCode.NOT_AUTHORIZED });
    // [SN-ATTACH-7] an unattached channel may not publish or look up
    const fresh = await w.connect(a.home, w.user('zed'));
    await expect(w.run(fresh.lookup('user0'))).rejects.toMatchObject({ code: ErrorCode.NOT_AUTHORIZED });
    // a standby attachment is not enough either
    await w.run(fresh.attach({ standby: true }));
    await expect(w.run(fresh.lookup('user0'))).rejects.toMatchObject({ code: ErrorCode.NOT_AUTHORIZED });
    expect(fresh.closed).toBe(false);
    for (const s of w.supernodes) expect(s.supernode.core.directory.size).toBe(0);
  });

  it('[DIR-PUB-3] a record that fails verification is refused before it is stored or forwarded', async () => {
    const { w, nodes } = await network('publish verify', 3, 1);
    const a = nodes[0]!;
    const now = a.home.transport.clock.now();
    const good = presenceOf(a.device, a.home.identity.keyId, { issuedAt: now });
    const bad = { certificate: good.certificate, record: Uint8Array.from(good.record) };
    bad.record[bad.record.length - 1]! ^= 1; // the signature's last byte
    await expect(w.run(a.client.publish(bad))).rejects.toMatchObject({ name: 'IdentityError' });
    expect(a.client.closed).toBe(false);
    // an expired record: TOO_OLD
    const old = presenceOf(a.device, a.home.identity.keyId, { issuedAt: now - HOUR });
    await expect(w.run(a.client.publish(old))).rejects.toMatchObject({ code: ErrorCode.TOO_OLD });
    for (const s of w.supernodes) expect(s.supernode.core.directory.size).toBe(0);
    expect(a.home.supernode.core.stats.forwarded).toBe(0);
    // a lower sequence than held: STALE, from every replica
    await w.run(a.client.publish(presenceOf(a.device, a.home.identity.keyId, { issuedAt: now, sequence: 5 })));
    await expect(
      w.run(a.client.publish(presenceOf(a.device, a.home.identity.keyId, { issuedAt: now, sequence: 4 }))),
    ).rejects.toMatchObject({ code: ErrorCode.STALE });
  });

  it('[DIR-PUB-5] [DIR-PUB-6] [STORE-REPL-2] [SN-OVER-3] a supernode that is not responsible refuses a forwarded record or message with NOT_RESPONSIBLE and never forwards it', async () => {
    const { w, nodes } = await network('not responsible', 8, 1);
    const a = nodes[0]!;
    const view = w.supernodes[0]!.supernode.core.view;
    // with 8 supernodes and k = 3, two are neither responsible nor in the fallback range
    const outsider = w.supernodes.find((s) => !view.candidates(a.name).some((k) => hex(k) === hex(s.identity.keyId)))!;
    const insider = w.supernodes.find((s) => view.isResponsible(a.name, s.identity.keyId))!;
    const via = w.supernodes.find((s) => s !== insider && s !== outsider)!;
    const record = presenceOf(a.device, a.home.identity.keyId, { issuedAt: a.home.transport.clock.now() });
    // a supernode channel from `via` to the responsible one: stored there, one replica, nothing forwarded
    const before = insider.supernode.core.stats.forwarded;
    const r = await w.run(
      via.supernode.peers.request(insider.identity.keyId, { case: 'publishPresence', value: { presence: record } }),
    );
    expect(r.body).toMatchObject({ case: 'publishPresenceReply', value: { replicas: 1 } });
    expect(insider.supernode.core.stats.forwarded).toBe(before);
    const r2 = await w.run(
      via.supernode.peers.request(outsider.identity.keyId, { case: 'publishPresence', value: { presence: record } }),
    );
    expect(r2.body).toMatchObject({ case: 'error', value: { code: ErrorCode.NOT_RESPONSIBLE } });
    expect(outsider.supernode.core.directory.holds(a.name)).toBe(false);
    expect(outsider.supernode.core.stats.forwarded).toBe(0);
    // [STORE-REPL-2] the same for a message forwarded one hop
    const message = messageOf(a.device, a.name, { createdAt: a.home.transport.clock.now() });
    const r3 = await w.run(
      via.supernode.peers.request(outsider.identity.keyId, { case: 'storeMessage', value: { message } }),
    );
    expect(r3.body).toMatchObject({ case: 'error', value: { code: ErrorCode.NOT_RESPONSIBLE } });
    const r4 = await w.run(
      via.supernode.peers.request(insider.identity.keyId, { case: 'storeMessage', value: { message } }),
    );
    expect(r4.body).toMatchObject({ case: 'storeMessageReply', value: { replicas: 1 } });
    // [DIR-PUB-6] ReplicatePresence: each record verified; kept (and counted) only where the name is placed
    const other = w.user('user77');
    const placedHere = (s: SimSupernode, name: string) =>
      view.candidates(name).some((k) => hex(k) === hex(s.identity.keyId));
    const tampered = { certificate: record.certificate, record: Uint8Array.from(record.record) };
    tampered.record[tampered.record.length - 2]! ^= 1;
    const otherRecord = presenceOf(other, a.home.identity.keyId, { issuedAt: a.home.transport.clock.now() });
    const r5 = await w.run(
      via.supernode.peers.request(insider.identity.keyId, {
        case: 'replicatePresence',
        value: { records: [record, tampered, otherRecord] },
      }),
    );
    const expected = 1 + (placedHere(insider, 'user77') ? 1 : 0);
    expect(r5.body).toMatchObject({ case: 'replicatePresenceReply', value: { accepted: expected } });
    expect(insider.supernode.core.directory.holds('user77')).toBe(placedHere(insider, 'user77'));
  });

  it('[SN-OVER-2] [SN-OVER-4] a peer is dialled only at its listed endpoint and must prove the listed key; a peer that leaves the list is closed', async () => {
    const { w } = await network('peer key', 3, 0);
    const [s1, s2, s3] = w.supernodes as [SimSupernode, SimSupernode, SimSupernode];
    // s1's list names s2's key at s3's endpoint
    const entries = w.entries();
    entries[1] = { ...entries[1]!, endpoints: entries[2]!.endpoints };
    s1.supernode.state.setList({ epoch: 50, issuedAtMs: 0, expiresAtMs: 1, entries });
    await expect(
      w.run(s1.supernode.peers.request(s2.identity.keyId, { case: 'lookupPresence', value: { username: 'nobody' } })),
    ).rejects.toMatchObject({ code: ErrorCode.CERT_INVALID });
    // with the right endpoint, one channel, reused
    s1.supernode.state.setList({ epoch: 51, issuedAtMs: 0, expiresAtMs: 1, entries: w.entries() });
    const opened = s1.supernode.peers.opened;
    for (let i = 0; i < 3; i++) {
      await w.run(
        s1.supernode.peers.request(s2.identity.keyId, { case: 'lookupPresence', value: { username: 'nobody' } }),
      );
    }
    expect(s1.supernode.peers.opened).toBe(opened + 1);
    expect(s1.supernode.peers.size).toBe(1);
    // s2 leaves the list: its channel is closed, and it is not dialled any more
    s1.supernode.state.setList({ epoch: 52, issuedAtMs: 0, expiresAtMs: 1, entries: w.entries([s1, s3]) });
    expect(s1.supernode.peers.size).toBe(0);
    await expect(
      w.run(s1.supernode.peers.request(s2.identity.keyId, { case: 'lookupPresence', value: { username: 'nobody' } })),
    ).rejects.toMatchObject({ code: ErrorCode.RESOURCE_LIMIT });
  });
});

describe('expiry', () => {
  it('[DIR-HOLD-7] [DIR-LOOK-2] records leave every holder when they expire: lookups answer empty, nothing stays held', async () => {
    const { w, nodes } = await network('expiry', 4, 4);
    await publishAll(w, nodes);
    const asker = nodes[0]!;
    expect(await w.run(asker.client.lookup(nodes[1]!.name))).toHaveLength(1);
    await w.run(new Promise<void>((r) => w.sim.schedule(10 * 60_000 + 2_000, r)), 11 * 60_000);
    expect(await w.run(asker.client.lookup(nodes[1]!.name))).toEqual([]);
    for (const s of w.supernodes) expect(s.supernode.core.directory.size).toBe(0);
  });
});

describe('a lying supernode is caught by the verifying client [DIR-LOOK]', () => {
  it("[SN-OVER-5] a forged, rewritten or replayed record in a lookup answer fails the client's verification", async () => {
    const { w, nodes } = await network('liar', 4, 4);
    await publishAll(w, nodes);
    const [victim, asker] = nodes as [Node, Node];
    const liar = asker.home;
    const now = () => liar.transport.clock.now();
    // What an honest answer looks like first.
    const honest = await w.run(asker.client.lookup(victim.name));
    expect(verifyLookup(w.net, victim.name, honest, now())).toHaveLength(1);

    type Tamper = (
      records: PacketBodies['lookupPresenceReply']['records'],
    ) => PacketBodies['lookupPresenceReply']['records'];
    const core = liar.supernode.core;
    const handle = core.handle.bind(core);
    const lie = (tamper: Tamper) => {
      core.handle = async (session, packet) => {
        const action = await handle(session, packet);
        if (action.kind === 'reply' && action.packet.body.case === 'lookupPresenceReply') {
          const records = tamper(action.packet.body.value.records);
          return {
            kind: 'reply',
            packet: { requestId: action.packet.requestId, body: { case: 'lookupPresenceReply', value: { records } } },
          };
        }
        return action;
      };
    };
    // rewrite: the home supernode changed inside the signed record
    lie((records) =>
      records.map((r) => {
        const record = Uint8Array.from(r.record);
        const at = Buffer.from(record).indexOf(Buffer.from(victim.home.identity.keyId));
        record[at]! ^= 0xff;
        return { certificate: r.certificate, record };
      }),
    );
    const rewritten = await w.run(asker.client.lookup(victim.name));
    expect(() => verifyLookup(w.net, victim.name, rewritten, now())).toThrow(
      expect.objectContaining({ code: ErrorCode.BAD_SIGNATURE }),
    );
    // forge: a record signed by another key under the victim's certificate
    const mallory = w.user('mallory');
    lie(() => [
      {
        certificate: victim.device.chain[0]!,
        record: presenceOf(mallory, liar.identity.keyId, { issuedAt: now(), sequence: 99 }).record,
      },
    ]);
    const forged = await w.run(asker.client.lookup(victim.name));
    expect(() => verifyLookup(w.net, victim.name, forged, now())).toThrow();
    // forge: another user's valid record passed off as the victim's
    lie(() => [presenceOf(mallory, liar.identity.keyId, { issuedAt: now() })]);
    const substituted = await w.run(asker.client.lookup(victim.name));
    expect(() => verifyLookup(w.net, victim.name, substituted, now())).toThrow(/a record of mallory/);
    // replay: an old record of the victim, expired
    const stale = presenceOf(victim.device, victim.home.identity.keyId, { issuedAt: now() - HOUR });
    lie(() => [stale]);
    const replayed = await w.run(asker.client.lookup(victim.name));
    expect(() => verifyLookup(w.net, victim.name, replayed, now())).toThrow(
      expect.objectContaining({ code: ErrorCode.TOO_OLD }),
    );
  });
});

describe('replicas [DIR-HAND] [STORE-REPL]', () => {
  it('[STORE-REPL-1] [SN-OVER-6] [SN-OVER-8] a message is stored at the k responsible supernodes; the recipient fetches it once and its acknowledgement reaches every replica', async () => {
    const { w, nodes } = await network('messages', 5, 2);
    const [alice, bob] = nodes as [Node, Node];
    const now = alice.home.transport.clock.now();
    const m1 = messageOf(alice.device, bob.name, { createdAt: now, text: 'one' });
    const m2 = messageOf(alice.device, bob.name, { createdAt: now + 1, text: 'two' });
    expect((await w.run(alice.client.store(m1))).replicas).toBe(3);
    expect((await w.run(alice.client.store(m1))).replicas).toBe(3); // idempotent
    expect((await w.run(alice.client.store(m2))).replicas).toBe(3);
    const responsible = alice.home.supernode.core.view.responsibleFor(bob.name).map(hex);
    for (const s of w.supernodes) {
      const pending = await s.supernode.core.offline.pending(bob.name, now);
      expect(pending).toBe(responsible.includes(hex(s.identity.keyId)) ? 2 : 0);
    }
    // [SN-OVER-8] a message from another sender than the channel's device is refused
    await expect(w.run(bob.client.store(messageOf(alice.device, 'user9', { createdAt: now })))).rejects.toMatchObject({
      code: ErrorCode.NOT_AUTHORIZED,
    });
    // [SN-OVER-6] the recipient's fetch merges the k answers: each message once, oldest first
    const fetched = await w.run(bob.client.fetch());
    expect(fetched.messages.map((m) => Buffer.from(m.message).equals(Buffer.from(m1.message)))).toEqual([true, false]);
    expect(fetched.messages).toHaveLength(2);
    expect(fetched.more).toBe(false);
    const deleted = await w.run(
      bob.client.ack([
        { sender: alice.name, messageId: m1.messageId },
        { sender: alice.name, messageId: m2.messageId },
      ]),
    );
    expect(deleted).toBe(2);
    for (const s of w.supernodes) expect(await s.supernode.core.offline.pending(bob.name, now)).toBe(0);
    expect((await w.run(bob.client.fetch())).messages).toHaveLength(0);
    // stored again after the acknowledgement: an idempotent success that resurrects nothing (STORE-ACK-4)
    await w.run(alice.client.store(m1));
    expect((await w.run(bob.client.fetch())).messages).toHaveLength(0);
  });

  it('[SN-OVER-5] [DIR-HAND-1] [STORE-REPL-3] losing one of the k replicas loses no presence and no stored message', async () => {
    const { w, nodes } = await network('lose one', 6, 12);
    await publishAll(w, nodes);
    const sender = nodes[0]!;
    const now = sender.home.transport.clock.now();
    const stored = new Map<string, Uint8Array>();
    for (const node of nodes.slice(1)) {
      const m = messageOf(sender.device, node.name, { createdAt: now, text: `for ${node.name}` });
      await w.run(sender.client.store(m));
      stored.set(node.name, m.message);
    }
    // one supernode crashes (no node is attached to it: its nodes move to the next one)
    const victim = w.supernodes[5]!;
    w.sim.crash(victim.host, w.sim.now + 1);
    const survivors = w.supernodes.slice(0, 5);
    await w.run(new Promise<void>((r) => w.sim.schedule(10, r)));
    // lookups still find everyone, before the list changes (another responsible supernode answers)
    for (const node of nodes) {
      const asker = nodes.find((n) => n.home !== victim)!;
      const records = await w.run(asker.client.lookup(node.name), 10 * 60_000);
      if (node.home === victim) continue; // its node lost its channel; its record is still held elsewhere
      expect(verifyLookup(w.net, node.name, records, sender.home.transport.clock.now())).toHaveLength(1);
    }
    // the login server drops it from the list: the survivors hand records and messages over
    w.publishList(survivors, undefined, survivors);
    await w.run(Promise.all(survivors.map((s) => s.supernode.core.handoffDone)));
    for (const node of nodes) {
      if (node.home === victim) continue;
      const expected = survivors[0]!.supernode.core.view.responsibleFor(node.name).map(hex).sort();
      expect(
        holders(w, node.name)
          .filter((h) => h !== hex(victim.identity.keyId))
          .sort(),
      ).toEqual(expected);
    }
    for (const [name, message] of stored) {
      const responsible = survivors[0]!.supernode.core.view.responsibleFor(name).map(hex);
      for (const s of survivors) {
        const held = await s.supernode.core.offline.fetch(name, 64, s.transport.clock.now());
        const has = held.messages.some((m) => Buffer.from(m.envelope).includes(Buffer.from(message)));
        expect({ name, sn: hex(s.identity.keyId), has }).toEqual({
          name,
          sn: hex(s.identity.keyId),
          has: responsible.includes(hex(s.identity.keyId)),
        });
      }
    }
    // and each recipient attached to a survivor fetches its message
    for (const node of nodes.slice(1)) {
      if (node.home === victim) continue;
      const r = await w.run(node.client.fetch());
      expect(r.messages.map((m) => Buffer.from(m.message).equals(Buffer.from(stored.get(node.name)!)))).toEqual([true]);
    }
  });
});
