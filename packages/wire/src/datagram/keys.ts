/**
 * Datagram channel keys: spec/03-channels.md §8 (CHAN-DGRAM-1, CHAN-DGRAM-2). Derived once from the
 * completed Noise handshake, independently of the stream channel's Split() keys, so that no key is
 * ever used by both channels (and so never with the same nonce twice).
 */
import type { CryptoSuite } from '../crypto/suite.js';

/** [CHAN-DGRAM-1] The HKDF info label of the datagram keys. */
export const DATAGRAM_KEY_LABEL = 'parley/1 datagram keys';

const LABEL_BYTES = new TextEncoder().encode(DATAGRAM_KEY_LABEL);

/** The datagram keys of one channel, named by direction. */
export interface DatagramKeys {
  readonly initiatorToResponder: Uint8Array;
  readonly responderToInitiator: Uint8Array;
}

/**
 * [CHAN-DGRAM-1] HKDF-SHA-256(ikm = ck, salt = h, info = "parley/1 datagram keys", 64 bytes), with ck
 * the chaining key and h the handshake hash after the last handshake message; the first 32 bytes key
 * initiator-to-responder datagrams, the last 32 responder-to-initiator. Split() uses HKDF(ck, empty)
 * with ck as salt, so these keys are independent of the stream keys.
 */
export function deriveDatagramKeys(
  suite: CryptoSuite,
  chainingKey: Uint8Array,
  handshakeHash: Uint8Array,
): DatagramKeys {
  const okm = suite.hkdfSha256(chainingKey, handshakeHash, LABEL_BYTES, 64);
  return { initiatorToResponder: okm.slice(0, 32), responderToInitiator: okm.slice(32, 64) };
}
