/**
 * Peer sessions over a datagram path (src/sessions/, spec/09-node.md §5): the handshake in 0x08
 * datagrams under loss and duplication on a seeded link, the checks a responder makes, and sessions over
 * real paths of the simulator (direct and relayed), carrying sealed packets both ways.
 */
import { advance, suite, T0 } from '@parley/supernode/testing';
import { ErrorCode, seededRandom } from '@parley/wire';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DatagramSession, HANDSHAKE_TIMEOUT_MS, type SessionAction } from '../../src/sessions/index.js';
import { connect, type PathNode } from '../paths/world.js';

interface Side {
  node: PathNode;
  session: DatagramSession;
  received: string[];
  established: boolean;
  failed?: number;
}

function options(n: PathNode, peer: PathNode, index: number) {
  return {
    suite,
    random: seededRandom(`session ${n.name} ${index}`),
    identity: n.device,
    trustAnchors: [n.w.net.root.publicKey],
    nowMs: () => T0 + n.w.sim.now,
    expectedPeer: { username: peer.name, deviceId: peer.device.deviceId },
    localIndex: index,
  };
}

/**
 * Two sessions wired by hand through a link that drops, duplicates and delays datagrams by a seeded plan;
 * time advances in 10 ms steps to the first due timer.
 */
function lossyHandshake(a: PathNode, b: PathNode, plan: { drop: boolean; dup: boolean; delay: number }[]) {
  let now = 0;
  const queue: { at: number; to: 'a' | 'b'; d: Uint8Array }[] = [];
  let p = 0;
  const sides: Record<'a' | 'b', { s: DatagramSession; timer: number; est: boolean; failed: boolean }> = {} as never;
  const perform = (who: 'a' | 'b', actions: SessionAction[]) => {
    const other = who === 'a' ? 'b' : 'a';
    for (const x of actions) {
      if (x.kind === 'send') {
        const step = plan[p++ % plan.length]!;
        if (step.drop) continue;
        queue.push({ at: now + 5 + step.delay, to: other, d: x.datagram });
        if (step.dup) queue.push({ at: now + 7 + step.delay, to: other, d: x.datagram });
      } else if (x.kind === 'timer') sides[who].timer = x.at;
      else if (x.kind === 'established') sides[who].est = true;
      else if (x.kind === 'failed') sides[who].failed = true;
    }
  };
  const ia = DatagramSession.initiate(options(a, b, 11), now);
  const rb = DatagramSession.respond(options(b, a, 22), now);
  sides.a = { s: ia.session, timer: Number.POSITIVE_INFINITY, est: false, failed: false };
  sides.b = { s: rb.session, timer: Number.POSITIVE_INFINITY, est: false, failed: false };
  perform('a', ia.actions);
  perform('b', rb.actions);
  while (now < HANDSHAKE_TIMEOUT_MS + 100 && !(sides.a.est && sides.b.est)) {
    now += 10;
    for (const q of queue.filter((x) => x.at <= now)) {
      queue.splice(queue.indexOf(q), 1);
      perform(q.to, sides[q.to].s.onDatagram(q.d, now));
    }
    for (const who of ['a', 'b'] as const) {
      if (sides[who].timer <= now) {
        sides[who].timer = Number.POSITIVE_INFINITY;
        perform(who, sides[who].s.onTimer(now));
      }
    }
  }
  return sides;
}

