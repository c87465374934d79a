/**
 * The real Clock (src/transport.ts `Clock`; [NET-CLOCK-1]..[NET-CLOCK-3]): monotonic milliseconds from
 * `performance.now()`, and timers kept in this clock's own queue, ordered by deadline then by the order
 * they were set, behind one Node timer armed for the earliest. Node's own timers can fire up to ~1 ms
 * before performance.now() says the delay passed (they run on a millisecond loop clock), and re-arming
 * each one separately would reorder equal deadlines; one queue keeps both "never early" and "in order".
 *
 * The Node timer is not unref'd — a pending protocol timer keeps the process alive, as it should — and
 * `cancelAll()` (called by `RealTransport.close()`) makes cleanup one call.
 */
import type { Clock, Timer } from '../transport.js';

interface Entry {
  readonly deadline: number;
  readonly seq: number;
  readonly fn: () => void;
  /** Cancelled, or already run: either way, not to run. */
  done: boolean;
}

const before = (x: Entry, y: Entry) => x.deadline < y.deadline || (x.deadline === y.deadline && x.seq < y.seq);

export class RealClock implements Clock {
  /** A binary min-heap by (deadline, seq); cancelled entries leave when they reach the top. */
  private heap: Entry[] = [];
  private seq = 0;
  private handle: NodeJS.Timeout | undefined;
  private armedFor = Number.POSITIVE_INFINITY;

  now(): number {
    return performance.now();
  }

  setTimer(delayMs: number, fn: () => void): Timer {
    const entry: Entry = { deadline: this.now() + Math.max(0, delayMs), seq: this.seq++, fn, done: false };
    this.push(entry);
    this.arm();
    return {
      cancel: () => {
        entry.done = true;
      },
    };
  }

  /** Cancels every pending timer of this clock. */
  cancelAll(): void {
    for (const e of this.heap) e.done = true;
    this.heap = [];
    clearTimeout(this.handle);
    this.handle = undefined;
    this.armedFor = Number.POSITIVE_INFINITY;
  }

  private fire(): void {
    this.handle = undefined;
    this.armedFor = Number.POSITIVE_INFINITY;
    const now = this.now();
    try {
      for (let top = this.heap[0]; top !== undefined && top.deadline <= now; top = this.heap[0]) {
        this.pop();
        if (top.done) continue;
        top.done = true;
        top.fn();
      }
    } finally {
      // Also after a throwing timer function ([NET-HANDLER-3]): the timers behind it still run.
      this.arm();
    }
  }

  private arm(): void {
    while (this.heap[0]?.done) this.pop();
    const top = this.heap[0];
    if (top === undefined) {
      clearTimeout(this.handle);
      this.handle = undefined;
      this.armedFor = Number.POSITIVE_INFINITY;
      return;
    }
    if (this.handle !== undefined && this.armedFor <= top.deadline) return;
    clearTimeout(this.handle);
    this.armedFor = top.deadline;
    this.handle = setTimeout(() => this.fire(), Math.max(0, Math.ceil(top.deadline - this.now())));
  }

  private push(e: Entry): void {
    const h = this.heap;
    let i = h.push(e) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && before(h[l]!, h[m]!)) m = l;
      if (r < h.length && before(h[r]!, h[m]!)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}
