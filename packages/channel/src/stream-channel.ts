/**
 * The one driver that runs a Parley stream channel over a @parley/net `Stream`: the Noise handshake
 * state machine of @parley/wire (spec/03-channels.md §3-4), stream framing (§7, CHAN-FRAME-*), the
 * transport (§6), and the packet rules of spec/01-packets.md (§2.1 request_id, WIRE-PKT-2/3/6; §7
 * rejected packets, WIRE-RECV-*; §8 Close, Ping, ErrorReply, WIRE-CLOSE-*, WIRE-PING-*, WIRE-ERRREPLY-1),
 * with the channel effects of spec/00-conventions.md §4.4 and the parameters of §5 (`handshake-timeout`,
 * `request-timeout`, `ping-rate`). The login server, supernodes and nodes all use it.
 *
 * Everything runs on the Transport's schedule: handlers from the stream, timers from the injected
 * `Clock`; the driver reads no wall clock, so it runs unchanged over real sockets and in the simulator.
 *
 *   receive: bytes -> FrameDecoder -> handshake messages (handleMessage) until established
 *                                  -> transport.decrypt -> decodePacket -> Close | Ping | response | onPacket
 *   send:    packet -> encodePacket -> transport.encrypt -> encodeFrame -> stream.write
 *
 * Requests and responses. Each sender numbers its own requests, so the two directions of a channel are
 * independent (spec/01-packets.md §2.1): a request of the peer may carry the same request_id as a
 * request of ours that is outstanding. The request_id alone therefore cannot tell a response from a
 * request; the body does. A packet is a response when its body is a response body — Pong, ErrorReply,
 * or a body whose name ends in `Reply` (the naming of every chapter's responses) — or whatever
 * `isResponse` says when given. A response whose request_id is one of our outstanding `request()`s
 * settles it; any other response is discarded ([WIRE-PKT-3], [WIRE-ERRREPLY-1]). Requests and notices
 * go to `events.onPacket` (Ping and Close are handled here). Requests whose answer the caller wants
 * must therefore be made with `request()`: `send()` is for notices and for answering the peer.
 *
 * Closing. `onClosed` is reported exactly once. The stream is then ended (a FIN after anything queued)
 * or, where nothing may or can be sent any more, reset; every timer of the channel is cancelled at once,
 * except the linger timer, which resets a stream whose peer has not finished closing within
 * `closeLingerMs` and is cancelled when the stream closes.
 */
import type {
  Clock,
  ConnectOptions,
  NetAddress,
  NetError,
  Stream,
  StreamHandlers,
  Timer,
  Transport,
} from '@parley/net';
import {
  ApiMisuse,
  type ChannelState,
  decodePacket,
  ErrorCode,
  type EstablishedChannel,
  encodeFrame,
  encodePacket,
  FrameDecoder,
  FramingError,
  handleMessage,
  isParleyError,
  OutstandingRequests,
  type Packet,
  type PacketBody,
  PING_RATE,
  ProtocolViolation,
  pongFor,
  REQUEST_TIMEOUT_MS,
  ResourceError,
  rejectionAction,
  type Step,
} from '@parley/wire';

/** `handshake-timeout` (spec/00-conventions.md §5; [CHAN-HS-8]). */
export const HANDSHAKE_TIMEOUT_MS = 10_000;
/** The write buffer a peer may make us hold before the channel closes with RESOURCE_LIMIT. */
export const DEFAULT_MAX_WRITE_BUFFER_BYTES = 1024 * 1024;
/** How long a closing stream may wait for the peer to finish its side before it is reset. */
export const DEFAULT_CLOSE_LINGER_MS = 5_000;

