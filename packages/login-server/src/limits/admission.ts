/**
 * Admission control for the login server's expensive work: OPAQUE registration and login steps and
 * certificate signing (spec/06-login-server.md §7.3, LOGIN-RATE-12..16). Pure and deterministic: every
 * call takes `nowMs`; the caller runs the work, answers BUSY, and sets the one timer `nextDeadlineMs()`
 * asks for.
 *
 * At most `maxInFlight` operations run at once and at most `maxQueued` wait, first in first out
 * [LOGIN-RATE-12]. Anything beyond is refused with BUSY at once [LOGIN-RATE-13], and so is a request
 * whose expected wait in the queue would exceed `maxQueueWaitMs` [LOGIN-RATE-16]; a waiting operation
 * whose wait reaches `maxQueueWaitMs` all the same (the server slowed down) is dropped with BUSY
 * [LOGIN-RATE-14]. A whole network logging in at once (the 2007 outage) meets a server that keeps
 * serving at its full rate and tells everyone else when to come back, instead of one whose queues grow
 * until it falls over.
 *
 * The BUSY hint [LOGIN-RATE-15], with Q the operations waiting and r the measured service rate:
 *
 *     retry_after_ms  R = clamp(ceil((Q + 1) * 1000 / r), retryMinMs, retryMaxMs)
 *     retry_jitter_ms J = ceil(R * jitterRatio)
 *
 * (Q + 1) / r is how long the request would have waited for a slot had it been queued behind the Q. A
 * client waits R plus a uniform share of J (LOGIN-RATE-18), so with jitterRatio 1 the clients refused
 * in one instant come back spread evenly over [R, 2R], after the queue ahead of them has drained.
 *
 * The service rate r is an exponentially weighted moving average of completions per second, measured
 * only over time spent saturated (every slot busy): then completions come as fast as the server can
 * work, so r estimates its capacity, not its current load, and an idle spell does not make the first
 * hints of a storm absurdly long. With tau the time constant, r decays as r * exp(-dt / tau) over dt ms
 * of saturated time, and each completion that frees a slot of a saturated server adds 1000 / tau: a
 * constant rate mu gives r = mu. Before any measurement r starts at `initialServiceRate`.
 */
import { ApiMisuse } from '@parley/wire';
import type { AdmissionLimits } from './config.js';
import { validateSection } from './config.js';

/** A refusal with its hint: ErrorReply BUSY with retry_after_ms and retry_jitter_ms. */
export interface Busy {
  readonly kind: 'busy';
  readonly retryAfterMs: number;
  readonly jitterMs: number;
}

export type Admission = { readonly kind: 'run' } | { readonly kind: 'queued'; readonly ticket: number } | Busy;

/** A queued operation removed for waiting too long: answer its request with BUSY and this hint. */
export interface Dropped {
  readonly ticket: number;
  readonly retryAfterMs: number;
  readonly jitterMs: number;
}

/** What `done` releases: the queued ticket that now holds the freed slot, and any dropped on the way. */
export interface Release {
  readonly run: number | undefined;
  readonly dropped: readonly Dropped[];
}

/** Monotone counters for logs and benchmarks. */
export interface AdmissionCounters {
  /** Admitted to run at once ('run'). */
  admitted: number;
  /** Admitted to wait ('queued'). */
  queued: number;
  /** Queued tickets that reached a slot (returned by `done`). */
  started: number;
  /** Refused at `admit` ('busy'). */
  busy: number;
  /** Queued tickets dropped for waiting `maxQueueWaitMs`. */
  dropped: number;
  /** Queued tickets withdrawn by the caller (`cancel`). */
  cancelled: number;
  /** Operations finished (`done`). */
  completed: number;
  /** The largest queue and in-flight count seen. */
  peakQueued: number;
  peakInFlight: number;
}

export class AdmissionController {
  readonly limits: AdmissionLimits;
  readonly counters: AdmissionCounters = {
    admitted: 0,
    queued: 0,
    started: 0,
    busy: 0,
    dropped: 0,
    cancelled: 0,
    completed: 0,
    peakQueued: 0,
    peakInFlight: 0,
  };
  #inFlight = 0;
  /** Waiting tickets and when they were queued; a Map keeps insertion (FIFO) order and deletes in O(1). */
  readonly #queue = new Map<number, number>();
  #nextTicket = 1;
  /** The last time seen, and the time spent saturated up to it. */
  #lastMs = Number.NEGATIVE_INFINITY;
  #saturatedMs = 0;
  /** The rate estimate (completions/s) as of saturated time `#rateAtSaturatedMs`. */
  #rate: number;
  #rateAtSaturatedMs = 0;

  constructor(limits: AdmissionLimits) {
    this.limits = validateSection('admission', limits);
    this.#rate = limits.initialServiceRate;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get queueLength(): number {
    return this.#queue.size;
  }

