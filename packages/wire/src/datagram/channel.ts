/**
 * The datagram channel: spec/03-channels.md §8-9 (CHAN-DGRAM-*, CHAN-REPLAY-*). One encrypted packet
 * per datagram:
 *
 *   0      1                5                               13
 *   +------+----------------+-------------------------------+---------------------------+
 *   | type | receiver index |   counter (64-bit, BE)        | ChaCha20-Poly1305 ct||tag |
 *   +------+----------------+-------------------------------+---------------------------+
 *
 * The 13-byte header is the associated data; the AEAD nonce is 4 zero bytes || counter little-endian,
 * as Noise forms its nonces. Unlike the stream channel, a bad datagram never closes the session: it
 * is dropped (the caller catches the error), because anyone can send a datagram to a socket.
 */
import type { CryptoSuite } from '../crypto/suite.js';
import { ApiMisuse, DecodeError, DecryptError, ErrorCode, ProtocolViolation } from '../errors.js';
import { ReplayWindow } from './replay-window.js';

/** [CHAN-DGRAM-3] The type byte of an encrypted data packet. */
export const DATAGRAM_TYPE_DATA = 0x01;
/** [CHAN-DGRAM-3] type (1) + receiver index (4) + counter (8). */
export const DATAGRAM_HEADER_LENGTH = 13;
export const DATAGRAM_TAG_LENGTH = 16;
/** [CHAN-DGRAM-5] The largest datagram, header and tag included. */
export const MAX_DATAGRAM_LENGTH = 1200;
/** The largest plaintext of one datagram: 1,200 - 13 - 16 = 1,171 bytes. */
export const MAX_DATAGRAM_PLAINTEXT = MAX_DATAGRAM_LENGTH - DATAGRAM_HEADER_LENGTH - DATAGRAM_TAG_LENGTH;
/** [CHAN-DGRAM-7] Counter 2^64-1 is never sent. */
export const MAX_DATAGRAM_COUNTER = 0xffff_ffff_ffff_fffen;

export interface DatagramChannelOptions {
  /** Key for datagrams this side sends (EstablishedChannel.datagram.sendKey). */
  sendKey: Uint8Array;
  /** Key for datagrams this side receives. */
  receiveKey: Uint8Array;
  /** [CHAN-DGRAM-4] The index this side chose and under which it receives; peers put it in their headers. */
  localIndex: number;
  /** The index the peer chose; written into every datagram this side sends. */
  remoteIndex: number;
  /** Test hook: the first counter to send (default 0). */
  initialSendCounter?: bigint;
}

/**
 * [CHAN-DGRAM-4] The receiver index of a datagram, for demultiplexing sessions on one socket before
 * any decryption. Throws DecodeError when the datagram is too short or of an unknown type.
 */
export function readReceiverIndex(datagram: Uint8Array): number {
  if (datagram.length < DATAGRAM_HEADER_LENGTH + DATAGRAM_TAG_LENGTH) {
    throw new DecodeError(ErrorCode.TRUNCATED, 'datagram shorter than header and tag');
  }
  if (datagram[0] !== DATAGRAM_TYPE_DATA) throw new DecodeError(ErrorCode.MALFORMED, `datagram type ${datagram[0]}`);
  return ((datagram[1]! << 24) | (datagram[2]! << 16) | (datagram[3]! << 8) | datagram[4]!) >>> 0;
}

function checkIndex(index: number, what: string): void {
  if (!Number.isInteger(index) || index < 0 || index > 0xffffffff) throw new ApiMisuse(`${what} is not a uint32`);
}

export class DatagramChannel {
  readonly #suite: CryptoSuite;
  readonly #sendKey: Uint8Array;
  readonly #receiveKey: Uint8Array;
  readonly localIndex: number;
  readonly remoteIndex: number;
  readonly #window = new ReplayWindow();
  #sendCounter: bigint;
  readonly #sendNonce = new Uint8Array(12);
  readonly #sendNonceView = new DataView(this.#sendNonce.buffer);
  readonly #receiveNonce = new Uint8Array(12);
  readonly #receiveNonceView = new DataView(this.#receiveNonce.buffer);