/** Why a channel closed. */
export interface CloseReason {
  /**
   * The Parley code: the one this side closed with (its rejection, TIMEOUT, RESOURCE_LIMIT, or the code
   * passed to `close()`, 0 for an orderly close), the one in the peer's Close, or HANDSHAKE_INCOMPLETE
   * when the connection ended during the handshake. Undefined when the stream ended or failed after
   * the handshake without a Close.
   */
  readonly code?: ErrorCode;
  /**
   * True when this side decided to close (`close()`, a rejection, a timeout or a limit); false when the
   * peer or the network ended the channel (a Close received, the stream ended, reset or failed).
   */
  readonly local: boolean;
  /** The `detail` of the Close received or sent. Untrusted when `local` is false: log it escaped. */
  readonly detail?: string;
  /** The error behind it: a ParleyError, or the stream's NetError. */
  readonly error?: unknown;
}

export interface StreamChannelEvents<P> {
  /** The handshake completed; packets may be sent from now on ([CHAN-HS-5]). */
  onEstablished?(channel: EstablishedChannel<P>): void;
  /** A request or notice of the peer (not Close or Ping, not a response: see the module comment). */
  onPacket(packet: Packet): void;
  /** The channel closed; called exactly once, possibly from inside `send`, `request` or `close`. */
  onClosed(reason: CloseReason): void;
  /** The stream's write buffer drained below its high-water mark after a `send` returned false. */
  onDrain?(): void;
}

export interface StreamChannelOptions<P> {
  /** The host's clock (Transport.clock): every timer of the channel is set on it. */
  readonly clock: Clock;
  /** The first step of the handshake: `startInitiator(config)` or `startResponder(config)`. */
  readonly start: Step<P>;
  readonly role: 'initiator' | 'responder';
  readonly events: StreamChannelEvents<P>;
  /** The stream, when it exists already (an accepted one); else call `attach` once it does. */
  readonly stream?: Stream;
  /** [CHAN-HS-8] Abandon a handshake not complete this long after construction; default 10 s. */
  readonly handshakeTimeoutMs?: number;
  /** Close with TIMEOUT once nothing has been received for this long after the handshake; default none. */
  readonly idleTimeoutMs?: number;
  /** Close with RESOURCE_LIMIT when the stream's write buffer exceeds this; default 1 MiB. */
  readonly maxWriteBufferBytes?: number;
  /**
   * Requests and notices accepted from the peer per second (a token bucket holding one second's worth);
   * beyond it a request is refused with ErrorReply(RATE_LIMITED) and a notice discarded. Responses to
   * our requests and Close are not counted. Default: no limit.
   */
  readonly maxPacketsPerSecond?: number;
  /** [WIRE-PING-2] Pings answered per second; default `ping-rate` (10). */
  readonly pingRate?: number;
  /** `request-timeout` of `request()`; default 30 s. */
  readonly requestTimeoutMs?: number;
  /** The most `request()`s outstanding at once; beyond it `request()` rejects with RESOURCE_LIMIT. */
  readonly maxOutstandingRequests?: number;
  /** See the module comment; default 5 s. */
  readonly closeLingerMs?: number;
  /** Tells responses from requests and notices; default: the body rule of the module comment. */
  readonly isResponse?: (packet: Packet) => boolean;
}

/** Counters, for tests and diagnostics. */
export interface StreamChannelStats {
  packetsReceived: number;
  packetsSent: number;
  pongsSent: number;
  /** Pings beyond `ping-rate`, discarded unanswered ([WIRE-PING-2]). */
  pingsDropped: number;
  /** Responses matching no outstanding request ([WIRE-PKT-3]). */
  responsesDiscarded: number;
  /** Packets beyond `maxPacketsPerSecond`. */
  rateLimited: number;
}

/** What `request()` rejects with when the channel closes before the response arrived. */
export class ChannelClosedError extends Error {
  override readonly name = 'ChannelClosedError';
  constructor(readonly reason: CloseReason) {
    super(
      `channel closed${reason.code !== undefined ? ` (code ${reason.code})` : ''}${reason.local ? '' : ' by the peer'}`,
    );
  }
}

