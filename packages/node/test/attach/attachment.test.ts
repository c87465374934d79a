/**
 * The node's attachments in the simulator (spec/09-node.md §4): home and standby on two supernodes, the
 * standby promoted at once when the home goes, Redirects followed only within the verified list, the
 * backoff when nothing answers, and a newer list epoch noticed.
 */
import { type SimSupernode, suite, World } from '@parley/supernode/testing';
import { describe, expect, it } from 'vitest';
import { Attachment, type AttachmentOptions } from '../../src/attach/attachment.js';
import { MemoryNodeStore } from '../../src/store/index.js';

const same = (a: Uint8Array | undefined, s: SimSupernode) =>
  a !== undefined && Buffer.from(a).equals(Buffer.from(s.identity.keyId));

async function setup(seed: string, n = 3, o: { capacity?: number[] } = {}) {
  const w = new World({ seed });
  for (let i = 0; i < n; i++) {
    const cap = o.capacity?.[i];
    await w.addSupernode(cap !== undefined ? { limits: { capacity: cap } } : {});
  }
  w.publishList();
  return w;
}

function attachment(w: World, name: string, extra: Partial<AttachmentOptions> = {}) {
  const me = w.user(name);
  const store = new MemoryNodeStore();
  let entries = w.entries();
  const a = new Attachment({
    transport: w.host(),
    suite,
    trustAnchors: [w.net.root.publicKey],
    identity: () => me,
    deviceId: me.deviceId,
    store,
    list: () => ({ epoch: w.epoch, entries }),
    ...extra,
  });
  return { a, store, me, setEntries: (e: typeof entries) => (entries = e) };
}

const bySn = (w: World, keyId: Uint8Array | undefined) => w.supernodes.find((s) => same(keyId, s));

