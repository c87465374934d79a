/**
 * The Parley channel handshake: spec/03-channels.md §3-4 (CHAN-NOISE-*, CHAN-HS-*, CHAN-VER-*), a
 * sans-I/O state machine in the manner of rustls. Each state is named for the message it waits for;
 * `handleMessage` consumes a state and returns the next one with the actions to perform (bytes to
 * send, the established channel, or the error that closed it). No sockets, clocks or timers: the
 * driver frames the messages (framing/stream.ts) and owns the handshake timeout ([CHAN-HS-8]).
 *
 *   initiator                                   responder
 *   startInitiator ── msg1: -> e ─────────────▶ ExpectMessage1
 *   ExpectMessage2 ◀─ msg2: <- e, ee, s, es ─── (responder's HandshakePayload)
 *   (verify, negotiate)
 *   Established ───── msg3: -> s, se ────────▶ ExpectMessage3 (initiator's HandshakePayload)
 *                                              (verify, negotiate) Established
 */
import type { CryptoSuite, Random } from '../crypto/suite.js';
import { type DatagramKeys, deriveDatagramKeys } from '../datagram/keys.js';
import { ApiMisuse, DecodeError, ErrorCode, IncompatiblePeer, ParleyError, ProtocolViolation } from '../errors.js';
import { generateKeyPair, type KeyPair } from './handshake-state.js';
import { Transport, type TransportOptions } from './transport.js';
import { XX_MESSAGE1_OVERHEAD, XX_MESSAGE2_OVERHEAD, XX_MESSAGE3_OVERHEAD, XXHandshake } from './xx.js';

/** [CHAN-NOISE-2] The prologue both sides mix in before message 1. */
export const PROLOGUE_TEXT = 'parley/1 stream';
export const PROLOGUE = new TextEncoder().encode(PROLOGUE_TEXT);

/** [CHAN-TRANSPORT-1] The largest handshake message, as for every Noise message. */
const MAX_HANDSHAKE_MESSAGE = 65_535;
const EMPTY = new Uint8Array(0);

/** What the verifier of a HandshakePayload reports ([CHAN-HS-4]). */
export interface VerifiedPayload<P> {
  /** The certified identity of the peer (whatever the codec's identity type is). */
  peer: P;
  protocolVersions: number[];
  software: string;
}

/**
 * Builds the local HandshakePayload and verifies the peer's; the identity chapter's rules live here,
 * not in the channel. `certifiedPayloadCodec` (identity-payload.ts) is the real one; tests inject others.
 */
export interface HandshakePayloadCodec<P> {
  /** The encoded HandshakePayload binding `noiseStaticPublicKey` to the local identity. */
  build(noiseStaticPublicKey: Uint8Array, protocolVersions: readonly number[]): Uint8Array;
  /** Verifies an encoded HandshakePayload against the peer's Noise static key; throws a ParleyError. */
  verify(payload: Uint8Array, remoteStaticPublicKey: Uint8Array): VerifiedPayload<P>;
}

export interface ChannelConfig<P> {
  suite: CryptoSuite;
  /** Source of the ephemeral key (and of the static key when `staticKey` is absent). */
  random: Random;
  payload: HandshakePayloadCodec<P>;
  /** The protocol versions this side speaks ([CHAN-VER-1]). */
  protocolVersions: readonly number[];
  /** The Noise static key pair; a fresh one per channel when absent ([CHAN-NOISE-5]). */
  staticKey?: KeyPair;
  /** Test hooks passed to the Transport. */
  transport?: TransportOptions;
  /**
   * The Noise prologue: `parley/1 stream` for stream channels ([CHAN-NOISE-2]); a peer session over a
   * datagram path uses its own (09-node.md), so a handshake message of one can never complete the other.
   */
  prologue?: Uint8Array;
}

/** The result of a completed handshake. */
export interface EstablishedChannel<P> {
  readonly role: 'initiator' | 'responder';
  readonly peer: P;
  /** [CHAN-VER-2] The highest version both sides speak. */
  readonly protocolVersion: number;
  readonly peerSoftware: string;
  readonly remoteStaticKey: Uint8Array;
  /** [CHAN-NOISE-7] The Noise handshake hash, for channel binding. */
  readonly handshakeHash: Uint8Array;
  readonly transport: Transport;
  /** [CHAN-DGRAM-1] This side's datagram keys. */
  readonly datagram: { readonly sendKey: Uint8Array; readonly receiveKey: Uint8Array };
}

