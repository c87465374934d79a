/**
 * Two channels joined in memory by fake streams (test/channel/fixtures.ts FakeStream) and pumped by
 * hand, each with its own FakeClock: for what the simulator does not model (a peer that never reads)
 * and for checks on timers and byte streams.
 */
import { NetError } from '@parley/net';
import type { PeerIdentity, TransportOptions } from '@parley/wire';
import { startInitiator, startResponder } from '@parley/wire';
import { StreamChannel } from '../src/index.js';
import { type ChannelTuning, FakeClock, FakeStream, parties, Recorder } from './fixtures.js';

export interface MemoryPair {
  alice: StreamChannel<PeerIdentity>;
  bob: StreamChannel<PeerIdentity>;
  aliceRec: Recorder;
  bobRec: Recorder;
  aliceClock: FakeClock;
  bobClock: FakeClock;
  aliceStream: FakeStream;
  bobStream: FakeStream;
  /** Every chunk alice wrote that was delivered to bob, in order. */
  aliceToBob: Uint8Array[];
  /**
   * Delivers what each side wrote to the other until nothing moves; `toAlice: false` models an alice
   * that never reads.
   */
  pump(o?: { toBob?: boolean; toAlice?: boolean }): void;
  advance(ms: number): void;
}

export function memoryPair(
  o: { alice?: ChannelTuning; bob?: ChannelTuning; seed?: string; transport?: TransportOptions } = {},
): MemoryPair {
  const p = parties();
  const seed = o.seed ?? 'memory';
  const aliceClock = new FakeClock();
  const bobClock = new FakeClock();
  const aliceStream = new FakeStream();
  const bobStream = new FakeStream();
  aliceStream.draining = true;
  bobStream.draining = true;
  const aliceRec = new Recorder(aliceClock);
  const bobRec = new Recorder(bobClock);
  const alice = new StreamChannel({
    clock: aliceClock,
    start: startInitiator({ ...p.aliceConfig(`alice-${seed}`), transport: o.transport }),
    role: 'initiator',
    events: aliceRec.events,
    stream: aliceStream,
    ...o.alice,
  });
  const bob = new StreamChannel({
    clock: bobClock,
    start: startResponder({ ...p.bobConfig(`bob-${seed}`), transport: o.transport }),
    role: 'responder',
    events: bobRec.events,
    stream: bobStream,
    ...o.bob,
  });
  alice.handlers.onConnect?.();
  const aliceToBob: Uint8Array[] = [];
  let aRead = 0;
  let bRead = 0;
  // FIN and RST travel too: an end once everything before it was delivered, a close once both ended.
  const ends = { alice: false, bob: false, closed: false };
  const pump = ({ toBob = true, toAlice = true } = {}) => {
    for (let moved = true; moved; ) {
      moved = false;
      while (toBob && aRead < aliceStream.writes.length) {
        const chunk = aliceStream.writes[aRead++]!;
        aliceToBob.push(chunk);
        bob.handlers.onData(chunk);
        moved = true;
      }
      while (toAlice && bRead < bobStream.writes.length) {
        alice.handlers.onData(bobStream.writes[bRead++]!);
        moved = true;
      }
      if (ends.closed) continue;
      if (aliceStream.wasReset || bobStream.wasReset) {
        ends.closed = true;
        const resetter = aliceStream.wasReset ? alice : bob;
        const peer = resetter === alice ? bob : alice;
        resetter.handlers.onClose(new NetError('ECLOSED'));
        peer.handlers.onClose(new NetError('ECONNRESET'));
        moved = true;
        continue;
      }
      if (toBob && aliceStream.ended && !ends.alice) {
        ends.alice = true;
        bob.handlers.onEnd?.();
        moved = true;
      }
      if (toAlice && bobStream.ended && !ends.bob) {
        ends.bob = true;
        alice.handlers.onEnd?.();
        moved = true;
      }
      if (ends.alice && ends.bob) {
        ends.closed = true;
        alice.handlers.onClose(undefined);
        bob.handlers.onClose(undefined);
      }
    }
  };
  const advance = (ms: number) => {
    aliceClock.advance(ms);
    bobClock.advance(ms);
  };
  return { alice, bob, aliceRec, bobRec, aliceClock, bobClock, aliceStream, bobStream, aliceToBob, pump, advance };
}
