/**
 * The simulator's virtual clock core (DESIGN.md §9; spec/05-network.md §7 "Time and ordering",
 * NET-CLOCK-2): a queue of events ordered by (time, sequence number), so events due at the same virtual
 * time run in the order they were scheduled and a run never depends on the queue's internals.
 *
 * Why it looks like this. The simulator must move >= 1,000,000 datagrams/s with 100,000 hosts; with
 * 100,000 events in flight, almost every piece of memory an event needs has left the cache by the time the
 * event runs, and a cache miss costs about as much as all the computing a delivery does. So the design
 * minimises the memory an event touches and makes the misses it cannot avoid overlap:
 *
 * - A calendar queue in front of a heap. Time is cut into buckets of 1/128 ms; the events of the next
 *   4,096 buckets (32 ms, one network path with the default links) wait unsorted in a ring of buckets,
 *   later ones in a 4-ary heap (`far`). Bucket indices are monotonic in time (floor(time * 128) is exact),
 *   so an event in a later bucket is always later. When a bucket becomes current its entries are sorted
 *   once, where they lie (their offsets, by sub-bucket then insertion: a few dozen numbers), into the run,
 *   which pops in order; an event pushed for the current bucket or earlier goes to a small heap (`near`),
 *   and a pop takes the earlier of the two heads. With 100,000 events in flight this replaces sifting
 *   through a heap of 100,000 (a cache miss per level) with a sort of a few dozen numbers in cache.
 * - Struct of arrays. The ring is one arena of typed and plain arrays, a region per bucket: `keys` holds
 *   [time, seq, stamp] per entry as unboxed doubles, `refs` [item, data, from]. A push is three stores
 *   into each, at the end of its bucket's region (no object is read; a per-bucket array would cost a
 *   cache miss on its header at every push), and loading a bucket reads two contiguous runs of memory.
 * - Packets. Besides `SimEvent` objects, the queue holds packets: (target, data, from, stamp) stored in
 *   the entry itself (`pushPacket`), so a datagram in flight is no object at all and its delivery touches
 *   only the receiving socket (the target) and what the handler needs. A packet that lands outside the
 *   ring, or that `pop`/`peek` must return, becomes a `PacketEvent` (pooled). The simulator's run loop
 *   takes an entry of the current run by its index (`takeRunEntry`) and reads it in place: nothing is
 *   handed over through the queue's fields.
 * - Warming. When a bucket becomes current, the entries of the next buckets (a few dozen events) are read
 *   ahead (`warmOn`): the target socket of a packet (and through it its handlers object, the handler's
 *   function object and the host's row of link-stream state), the fields of an event object. The reads of one
 *   entry are independent of the other entries', so their cache misses overlap; made one by one when each
 *   event runs, each would stall.
 * - In the heaps the keys live in a typed array beside the events: sifting compares contiguous numbers
 *   instead of chasing a pointer per comparison; and the heaps are 4-ary (half the levels, siblings adjacent).
 *
 * None of this changes the order of events: it is exactly (time, insertion sequence), as the property
 * test NET-CLOCK-2 checks against a sorted reference.
 */

export abstract class SimEvent {
  /** Virtual time (ms) at which the event fires; set by `EventQueue.push`. */
  time = 0;
  abstract fire(): void;
  /**
   * @internal Warming, first step: called shortly before the event runs; reads the event (hence its
   * memory) and returns what to warm next, if anything. See the header.
   */
  warm(): Warmable | undefined {
    return undefined;
  }
}

/**
 * @internal Warming, second and third steps: reads (without effect) the memory an event will need when it
 * fires. `warmNext` reads the object's own fields and returns what to warm in the third step, if anything;
 * `warmLast` reads what those fields point to.
 */
export interface Warmable {
  warmNext(): Warmable | undefined;
  warmLast(): number;
}

/** @internal What a packet is delivered to (simulator.ts: a UDP socket). */
export interface PacketTarget extends Warmable {
  /** Delivers a packet; `stamp` is the number given to `pushPacket` (the simulator: the time of sending). */
  receive(data: Uint8Array, from: unknown, stamp: number): void;
}

