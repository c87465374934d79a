/**
 * One request started per turn of the event loop ([LOGIN-RES-2]). When many channels become readable at
 * once, Node runs all their callbacks in one turn; each request is a few milliseconds of synchronous work
 * (OPAQUE in WebAssembly, a SQLite commit), so sixteen of them would hold the loop for tens of
 * milliseconds, and timers, other sockets and heartbeats would wait that long. A pacer hands out starts
 * one per turn, in FIFO order, so the loop is never held longer than one request's longest slice.
 *
 * `schedule` queues a callback for a later turn of the loop: `setImmediate` on Node (a callback queued
 * from inside the check phase runs in the next iteration); tests and the simulator may pass another.
 */
export type Pace = () => Promise<void>;

export function turnPacer(schedule: (fn: () => void) => void = (fn) => setImmediate(fn)): Pace {
  const waiting: (() => void)[] = [];
  let scheduled = false;
  const pump = (): void => {
    if (scheduled || waiting.length === 0) return;
    scheduled = true;
    schedule(() => {
      scheduled = false;
      waiting.shift()?.();
      pump();
    });
  };
  return () =>
    new Promise<void>((resolve) => {
      waiting.push(resolve);
      pump();
    });
}
