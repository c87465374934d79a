/**
 * The Noise XX handshake (The Noise Protocol Framework, revision 34, §7.5), one method per message,
 * each annotated with its tokens:
 *
 *   XX:
 *     -> e
 *     <- e, ee, s, es
 *     -> s, se
 *
 * Parley's stream channel runs `Noise_XX_25519_ChaChaPoly_SHA256` ([CHAN-NOISE-1]) through this class;
 * channel.ts wraps it in the Parley state machine. The same bytes come out of the generic
 * HandshakeState (both are checked against the published XX vector).
 */
import { concatBytes } from '../codec/bytes.js';
import type { CryptoSuite } from '../crypto/suite.js';
import { ApiMisuse, DecodeError, ErrorCode } from '../errors.js';
import { TAG_LENGTH } from './cipher-state.js';
import { DH_LENGTH, type KeyPair, type SplitResult } from './handshake-state.js';
import { SymmetricState } from './symmetric-state.js';

/** [CHAN-NOISE-1] The Noise protocol name of Parley's stream channel. */
export const XX_PROTOCOL_NAME = 'Noise_XX_25519_ChaChaPoly_SHA256';

/** Length of message 1 without payload: e. */
export const XX_MESSAGE1_OVERHEAD = DH_LENGTH;
/** Length of message 2 without payload: e, encrypted s, payload tag. */
export const XX_MESSAGE2_OVERHEAD = DH_LENGTH + DH_LENGTH + TAG_LENGTH + TAG_LENGTH;
/** Length of message 3 without payload: encrypted s, payload tag. */
export const XX_MESSAGE3_OVERHEAD = DH_LENGTH + TAG_LENGTH + TAG_LENGTH;

const ENCRYPTED_S_LENGTH = DH_LENGTH + TAG_LENGTH;

export class XXHandshake {
  readonly initiator: boolean;
  readonly symmetricState: SymmetricState;
  readonly #suite: CryptoSuite;
  readonly #s: KeyPair;
  readonly #e: KeyPair;
  #rs: Uint8Array | undefined;
  #re: Uint8Array | undefined;
  /** The number of the next message (1-3), or 4 when complete. */
  #next = 1;

  /** Initialize(XX, initiator, prologue, s, e): no pre-messages in XX. */
  private constructor(suite: CryptoSuite, initiator: boolean, prologue: Uint8Array, s: KeyPair, e: KeyPair) {
    this.#suite = suite;
    this.initiator = initiator;
    this.#s = s;
    this.#e = e;
    this.symmetricState = new SymmetricState(suite, XX_PROTOCOL_NAME);
    this.symmetricState.mixHash(prologue);
  }

  static initiator(suite: CryptoSuite, prologue: Uint8Array, s: KeyPair, e: KeyPair): XXHandshake {
    return new XXHandshake(suite, true, prologue, s, e);
  }

  static responder(suite: CryptoSuite, prologue: Uint8Array, s: KeyPair, e: KeyPair): XXHandshake {
    return new XXHandshake(suite, false, prologue, s, e);
  }

  /** The remote static public key, once message 2 (initiator) or 3 (responder) has been read. */
  get remoteStaticKey(): Uint8Array | undefined {
    return this.#rs;
  }

  /** The local static public key. */
  get localStaticKey(): Uint8Array {
    return this.#s.publicKey;
  }

