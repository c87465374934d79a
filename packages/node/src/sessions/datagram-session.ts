/**
 * A peer session over a datagram path (spec/09-node.md §5): the Noise XX handshake of chapter 03 with the
 * prologue "parley/1 datagram session", carried in handshake datagrams (type 0x08), then the datagram
 * channel of 03 §8 keyed by that handshake. Both sides prove ROLE_USER certificates, and each checks that
 * the other is the device it expects (the one it punched or relayed to). Sans-I/O: datagrams and time in,
 * actions out; the path (src/paths/) carries the bytes.
 *
 *   0x08 handshake datagram:  type (1) | sender index (4) | receiver index (4, 0 in message 1) |
 *                             message number (1: 1..3) | Noise handshake message | (message 1 only) zeros
 *
 * Message 1 is padded to 1,200 bytes: message 2 carries a certificate chain, so a responder never sends
 * more than it received (NODE-SESS-2). Retransmission: the initiator repeats message 1 at 250 ms doubling
 * until `handshake-timeout` (5 s); the responder repeats message 2 when message 1 comes again and on its own
 * timer until message 3 arrives; the initiator repeats message 3 whenever message 2 comes again.
 */
import {
  bytesEqual,
  type ChannelState,
  type CryptoSuite,
  certifiedPayloadCodec,
  DATAGRAM_TYPE_SESSION_HANDSHAKE,
  DatagramChannel,
  ErrorCode,
  handleMessage,
  type LocalIdentity,
  MAX_DATAGRAM_LENGTH,
  type ParleyError,
  type PeerIdentity,
  ProtocolViolation,
  type Random,
  Role,
  readReceiverIndex,
  type Step,
  SUPPORTED_PROTOCOL_VERSIONS,
  startInitiator,
  startResponder,
} from '@parley/wire';

/** [NODE-SESS-1] The prologue of a peer session's handshake. */
export const DATAGRAM_SESSION_PROLOGUE = new TextEncoder().encode('parley/1 datagram session');
/** The handshake datagram header: type, sender index, receiver index, message number. */
export const HANDSHAKE_HEADER_LENGTH = 10;
/** [NODE-SESS-3] The first retransmission wait, and how long a handshake may take in all. */
export const HANDSHAKE_RETRANSMIT_MS = 250;
export const HANDSHAKE_TIMEOUT_MS = 5_000;
const NOISE_MESSAGE1_LENGTH = 32;

export interface ExpectedPeer {
  readonly username: string;
  readonly deviceId: Uint8Array;
}

export interface DatagramSessionOptions {
  readonly suite: CryptoSuite;
  readonly random: Random;
  readonly identity: LocalIdentity;
  readonly trustAnchors: Uint8Array[];
  /** Unix milliseconds for judging the peer's certificate. */
  readonly nowMs: () => number;
  /** [NODE-SESS-4] The device the session must reach: anyone else is refused. */
  readonly expectedPeer: ExpectedPeer;
  /** The index this side receives datagram-channel datagrams under (CHAN-DGRAM-4): non-zero, random. */
  readonly localIndex: number;
  readonly software?: string;
}

export type SessionAction =
  | { readonly kind: 'send'; readonly datagram: Uint8Array }
  | { readonly kind: 'timer'; readonly at: number }
  | { readonly kind: 'established'; readonly peer: PeerIdentity }
  | { readonly kind: 'data'; readonly plaintext: Uint8Array }
  | { readonly kind: 'failed'; readonly error: ParleyError };

type Phase = 'handshaking' | 'established' | 'failed';

function handshakeDatagram(senderIndex: number, receiverIndex: number, n: number, message: Uint8Array, pad: boolean) {
  const length = pad ? MAX_DATAGRAM_LENGTH : HANDSHAKE_HEADER_LENGTH + message.length;
  const out = new Uint8Array(length);
  const view = new DataView(out.buffer);
  out[0] = DATAGRAM_TYPE_SESSION_HANDSHAKE;
  view.setUint32(1, senderIndex);
  view.setUint32(5, receiverIndex);
  out[9] = n;
  out.set(message, HANDSHAKE_HEADER_LENGTH);
  return out;
}

export class DatagramSession {
  readonly role: 'initiator' | 'responder';
  readonly localIndex: number;
  readonly #o: DatagramSessionOptions;
  #phase: Phase = 'handshaking';
  #noise: ChannelState<PeerIdentity> | undefined;
  #remoteIndex = 0;
  /** The last handshake datagram this side sent (repeated on loss). */
  #lastSent: Uint8Array | undefined;
  #message1: Uint8Array | undefined;
  #retransmitAt = 0;
  #wait = HANDSHAKE_RETRANSMIT_MS;
  readonly #deadline: number;
  #channel: DatagramChannel | undefined;
  #peer: PeerIdentity | undefined;

