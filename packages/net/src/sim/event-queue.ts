/**
 * The simulator's virtual clock core (DESIGN.md §9; spec/05-network.md): a queue of events ordered by
 * (time, sequence number), so events due at the same virtual time run in the order they were scheduled
 * and a run never depends on the queue's internals.
 *
 * Why it looks like this (the simulator must move >= 1,000,000 datagrams/s with 100,000 hosts):
 * - Events are objects with a `fire()` method rather than closures: a datagram in flight is one object that
 *   is both the packet and its queue entry (and is recycled after delivery).
 * - A calendar queue in front of a heap. Time is cut into buckets of 1/128 ms; the events of the next
 *   4,096 buckets (32 ms, one network path with the default links) wait unsorted in a ring of buckets
 *   (two singly linked lists through the events per bucket, by parity of the sequence number: a push is
 *   two writes, and loading a bucket walks both lists together so their cache misses overlap), later
 *   ones in a 4-ary heap (`far`). Only the bucket being run is ordered, in a small 4-ary heap (`near`) that also takes every event
 *   pushed for that bucket or earlier. Bucket indices are monotonic in time (floor(time * 128) is exact),
 *   so an event in a later bucket is always later: popping `near` empty, then the next bucket, gives the
 *   exact (time, sequence) order. With 100,000 events in flight, sifting through a heap of 100,000 (a
 *   cache miss per level) becomes sifting through one of a few dozen, and loading a bucket touches its
 *   events together, before they run.
 * - In each heap the keys live in a typed array beside the events: sifting compares contiguous numbers
 *   instead of chasing a pointer per comparison; and the heaps are 4-ary (half the levels, siblings adjacent).
 */

export abstract class SimEvent {
  /** Virtual time (ms) at which the event fires; set by `EventQueue.push`. */
  time = 0;
  /** @internal Insertion sequence; set by `EventQueue.push`. */
  qseq = 0;
  /** @internal The next event in the same calendar bucket. */
  qnext: SimEvent | undefined = undefined;
  abstract fire(): void;
}

/** Buckets per millisecond (a power of two: time * SCALE is exact, so bucket indices are monotonic in time). */
const SCALE = 128;
/** Buckets in the ring (a power of two). */
const SLOTS = 4096;
const MASK = SLOTS - 1;

/** A 4-ary min-heap of events by (time, sequence). */
class Heap {
  items: (SimEvent | undefined)[] = [];
  /** keys[2i] = time, keys[2i + 1] = insertion sequence (float64: exact integers up to 2^53). */
  keys = new Float64Array(256);
  n = 0;

  push(event: SimEvent, time: number, seq: number): void {
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

  /** Removes and returns the earliest event; the heap must not be empty. */
  pop(): SimEvent {
    const items = this.items;
    const keys = this.keys;
    const top = items[0]!;
    const n = --this.n;
    const last = items[n];
    const t = keys[2 * n]!;
    const s = keys[2 * n + 1]!;
    items[n] = undefined;
    if (n === 0) return top;
    let i = 0;
    for (;;) {
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

export class EventQueue {
  /** Events of bucket `current` or earlier, ordered. */
  private readonly near = new Heap();
  /**
   * Events of buckets current + 1 .. current + SLOTS - 1 (at push time), unordered: bucket b's are the
   * lists headed at ring[2 (b & MASK)] (even sequence numbers) and ring[2 (b & MASK) + 1] (odd).
   */
  private readonly ring: (SimEvent | undefined)[] = new Array(2 * SLOTS).fill(undefined);
  private inRing = 0;
  /** Events of later buckets. */
  private readonly far = new Heap();
  private current = 0;
  private n = 0;
  private nextSeq = 0;

  get size(): number {
    return this.n;
  }

  /** The earliest event, without removing it. */
  peek(): SimEvent | undefined {
    if (this.n === 0) return undefined;
    if (this.near.n === 0) this.advance();
    return this.near.items[0];
  }

  /** The earliest event's time; +Infinity when empty. */
  peekTime(): number {
    if (this.n === 0) return Number.POSITIVE_INFINITY;
    if (this.near.n === 0) this.advance();
    return this.near.keys[0]!;
  }

  push(event: SimEvent, time: number): void {
    event.time = time;
    const seq = this.nextSeq++;
    event.qseq = seq;
    this.n++;
    const bucket = Math.floor(time * SCALE);
    const current = this.current;
    if (bucket <= current) this.near.push(event, time, seq);
    else if (bucket < current + SLOTS) {
      const slot = bucket & MASK;
      const head = 2 * slot + (seq & 1);
      event.qnext = this.ring[head];
      this.ring[head] = event;
      this.inRing++;
    } else this.far.push(event, time, seq); // also +Infinity (and NaN)
  }

  pop(): SimEvent | undefined {
    if (this.n === 0) return undefined;
    if (this.near.n === 0) this.advance();
    this.n--;
    return this.near.pop();
  }

  /**
   * `near` is empty and the queue is not: makes the earliest non-empty bucket current. Every event in the
   * ring or in `far` is in a bucket after `current`, ring events within SLOTS - 1 of it.
   */
  private advance(): void {
    const far = this.far;
    const ring = this.ring;
    let next: number;
    if (this.inRing > 0) {
      let b = this.current + 1;
      while (ring[2 * (b & MASK)] === undefined && ring[2 * (b & MASK) + 1] === undefined) b++;
      next = b;
      if (far.n > 0) {
        const fb = Math.floor(far.keys[0]! * SCALE);
        if (fb < next) next = fb;
      }
    } else next = Math.floor(far.keys[0]! * SCALE);
    this.current = next;
    const near = this.near;
    if (this.inRing > 0) {
      // The slot holds only bucket `next`'s events: the ring's buckets lie within SLOTS of each other.
      // Two lists walked in step: two independent chains of loads instead of one.
      const slot = next & MASK;
      let a = ring[2 * slot];
      let b = ring[2 * slot + 1];
      ring[2 * slot] = undefined;
      ring[2 * slot + 1] = undefined;
      let count = 0;
      while (a !== undefined && b !== undefined) {
        const na: SimEvent | undefined = a.qnext;
        const nb: SimEvent | undefined = b.qnext;
        a.qnext = undefined;
        b.qnext = undefined;
        near.push(a, a.time, a.qseq);
        near.push(b, b.time, b.qseq);
        count += 2;
        a = na;
        b = nb;
      }
      let rest = a ?? b;
      while (rest !== undefined) {
        const following: SimEvent | undefined = rest.qnext;
        rest.qnext = undefined;
        near.push(rest, rest.time, rest.qseq);
        count++;
        rest = following;
      }
      this.inRing -= count;
    }
    while (far.n > 0 && Math.floor(far.keys[0]! * SCALE) <= next) {
      const ev = far.pop();
      near.push(ev, ev.time, ev.qseq);
    }
    // A bucket of +Infinity (or NaN) times: the far heap holds them in order; take them all.
    if (near.n === 0) {
      while (far.n > 0) {
        const ev = far.pop();
        near.push(ev, ev.time, ev.qseq);
      }
    }
  }
}