/** @internal A packet as an event object (outside the ring, or for `pop`/`peek`); recycled after it fires. */
class PacketEvent extends SimEvent {
  target: PacketTarget | undefined = undefined;
  data: Uint8Array | undefined = undefined;
  from: unknown = undefined;
  stamp = 0;
  constructor(private readonly pool: PacketEvent[]) {
    super();
  }
  fire(): void {
    const target = this.target!;
    const data = this.data!;
    const from = this.from;
    this.target = this.data = this.from = undefined;
    this.pool.push(this);
    target.receive(data, from, this.stamp);
  }
  override warm(): Warmable | undefined {
    return this.target;
  }
}

/** Buckets per millisecond (a power of two: time * SCALE is exact, so bucket indices are monotonic in time). */
const SCALE = 128;
/** Buckets in the ring (a power of two). */
const SLOTS = 4096;
const MASK = SLOTS - 1;
/** Entries of a bucket that first receives an event (its capacity doubles when full). */
const FIRST_CAPACITY = 8;
/** When fewer events than this after the current bucket are warmed, warming… */
const WARM_LOW = 32;
/** … warms the next buckets until this many are, … */
const WARM_HIGH = 96;
/** … looking at most this many buckets ahead (2 ms). */
const WARM_SPAN = 256;
/** Buckets of more than this many events are distributed into SUB sub-buckets before the insertion sort… */
const DISTRIBUTE_MIN = 16;
const SUB = 64;
/** … and buckets of up to this many events are sorted by insertion, larger ones by merging. */
const INSERTION_MAX = 96;

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

/** An entry's item: an event object, or a packet's target (then `data` is set). */
type Item = SimEvent | PacketTarget;

export class EventQueue {
  // The ring (see the header): bucket b lives in slot b & MASK, a region of an arena shared by all slots,
  // entries start[s] .. start[s] + count[s] - 1 (capacity cap[s]); entry i is refs[3i .. 3i + 2] = item,
  // data, from and keys[3i .. 3i + 2] = time, seq, stamp. A full slot moves to the arena's free end with
  // twice its capacity; a full arena is rebuilt tightly (or larger). Slots keep their capacity from one
  // use to the next, so a steady simulation allocates nothing.
  private readonly count = new Int32Array(SLOTS);
  private readonly start = new Int32Array(SLOTS);
  private readonly cap = new Int32Array(SLOTS);
  /** @internal The arena (see above); read by the simulator's run loop after `takeRunEntry`. */
  refs: unknown[] = [];
  /** @internal */ keys = new Float64Array(0);
  /** First unused entry of the arena. */
  private top = 0;
  private inRing = 0;
  // The current bucket: its ring entries stay where they are (in slot `runSlot`, which no push can reach
  // while it is current) and the run lists them sorted, as offsets in the slot (`runOrder`) with their
  // times (`runTimes`), from runPos to runEnd; `near` holds events pushed for the bucket (or earlier)
  // since it became current, and far events of it. Sorting offsets rather than moving the entries keeps
  // the sort to typed arrays: no reference is copied (each copy of a reference into an array costs a
  // write barrier, which reads the header of the referenced object's page: often a cache miss).
  private runOrder = new Int32Array(128);
  private runTimes = new Float64Array(128);
  private runSlot = -1;
  private runPos = 0;
  private runEnd = 0;
  /** Scratch of loadRun's distribution into sub-buckets. */
  private readonly subCount = new Int32Array(SUB + 1);
  private readonly near = new Heap();
  /** Events of later buckets. */
  private readonly far = new Heap();
  private current = 0;
  private n = 0;
  private nextSeq = 0;
  private readonly packetPool: PacketEvent[] = [];
  /** Buckets up to this one are warmed (or were empty when looked at); see `warmOn`. */
  private warmedTo = 0;
  /** Events warmed in buckets after the current one; `warmedCount[s]` of them in slot s. */
  private warmAhead = 0;
  private readonly warmedCount = new Int32Array(SLOTS);
  /** @internal Kept only so that warming reads are not optimised away; means nothing. */
  warmed = 0;
  /**
   * @internal What `take` returned last: its time, and for a packet its data (else undefined), source
   * and stamp. (`pop` sets the time too.)
   */
  poppedTime = 0;
  /** @internal */ poppedData: Uint8Array | undefined = undefined;
  /** @internal */ poppedFrom: unknown = undefined;
  /** @internal */ poppedStamp = 0;

  get size(): number {
    return this.n;
  }

