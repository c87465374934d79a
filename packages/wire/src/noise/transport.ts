/**
 * Transport messages over a completed Noise channel: spec/03-channels.md §5 (CHAN-TRANSPORT-*,
 * CHAN-REKEY-*). One CipherState per direction; each plaintext is one Parley packet; a deterministic
 * rekey schedule; a hard stop before nonce 2^64-1. Any failure closes the transport for good.
 *
 * Hot path: `encrypt` and `decrypt` allocate only the suite's output array; the AEAD nonce buffer is
 * rewritten in place and the associated data is a shared empty array.
 */
import { ApiMisuse, DecodeError, ErrorCode, isParleyError, type ParleyError } from '../errors.js';
import { type CipherState, TAG_LENGTH } from './cipher-state.js';

/** [CHAN-TRANSPORT-1] The largest Noise message (and so the largest stream frame). */
export const MAX_MESSAGE_LENGTH = 65_535;
/** [CHAN-TRANSPORT-2] The largest packet plaintext: 65,535 - 16 = 65,519 bytes. */
export const MAX_PLAINTEXT_LENGTH = MAX_MESSAGE_LENGTH - TAG_LENGTH;
/** [CHAN-REKEY-1] Rekey after this many messages in one direction... */
export const REKEY_AFTER_MESSAGES = 2 ** 20;
/** [CHAN-REKEY-1] ...or once this many ciphertext bytes have passed in it (1 GiB). */
export const REKEY_AFTER_BYTES = 2 ** 30;

const EMPTY = new Uint8Array(0);

export interface TransportOptions {
  /**
   * Test hook: the nonce both CipherStates start at (SetNonce), so that the hard stop of
   * [CHAN-TRANSPORT-5] can be reached without 2^64 messages. Never set it in production: two peers
   * must agree on it.
   */
  initialSendNonce?: bigint;
  initialReceiveNonce?: bigint;
  /** Test hook: smaller rekey thresholds (both peers must use the same). Defaults: 2^20 and 2^30. */
  rekeyAfterMessages?: number;
  rekeyAfterBytes?: number;
}

/** One direction: its CipherState and the counts since the last rekey ([CHAN-REKEY-1]). */
class Direction {
  messages = 0;
  bytes = 0;
  constructor(
    readonly cipher: CipherState,
    readonly maxMessages: number,
    readonly maxBytes: number,
  ) {}

  /** [CHAN-REKEY-1] [CHAN-REKEY-2] Counted on ciphertext length, which both peers see identically. */
  count(ciphertextLength: number): void {
    this.bytes += ciphertextLength;
    if (++this.messages >= this.maxMessages || this.bytes >= this.maxBytes) {
      this.cipher.rekey();
      this.messages = 0;
      this.bytes = 0;
    }
  }
}

export class Transport {
  readonly #send: Direction;
  readonly #receive: Direction;
  #error: ParleyError | undefined;

  /**
   * A transport from the CipherStates of Split(): the initiator sends with c1 and receives with c2,
   * the responder the other way round ([CHAN-TRANSPORT-3]).
   */
  constructor(send: CipherState, receive: CipherState, options: TransportOptions = {}) {
    if (!send.hasKey() || !receive.hasKey()) throw new ApiMisuse('transport needs keyed CipherStates');
    const maxMessages = options.rekeyAfterMessages ?? REKEY_AFTER_MESSAGES;
    const maxBytes = options.rekeyAfterBytes ?? REKEY_AFTER_BYTES;
    if (options.initialSendNonce !== undefined) send.setNonce(options.initialSendNonce);
    if (options.initialReceiveNonce !== undefined) receive.setNonce(options.initialReceiveNonce);
    this.#send = new Direction(send, maxMessages, maxBytes);
    this.#receive = new Direction(receive, maxMessages, maxBytes);
  }

  /** The error that closed the transport, if it is closed. */
  get error(): ParleyError | undefined {
    return this.#error;
  }

  get closed(): boolean {
    return this.#error !== undefined;
  }

  /** The nonce of the next message to send / receive (for tests and diagnostics). */
  get sendNonce(): bigint {
    return this.#send.cipher.nonce;
  }
  get receiveNonce(): bigint {
    return this.#receive.cipher.nonce;
  }

  /**
   * Encrypts one packet into one Noise transport message (ciphertext || tag), to be framed by the
   * caller ([CHAN-FRAME-1]). A plaintext longer than 65,519 bytes is API misuse (it does not close the
   * transport). Reaching nonce 2^64-1 throws NONCE_EXHAUSTED and closes it ([CHAN-TRANSPORT-5]).
   */
  encrypt(plaintext: Uint8Array): Uint8Array {
    this.#checkOpen();
    if (plaintext.length > MAX_PLAINTEXT_LENGTH) {
      throw new ApiMisuse(`packet of ${plaintext.length} bytes exceeds ${MAX_PLAINTEXT_LENGTH}`);
    }
    try {
      const ciphertext = this.#send.cipher.encryptWithAd(EMPTY, plaintext);
      this.#send.count(ciphertext.length);
      return ciphertext;
    } catch (e) {
      throw this.#fail(e);
    }
  }

  /**
   * Decrypts one Noise transport message into one packet. Every failure closes the transport
   * ([CHAN-TRANSPORT-4]): shorter than 16 bytes is MALFORMED, longer than 65,535 FRAME_TOO_LARGE, a
   * failed authentication DECRYPT_FAILED, nonce 2^64-1 NONCE_EXHAUSTED.
   */
  decrypt(message: Uint8Array): Uint8Array {
    this.#checkOpen();
    try {
      // [CHAN-TRANSPORT-2]
      if (message.length < TAG_LENGTH) throw new DecodeError(ErrorCode.MALFORMED, 'transport message < 16 bytes');
      if (message.length > MAX_MESSAGE_LENGTH) throw new DecodeError(ErrorCode.FRAME_TOO_LARGE, 'transport message');
      const plaintext = this.#receive.cipher.decryptWithAd(EMPTY, message);
      this.#receive.count(message.length);
      return plaintext;
    } catch (e) {
      throw this.#fail(e);
    }
  }

  /** Closes the transport and overwrites both keys. Later calls throw API_MISUSE. */
  close(): void {
    this.#fail(new ApiMisuse('transport closed'));
  }

  #checkOpen(): void {
    if (this.#error !== undefined) throw this.#error;
  }

  /** [CHAN-TRANSPORT-4] Any error is final: keys are wiped and every later call rethrows it. */
  #fail(e: unknown): unknown {
    if (this.#error === undefined && isParleyError(e)) {
      this.#error = e;
      this.#send.cipher.destroy();
      this.#receive.cipher.destroy();
    }
    return e;
  }
}
