/**
 * Paths between two nodes in the simulator (spec/08-connectivity.md §6-7, the node's side in
 * src/paths/): supernodes of @parley/supernode/testing's World, nodes attached through SupernodeClient,
 * each with one UDP socket behind the UdpMux. Whatever the NATs, the two nodes end up with one path
 * each, of kinds that match (direct on both sides, or the relay on both), and peer datagrams (0x01, 0x08)
 * cross it both ways unaltered.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Behaviour, connect } from './world.js';

describe('paths between two nodes (simulator)', () => {
  it('[NAT-PUNCH-7] behind two full-cone NATs: a direct path on both sides', async () => {
    const { pa, pb } = await connect('fullCone', 'fullCone', 'paths direct');
    expect([pa.via, pa.path.kind, pb.via, pb.path.kind]).toEqual(['punch', 'direct', 'punch', 'direct']);
  });

  it('[NAT-PUNCH-8] [RELAY-BIND-3] behind two symmetric NATs the punch fails: both sides use the relay over UDP', async () => {
    const { pa, pb, w } = await connect('symmetric', 'symmetric', 'paths relay');
    expect([pa.via, pa.path.kind, pb.via, pb.path.kind]).toEqual(['relay', 'relay-udp', 'relay', 'relay-udp']);
    // the relay is bob's home supernode (NAT-PUNCH-3): it forwarded what crossed
    expect(w.supernodes[1]!.supernode.connectivity.relay.stats.forwardedDatagrams).toBeGreaterThanOrEqual(3);
  });

  it('[RELAY-TCP-1] [RELAY-TCP-2] a callee whose UDP is blocked: a TCP bind and relay frames on its side, UDP on the caller side', async () => {
    const { pa, pb } = await connect('fullCone', 'udpBlocked', 'paths tcp');
    expect([pa.via, pa.path.kind, pb.via, pb.path.kind]).toEqual(['relay', 'relay-udp', 'relay', 'relay-tcp']);
  });

  it('[NAT-PUNCH-7] [NAT-PUNCH-8] random NAT pairs: both sides agree on the kind of path, and it carries datagrams', async () => {
    const kinds: Behaviour[] = ['none', 'fullCone', 'restrictedCone', 'portRestrictedCone', 'symmetric'];
    const apdf = (x: Behaviour) => x === 'portRestrictedCone' || x === 'symmetric';
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...kinds), fc.constantFrom(...kinds), fc.nat(1_000), async (ca, cb, n) => {
        const { pa, pb } = await connect(ca, cb, `paths random ${n}`);
        const direct = !((ca === 'symmetric' && apdf(cb)) || (cb === 'symmetric' && apdf(ca)));
        expect(pa.via).toBe(direct ? 'punch' : 'relay');
        expect(pb.via).toBe(pa.via);
      }),
      { numRuns: 6, seed: 0x9a7 },
    );
  });
});