/** Response bodies of spec/01-packets.md §2.1; later chapters' responses are named `...Reply`. */
export function isResponseBody(body: PacketBody): boolean {
  return body.case === 'pong' || body.case === 'error' || body.case.endsWith('Reply');
}

interface Waiter {
  readonly resolve: (packet: Packet) => void;
  readonly reject: (error: unknown) => void;
  readonly timer: Timer;
}

type StreamEnding = 'end' | 'reset' | 'none';

const PING_WINDOW_MS = 1_000;

export class StreamChannel<P> {
  /** Give these to `listenTcp`'s `onConnection` (return them) or to `connectTcp`. */
  readonly handlers: StreamHandlers;
  readonly role: 'initiator' | 'responder';
  readonly stats: StreamChannelStats = {
    packetsReceived: 0,
    packetsSent: 0,
    pongsSent: 0,
    pingsDropped: 0,
    responsesDiscarded: 0,
    rateLimited: 0,
  };

  readonly #clock: Clock;
  readonly #events: StreamChannelEvents<P>;
  readonly #maxWriteBuffer: number;
  readonly #idleTimeoutMs: number | undefined;
  readonly #requestTimeoutMs: number;
  readonly #lingerMs: number;
  readonly #isResponse: (packet: Packet) => boolean;
  readonly #decoder = new FrameDecoder();
  readonly #requests: OutstandingRequests;
  readonly #waiting = new Map<number, Waiter>();

  #state: ChannelState<P>;
  #established: EstablishedChannel<P> | undefined;
  #stream: Stream | undefined;
  /** The stream can carry bytes: accepted, or onConnect seen. */
  #connected: boolean;
  /** Frames written before the stream was attached and connected (the initiator's message 1). */
  #pending: Uint8Array[] = [];
  /** How the stream is to be closed once it is attached (the channel closed before). */
  #deferredEnding: StreamEnding = 'none';
  #streamClosed = false;
  #closeReason: CloseReason | undefined;

  #handshakeTimer: Timer | undefined;
  #idleTimer: Timer | undefined;
  #lingerTimer: Timer | undefined;
  #lastReceived = 0;

  /** [WIRE-PING-2] The times of the last `pingRate` Pongs, oldest at #pingNext. */
  readonly #pingTimes: number[];
  #pingNext = 0;
  readonly #maxPacketsPerSecond: number | undefined;
  #tokens = 0;
  #tokensAt = 0;