  /** The earliest event, without removing it. */
  peek(): SimEvent | undefined {
    if (this.n === 0) return undefined;
    if (this.runPos === this.runEnd && this.near.n === 0) this.advance();
    if (!this.runFirst()) return this.near.items[0];
    const e = this.runEntry(this.runPos);
    // A packet is turned into an event object in place, so a later pop returns the same object.
    if (this.refs[e + 1] !== undefined) this.refs[e] = this.packetEvent(e);
    return this.refs[e] as SimEvent;
  }

  /** Index in `refs` and `keys` of the run's entry p. */
  private runEntry(p: number): number {
    return 3 * (this.start[this.runSlot]! + this.runOrder[p]!);
  }

  /** The earliest event's time; +Infinity when empty. */
  peekTime(): number {
    if (this.n === 0) return Number.POSITIVE_INFINITY;
    if (this.runPos === this.runEnd && this.near.n === 0) this.advance();
    return this.runFirst() ? this.runTimes[this.runPos]! : this.near.keys[0]!;
  }

  push(event: SimEvent, time: number): void {
    event.time = time;
    const seq = this.nextSeq++;
    this.n++;
    const bucket = Math.floor(time * SCALE);
    const current = this.current;
    if (bucket <= current) this.near.push(event, time, seq);
    else if (bucket < current + SLOTS) this.toRing(bucket & MASK, event, undefined, undefined, time, seq, 0);
    else this.far.push(event, time, seq); // also +Infinity (and NaN)
  }

  /**
   * @internal Schedules the delivery of a packet at `time`: `target.receive(data, from, stamp)` then, in
   * (time, sequence) order with every other event. Inside the ring (the common case) nothing is allocated.
   */
  pushPacket(target: PacketTarget, data: Uint8Array, from: unknown, stamp: number, time: number): void {
    const bucket = Math.floor(time * SCALE);
    const current = this.current;
    if (bucket > current && bucket < current + SLOTS) {
      // toRing, written out: a call would box the double arguments (this is the hottest push).
      const slot = bucket & MASK;
      const c = this.count[slot]!;
      if (c === this.cap[slot]) this.grow(slot);
      this.count[slot] = c + 1;
      const i = 3 * (this.start[slot]! + c);
      const refs = this.refs;
      refs[i] = target;
      refs[i + 1] = data;
      refs[i + 2] = from;
      const keys = this.keys;
      keys[i] = time;
      keys[i + 1] = this.nextSeq++;
      keys[i + 2] = stamp;
      this.inRing++;
      this.n++;
      return;
    }
    let ev = this.packetPool.pop();
    if (ev === undefined) ev = new PacketEvent(this.packetPool);
    ev.target = target;
    ev.data = data;
    ev.from = from;
    ev.stamp = stamp;
    this.push(ev, time);
  }

  private toRing(
    slot: number,
    item: Item,
    data: Uint8Array | undefined,
    from: unknown,
    time: number,
    seq: number,
    stamp: number,
  ): void {
    const c = this.count[slot]!;
    if (c === this.cap[slot]) this.grow(slot);
    this.count[slot] = c + 1;
    const i = 3 * (this.start[slot]! + c);
    const refs = this.refs;
    refs[i] = item;
    refs[i + 1] = data;
    refs[i + 2] = from;
    const keys = this.keys;
    keys[i] = time;
    keys[i + 1] = seq;
    keys[i + 2] = stamp;
    this.inRing++;
  }

  pop(): SimEvent | undefined {
    if (this.n === 0) return undefined;
    const item = this.take();
    if (this.poppedData === undefined) return item as SimEvent;
    let ev = this.packetPool.pop();
    if (ev === undefined) ev = new PacketEvent(this.packetPool);
    ev.target = item as PacketTarget;
    ev.data = this.poppedData;
    ev.from = this.poppedFrom;
    ev.stamp = this.poppedStamp;
    ev.time = this.poppedTime;
    this.poppedData = undefined;
    this.poppedFrom = undefined;
    return ev;
  }

  /**
   * @internal Removes the earliest entry (the queue must not be empty) and returns its item: an event to
   * fire, or, when `poppedData` is set, a packet's target (with `poppedFrom` and `poppedStamp`). Always
   * sets `poppedTime`. The simulator's run loop uses it: a packet needs no event object.
   */
  take(): Item {
    return this.takeIf(0, true)!;
  }