  /**
   * Admits one expensive operation [LOGIN-RATE-12]: 'run' takes a free slot (call `done` when the work
   * ends); 'queued' waits for `done` to hand it a slot (or for `expire`/`done` to drop it); 'busy' is
   * refused: every slot is taken, and the queue is full [LOGIN-RATE-13] or its expected wait,
   * (Q + 1) / r, exceeds `maxQueueWaitMs` [LOGIN-RATE-16].
   */
  admit(nowMs: number): Admission {
    this.#advance(nowMs);
    if (this.#inFlight < this.limits.maxInFlight) {
      this.#inFlight++;
      this.counters.admitted++;
      if (this.#inFlight > this.counters.peakInFlight) this.counters.peakInFlight = this.#inFlight;
      return { kind: 'run' };
    }
    // [LOGIN-RATE-13][LOGIN-RATE-16] Queue only when there is room and the expected wait, (Q + 1) / r, fits in
    // maxQueueWaitMs: a request that would be dropped anyway hears BUSY now rather than after the wait.
    const expectedWaitMs = ((this.#queue.size + 1) * 1000) / this.serviceRate(nowMs);
    if (this.#queue.size < this.limits.maxQueued && expectedWaitMs <= this.limits.maxQueueWaitMs) {
      const ticket = this.#nextTicket++;
      this.#queue.set(ticket, nowMs);
      this.counters.queued++;
      if (this.#queue.size > this.counters.peakQueued) this.counters.peakQueued = this.#queue.size;
      return { kind: 'queued', ticket };
    }
    this.counters.busy++;
    return { kind: 'busy', ...this.busyHint(nowMs) };
  }

  /**
   * One operation has finished: frees its slot, drops queued tickets that have waited too long
   * [LOGIN-RATE-14], and hands the slot to the oldest remaining ticket (FIFO) [LOGIN-RATE-12].
   */
  done(nowMs: number): Release {
    if (this.#inFlight === 0) throw new ApiMisuse('admission: done() with no operation in flight');
    this.#advance(nowMs);
    if (this.#inFlight >= this.limits.maxInFlight) {
      // A completion of a saturated server: it counts towards the service rate.
      const tau = this.limits.serviceRateTimeConstantMs;
      this.#rate = this.#rateAt(this.#saturatedMs) + 1000 / tau;
      this.#rateAtSaturatedMs = this.#saturatedMs;
    }
    this.#inFlight--;
    this.counters.completed++;
    const dropped = this.#dropExpired(nowMs);
    const head = this.#queue.keys().next();
    if (head.done) return { run: undefined, dropped };
    this.#queue.delete(head.value);
    this.#inFlight++;
    this.counters.started++;
    return { run: head.value, dropped };
  }

  /** Drops every queued ticket that has waited `maxQueueWaitMs` by `nowMs` [LOGIN-RATE-14]. */
  expire(nowMs: number): Dropped[] {
    this.#advance(nowMs);
    return this.#dropExpired(nowMs);
  }

  /** Withdraws a queued ticket (its client went away); false when it is not queued. */
  cancel(ticket: number, nowMs: number): boolean {
    this.#advance(nowMs);
    if (!this.#queue.delete(ticket)) return false;
    this.counters.cancelled++;
    return true;
  }

  /** When the oldest queued ticket will have waited `maxQueueWaitMs`: call `expire` then. */
  nextDeadlineMs(): number | undefined {
    const head = this.#queue.values().next();
    return head.done ? undefined : head.value + this.limits.maxQueueWaitMs;
  }

  /** The measured service rate, completions per second of saturated time, at `nowMs`; changes nothing. */
  serviceRate(nowMs: number): number {
    return this.#rateAt(this.#saturatedAt(nowMs));
  }

  /** [LOGIN-RATE-15] The BUSY hint for a request refused at `nowMs`; changes nothing. */
  busyHint(nowMs: number): { readonly retryAfterMs: number; readonly jitterMs: number } {
    const { retryMinMs, retryMaxMs, jitterRatio } = this.limits;
    const waitMs = Math.ceil(((this.#queue.size + 1) * 1000) / this.serviceRate(nowMs));
    // A rate of 0 gives Infinity, which the clamp turns into retryMaxMs; nothing here can give NaN.
    const retryAfterMs = Math.min(retryMaxMs, Math.max(retryMinMs, waitMs));
    return { retryAfterMs, jitterMs: Math.ceil(retryAfterMs * jitterRatio) };
  }

  #dropExpired(nowMs: number): Dropped[] {
    const expired: number[] = [];
    for (const [ticket, queuedAtMs] of this.#queue) {
      if (nowMs - queuedAtMs < this.limits.maxQueueWaitMs) break; // FIFO: the rest waited less
      expired.push(ticket);
    }
    if (expired.length === 0) return [];
    for (const ticket of expired) this.#queue.delete(ticket);
    this.counters.dropped += expired.length;
    const hint = this.busyHint(nowMs);
    return expired.map((ticket) => ({ ticket, ...hint }));
  }

  /** Accrues saturated time up to `nowMs` (a clock that went back accrues nothing). */
  #advance(nowMs: number): void {
    this.#saturatedMs = this.#saturatedAt(nowMs);
    if (nowMs > this.#lastMs) this.#lastMs = nowMs;
  }

  #saturatedAt(nowMs: number): number {
    const saturated = this.#inFlight >= this.limits.maxInFlight;
    return saturated && nowMs > this.#lastMs ? this.#saturatedMs + (nowMs - this.#lastMs) : this.#saturatedMs;
  }

  #rateAt(saturatedMs: number): number {
    const dt = saturatedMs - this.#rateAtSaturatedMs;
    return this.#rate * Math.exp(-dt / this.limits.serviceRateTimeConstantMs);
  }
}