describe('peer sessions over datagram paths', () => {
  it('[NODE-SESS-1] [NODE-SESS-3] the handshake completes under loss, duplication and delay, or times out cleanly (property)', async () => {
    const { a, b } = await connect('fullCone', 'fullCone', 'session lossy');
    let both = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ drop: fc.boolean(), dup: fc.boolean(), delay: fc.nat(300) }), {
          minLength: 1,
          maxLength: 12,
        }),
        async (plan) => {
          const sides = lossyHandshake(a, b, plan);
          const everyDrop = plan.every((x) => x.drop);
          if (everyDrop) {
            expect(sides.a.est || sides.b.est).toBe(false);
          } else if (sides.a.est && sides.b.est) {
            both++;
            // established both ways: the channel works in both directions
            const sealed = sides.a.s.seal(new TextEncoder().encode('ping'));
            expect(sides.b.s.onDatagram(sealed, 0)).toEqual([
              { kind: 'data', plaintext: new TextEncoder().encode('ping') },
            ]);
          } else {
            // a plan that loses too much ends in a timeout on the side still handshaking, never in a wrong state
            expect(sides.a.est ? sides.b.s.phase : sides.a.s.phase).not.toBe('established');
          }
        },
      ),
      { numRuns: 40 },
    );
    // the property is not vacuous: most plans lose little enough to complete
    expect(both).toBeGreaterThan(10);
  });

  it('[NODE-SESS-2] message 1 is exactly 1,200 bytes; a short or non-zero-padded one is not answered', async () => {
    const { a, b } = await connect('fullCone', 'fullCone', 'session pad');
    const i = DatagramSession.initiate(options(a, b, 5), 0);
    const m1 = (i.actions[0] as { datagram: Uint8Array }).datagram;
    expect(m1.length).toBe(1_200);
    expect(m1[0]).toBe(0x08);
    const r = DatagramSession.respond(options(b, a, 6), 0).session;
    expect(r.onDatagram(m1.subarray(0, 600), 1)).toEqual([]);
    const dirty = Uint8Array.from(m1);
    dirty[1_199] = 1;
    expect(r.onDatagram(dirty, 2)).toEqual([]);
    const answer = r.onDatagram(m1, 3).find((x) => x.kind === 'send') as { datagram: Uint8Array };
    expect(answer.datagram.length).toBeLessThanOrEqual(1_200);
    // a repeat of message 1: message 2 again, nothing new
    expect(r.onDatagram(m1, 4)).toEqual([{ kind: 'send', datagram: answer.datagram }]);
  });

  it('[NODE-SESS-4] a session reaching another device than expected fails with NOT_AUTHORIZED', async () => {
    const { a, b } = await connect('fullCone', 'fullCone', 'session wrong peer');
    const i = DatagramSession.initiate(
      { ...options(a, b, 7), expectedPeer: { username: 'mallory', deviceId: new Uint8Array(16) } },
      0,
    );
    const r = DatagramSession.respond(options(b, a, 8), 0).session;
    const m2 = r.onDatagram((i.actions[0] as { datagram: Uint8Array }).datagram, 1).find((x) => x.kind === 'send') as {
      datagram: Uint8Array;
    };
    const out = i.session.onDatagram(m2.datagram, 2);
    expect(out.find((x) => x.kind === 'failed')).toMatchObject({ error: { code: ErrorCode.NOT_AUTHORIZED } });
    expect(i.session.phase).toBe('failed');
  });

  it.each([
    ['fullCone', 'fullCone', 'direct'],
    ['symmetric', 'symmetric', 'relay-udp'],
    ['fullCone', 'udpBlocked', 'relay-udp'],
  ] as const)(
    '[NODE-SESS-5] [NODE-PATH-3] a session over a path between %s and %s (%s): packets both ways',
    async (ca, cb, kind) => {
      const { w, a, b, pa } = await connect(ca, cb, `session over ${ca} ${cb}`);
      expect(pa.path.kind).toBe(kind);
      const run = (
        n: PathNode,
        s: DatagramSession,
        path: { send(d: Uint8Array): void },
        side: Side,
        actions: SessionAction[],
      ) => {
        const clock = n.transport.clock;
        for (const x of actions) {
          if (x.kind === 'send') path.send(x.datagram);
          else if (x.kind === 'timer')
            clock.setTimer(Math.max(0, x.at - clock.now()), () => run(n, s, path, side, s.onTimer(clock.now())));
          else if (x.kind === 'established') side.established = true;
          else if (x.kind === 'data') side.received.push(new TextDecoder().decode(x.plaintext));
          else side.failed = x.error.code;
        }
      };
      const pb = await w.run(b.incoming!);
      const ib = DatagramSession.respond(options(b, a, 0x0b0b), b.transport.clock.now());
      const sb: Side = { node: b, session: ib.session, received: [], established: false };
      pb.path.onDatagram = (d) => run(b, ib.session, pb.path, sb, ib.session.onDatagram(d, b.transport.clock.now()));
      run(b, ib.session, pb.path, sb, ib.actions);
      const ia = DatagramSession.initiate(options(a, b, 0x0a0a), a.transport.clock.now());
      const sa: Side = { node: a, session: ia.session, received: [], established: false };
      pa.path.onDatagram = (d) => run(a, ia.session, pa.path, sa, ia.session.onDatagram(d, a.transport.clock.now()));
      run(a, ia.session, pa.path, sa, ia.actions);
      await advance(w.sim, 1_000);
      expect([sa.established, sb.established, sa.failed, sb.failed]).toEqual([true, true, undefined, undefined]);
      expect(ia.session.peer?.certificate.subject).toBe('bob');
      expect(ib.session.peer?.certificate.subject).toBe('alice');
      pa.path.send(ia.session.seal(new TextEncoder().encode('hello bob')));
      pb.path.send(ib.session.seal(new TextEncoder().encode('hello alice')));
      await advance(w.sim, 500);
      expect(sb.received).toEqual(['hello bob']);
      expect(sa.received).toEqual(['hello alice']);
    },
  );
});