  /**
   * @internal `take`, if the queue is not empty and its earliest entry is due at `until` or before; else
   * undefined (and nothing changes). The run loop's one call per event.
   */
  takeDue(until: number): Item | undefined {
    return this.takeIf(until, false);
  }

  /**
   * @internal The run loop's take (Simulator.run), for the common case: if the earliest entry is one of the
   * current run's (a ring entry) and due at `until` or before, removes it from the queue and returns its
   * index e in `refs` and `keys`: item, data (undefined for an event object), source = refs[e .. e + 2],
   * time, sequence, stamp = keys[e .. e + 2]. The caller reads the entry and clears its three refs. Returns
   * -1 when nothing is due (or the queue is empty), -2 when the earliest due entry is elsewhere (`near`: use
   * takeDue). Nothing is stored in the queue object but two counters: `take` hands an entry over in fields
   * (poppedData, poppedFrom…), and each reference stored in a field costs a write barrier, whose check reads
   * the header of the referenced object's page (often a cache miss), and each double a boxed store.
   */
  takeRunEntry(until: number): number {
    if (this.n === 0) return -1;
    if (this.runPos === this.runEnd && this.near.n === 0) this.advance();
    if (!this.runFirst()) return this.near.keys[0]! <= until ? -2 : -1;
    const p = this.runPos;
    if (!(this.runTimes[p]! <= until)) return -1;
    this.runPos = p + 1;
    this.n--;
    return this.runEntry(p);
  }

  private takeIf(until: number, always: boolean): Item | undefined {
    if (this.n === 0) return undefined;
    if (this.runPos === this.runEnd && this.near.n === 0) this.advance();
    if (this.runFirst()) {
      const p = this.runPos;
      if (!always && !(this.runTimes[p]! <= until)) return undefined;
      this.runPos = p + 1;
      this.n--;
      const i = this.runEntry(p);
      const refs = this.refs;
      const item = refs[i] as Item;
      this.poppedData = refs[i + 1] as Uint8Array | undefined;
      this.poppedFrom = refs[i + 2];
      this.poppedTime = this.keys[i]!;
      this.poppedStamp = this.keys[i + 2]!;
      // Cleared (the arena must not keep dead events and payloads alive); storing undefined needs no barrier.
      refs[i] = refs[i + 1] = refs[i + 2] = undefined;
      return item;
    }
    const near = this.near;
    const t = near.keys[0]!;
    // Not `t > until`: an event at a NaN time is never due (as `peekTime() <= until` says).
    if (!always && !(t <= until)) return undefined;
    this.n--;
    this.poppedTime = t;
    this.poppedData = undefined;
    this.poppedFrom = undefined;
    return near.pop();
  }

  /** Whether the next event is the run's (rather than the near heap's); the run or `near` is not empty. */
  private runFirst(): boolean {
    const p = this.runPos;
    if (p === this.runEnd) return false;
    const near = this.near;
    if (near.n === 0) return true;
    const t = this.runTimes[p]!;
    const nt = near.keys[0]!;
    return t < nt || (t === nt && this.keys[this.runEntry(p) + 1]! < near.keys[1]!);
  }

  /** The packet at `refs[e]` as a (pooled) event object. */
  private packetEvent(e: number): PacketEvent {
    let ev = this.packetPool.pop();
    if (ev === undefined) ev = new PacketEvent(this.packetPool);
    const refs = this.refs;
    ev.target = refs[e] as PacketTarget;
    ev.data = refs[e + 1] as Uint8Array;
    ev.from = refs[e + 2];
    ev.stamp = this.keys[e + 2]!;
    ev.time = this.keys[e]!;
    refs[e + 1] = refs[e + 2] = undefined;
    return ev;
  }

