/**
 * Noise `HandshakeState` (The Noise Protocol Framework, revision 34, §5.3), generic over the handshake
 * patterns of patterns.ts, with DH = Curve25519 (§12.1), cipher ChaChaPoly and hash SHA-256.
 *
 * Parley's channel runs its XX handshake through the message-by-message code of xx.ts; this generic
 * machinery runs any pattern and is what the published vectors are checked against, so that both are
 * held to the same SymmetricState and CipherState.
 */
import { concatBytes } from '../codec/bytes.js';
import type { CryptoSuite, Random } from '../crypto/suite.js';
import { ApiMisuse, DecodeError, ErrorCode } from '../errors.js';
import type { CipherState } from './cipher-state.js';
import { TAG_LENGTH } from './cipher-state.js';
import { type HandshakePattern, handshakePattern, parseProtocolName, type Token } from './patterns.js';
import { SymmetricState } from './symmetric-state.js';

/** DHLEN for Curve25519. */
export const DH_LENGTH = 32;
/** Length of a pre-shared key (§9.1). */
export const PSK_LENGTH = 32;

export interface KeyPair {
  readonly publicKey: Uint8Array;
  readonly privateKey: Uint8Array;
}

/** GENERATE_KEYPAIR() with the secret drawn from the injected `Random`. */
export function generateKeyPair(suite: CryptoSuite, random: Random): KeyPair {
  const privateKey = random.randomBytes(DH_LENGTH);
  return { privateKey, publicKey: suite.x25519PublicKey(privateKey) };
}

/** The key pair of a given 32-byte private key. */
export function keyPairFromPrivateKey(suite: CryptoSuite, privateKey: Uint8Array): KeyPair {
  return { privateKey, publicKey: suite.x25519PublicKey(privateKey) };
}

export interface HandshakeOptions {
  /** `Noise_<pattern>_25519_ChaChaPoly_SHA256`; other DH, cipher or hash names are not supported. */
  protocolName: string;
  initiator: boolean;
  prologue: Uint8Array;
  /** The local static key pair. */
  s?: KeyPair;
  /** The local ephemeral key pair; generated from `random` when the pattern needs one and none is given. */
  e?: KeyPair;
  /** The remote static public key, when known in advance (pre-message). */
  rs?: Uint8Array;
  /** The remote ephemeral public key, when known in advance (pre-message). */
  re?: Uint8Array;
  /** Pre-shared keys, consumed in order by `psk` tokens. */
  psks?: Uint8Array[];
  random?: Random;
}

/** The two CipherStates of Split(), named by direction. */
export interface SplitResult {
  initiatorToResponder: CipherState;
  responderToInitiator: CipherState;
}

export class HandshakeState {
  readonly pattern: HandshakePattern;
  readonly initiator: boolean;
  readonly symmetricState: SymmetricState;
  #s: KeyPair | undefined;
  #e: KeyPair | undefined;
  #rs: Uint8Array | undefined;
  #re: Uint8Array | undefined;
  readonly #psks: Uint8Array[];
  readonly #psk: boolean;
  readonly #random: Random | undefined;
  readonly #suite: CryptoSuite;
  #messageIndex = 0;
  #split: SplitResult | undefined;

  /** Initialize(handshake_pattern, initiator, prologue, s, e, rs, re) (§5.3). */
  constructor(suite: CryptoSuite, options: HandshakeOptions) {
    const { pattern, dh, cipher, hash } = parseProtocolName(options.protocolName);
    if (dh !== '25519' || cipher !== 'ChaChaPoly' || hash !== 'SHA256') {
      throw new ApiMisuse(`unsupported Noise suite in ${options.protocolName}`);
    }
    this.#suite = suite;
    this.pattern = handshakePattern(pattern);
    this.initiator = options.initiator;
    this.#s = options.s;
    this.#e = options.e;
    this.#rs = options.rs;
    this.#re = options.re;
    this.#psks = [...(options.psks ?? [])];
    this.#psk = this.pattern.messages.some((m) => m.includes('psk'));
    this.#random = options.random;
    this.symmetricState = new SymmetricState(suite, options.protocolName);
    this.symmetricState.mixHash(options.prologue);
    // §5.3: the pre-message public keys are hashed, the initiator's first.
    const [mine, theirs] = this.initiator
      ? [this.pattern.initiatorPreMessage, this.pattern.responderPreMessage]
      : [this.pattern.responderPreMessage, this.pattern.initiatorPreMessage];
    const initiatorKeys = this.initiator ? this.#localPre(mine) : this.#remotePre(theirs);
    const responderKeys = this.initiator ? this.#remotePre(theirs) : this.#localPre(mine);
    for (const key of [...initiatorKeys, ...responderKeys]) this.#mixPreMessageKey(key);
  }

  /** True once the last message pattern has been written or read. */
  get isComplete(): boolean {
    return this.#split !== undefined;
  }

  /** The remote static public key, once known. */
  get remoteStaticKey(): Uint8Array | undefined {
    return this.#rs;
  }

