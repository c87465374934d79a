/**
 * The simulator's fast paths (DESIGN.md §9; spec/05-network.md §7 "Determinism", NET-CLOCK-2): datagrams
 * queued as packet entries rather than event objects (event-queue.ts, simulator.ts `sendDatagram`), and the
 * calendar queue's sorted buckets. Each is checked against the general path it shortcuts: the same program
 * must give the same run, event for event.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EventQueue, NAT_PRESETS, SeededRandom, SimEvent, type SimHost, Simulator } from '../../src/sim/index.js';
import type { NetAddress } from '../../src/transport.js';

/**
 * A workload touching every case of the datagram path: jitter and loss, a NAT, a host behind a long link
 * (its datagrams outlive the calendar ring), zero latency, finite bandwidth, a small MTU, a socket closed
 * and bound again, a crash and a restart. Returns the log of every handler call.
 */
function workload(trace: boolean): string[] {
  const below = (h: SimHost, n: number) => Math.floor(h.random.float() * n);
  const sim = new Simulator({ seed: 'fast-path', trace, link: { latencyMs: 3, jitterMs: 6, loss: 0.03 } });
  const nat = sim.addNat({ ...NAT_PRESETS.fullCone });
  const hosts = [
    ...Array.from({ length: 12 }, () => sim.addHost()),
    sim.addHost({ link: { latencyMs: 40, jitterMs: 0 } }),
    sim.addHost({ link: { latencyMs: 0, jitterMs: 0 } }),
    sim.addHost({ link: { bandwidth: 50_000 } }),
    sim.addHost({ link: { mtu: 100 } }),
    sim.addHost({ behind: nat.id }),
  ];
  const log: string[] = [];
  const addresses: NetAddress[] = [];
  const bind = (i: number) => {
    const h = hosts[i]!;
    const socket = h.bindUdp(
      { port: 9 },
      {
        onError: (e) => log.push(`${sim.now} ${i} error ${e.code}`),
        onMessage: (data, from) => {
          log.push(`${sim.now} ${i} <- ${from.host}:${from.port} ${data[0]} ${data.length}`);
          if (data[0]! < 60) {
            const to = addresses[below(h, addresses.length)]!;
            const size = 1 + below(h, 150);
            const out = new Uint8Array(size);
            out[0] = data[0]! + 1;
            socket.send(out, h.random.float() < 0.3 ? from : to);
          }
        },
      },
    );
    addresses[i] = socket.local ?? { host: h.address, port: 9 };
    return socket;
  };
  const sockets = hosts.map((_, i) => bind(i));
  // Every host starts a chain now and then (timers interleave with datagrams in the queue).
  for (let i = 0; i < hosts.length; i++) {
    const h = hosts[i]!;
    const tick = () => {
      sockets[i]!.send(new Uint8Array([0, i]), addresses[below(h, addresses.length)]!);
      if (sim.now < 300) h.clock.setTimer(5 + h.random.float() * 20, tick);
    };
    h.clock.setTimer(h.random.float() * 10, tick);
  }
  sim.at(30, () => {
    sockets[3]!.close();
    log.push(`${sim.now} close 3`);
  });
  sim.at(45, () => {
    sockets[3] = bind(3);
    log.push(`${sim.now} rebind 3`);
  });
  sim.crash(hosts[5]!, 50);
  sim.restart(hosts[5]!, 52, () => {
    sockets[5] = bind(5);
    log.push(`${sim.now} restart 5`);
  });
  sim.run({ until: 400 });
  log.push(`deliveries ${sim.deliveries}, events ${sim.eventsRun}, now ${sim.now}`);
  return log;
}

describe('datagram fast path', () => {
  it('a run without a trace (datagrams as packet entries) is the run with one (datagrams as objects)', () => {
    const fast = workload(false);
    const general = workload(true);
    expect(fast.length).toBeGreaterThan(1500);
    expect(fast.some((l) => l.includes('error EMSGSIZE'))).toBe(true);
    expect(fast).toEqual(general);
    expect(fast.some((l) => l.startsWith('52 restart 5'))).toBe(true);
  });

  it('a packet that `peek` returned is the event `pop` returns, and it delivers once', () => {
    const sim = new Simulator({ link: { latencyMs: 1 } });
    const [a, b] = [sim.addHost(), sim.addHost()];
    const got: number[] = [];
    const sb = b.bindUdp({ port: 1 }, { onMessage: (d) => got.push(d[0]!) });
    const sa = a.bindUdp({ port: 1 }, { onMessage() {} });
    sa.send(new Uint8Array([7]), sb.local!);
    const peeked = sim.queue.peek();
    expect(peeked).toBeInstanceOf(SimEvent);
    expect(sim.queue.peekTime()).toBe(2);
    expect(sim.step()).toBe(true);
    expect(got).toEqual([7]);
    expect(sim.queue.size).toBe(0);
    expect(peeked!.time).toBe(2);
  });
});