  /** Slot `slot` is full: gives it twice the capacity at the arena's free end (rebuilding the arena if needed). */
  private grow(slot: number): void {
    const cap = this.cap[slot]!;
    const want = cap === 0 ? FIRST_CAPACITY : 2 * cap;
    const count = this.count;
    const start = this.start;
    if (3 * (this.top + want) > this.refs.length) {
      // Rebuild: every slot keeps its capacity (this one gets `want`), packed from 0, in an arena with
      // room for as much again.
      let total = want - cap;
      for (let s = 0; s < SLOTS; s++) total += this.cap[s]!;
      const refs: unknown[] = new Array(6 * total).fill(undefined);
      const keys = new Float64Array(6 * total);
      let top = 0;
      for (let s = 0; s < SLOTS; s++) {
        const from = 3 * start[s]!;
        const c = 3 * count[s]!;
        for (let i = 0; i < c; i++) refs[3 * top + i] = this.refs[from + i];
        keys.set(this.keys.subarray(from, from + c), 3 * top);
        start[s] = top;
        top += s === slot ? want : this.cap[s]!;
      }
      this.cap[slot] = want;
      this.refs = refs;
      this.keys = keys;
      this.top = top;
      return;
    }
    const from = 3 * start[slot]!;
    const to = 3 * this.top;
    const c = 3 * count[slot]!;
    const refs = this.refs;
    for (let i = 0; i < c; i++) {
      refs[to + i] = refs[from + i];
      refs[from + i] = undefined;
    }
    this.keys.copyWithin(to, from, from + c);
    start[slot] = this.top;
    this.cap[slot] = want;
    this.top += want;
  }

  /**
   * The current bucket is done (its run and `near` are empty) and the queue is not: makes the earliest
   * non-empty bucket current. Every event in the ring or in `far` is in a bucket after `current`, ring
   * events within SLOTS - 1 of it.
   */
  private advance(): void {
    const far = this.far;
    const count = this.count;
    let next: number;
    if (this.inRing > 0) {
      let b = this.current + 1;
      while (count[b & MASK] === 0) b++;
      next = b;
      if (far.n > 0) {
        const fb = Math.floor(far.keys[0]! * SCALE);
        if (fb < next) next = fb;
      }
    } else next = Math.floor(far.keys[0]! * SCALE);
    this.current = next;
    // The previous run is done: its slot is free again.
    if (this.runSlot >= 0) {
      count[this.runSlot] = 0;
      this.runSlot = -1;
    }
    // The slot holds only bucket `next`'s events: the ring's buckets lie within SLOTS of each other.
    const slot = next & MASK;
    const c = count[slot]!;
    if (c > 0) {
      this.inRing -= c;
      this.loadRun(slot, c);
    }
    const near = this.near;
    while (far.n > 0 && Math.floor(far.keys[0]! * SCALE) <= next) {
      const t = far.keys[0]!;
      const s = far.keys[1]!;
      near.push(far.pop(), t, s);
    }
    // A bucket of +Infinity (or NaN) times: the far heap holds them in order; take them all.
    if (near.n === 0 && this.runPos === this.runEnd) {
      while (far.n > 0) {
        const t = far.keys[0]!;
        const s = far.keys[1]!;
        near.push(far.pop(), t, s);
      }
    }
    this.warmAhead -= this.warmedCount[slot]!;
    this.warmedCount[slot] = 0;
    if (this.inRing > 0) this.warmOn(next);
  }

  /**
   * Keeps events after the current bucket warmed: when fewer than WARM_LOW are, warms the following
   * buckets, in order, until WARM_HIGH are. So dense traffic (dozens of events per bucket) warms a bucket or
   * two ahead and sparse traffic looks further, and either way a warming batch has dozens of events, whose
   * cache misses overlap (a batch per sparse bucket would be an event at a time: a miss at a time; and
   * warming an entry or two per event taken, for the processor to overlap with the handler's own misses,
   * measured slower than batches).
   * `warmedTo` only moves forward (a bucket is looked at once), at most WARM_SPAN buckets ahead. Reads
   * only: nothing observable changes.
   */
  private warmOn(current: number): void {
    if (this.warmAhead >= WARM_LOW) return;
    let b = Math.max(this.warmedTo, current);
    const end = current + WARM_SPAN;
    const count = this.count;
    const refs = this.refs;
    const keys = this.keys;
    let w = 0;
    // One pass over the entries of the buckets: each entry's chain of reads (entry, socket, handler and
    // link-stream row) is independent of the others', so the processor runs the chains of many
    // iterations at once and their misses overlap. (Separate passes over lists of what to read next
    // overlapped no better, and each list store cost a write barrier: see `takeRunEntry`.)
    while (this.warmAhead < WARM_HIGH && b < end) {
      b++;
      const slot = b & MASK;
      const c = count[slot]!;
      if (c === 0) continue;
      this.warmedCount[slot] = c;
      this.warmAhead += c;
      const from = 3 * this.start[slot]!;
      const to = from + 3 * c;
      for (let i = from; i < to; i += 3) {
        const item = refs[i];
        const x = refs[i + 1] !== undefined ? (item as PacketTarget) : (item as SimEvent).warm();
        if (x !== undefined) {
          const o = x.warmNext();
          if (o !== undefined) w ^= o.warmLast();
        }
        w ^= keys[i]! > 0 ? 1 : 0; // the keys, which the sort will read
      }
    }
    this.warmedTo = b;
    this.warmed = w;
  }

