/**
 * The Noise stream channel (spec/03-channels.md §2-6, CHAN-NOISE-*, CHAN-HS-*, CHAN-VER-*,
 * CHAN-TRANSPORT-*, CHAN-REKEY-*): the Noise framework objects in the spec's own terms, the XX
 * handshake, Parley's channel handshake state machine, and the transport.
 */
export {
  type ChannelAction,
  type ChannelConfig,
  type ChannelState,
  type EstablishedChannel,
  type HandshakePayloadCodec,
  handleMessage,
  negotiateVersion,
  PROLOGUE,
  PROLOGUE_TEXT,
  type Step,
  startInitiator,
  startResponder,
  type VerifiedPayload,
} from './channel.js';
export { CipherState, KEY_LENGTH, TAG_LENGTH } from './cipher-state.js';
export {
  DH_LENGTH,
  generateKeyPair,
  type HandshakeOptions,
  HandshakeState,
  type KeyPair,
  keyPairFromPrivateKey,
  PSK_LENGTH,
  type SplitResult,
} from './handshake-state.js';
export {
  anonymousPayloadCodec,
  type CertifiedPayloadOptions,
  certifiedPayloadCodec,
  loginServerPayloadCodec,
} from './identity-payload.js';
export { type HandshakePattern, handshakePattern, parseProtocolName, type Token } from './patterns.js';
export { HASH_LENGTH, SymmetricState } from './symmetric-state.js';
export {
  MAX_MESSAGE_LENGTH,
  MAX_PLAINTEXT_LENGTH,
  REKEY_AFTER_BYTES,
  REKEY_AFTER_MESSAGES,
  Transport,
  type TransportOptions,
} from './transport.js';
export { XX_PROTOCOL_NAME, XXHandshake } from './xx.js';