describe('attachment: home and standby', () => {
  it('[NODE-ATTACH-2] attaches a home and a standby on another supernode; losing the home promotes the standby at once', async () => {
    const w = await setup('attach failover');
    const { a, store } = attachment(w, 'alice');
    const homes: Uint8Array[] = [];
    await w.run(a.start());
    await w.run(new Promise<void>((r) => w.sim.schedule(1000, r)));
    const home = bySn(w, a.homeKeyId)!;
    expect(home).toBeDefined();
    expect(a.standby).toBeDefined();
    const standbyKey = a.standby!.peer.keyId;
    expect(same(standbyKey, home)).toBe(false);
    expect(home.supernode.core.attachments.active).toBe(1);
    const standbySn = bySn(w, standbyKey)!;
    expect(standbySn.supernode.core.attachments.size).toBe(1);
    expect(standbySn.supernode.core.attachments.active).toBe(0);
    homes.push(a.homeKeyId!);

    home.supernode.close();
    await w.run(new Promise<void>((r) => w.sim.schedule(2000, r)));
    expect(a.promotions).toBe(1);
    expect(same(a.homeKeyId, standbySn)).toBe(true);
    expect(standbySn.supernode.core.attachments.active).toBe(1);
    // a new standby on the third supernode (the old home is down)
    const third = w.supernodes.find((s) => s !== home && s !== standbySn)!;
    expect(a.standby).toBeDefined();
    expect(same(a.standby!.peer.keyId, third)).toBe(true);
    // the host cache recorded the failure of the old home
    const stat = store.hostStats().find((s) => same(s.keyId, home))!;
    expect(stat.failures).toBeGreaterThan(0);
    a.stop();
  });

  it('[NODE-ATTACH-3] a Redirect is followed to supernodes of the verified list only', async () => {
    const w = await setup('attach redirect', 3, { capacity: [1, 1, 100] });
    // the first two are full (one device each); their Redirects name #3
    for (const s of w.supernodes.slice(0, 2)) {
      const c = await w.connect(s, w.user(`filler${w.supernodes.indexOf(s)}`));
      await w.run(c.attach());
    }
    const bobTried: Uint8Array[] = [];
    const { a, setEntries: setBob } = attachment(w, 'bob', { noStandby: true, onAttempt: (k) => bobTried.push(k) });
    // bob's list says #3 is the busiest, so he tries a full one first and is redirected
    setBob(w.entries(w.supernodes, (s) => (s === w.supernodes[2] ? 90 : 0)));
    const tried: Uint8Array[] = [];
    const { a: c, setEntries } = attachment(w, 'carol', { noStandby: true, onAttempt: (k) => tried.push(k) });
    await w.run(a.start());
    expect(same(a.homeKeyId, w.supernodes[2]!)).toBe(true);
    expect(bobTried).toHaveLength(2);
    expect(same(bobTried[1], w.supernodes[2]!)).toBe(true);
    // carol's verified list does not name #3: a redirect to it is ignored, and she is not attached
    setEntries(w.entries(w.supernodes.slice(0, 2)));
    await w.run(c.start());
    expect(c.home).toBeUndefined();
    expect(tried.some((k) => same(k, w.supernodes[2]!))).toBe(false);
    a.stop();
    c.stop();
  });

  it('[NODE-ATTACH-1] with every supernode gone, attempts back off (full jitter below 1, 2, 4, ... s)', async () => {
    const w = await setup('attach backoff', 2);
    const times: number[] = [];
    const { a } = attachment(w, 'dave', { noStandby: true, onAttempt: () => times.push(w.sim.now) });
    for (const s of w.supernodes) s.supernode.close();
    await w.run(a.start());
    await w.run(new Promise<void>((r) => w.sim.schedule(200_000, r)), 300_000);
    // rounds of two attempts (both supernodes); the gaps between rounds are bounded by the caps
    const rounds = times.filter((_, i) => i % 2 === 0);
    expect(rounds.length).toBeGreaterThanOrEqual(6);
    for (let i = 1; i < Math.min(rounds.length, 8); i++) {
      expect(rounds[i]! - rounds[i - 1]!).toBeLessThanOrEqual(1000 * 2 ** (i - 1) + 5_000); // + connect time
    }
    a.stop();
  });

  it('[NODE-ATTACH-5] an Attached naming a newer list epoch is reported', async () => {
    const w = await setup('attach epoch', 1);
    const epochs: number[] = [];
    const { a, setEntries } = attachment(w, 'erin', { noStandby: true, onNewerList: (e) => epochs.push(e) });
    const held = w.entries();
    w.publishList(); // the supernodes now hold epoch 2; the node's list is of epoch ... read from w.epoch
    setEntries(held);
    const b = new Attachment({
      transport: w.host(),
      suite,
      trustAnchors: [w.net.root.publicKey],
      identity: () => w.user('frank'),
      deviceId: new Uint8Array(16).fill(9),
      store: new MemoryNodeStore(),
      list: () => ({ epoch: 1, entries: held }),
      noStandby: true,
      onNewerList: (e) => epochs.push(e),
    });
    await w.run(b.start());
    expect(b.home).toBeDefined();
    expect(epochs).toEqual([2]);
    a.stop();
    b.stop();
  });

  it('[NODE-ATTACH-4] after a renewal, new channels with the new certificate replace the attachments', async () => {
    const w = await setup('attach renew', 2);
    let me = w.user('gina');
    const a = new Attachment({
      transport: w.host(),
      suite,
      trustAnchors: [w.net.root.publicKey],
      identity: () => me,
      deviceId: me.deviceId,
      store: new MemoryNodeStore(),
      list: () => ({ epoch: w.epoch, entries: w.entries() }),
    });
    await w.run(a.start());
    await w.run(new Promise<void>((r) => w.sim.schedule(1000, r)));
    const oldHome = a.home!;
    const oldStandby = a.standby!;
    const homeSn = bySn(w, a.homeKeyId)!;
    me = { ...w.user('gina'), deviceId: me.deviceId }; // the renewed certificate (a new key)
    await w.run(a.reattach());
    await w.run(new Promise<void>((r) => w.sim.schedule(1000, r)));
    expect(a.home).not.toBe(oldHome);
    expect(oldHome.closed).toBe(true);
    expect(oldStandby.closed).toBe(true);
    expect(same(a.homeKeyId, homeSn)).toBe(true); // the same home, one attachment there
    expect(homeSn.supernode.core.attachments.active).toBe(1);
    expect(a.promotions).toBe(0); // the replaced channels' closes were no failover
    expect(a.standby).toBeDefined();
    a.stop();
  });
});
