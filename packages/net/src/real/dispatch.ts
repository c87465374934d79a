/**
 * Handler scheduling for the real transport (src/transport.ts; [NET-HANDLER-1]): a handler never runs while
 * a call into the transport (send, write, end, reset, close, bindUdp, listenTcp, connectTcp) is on the
 * stack. Node emits socket events from the event loop, but the transport's own paths (a close reported at
 * once, an argument rejected before any socket exists) would call back synchronously, so every handler
 * call goes through `emit`, which defers it to a microtask while a call is on the stack and keeps the
 * order of everything it deferred.
 *
 * A handler that throws is not caught ([NET-HANDLER-3]): the exception leaves the Node event callback (or
 * the microtask) and surfaces as an uncaught exception, like any bug in an event handler. The transport
 * updates its own state before calling a handler, so it stays consistent.
 */
export class Dispatcher {
  private depth = 0;
  private readonly deferred: (() => void)[] = [];
  private scheduled = false;

  /** Runs `fn` as a call into the transport. */
  call<T>(fn: () => T): T {
    this.depth++;
    try {
      return fn();
    } finally {
      this.depth--;
    }
  }

  /**
   * `enter()` … `leave()` (in a finally) bracket a call into the transport like `call`, without a closure:
   * for the per-datagram paths.
   */
  enter(): void {
    this.depth++;
  }

  leave(): void {
    this.depth--;
  }

  /** True when a handler may run now: no call into the transport on the stack and nothing deferred before it. */
  get idle(): boolean {
    return this.depth === 0 && this.deferred.length === 0;
  }

  /** Runs a handler now, or once no call into the transport is on the stack; in order either way. */
  emit(fn: () => void): void {
    if (this.depth > 0 || this.deferred.length > 0) {
      this.deferred.push(fn);
      this.schedule();
      return;
    }
    fn();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    while (this.deferred.length > 0) {
      const fn = this.deferred.shift()!;
      let threw = true;
      try {
        fn();
        threw = false;
      } finally {
        // A throwing handler must not strand the events queued behind it.
        if (threw && this.deferred.length > 0) this.schedule();
      }
    }
  }
}