class Mark extends SimEvent {
  constructor(
    readonly name: string,
    readonly log: string[],
  ) {
    super();
  }
  fire(): void {
    this.log.push(this.name);
  }
}

/** A packet target that logs what it receives. */
class Target {
  constructor(readonly log: string[]) {}
  receive(data: Uint8Array, _from: unknown, stamp: number): void {
    this.log.push(`${data[0]! * 256 + data[1]!}@${stamp}`);
  }
  warmNext(): undefined {
    return undefined;
  }
  warmLast(): number {
    return 0;
  }
}

describe('event queue with packet entries', () => {
  // As NET-CLOCK-2 in clock.test.ts, with packets among the events and every way out of the queue: `pop`
  // (which turns a packet into an event), `take` (the run loop's, which does not), and `peek` first.
  it('[NET-CLOCK-2] events and packets come out exactly as a reference sorted by (time, insertion)', () => {
    const delta = fc.oneof(
      fc.constant(0),
      fc.double({ min: 0, max: 0.05, noNaN: true }),
      fc.double({ min: 0, max: 40, noNaN: true }),
      fc.constantFrom(31.99, 32, 32.0078125, 64),
      fc.double({ min: 1_000, max: 1e7, noNaN: true }),
      fc.constant(Number.POSITIVE_INFINITY),
    );
    const op = fc.oneof(
      { weight: 2, arbitrary: delta.map((d) => ({ push: d, packet: false })) },
      { weight: 2, arbitrary: delta.map((d) => ({ push: d, packet: true })) },
      { weight: 2, arbitrary: fc.constantFrom('pop' as const, 'take' as const, 'peek-pop' as const) },
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const q = new EventQueue();
        const log: string[] = [];
        const target = new Target(log);
        let reference: { t: number; i: number; name: string }[] = [];
        let now = 0;
        let i = 0;
        const out = (how: 'pop' | 'take' | 'peek-pop') => {
          reference.sort((a, b) => (a.t === b.t ? a.i - b.i : a.t < b.t ? -1 : 1));
          const want = reference.shift();
          if (want === undefined) {
            expect(q.pop()).toBeUndefined();
            return;
          }
          log.length = 0;
          if (how === 'take') {
            const item = q.take();
            if (q.poppedData !== undefined) target.receive(q.poppedData, q.poppedFrom, q.poppedStamp);
            else (item as SimEvent).fire();
          } else {
            const peeked = how === 'peek-pop' ? q.peek() : undefined;
            const ev = q.pop()!;
            if (peeked !== undefined) expect(ev).toBe(peeked);
            expect(ev.time).toBe(want.t);
            ev.fire();
          }
          expect(q.poppedTime).toBe(want.t);
          expect(log).toEqual([want.name]);
          if (Number.isFinite(want.t)) now = want.t;
        };
        for (const o of ops) {
          if (typeof o === 'string') out(o);
          else {
            const t = now + o.push; // the simulator never schedules before now
            const name = o.packet ? `${i}@${t}` : `${i}`;
            if (o.packet) q.pushPacket(target, new Uint8Array([i >> 8, i & 255]), undefined, t, t);
            else q.push(new Mark(name, log), t);
            reference.push({ t, i: i++, name });
          }
          expect(q.size).toBe(reference.length);
        }
        while (reference.length > 0) out('take');
        expect(q.pop()).toBeUndefined();
        reference = [];
      }),
    );
  });

  // Buckets of every size class: insertion sort, sub-bucket distribution, merge sort.
  it.each([5, 17, 40, 96, 97, 5000])(
    'a bucket of %i events, many at equal times, runs in (time, insertion) order',
    (n) => {
      const q = new EventQueue();
      const log: string[] = [];
      const target = new Target(log);
      const r = new SeededRandom(n);
      const expected: { t: number; i: number }[] = [];
      // All in one bucket of 1/128 ms (10 ms is bucket 1280): half the times from a small set (many equal),
      // half anywhere in the bucket (several in one sub-bucket of the distribution).
      for (let i = 0; i < n; i++) {
        const t = 10 + (i % 4 < 2 ? r.below(4) / 4 : r.float()) / 128;
        if (i % 2 === 0) q.push(new Mark(`${i}`, log), t);
        else q.pushPacket(target, new Uint8Array([i >> 8, i & 255]), undefined, t, t);
        expected.push({ t, i });
      }
      expected.sort((a, b) => a.t - b.t || a.i - b.i);
      while (q.size > 0) q.pop()!.fire();
      expect(log).toEqual(expected.map((e) => (e.i % 2 === 0 ? `${e.i}` : `${e.i}@${e.t}`)));
    },
  );
});