  private constructor(role: 'initiator' | 'responder', o: DatagramSessionOptions, now: number) {
    if (!Number.isInteger(o.localIndex) || o.localIndex <= 0 || o.localIndex > 0xffff_ffff) {
      throw new ProtocolViolation(ErrorCode.API_MISUSE, 'a session index is a non-zero 32-bit integer');
    }
    this.role = role;
    this.#o = o;
    this.localIndex = o.localIndex;
    this.#deadline = now + HANDSHAKE_TIMEOUT_MS;
  }

  #config() {
    const o = this.#o;
    return {
      suite: o.suite,
      random: o.random,
      protocolVersions: SUPPORTED_PROTOCOL_VERSIONS,
      prologue: DATAGRAM_SESSION_PROLOGUE,
      payload: certifiedPayloadCodec(o.suite, {
        identity: o.identity,
        software: o.software ?? 'parley-ref/0.1.0',
        policy: () => ({ trustAnchors: o.trustAnchors, nowMs: o.nowMs(), acceptedRoles: [Role.ROLE_USER] }),
      }),
    };
  }

  /** [NODE-SESS-1] The initiator: message 1, padded, and its retransmission timer. */
  static initiate(o: DatagramSessionOptions, now: number): { session: DatagramSession; actions: SessionAction[] } {
    const s = new DatagramSession('initiator', o, now);
    const step = startInitiator(s.#config());
    s.#noise = step.state;
    const message = (step.actions[0] as { message: Uint8Array }).message;
    s.#lastSent = handshakeDatagram(s.localIndex, 0, 1, message, true);
    s.#retransmitAt = now + s.#wait;
    return {
      session: s,
      actions: [
        { kind: 'send', datagram: s.#lastSent },
        { kind: 'timer', at: s.#retransmitAt },
      ],
    };
  }

  /** The responder: waits for message 1 (from the path the punch or relay gave, NODE-SESS-2). */
  static respond(o: DatagramSessionOptions, now: number): { session: DatagramSession; actions: SessionAction[] } {
    const s = new DatagramSession('responder', o, now);
    s.#noise = startResponder(s.#config()).state;
    return { session: s, actions: [{ kind: 'timer', at: s.#deadline }] };
  }

  get phase(): Phase {
    return this.#phase;
  }
  get peer(): PeerIdentity | undefined {
    return this.#peer;
  }

  /** [NODE-SESS-5] Seals one packet for the peer (a 0x01 datagram of 03 §8). */
  seal(plaintext: Uint8Array): Uint8Array {
    if (this.#channel === undefined)
      throw new ProtocolViolation(ErrorCode.API_MISUSE, 'the session is not established');
    return this.#channel.seal(plaintext);
  }

  /** A datagram from the path. Anything that fails a check is dropped with no action (03 CHAN-DGRAM-8). */
  onDatagram(bytes: Uint8Array, now: number): SessionAction[] {
    if (this.#phase === 'failed' || bytes.length === 0) return [];
    if (bytes[0] === DATAGRAM_TYPE_SESSION_HANDSHAKE) return this.#onHandshake(bytes, now);
    if (this.#channel === undefined) return [];
    if (readReceiverIndex(bytes) !== this.localIndex) return [];
    try {
      return [{ kind: 'data', plaintext: this.#channel.open(bytes) }];
    } catch {
      return [];
    }
  }

  #onHandshake(bytes: Uint8Array, now: number): SessionAction[] {
    if (bytes.length < HANDSHAKE_HEADER_LENGTH + NOISE_MESSAGE1_LENGTH || bytes.length > MAX_DATAGRAM_LENGTH) return [];
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const sender = view.getUint32(1);
    const receiver = view.getUint32(5);
    const n = bytes[9]!;
    if (sender === 0) return [];
    if (this.role === 'responder') {
      if (n === 1 && receiver === 0) {
        // [NODE-SESS-2] message 1 is exactly 1,200 bytes: the Noise message and zeros.
        if (bytes.length !== MAX_DATAGRAM_LENGTH) return [];
        const body = bytes.subarray(HANDSHAKE_HEADER_LENGTH);
        if (body.subarray(NOISE_MESSAGE1_LENGTH).some((b) => b !== 0)) return [];
        const m1 = body.subarray(0, NOISE_MESSAGE1_LENGTH);
        if (this.#message1 !== undefined) {
          // A repeat of the message 1 answered: message 2 again ([NODE-SESS-3]); any other is ignored.
          return bytesEqual(m1, this.#message1) && this.#lastSent !== undefined && this.#phase === 'handshaking'
            ? [{ kind: 'send', datagram: this.#lastSent }]
            : [];
        }
        const step = handleMessage(this.#noise!, m1);
        if (step.state.kind === 'Closed') return []; // a bad message 1 proves nothing
        this.#noise = step.state;
        this.#message1 = Uint8Array.from(m1);
        this.#remoteIndex = sender;
        const m2 = (step.actions.find((a) => a.kind === 'Send') as { message: Uint8Array }).message;
        this.#lastSent = handshakeDatagram(this.localIndex, sender, 2, m2, false);
        this.#retransmitAt = now + this.#wait;
        return [
          { kind: 'send', datagram: this.#lastSent },
          { kind: 'timer', at: this.#retransmitAt },
        ];
      }
      if (n === 3 && receiver === this.localIndex && sender === this.#remoteIndex && this.#phase === 'handshaking') {
        return this.#finish(handleMessage(this.#noise!, bytes.subarray(HANDSHAKE_HEADER_LENGTH)));
      }
      return [];
    }
    // The initiator.
    if (n !== 2 || receiver !== this.localIndex) return [];
    if (this.#phase === 'established') {
      // [NODE-SESS-3] message 2 again: our message 3 was lost.
      return sender === this.#remoteIndex && this.#lastSent !== undefined
        ? [{ kind: 'send', datagram: this.#lastSent }]
        : [];
    }
    this.#remoteIndex = sender;
    const step = handleMessage(this.#noise!, bytes.subarray(HANDSHAKE_HEADER_LENGTH));
    const send = step.actions.find((a) => a.kind === 'Send') as { message: Uint8Array } | undefined;
    if (send !== undefined) this.#lastSent = handshakeDatagram(this.localIndex, sender, 3, send.message, false);
    const out = this.#finish(step);
    const established = out.some((a) => a.kind === 'established');
    return send !== undefined && established ? [{ kind: 'send', datagram: this.#lastSent! }, ...out] : out;
  }

  #finish(step: Step<PeerIdentity>): SessionAction[] {
    const closed = step.actions.find((a) => a.kind === 'Closed') as { error: ParleyError } | undefined;
    if (closed !== undefined) return this.#fail(closed.error);
    const est = step.actions.find((a) => a.kind === 'Established') as
      | { channel: { peer: PeerIdentity; datagram: { sendKey: Uint8Array; receiveKey: Uint8Array } } }
      | undefined;
    if (est === undefined) return [];
    const peer = est.channel.peer;
    const want = this.#o.expectedPeer;
    // [NODE-SESS-4] the device this side meant to reach, and nobody else.
    if (peer.certificate.subject !== want.username || !bytesEqual(peer.certificate.deviceId, want.deviceId)) {
      return this.#fail(new ProtocolViolation(ErrorCode.NOT_AUTHORIZED, 'not the peer device expected'));
    }
    this.#peer = peer;
    this.#channel = new DatagramChannel(this.#o.suite, {
      sendKey: est.channel.datagram.sendKey,
      receiveKey: est.channel.datagram.receiveKey,
      localIndex: this.localIndex,
      remoteIndex: this.#remoteIndex,
    });
    this.#phase = 'established';
    return [{ kind: 'established', peer }];
  }

  #fail(error: ParleyError): SessionAction[] {
    this.#phase = 'failed';
    return [{ kind: 'failed', error }];
  }

  /** Time passed: a retransmission, or the end of a handshake that took too long ([NODE-SESS-3]). */
  onTimer(now: number): SessionAction[] {
    if (this.#phase !== 'handshaking') return [];
    if (now >= this.#deadline) {
      return this.#fail(new ProtocolViolation(ErrorCode.TIMEOUT, 'the session handshake took too long'));
    }
    const out: SessionAction[] = [];
    if (this.#lastSent !== undefined && now >= this.#retransmitAt) {
      out.push({ kind: 'send', datagram: this.#lastSent });
      this.#wait *= 2;
      this.#retransmitAt = now + this.#wait;
    }
    out.push({
      kind: 'timer',
      at: Math.min(this.#lastSent !== undefined ? this.#retransmitAt : this.#deadline, this.#deadline),
    });
    return out;
  }
}