  /**
   * Makes slot `slot` (c entries of one bucket, in push order, hence by sequence) the run: its offsets
   * sorted by time. A stable sort keeps equal times in sequence order, so the run is in (time, seq) order.
   * Insertion sort for a bucket of ordinary size (a few dozen events, in no particular order: cheaper than
   * a heap, whose every pop sifts through mispredicted comparisons), a merge sort beyond.
   */
  private loadRun(slot: number, c: number): void {
    if (this.runOrder.length < c) {
      this.runOrder = new Int32Array(2 * c);
      this.runTimes = new Float64Array(2 * c);
    }
    const order = this.runOrder;
    const times = this.runTimes;
    const keys = this.keys;
    const base = 3 * this.start[slot]!;
    if (c > DISTRIBUTE_MIN && c <= INSERTION_MAX) {
      // Distribute into SUB sub-buckets of the bucket by time (stable: in entry order within each), then
      // an insertion pass, which only has to order each sub-bucket's few events: about linear, where an
      // insertion sort of the whole bucket moves a quarter of it per event. `t * SCALE - bucket` is exact
      // (a power of two and Sterbenz), in [0, 1), so sub-bucket numbers follow time.
      const bucket = this.current;
      const counts = this.subCount;
      counts.fill(0);
      for (let i = 0; i < c; i++) counts[(((keys[base + 3 * i]! * SCALE - bucket) * SUB) | 0) + 1]!++;
      for (let k = 1; k <= SUB; k++) counts[k]! += counts[k - 1]!;
      for (let i = 0; i < c; i++) {
        const t = keys[base + 3 * i]!;
        const at = counts[((t * SCALE - bucket) * SUB) | 0]!++;
        order[at] = i;
        times[at] = t;
      }
      for (let i = 1; i < c; i++) {
        const t = times[i]!;
        if (times[i - 1]! <= t) continue;
        const o = order[i]!;
        let j = i;
        while (j > 0 && times[j - 1]! > t) {
          times[j] = times[j - 1]!;
          order[j] = order[j - 1]!;
          j--;
        }
        times[j] = t;
        order[j] = o;
      }
    } else if (c <= INSERTION_MAX) {
      for (let i = 0; i < c; i++) {
        const t = keys[base + 3 * i]!;
        let j = i;
        while (j > 0 && times[j - 1]! > t) {
          times[j] = times[j - 1]!;
          order[j] = order[j - 1]!;
          j--;
        }
        times[j] = t;
        order[j] = i;
      }
    } else {
      // Bottom-up merge sort of offsets by time (stable).
      let a0 = new Int32Array(c);
      let b0 = new Int32Array(c);
      for (let i = 0; i < c; i++) a0[i] = i;
      for (let width = 1; width < c; width *= 2) {
        for (let lo = 0; lo < c; lo += 2 * width) {
          const mid = Math.min(lo + width, c);
          const hi = Math.min(lo + 2 * width, c);
          let a = lo;
          let b = mid;
          let k = lo;
          while (a < mid && b < hi) {
            // Take from the right run only if strictly earlier: stability.
            if (keys[base + 3 * a0[b]!]! < keys[base + 3 * a0[a]!]!) b0[k++] = a0[b++]!;
            else b0[k++] = a0[a++]!;
          }
          while (a < mid) b0[k++] = a0[a++]!;
          while (b < hi) b0[k++] = a0[b++]!;
        }
        const swap = a0;
        a0 = b0;
        b0 = swap;
      }
      for (let i = 0; i < c; i++) {
        order[i] = a0[i]!;
        times[i] = keys[base + 3 * a0[i]!]!;
      }
    }
    this.runSlot = slot;
    this.runPos = 0;
    this.runEnd = c;
  }
}