  constructor(options: StreamChannelOptions<P>) {
    const { start, role } = options;
    for (const [name, value] of Object.entries({
      handshakeTimeoutMs: options.handshakeTimeoutMs,
      idleTimeoutMs: options.idleTimeoutMs,
      maxWriteBufferBytes: options.maxWriteBufferBytes,
      maxPacketsPerSecond: options.maxPacketsPerSecond,
      requestTimeoutMs: options.requestTimeoutMs,
      closeLingerMs: options.closeLingerMs,
    })) {
      if (value !== undefined && !(value > 0)) throw new ApiMisuse(`${name} must be > 0, not ${value}`);
    }
    const expected = role === 'initiator' ? 'ExpectMessage2' : 'ExpectMessage1';
    if (start.state.kind !== expected) {
      throw new ApiMisuse(`a ${role} starts in ${expected}, not ${start.state.kind}`);
    }
    this.role = role;
    this.#clock = options.clock;
    this.#events = options.events;
    this.#maxWriteBuffer = options.maxWriteBufferBytes ?? DEFAULT_MAX_WRITE_BUFFER_BYTES;
    this.#idleTimeoutMs = options.idleTimeoutMs;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
    this.#lingerMs = options.closeLingerMs ?? DEFAULT_CLOSE_LINGER_MS;
    this.#isResponse = options.isResponse ?? ((p) => isResponseBody(p.body));
    this.#requests = new OutstandingRequests(
      options.maxOutstandingRequests !== undefined ? { max: options.maxOutstandingRequests } : undefined,
    );
    this.#pingTimes = new Array<number>(options.pingRate ?? PING_RATE).fill(Number.NEGATIVE_INFINITY);
    this.#maxPacketsPerSecond = options.maxPacketsPerSecond;
    this.#tokens = options.maxPacketsPerSecond ?? 0;
    this.#tokensAt = this.#clock.now();
    this.#state = start.state;
    // Accepted streams are established; an outbound one is once onConnect arrives.
    this.#connected = role === 'responder';
    this.handlers = {
      onConnect: () => this.#onConnect(),
      onData: (chunk) => this.#onData(chunk),
      onDrain: () => {
        if (this.#closeReason === undefined) this.#events.onDrain?.();
      },
      onEnd: () => this.#onEnd(),
      onClose: (error) => this.#onStreamClose(error),
    };
    // [CHAN-HS-8] From construction: for an initiator the budget includes the TCP connect.
    const handshakeTimeoutMs = options.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS;
    this.#handshakeTimer = this.#clock.setTimer(handshakeTimeoutMs, () => {
      this.#handshakeTimer = undefined;
      if (this.#established !== undefined || this.closed) return;
      const error = new ResourceError(ErrorCode.TIMEOUT, `handshake not complete after ${handshakeTimeoutMs} ms`);
      // [CHAN-HS-6] nothing is sent after a failed handshake.
      this.#finish({ code: ErrorCode.TIMEOUT, local: true, error }, 'reset');
    });
    this.#apply(start);
    if (options.stream !== undefined) this.attach(options.stream);
  }

  /**
   * Opens an outbound stream on `net` and runs an initiator over it: `connectTcp` with `handlers`, then
   * `attach`.
   */
  static connect<P>(
    net: Pick<Transport, 'clock' | 'connectTcp'>,
    remote: NetAddress,
    options: Omit<StreamChannelOptions<P>, 'clock' | 'role' | 'stream'> & { readonly clock?: Clock },
    connectOptions?: ConnectOptions,
  ): StreamChannel<P> {
    const channel = new StreamChannel<P>({ ...options, clock: options.clock ?? net.clock, role: 'initiator' });
    channel.attach(net.connectTcp(remote, channel.handlers, connectOptions));
    return channel;
  }

  /** The completed handshake, once established (it stays readable after the channel closed). */
  get established(): EstablishedChannel<P> | undefined {
    return this.#established;
  }

  get closed(): boolean {
    return this.#closeReason !== undefined;
  }

  /** Why the channel closed, once it has. */
  get closeReason(): CloseReason | undefined {
    return this.#closeReason;
  }

  /** The stream's write buffer, in bytes (0 before it is attached). */
  get bufferedAmount(): number {
    return this.#stream?.bufferedAmount ?? 0;
  }

  /** Requests outstanding (made with `request()` and not yet settled). */
  get outstandingRequests(): number {
    return this.#waiting.size;
  }

  /**
   * Gives the channel its stream: for `connectTcp`, whose stream exists only once the call returned
   * (the handlers were passed to it). The initiator's message 1 goes out once the stream is connected.
   */
  attach(stream: Stream): void {
    if (this.#stream !== undefined) throw new ApiMisuse('stream already attached');
    this.#stream = stream;
    if (this.closed) {
      this.#pending = [];
      this.#endStream(this.#deferredEnding === 'none' ? 'end' : this.#deferredEnding);
      return;
    }
    this.#flush();
  }

  /**
   * Sends one packet (encodePacket, encrypt, frame, write). Returns false when the packet was dropped
   * because the channel is closed, or when it was queued but the stream's buffer is above its
   * high-water mark (wait for `onDrain`); `closed` tells which. A packet that breaks a rule of chapter
   * 01 throws ApiMisuse, as does sending before the handshake completed ([CHAN-HS-5]). A write that
   * takes the buffer above `maxWriteBufferBytes` closes the channel with RESOURCE_LIMIT.
   */
  send(packet: Packet): boolean {
    if (this.closed) return false;
    if (this.#established === undefined) throw new ApiMisuse('handshake not complete: nothing may be sent yet');
    return this.#send(packet);
  }

  /**
   * Sends a request ([WIRE-PKT-2]: a fresh request_id not outstanding) and resolves with the response
   * whose request_id matches — an ErrorReply included: the caller decides. Rejects with
   * ResourceError(TIMEOUT) after `timeoutMs` (default `request-timeout`), with ChannelClosedError when
   * the channel closes first, with ResourceError(RESOURCE_LIMIT) when too many are outstanding.
   */
  request(body: PacketBody, timeoutMs: number = this.#requestTimeoutMs): Promise<Packet> {
    if (this.#closeReason !== undefined) return Promise.reject(new ChannelClosedError(this.#closeReason));
    if (this.#established === undefined) {
      return Promise.reject(new ApiMisuse('handshake not complete: nothing may be sent yet'));
    }
    let id: number;
    try {
      id = this.#requests.open(this.#clock.now());
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<Packet>((resolve, reject) => {
      const timer = this.#clock.setTimer(timeoutMs, () => {
        if (this.#waiting.get(id) !== waiter) return;
        this.#waiting.delete(id);
        this.#requests.settle(id);
        // [WIRE-PKT-2] given up on with TIMEOUT; a late response is then discarded ([WIRE-PKT-3]).
        reject(new ResourceError(ErrorCode.TIMEOUT, `request ${id}: no response within ${timeoutMs} ms`));
      });
      const waiter: Waiter = { resolve, reject, timer };
      this.#waiting.set(id, waiter);
      try {
        this.#send({ requestId: id, body });
      } catch (e) {
        if (this.#waiting.get(id) === waiter) this.#waiting.delete(id);
        this.#requests.settle(id);
        timer.cancel();
        reject(e);
      }
    });
  }

  /**
   * Closes the channel on purpose: [WIRE-CLOSE-1] sends Close with `code` (0: orderly) as the last
   * packet, then ends the stream. During the handshake nothing can be sent: the stream is just ended.
   * A code that may not be sent (GEN-ERR-5) or a detail over 256 bytes throws ApiMisuse. No-op when closed.
   */
  close(code: ErrorCode = ErrorCode.ERROR_CODE_UNSPECIFIED, detail = ''): void {
    if (this.closed) return;
    if (this.#established === undefined) {
      this.#finish({ code, local: true, detail }, 'end');
      return;
    }
    const packet: Packet = { requestId: 0, body: { case: 'close', value: { code, detail } } };
    encodePacket(packet); // throws ApiMisuse before anything changes
    this.#finish({ code, local: true, detail }, 'end', packet);
  }

  // ---- Stream events ------------------------------------------------------------------------------

  #onConnect(): void {
    this.#connected = true;
    if (!this.closed) this.#flush();
  }

  #onData(chunk: Uint8Array): void {
    // [WIRE-RECV-1] [WIRE-CLOSE-2] nothing received after the channel closed is acted on.
    if (this.closed) return;
    this.#lastReceived = this.#clock.now();
    let frames: readonly Uint8Array[];
    let failure: FramingError | undefined;
    try {
      frames = this.#decoder.push(chunk);
    } catch (e) {
      if (!(e instanceof FramingError)) throw e;
      // [CHAN-FRAME-4] the frames before the malformed header are delivered, then [CHAN-FRAME-3] close.
      frames = e.frames;
      failure = e;
    }
    for (const frame of frames) {
      if (this.closed) return;
      this.#onFrame(frame);
    }
    if (failure !== undefined && !this.closed) this.#reject(failure, 0);
  }

  #onEnd(): void {
    if (this.closed) return;
    if (this.#established === undefined) {
      // [CHAN-HS-8] the connection closed during the handshake.
      const error = new ProtocolViolation(ErrorCode.HANDSHAKE_INCOMPLETE, 'stream ended during the handshake');
      this.#finish({ code: ErrorCode.HANDSHAKE_INCOMPLETE, local: false, error }, 'end');
      return;
    }
    try {
      this.#decoder.end(); // [CHAN-FRAME-5] ended inside a frame: TRUNCATED
    } catch (e) {
      this.#reject(e, 0);
      return;
    }
    // The peer ended without Close: finish our side too.
    this.#finish({ local: false }, 'end');
  }

  #onStreamClose(error: NetError | undefined): void {
    this.#streamClosed = true;
    this.#lingerTimer?.cancel();
    this.#lingerTimer = undefined;
    if (this.closed) return;
    if (this.#established === undefined) {
      // [CHAN-HS-8] the connection closed (or never opened) during the handshake.
      this.#finish(
        {
          code: ErrorCode.HANDSHAKE_INCOMPLETE,
          local: false,
          error: error ?? new ProtocolViolation(ErrorCode.HANDSHAKE_INCOMPLETE, 'stream closed during the handshake'),
        },
        'none',
      );
      return;
    }
    this.#finish(error !== undefined ? { local: false, error } : { local: false }, 'none');
  }

  // ---- Receiving ----------------------------------------------------------------------------------

  #onFrame(frame: Uint8Array): void {
    const state = this.#state;
    if (state.kind !== 'Established') {
      // [CHAN-FRAME-1] one frame, one handshake message; [CHAN-HS-5] no transport message before the
      // handshake completed: a frame that is not the expected message fails the handshake.
      if (state.kind !== 'Closed') this.#apply(handleMessage(state, frame));
      return;
    }
    const transport = state.channel.transport;
    let packet: Packet;
    try {
      // [CHAN-TRANSPORT-4] a decrypt failure closes the transport: no Close can follow (00 §4.4 'stream').
      packet = decodePacket(transport.decrypt(frame));
    } catch (e) {
      // [WIRE-PKT-6] UnknownBodyError carries its request_id; other decode errors close the stream.
      this.#reject(e, 0);
      return;
    }
    this.#dispatch(packet);
  }

  #apply(step: Step<P>): void {
    this.#state = step.state;
    for (const action of step.actions) {
      if (this.closed) return;
      switch (action.kind) {
        case 'Send':
          this.#writeFrame(action.message); // [CHAN-FRAME-1]
          break;
        case 'Established':
          this.#onEstablished(action.channel);
          break;
        case 'Closed':
          this.#reject(action.error, 0); // [CHAN-HS-6] 'abort'
          break;
      }
    }
  }

  #onEstablished(channel: EstablishedChannel<P>): void {
    this.#established = channel;
    this.#handshakeTimer?.cancel();
    this.#handshakeTimer = undefined;
    this.#lastReceived = this.#clock.now();
    if (this.#idleTimeoutMs !== undefined) this.#armIdle(this.#idleTimeoutMs);
    this.#events.onEstablished?.(channel);
  }

  #dispatch(packet: Packet): void {
    this.stats.packetsReceived++;
    const body = packet.body;
    if (body.case === 'close') {
      // [WIRE-CLOSE-2] whatever its code: stop sending, answer nothing, discard what follows, close.
      this.#finish({ code: body.value.code, local: false, detail: body.value.detail }, 'end');
      return;
    }
    if (this.#isResponse(packet)) {
      this.#settle(packet);
      return;
    }
    if (!this.#admit()) {
      this.stats.rateLimited++;
      const error = new ResourceError(ErrorCode.RATE_LIMITED, `more than ${this.#maxPacketsPerSecond} packets/s`);
      this.#reject(error, packet.requestId); // [WIRE-RECV-3] ErrorReply, or discarded when request_id is 0
      return;
    }
    if (body.case === 'ping') {
      // [WIRE-PING-1] Pong with the Ping's request_id, sequence and data; [WIRE-PING-2] at most ping-rate/s.
      if (this.#pingAllowed()) {
        this.stats.pongsSent++;
        this.#send(pongFor(packet.requestId, body.value));
      } else {
        this.stats.pingsDropped++;
      }
      return;
    }
    this.#events.onPacket(packet);
  }

  /** [WIRE-PKT-3] A response settles the outstanding request it names; any other is discarded. */
  #settle(packet: Packet): void {
    const waiter = this.#waiting.get(packet.requestId);
    if (waiter === undefined || !this.#requests.settle(packet.requestId)) {
      this.stats.responsesDiscarded++;
      return;
    }
    this.#waiting.delete(packet.requestId);
    waiter.timer.cancel();
    waiter.resolve(packet);
  }

  /**
   * A rejected packet or handshake message, as 00-conventions.md §4.4 and [WIRE-RECV-1..3] say:
   * rejectionAction decides; this performs it.
   */
  #reject(error: unknown, requestId: number): void {
    const action = rejectionAction(error, {
      channel: 'stream',
      requestId,
      handshake: this.#established === undefined,
    });
    const code = isParleyError(error) ? error.code : undefined;
    switch (action.action) {
      case 'abort':
        // [CHAN-HS-6] the handshake failed: close the connection, send nothing further.
        this.#finish({ code, local: true, error }, 'reset');
        return;
      case 'close':
        // [WIRE-RECV-1] Close with the code where the transport can still carry it, then close.
        this.#finish({ code, local: true, error }, 'end', action.close);
        return;
      case 'reply':
        // [WIRE-RECV-3] [WIRE-PKT-6] ErrorReply; the channel stays open.
        this.#send(action.reply);
        return;
      case 'discard':
        return;
    }
  }

  // ---- Sending ------------------------------------------------------------------------------------

  #send(packet: Packet): boolean {
    const transport = this.#established!.transport;
    const plaintext = encodePacket(packet); // ApiMisuse for a packet a receiver would refuse
    let message: Uint8Array;
    try {
      message = transport.encrypt(plaintext);
    } catch (e) {
      // [CHAN-TRANSPORT-5] NONCE_EXHAUSTED closes the transport: nothing more can be sent.
      if (!isParleyError(e) || e.code === ErrorCode.API_MISUSE) throw e;
      this.#finish({ code: e.code, local: true, error: e }, 'end');
      return false;
    }
    this.stats.packetsSent++;
    return this.#writeFrame(message);
  }

  /** Frames and writes one Noise message, or holds it until the stream is attached and connected. */
  #writeFrame(message: Uint8Array): boolean {
    const frame = encodeFrame(message);
    const stream = this.#stream;
    if (stream === undefined || !this.#connected) {
      this.#pending.push(frame);
      return true;
    }
    const ok = stream.write(frame);
    this.#checkWriteBuffer(stream);
    return ok && !this.closed;
  }

  #flush(): void {
    const stream = this.#stream;
    if (stream === undefined || !this.#connected || this.#pending.length === 0) return;
    const pending = this.#pending;
    this.#pending = [];
    for (const frame of pending) stream.write(frame);
    this.#checkWriteBuffer(stream);
  }

  /** A peer that does not read must not make us buffer without bound: RESOURCE_LIMIT, and reset. */
  #checkWriteBuffer(stream: Stream): void {
    if (this.closed || stream.bufferedAmount <= this.#maxWriteBuffer) return;
    const error = new ResourceError(
      ErrorCode.RESOURCE_LIMIT,
      `write buffer ${stream.bufferedAmount} bytes exceeds ${this.#maxWriteBuffer}`,
    );
    // A Close would only join the bytes the peer does not read: reset, which discards them.
    this.#finish({ code: ErrorCode.RESOURCE_LIMIT, local: true, error }, 'reset');
  }

  // ---- Limits and timers ---------------------------------------------------------------------------

  /** [WIRE-PING-2] True when fewer than ping-rate Pongs were sent in the last second. */
  #pingAllowed(): boolean {
    if (this.#pingTimes.length === 0) return false;
    const now = this.#clock.now();
    if (now - this.#pingTimes[this.#pingNext]! < PING_WINDOW_MS) return false;
    this.#pingTimes[this.#pingNext] = now;
    this.#pingNext = (this.#pingNext + 1) % this.#pingTimes.length;
    return true;
  }

  /** The maxPacketsPerSecond token bucket: one token per packet, refilled continuously. */
  #admit(): boolean {
    const max = this.#maxPacketsPerSecond;
    if (max === undefined) return true;
    const now = this.#clock.now();
    this.#tokens = Math.min(max, this.#tokens + ((now - this.#tokensAt) * max) / 1000);
    this.#tokensAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** The idle timer is re-armed lazily: it checks the time of the last bytes received when it fires. */
  #armIdle(delayMs: number): void {
    this.#idleTimer = this.#clock.setTimer(delayMs, () => {
      this.#idleTimer = undefined;
      if (this.closed || this.#idleTimeoutMs === undefined) return;
      const idle = this.#clock.now() - this.#lastReceived;
      if (idle < this.#idleTimeoutMs) {
        this.#armIdle(this.#idleTimeoutMs - idle);
        return;
      }
      const error = new ResourceError(ErrorCode.TIMEOUT, `nothing received for ${idle} ms`);
      const close: Packet = { requestId: 0, body: { case: 'close', value: { code: ErrorCode.TIMEOUT, detail: '' } } };
      this.#finish({ code: ErrorCode.TIMEOUT, local: true, error }, 'end', close);
    });
  }

  // ---- Closing ------------------------------------------------------------------------------------

  /**
   * Closes the channel once: Close first when given and the transport can still encrypt it
   * ([WIRE-CLOSE-1]; after a transport failure its keys are gone, [CHAN-TRANSPORT-4]), then the stream
   * (`ending`), every timer cancelled, outstanding requests rejected, `onClosed` reported.
   */
  #finish(reason: CloseReason, ending: StreamEnding, close?: Packet): void {
    if (this.#closeReason !== undefined) return;
    this.#closeReason = reason;
    this.#handshakeTimer?.cancel();
    this.#handshakeTimer = undefined;
    this.#idleTimer?.cancel();
    this.#idleTimer = undefined;
    const state = this.#state;
    if (state.kind === 'ExpectMessage1' || state.kind === 'ExpectMessage2' || state.kind === 'ExpectMessage3') {
      state.noise.destroy(); // [CHAN-NOISE-8] an abandoned handshake keeps no secrets
    }
    const transport = this.#established?.transport;
    if (close !== undefined && transport !== undefined && !transport.closed) {
      try {
        const frame = encodeFrame(transport.encrypt(encodePacket(close)));
        this.stats.packetsSent++;
        if (this.#stream !== undefined && this.#connected) this.#stream.write(frame);
      } catch (e) {
        if (!isParleyError(e)) throw e; // NONCE_EXHAUSTED: the Close cannot be sent
      }
    }
    transport?.close(); // [WIRE-CLOSE-1] nothing is sent after Close; the keys are overwritten
    this.#pending = [];
    if (this.#stream !== undefined) this.#endStream(ending);
    else this.#deferredEnding = ending;
    const waiting = [...this.#waiting.values()];
    this.#waiting.clear();
    for (const w of waiting) {
      w.timer.cancel();
      w.reject(new ChannelClosedError(reason));
    }
    this.#events.onClosed(reason);
  }

  #endStream(ending: StreamEnding): void {
    const stream = this.#stream;
    if (stream === undefined || this.#streamClosed || ending === 'none') return;
    if (ending === 'reset') {
      stream.reset();
      return;
    }
    stream.end();
    // A peer that never ends its side would keep the stream half-open: reset it after the linger.
    this.#lingerTimer = this.#clock.setTimer(this.#lingerMs, () => {
      this.#lingerTimer = undefined;
      if (!this.#streamClosed) stream.reset();
    });
  }
}