  constructor(suite: CryptoSuite, options: DatagramChannelOptions) {
    if (options.sendKey.length !== 32 || options.receiveKey.length !== 32)
      throw new ApiMisuse('datagram keys are 32 bytes');
    checkIndex(options.localIndex, 'localIndex');
    checkIndex(options.remoteIndex, 'remoteIndex');
    this.#suite = suite;
    this.#sendKey = options.sendKey.slice();
    this.#receiveKey = options.receiveKey.slice();
    this.localIndex = options.localIndex;
    this.remoteIndex = options.remoteIndex;
    this.#sendCounter = options.initialSendCounter ?? 0n;
  }

  /** The counter the next sent datagram will carry. */
  get sendCounter(): bigint {
    return this.#sendCounter;
  }

  /** The highest counter received and authenticated so far (-1n before the first). */
  get highestReceived(): bigint {
    return this.#window.highest;
  }

  /**
   * Seals one plaintext into one datagram. More than 1,171 bytes of plaintext is API misuse (the
   * datagram would exceed [CHAN-DGRAM-5]; callers split first); once counter 2^64-2 has been used every call is NONCE_EXHAUSTED ([CHAN-DGRAM-7]).
   */
  seal(plaintext: Uint8Array): Uint8Array {
    if (plaintext.length > MAX_DATAGRAM_PLAINTEXT) {
      throw new ApiMisuse(`datagram plaintext ${plaintext.length} > ${MAX_DATAGRAM_PLAINTEXT} bytes`);
    }
    const counter = this.#sendCounter;
    if (counter > MAX_DATAGRAM_COUNTER) throw new ProtocolViolation(ErrorCode.NONCE_EXHAUSTED, 'datagram counter');
    const out = new Uint8Array(DATAGRAM_HEADER_LENGTH + plaintext.length + DATAGRAM_TAG_LENGTH);
    const view = new DataView(out.buffer);
    out[0] = DATAGRAM_TYPE_DATA;
    view.setUint32(1, this.remoteIndex);
    view.setBigUint64(5, counter);
    this.#sendNonceView.setBigUint64(4, counter, true); // [CHAN-DGRAM-6]
    const header = out.subarray(0, DATAGRAM_HEADER_LENGTH);
    out.set(this.#suite.aeadSeal(this.#sendKey, this.#sendNonce, header, plaintext), DATAGRAM_HEADER_LENGTH);
    this.#sendCounter = counter + 1n;
    return out;
  }

  /**
   * Opens one datagram. Errors (the datagram is to be dropped; the session stays up, [CHAN-DGRAM-8]):
   * DATAGRAM_TOO_LARGE over 1,200 bytes; TRUNCATED/MALFORMED for a short datagram, a wrong type or a
   * counter of 2^64-1; DECRYPT_FAILED for another receiver index (no key of this session); TOO_OLD and REPLAYED from the
   * replay window; DECRYPT_FAILED when authentication fails. The window only moves after
   * authentication succeeds ([CHAN-REPLAY-3]).
   */
  open(datagram: Uint8Array): Uint8Array {
    if (datagram.length > MAX_DATAGRAM_LENGTH) {
      throw new DecodeError(ErrorCode.DATAGRAM_TOO_LARGE, `${datagram.length} > ${MAX_DATAGRAM_LENGTH} bytes`);
    }
    const index = readReceiverIndex(datagram);
    // [CHAN-DGRAM-4] Another index means another session's key: this one cannot authenticate it.
    if (index !== this.localIndex) throw new DecryptError(ErrorCode.DECRYPT_FAILED);
    const view = new DataView(datagram.buffer, datagram.byteOffset, datagram.byteLength);
    const counter = view.getBigUint64(5);
    if (counter > MAX_DATAGRAM_COUNTER) throw new DecodeError(ErrorCode.MALFORMED, 'datagram counter 2^64-1');
    this.#window.check(counter); // [CHAN-REPLAY-2] cheap rejection before any decryption
    this.#receiveNonceView.setBigUint64(4, counter, true); // [CHAN-DGRAM-6]
    const plaintext = this.#suite.aeadOpen(
      this.#receiveKey,
      this.#receiveNonce,
      datagram.subarray(0, DATAGRAM_HEADER_LENGTH),
      datagram.subarray(DATAGRAM_HEADER_LENGTH),
    );
    this.#window.update(counter); // [CHAN-REPLAY-3] only after authentication
    return plaintext;
  }

  /** Overwrites both keys; later calls fail. */
  destroy(): void {
    this.#sendKey.fill(0);
    this.#receiveKey.fill(0);
    this.#sendCounter = MAX_DATAGRAM_COUNTER + 1n;
  }
}
