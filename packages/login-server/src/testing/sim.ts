/**
 * Test helpers for code running on @parley/net's deterministic simulator, shared by the login server's and
 * the supernode's tests (exported with `@parley/login-server/testing`): a transport whose clock reads unix
 * milliseconds, and driving the simulator until a promise settles.
 */
import type { Clock, Simulator, Transport } from '@parley/net';

/** `t` with its clock reading unix milliseconds: `epoch` at the clock's `origin` (the simulator's 0), whole milliseconds. */
export function epochTransport(t: Transport, epoch: number, origin = 0): Transport {
  const clock: Clock = {
    now: () => epoch + Math.floor(t.clock.now() - origin),
    setTimer: (delayMs, fn) => t.clock.setTimer(delayMs, fn),
  };
  return {
    clock,
    random: t.random,
    bindUdp: (o, h) => t.bindUdp(o, h),
    listenTcp: (o, h) => t.listenTcp(o, h),
    connectTcp: (r, h, o) => t.connectTcp(r, h, o),
  };
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Resolves with `p`'s outcome, running `sim` one event at a time between macrotask turns (so simulated
 * time only passes while no promise chain is in progress); throws when `timeoutMs` of simulated time pass
 * first, or when nothing is left to simulate and `p` is still pending.
 */
export async function settle<T>(sim: Simulator, p: Promise<T>, timeoutMs = 10 * 60_000): Promise<T> {
  let done = false;
  p.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  const deadline = sim.now + timeoutMs;
  for (;;) {
    await turn();
    if (done) return p;
    if (!sim.step()) {
      await turn();
      if (done) return p;
      throw new Error('nothing left to simulate and the promise is still pending');
    }
    if (sim.now > deadline) throw new Error(`still pending after ${timeoutMs} ms of simulated time`);
  }
}
