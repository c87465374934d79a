/**
 * The simulator's virtual clock core (DESIGN.md §9; spec/05-network.md): a 4-ary min-heap of events
 * ordered by (time, sequence number), so events due at the same virtual time run in the order they were
 * scheduled and a run never depends on heap internals.
 *
 * Why it looks like this (the simulator must move >= 1,000,000 datagrams/s with 100,000 hosts):
 * - Events are objects with a `fire()` method rather than closures: a datagram in flight is one object that
 *   is both the packet and its queue entry (and is recycled after delivery).
 * - The keys live in a typed array beside the heap of events: sifting compares contiguous numbers instead
 *   of chasing a pointer per comparison into objects scattered over a large heap; and the heap is 4-ary
 *   (half the levels, siblings adjacent), which matters once 100,000 events are in flight.
 */

export abstract class SimEvent {
  /** Virtual time (ms) at which the event fires; set by `EventQueue.push`. */
  time = 0;
  abstract fire(): void;
}

export class EventQueue {
  private items: (SimEvent | undefined)[] = [];
  /** keys[2i] = time, keys[2i + 1] = insertion sequence (float64: exact integers up to 2^53). */
  private keys = new Float64Array(2048);
  private n = 0;
  private nextSeq = 0;

  get size(): number {
    return this.n;
  }

  /** The earliest event, without removing it. */
  peek(): SimEvent | undefined {
    return this.n === 0 ? undefined : this.items[0];
  }

  /** The earliest event's time; +Infinity when empty. */
  peekTime(): number {
    return this.n === 0 ? Number.POSITIVE_INFINITY : this.keys[0]!;
  }

  push(event: SimEvent, time: number): void {
    event.time = time;
    const seq = this.nextSeq++;
    if (2 * this.n === this.keys.length) this.grow();
    const items = this.items;
    const keys = this.keys;
    // Sift up with a hole instead of swaps: one write per level.
    let i = this.n++;
    while (i > 0) {
      const p = (i - 1) >> 2;
      const pt = keys[2 * p]!;
      if (pt < time || (pt === time && keys[2 * p + 1]! < seq)) break;
      items[i] = items[p];
      keys[2 * i] = pt;
      keys[2 * i + 1] = keys[2 * p + 1]!;
      i = p;
    }
    items[i] = event;
    keys[2 * i] = time;
    keys[2 * i + 1] = seq;
  }

  pop(): SimEvent | undefined {
    if (this.n === 0) return undefined;
    const items = this.items;
    const keys = this.keys;
    const top = items[0];
    const n = --this.n;
    const last = items[n];
    const t = keys[2 * n]!;
    const s = keys[2 * n + 1]!;
    items[n] = undefined;
    if (n === 0) return top;
    let i = 0;
    for (;;) {
      // A 4-ary heap: half the depth of a binary one, and the four children's keys are adjacent in memory.
      const first = 4 * i + 1;
      if (first >= n) break;
      let c = first;
      let ct = keys[2 * first]!;
      let cs = keys[2 * first + 1]!;
      const end = Math.min(first + 4, n);
      for (let j = first + 1; j < end; j++) {
        const jt = keys[2 * j]!;
        if (jt < ct || (jt === ct && keys[2 * j + 1]! < cs)) {
          c = j;
          ct = jt;
          cs = keys[2 * j + 1]!;
        }
      }
      if (t < ct || (t === ct && s < cs)) break;
      items[i] = items[c];
      keys[2 * i] = ct;
      keys[2 * i + 1] = cs;
      i = c;
    }
    items[i] = last;
    keys[2 * i] = t;
    keys[2 * i + 1] = s;
    return top;
  }

  private grow(): void {
    const keys = new Float64Array(this.keys.length * 2);
    keys.set(this.keys);
    this.keys = keys;
  }
}