  /** -> e */
  writeMessage1(payload: Uint8Array): Uint8Array {
    this.#step(1, true);
    const ss = this.symmetricState;
    ss.mixHash(this.#e.publicKey);
    const body = ss.encryptAndHash(payload); // no key yet: the payload travels in clear
    return concatBytes([this.#e.publicKey, body]);
  }

  /** -> e (responder side) */
  readMessage1(message: Uint8Array): Uint8Array {
    this.#step(1, false);
    need(message, XX_MESSAGE1_OVERHEAD);
    const ss = this.symmetricState;
    this.#re = message.slice(0, DH_LENGTH);
    ss.mixHash(this.#re);
    return ss.decryptAndHash(message.subarray(DH_LENGTH));
  }

  /** <- e, ee, s, es */
  writeMessage2(payload: Uint8Array): Uint8Array {
    this.#step(2, false);
    const ss = this.symmetricState;
    ss.mixHash(this.#e.publicKey); // e
    ss.mixKey(this.#dh(this.#e, this.#re)); // ee
    const encryptedS = ss.encryptAndHash(this.#s.publicKey); // s
    ss.mixKey(this.#dh(this.#s, this.#re)); // es (responder: DH(s, re))
    const body = ss.encryptAndHash(payload);
    const out = new Uint8Array(DH_LENGTH + encryptedS.length + body.length);
    out.set(this.#e.publicKey);
    out.set(encryptedS, DH_LENGTH);
    out.set(body, DH_LENGTH + encryptedS.length);
    return out;
  }

  /** <- e, ee, s, es (initiator side) */
  readMessage2(message: Uint8Array): Uint8Array {
    this.#step(2, true);
    need(message, XX_MESSAGE2_OVERHEAD);
    const ss = this.symmetricState;
    this.#re = message.slice(0, DH_LENGTH); // e
    ss.mixHash(this.#re);
    ss.mixKey(this.#dh(this.#e, this.#re)); // ee
    this.#rs = ss.decryptAndHash(message.subarray(DH_LENGTH, DH_LENGTH + ENCRYPTED_S_LENGTH)).slice(); // s
    ss.mixKey(this.#dh(this.#e, this.#rs)); // es (initiator: DH(e, rs))
    return ss.decryptAndHash(message.subarray(DH_LENGTH + ENCRYPTED_S_LENGTH));
  }

  /** -> s, se */
  writeMessage3(payload: Uint8Array): Uint8Array {
    this.#step(3, true);
    const ss = this.symmetricState;
    const encryptedS = ss.encryptAndHash(this.#s.publicKey); // s
    ss.mixKey(this.#dh(this.#s, this.#re)); // se (initiator: DH(s, re))
    return concatBytes([encryptedS, ss.encryptAndHash(payload)]);
  }

  /** -> s, se (responder side) */
  readMessage3(message: Uint8Array): Uint8Array {
    this.#step(3, false);
    need(message, XX_MESSAGE3_OVERHEAD);
    const ss = this.symmetricState;
    this.#rs = ss.decryptAndHash(message.subarray(0, ENCRYPTED_S_LENGTH)).slice(); // s
    ss.mixKey(this.#dh(this.#e, this.#rs)); // se (responder: DH(e, rs))
    return ss.decryptAndHash(message.subarray(ENCRYPTED_S_LENGTH));
  }

  /** Split() after message 3. */
  split(): SplitResult {
    if (this.#next !== 4) throw new ApiMisuse('XX handshake not complete');
    const [c1, c2] = this.symmetricState.split();
    return { initiatorToResponder: c1, responderToInitiator: c2 };
  }

  /** GetHandshakeHash(). */
  getHandshakeHash(): Uint8Array {
    return this.symmetricState.getHandshakeHash();
  }

  /** Overwrites the handshake secrets ([CHAN-NOISE-8]); the static key pair belongs to the caller. */
  destroy(): void {
    this.symmetricState.destroy();
    this.#e.privateKey.fill(0);
  }

  #step(n: number, callerIsInitiator: boolean): void {
    // The state machine in channel.ts never calls out of order or on the wrong side; this is a guard.
    if (this.#next !== n || this.initiator !== callerIsInitiator) throw new ApiMisuse(`XX message ${n} out of order`);
    this.#next++;
  }

  #dh(local: KeyPair, remote: Uint8Array | undefined): Uint8Array {
    if (!remote) throw new ApiMisuse('remote key not yet known');
    return this.#suite.x25519(local.privateKey, remote);
  }
}

function need(message: Uint8Array, length: number): void {
  if (message.length < length) throw new DecodeError(ErrorCode.TRUNCATED, 'Noise handshake message too short');
}