  /** True when the next message is ours to write. */
  get isMyTurn(): boolean {
    return (this.#messageIndex % 2 === 0) === this.initiator;
  }

  /** WriteMessage(payload, message_buffer) (§5.3); returns the message. */
  writeMessage(payload: Uint8Array): Uint8Array {
    const tokens = this.#nextPattern(true);
    const parts: Uint8Array[] = [];
    const ss = this.symmetricState;
    for (const token of tokens) {
      switch (token) {
        case 'e': {
          if (!this.#e) {
            if (!this.#random) throw new ApiMisuse('no ephemeral key and no Random');
            this.#e = generateKeyPair(this.#suite, this.#random);
          }
          parts.push(this.#e.publicKey);
          ss.mixHash(this.#e.publicKey);
          if (this.#psk) ss.mixKey(this.#e.publicKey);
          break;
        }
        case 's':
          parts.push(ss.encryptAndHash(this.#need(this.#s, 's').publicKey));
          break;
        default:
          this.#mixToken(token);
      }
    }
    parts.push(ss.encryptAndHash(payload));
    this.#advance();
    return concatBytes(parts);
  }

  /** ReadMessage(message, payload_buffer) (§5.3); returns the payload. */
  readMessage(message: Uint8Array): Uint8Array {
    const tokens = this.#nextPattern(false);
    const ss = this.symmetricState;
    let offset = 0;
    const take = (length: number): Uint8Array => {
      if (message.length - offset < length) throw new DecodeError(ErrorCode.TRUNCATED, 'Noise handshake message');
      const part = message.subarray(offset, offset + length);
      offset += length;
      return part;
    };
    for (const token of tokens) {
      switch (token) {
        case 'e': {
          const re = take(DH_LENGTH).slice();
          this.#re = re;
          ss.mixHash(re);
          if (this.#psk) ss.mixKey(re);
          break;
        }
        case 's': {
          const length = ss.cipherState.hasKey() ? DH_LENGTH + TAG_LENGTH : DH_LENGTH;
          this.#rs = ss.decryptAndHash(take(length)).slice();
          break;
        }
        default:
          this.#mixToken(token);
      }
    }
    if (ss.cipherState.hasKey() && message.length - offset < TAG_LENGTH) {
      throw new DecodeError(ErrorCode.TRUNCATED, 'Noise handshake payload');
    }
    const payload = ss.decryptAndHash(message.subarray(offset));
    this.#advance();
    return payload;
  }

  /** The CipherStates of Split(), once the handshake is complete. */
  split(): SplitResult {
    if (!this.#split) throw new ApiMisuse('handshake not complete');
    return this.#split;
  }

  /** GetHandshakeHash(). */
  getHandshakeHash(): Uint8Array {
    return this.symmetricState.getHandshakeHash();
  }

  #nextPattern(writing: boolean): readonly Token[] {
    if (this.#split) throw new ApiMisuse('handshake already complete');
    if (writing !== this.isMyTurn) throw new ApiMisuse(writing ? 'not our turn to write' : 'not our turn to read');
    return this.pattern.messages[this.#messageIndex]!;
  }

  #advance(): void {
    this.#messageIndex++;
    if (this.#messageIndex === this.pattern.messages.length) {
      const [c1, c2] = this.symmetricState.split();
      this.#split = { initiatorToResponder: c1, responderToInitiator: c2 };
    }
  }

  /** The DH and psk tokens (§5.3, §9.2); `es` and `se` name the initiator's key first. */
  #mixToken(token: Token): void {
    const ss = this.symmetricState;
    const dh = (local: KeyPair | undefined, remote: Uint8Array | undefined, what: string) =>
      this.#suite.x25519(this.#need(local, what).privateKey, this.#need(remote, what));
    switch (token) {
      case 'ee':
        ss.mixKey(dh(this.#e, this.#re, 'ee'));
        break;
      case 'es':
        ss.mixKey(this.initiator ? dh(this.#e, this.#rs, 'es') : dh(this.#s, this.#re, 'es'));
        break;
      case 'se':
        ss.mixKey(this.initiator ? dh(this.#s, this.#re, 'se') : dh(this.#e, this.#rs, 'se'));
        break;
      case 'ss':
        ss.mixKey(dh(this.#s, this.#rs, 'ss'));
        break;
      case 'psk': {
        const psk = this.#psks.shift();
        if (!psk || psk.length !== PSK_LENGTH) throw new ApiMisuse('missing or malformed pre-shared key');
        ss.mixKeyAndHash(psk);
        break;
      }
      default:
        throw new ApiMisuse(`token ${token} out of place`);
    }
  }

  #localPre(tokens: readonly Token[]): Uint8Array[] {
    return tokens.map((t) => (t === 'e' ? this.#need(this.#e, 'e') : this.#need(this.#s, 's')).publicKey);
  }

  #remotePre(tokens: readonly Token[]): Uint8Array[] {
    return tokens.map((t) => (t === 'e' ? this.#need(this.#re, 're') : this.#need(this.#rs, 'rs')));
  }

  #mixPreMessageKey(key: Uint8Array): void {
    this.symmetricState.mixHash(key);
  }

  #need<T>(value: T | undefined, what: string): T {
    if (value === undefined) throw new ApiMisuse(`the pattern needs ${what}, which is not set`);
    return value;
  }
}