interface Handshaking<P> {
  readonly config: ChannelConfig<P>;
  readonly noise: XXHandshake;
}

export type ChannelState<P> =
  | ({ readonly kind: 'ExpectMessage1' } & Handshaking<P>)
  | ({ readonly kind: 'ExpectMessage2' } & Handshaking<P>)
  | ({ readonly kind: 'ExpectMessage3' } & Handshaking<P>)
  | { readonly kind: 'Established'; readonly channel: EstablishedChannel<P> }
  | { readonly kind: 'Closed'; readonly error: ParleyError };

export type ChannelAction<P> =
  /** Send `message` (one Noise handshake message; the stream driver frames it). */
  | { readonly kind: 'Send'; readonly message: Uint8Array }
  /** The handshake is complete: switch to `channel.transport`. */
  | { readonly kind: 'Established'; readonly channel: EstablishedChannel<P> }
  /** The handshake failed: close the connection ([CHAN-HS-6]). */
  | { readonly kind: 'Closed'; readonly error: ParleyError };

export interface Step<P> {
  readonly state: ChannelState<P>;
  readonly actions: readonly ChannelAction<P>[];
}

/** States that have been handled: the Noise objects inside them are mutable and must not be reused. */
const consumed = new WeakSet<object>();

function keys<P>(config: ChannelConfig<P>): { s: KeyPair; e: KeyPair } {
  if (config.protocolVersions.length === 0) throw new ApiMisuse('no protocol versions configured');
  return {
    s: config.staticKey ?? generateKeyPair(config.suite, config.random),
    e: generateKeyPair(config.suite, config.random),
  };
}

/** The initiator's first step: message 1 (`-> e`, empty payload) to send, then ExpectMessage2. */
export function startInitiator<P>(config: ChannelConfig<P>): Step<P> {
  const { s, e } = keys(config);
  const noise = XXHandshake.initiator(config.suite, config.prologue ?? PROLOGUE, s, e);
  const message = noise.writeMessage1(EMPTY); // [CHAN-HS-1]
  return { state: { kind: 'ExpectMessage2', config, noise }, actions: [{ kind: 'Send', message }] };
}

/** The responder's first state: ExpectMessage1, nothing to send. */
export function startResponder<P>(config: ChannelConfig<P>): Step<P> {
  const { s, e } = keys(config);
  const noise = XXHandshake.responder(config.suite, config.prologue ?? PROLOGUE, s, e);
  return { state: { kind: 'ExpectMessage1', config, noise }, actions: [] };
}

/**
 * Feeds one received handshake message (one frame's body) to `state`. Errors caused by the peer never
 * throw: they come back as a Closed state and action. Handing in a state that was already handled, or
 * one that is Established or Closed, is API misuse and throws.
 */
export function handleMessage<P>(state: ChannelState<P>, message: Uint8Array): Step<P> {
  if (consumed.has(state)) throw new ApiMisuse('channel state already handled; use the returned state');
  switch (state.kind) {
    case 'ExpectMessage1':
    case 'ExpectMessage2':
    case 'ExpectMessage3': {
      consumed.add(state);
      try {
        if (message.length > MAX_HANDSHAKE_MESSAGE) throw new DecodeError(ErrorCode.FRAME_TOO_LARGE, 'handshake');
        return handshakeStep(state, message);
      } catch (e) {
        if (!(e instanceof ParleyError) || e instanceof ApiMisuse) throw e;
        // [CHAN-HS-6] Any failure ends the handshake; nothing derived from it is kept.
        state.noise.destroy();
        return { state: { kind: 'Closed', error: e }, actions: [{ kind: 'Closed', error: e }] };
      }
    }
    case 'Established':
      throw new ApiMisuse('handshake already complete: transport messages go to channel.transport');
    case 'Closed':
      throw new ApiMisuse('channel closed');
    default: {
      const unreachable: never = state;
      throw new ApiMisuse(`unknown state ${(unreachable as { kind: string }).kind}`);
    }
  }
}

