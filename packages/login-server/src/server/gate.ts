/**
 * An async front for the admission controller (../limits/admission.ts, spec/06-login-server.md §7,
 * LOGIN-RATE-12..16): `run(work)` waits for a slot in FIFO order or fails at once with BUSY and the
 * controller's retry hint, and always releases the slot. Time comes from the injected clock; queued
 * work that waits too long is dropped by a timer on that clock.
 */
import type { Clock, Timer } from '@parley/net';
import { ErrorCode } from '@parley/wire';
import { AdmissionController } from '../limits/admission.js';
import type { AdmissionLimits } from '../limits/config.js';
import { BusyError } from './errors.js';

export class AdmissionGate {
  readonly controller: AdmissionController;
  readonly #clock: Clock;
  readonly #waiting = new Map<number, { resolve(): void; reject(e: unknown): void }>();
  #timer: Timer | undefined;

  constructor(limits: AdmissionLimits, clock: Clock) {
    this.controller = new AdmissionController(limits);
    this.#clock = clock;
  }

  /** Runs `work` when admitted; BusyError when refused or dropped from the queue. */
  async run<T>(work: () => Promise<T> | T): Promise<T> {
    const now = this.#clock.now();
    const a = this.controller.admit(now);
    if (a.kind === 'busy') throw new BusyError(ErrorCode.BUSY, a.retryAfterMs, a.jitterMs);
    if (a.kind === 'queued') {
      await new Promise<void>((resolve, reject) => {
        this.#waiting.set(a.ticket, { resolve, reject });
        this.#arm();
      });
    }
    try {
      return await work();
    } finally {
      this.#release();
    }
  }

  #release(): void {
    const r = this.controller.done(this.#clock.now());
    for (const d of r.dropped) this.#drop(d.ticket, d.retryAfterMs, d.jitterMs);
    if (r.run !== undefined) {
      const w = this.#waiting.get(r.run);
      this.#waiting.delete(r.run);
      w?.resolve();
    }
    this.#arm();
  }

  #drop(ticket: number, retryAfterMs: number, jitterMs: number): void {
    const w = this.#waiting.get(ticket);
    this.#waiting.delete(ticket);
    w?.reject(new BusyError(ErrorCode.BUSY, retryAfterMs, jitterMs));
  }

  #arm(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    const deadline = this.controller.nextDeadlineMs();
    if (deadline === undefined) return;
    this.#timer = this.#clock.setTimer(Math.max(0, deadline - this.#clock.now()), () => {
      this.#timer = undefined;
      for (const d of this.controller.expire(this.#clock.now())) this.#drop(d.ticket, d.retryAfterMs, d.jitterMs);
      this.#arm();
    });
  }

  /** Rejects everything queued (shutdown). */
  close(): void {
    this.#timer?.cancel();
    for (const ticket of [...this.#waiting.keys()]) this.#drop(ticket, 1_000, 1_000);
  }
}