function handshakeStep<P>(state: Extract<ChannelState<P>, Handshaking<P>>, message: Uint8Array): Step<P> {
  const { config, noise } = state;
  switch (state.kind) {
    case 'ExpectMessage1': {
      // [CHAN-HS-1] [CHAN-HS-7] Message 1 is exactly `e`: any other length is not message 1.
      if (message.length !== XX_MESSAGE1_OVERHEAD) throw unexpected(1, message.length);
      noise.readMessage1(message);
      const payload = config.payload.build(noise.localStaticKey, config.protocolVersions); // [CHAN-HS-2]
      const reply = noise.writeMessage2(payload);
      return {
        state: { kind: 'ExpectMessage3', config, noise },
        actions: [{ kind: 'Send', message: reply }],
      };
    }
    case 'ExpectMessage2': {
      // [CHAN-HS-7] Shorter than `e, s, payload tag` cannot be message 2.
      if (message.length < XX_MESSAGE2_OVERHEAD) throw unexpected(2, message.length);
      const payload = noise.readMessage2(message);
      const verified = config.payload.verify(payload, noise.remoteStaticKey!); // [CHAN-HS-4]
      const version = negotiateVersion(config.protocolVersions, verified.protocolVersions); // [CHAN-VER-2]
      const reply = noise.writeMessage3(config.payload.build(noise.localStaticKey, config.protocolVersions)); // [CHAN-HS-3]
      const channel = establish(config, noise, verified, version);
      return {
        state: { kind: 'Established', channel },
        actions: [
          { kind: 'Send', message: reply },
          { kind: 'Established', channel },
        ],
      };
    }
    case 'ExpectMessage3': {
      if (message.length < XX_MESSAGE3_OVERHEAD) throw unexpected(3, message.length); // [CHAN-HS-7]
      const payload = noise.readMessage3(message);
      const verified = config.payload.verify(payload, noise.remoteStaticKey!); // [CHAN-HS-4]
      const version = negotiateVersion(config.protocolVersions, verified.protocolVersions); // [CHAN-VER-2]
      const channel = establish(config, noise, verified, version);
      return { state: { kind: 'Established', channel }, actions: [{ kind: 'Established', channel }] };
    }
    default: {
      const unreachable: never = state;
      throw new ApiMisuse(`unknown state ${(unreachable as { kind: string }).kind}`);
    }
  }
}

function unexpected(n: number, length: number): ProtocolViolation {
  return new ProtocolViolation(ErrorCode.UNEXPECTED_MESSAGE, `${length} bytes is not handshake message ${n}`);
}

/**
 * [CHAN-VER-2] The highest version in both lists; [CHAN-VER-3] none in common is VERSION_UNSUPPORTED.
 */
export function negotiateVersion(ours: readonly number[], theirs: readonly number[]): number {
  let best = -1;
  for (const v of theirs) if (v > best && ours.includes(v)) best = v;
  if (best < 0) {
    throw new IncompatiblePeer(ErrorCode.VERSION_UNSUPPORTED, `ours [${ours.join(',')}], theirs [${theirs.join(',')}]`);
  }
  return best;
}

function establish<P>(
  config: ChannelConfig<P>,
  noise: XXHandshake,
  verified: VerifiedPayload<P>,
  protocolVersion: number,
): EstablishedChannel<P> {
  const handshakeHash = noise.getHandshakeHash();
  // [CHAN-DGRAM-1] from ck and h after message 3, before the handshake secrets are wiped.
  const dk: DatagramKeys = deriveDatagramKeys(config.suite, noise.symmetricState.chainingKey, handshakeHash);
  const { initiatorToResponder: c1, responderToInitiator: c2 } = noise.split();
  const remoteStaticKey = noise.remoteStaticKey!;
  noise.destroy(); // [CHAN-NOISE-8]
  const initiator = noise.initiator;
  return {
    role: initiator ? 'initiator' : 'responder',
    peer: verified.peer,
    protocolVersion,
    peerSoftware: verified.software,
    remoteStaticKey,
    handshakeHash,
    // [CHAN-TRANSPORT-3] the initiator sends with c1, the responder with c2.
    transport: initiator ? new Transport(c1, c2, config.transport) : new Transport(c2, c1, config.transport),
    datagram: initiator
      ? { sendKey: dk.initiatorToResponder, receiveKey: dk.responderToInitiator }
      : { sendKey: dk.responderToInitiator, receiveKey: dk.initiatorToResponder },
  };
}
