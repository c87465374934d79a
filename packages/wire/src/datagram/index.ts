/**
 * The datagram channel (spec/03-channels.md §7-9, CHAN-DGRAM-*, CHAN-REPLAY-*): keys derived from a
 * completed Noise handshake, one encrypted packet per datagram, a 2,048-counter replay window.
 */
export {
  DATAGRAM_HEADER_LENGTH,
  DATAGRAM_TAG_LENGTH,
  DATAGRAM_TYPE_DATA,
  DatagramChannel,
  type DatagramChannelOptions,
  MAX_DATAGRAM_COUNTER,
  MAX_DATAGRAM_LENGTH,
  MAX_DATAGRAM_PLAINTEXT,
  readReceiverIndex,
} from './channel.js';
export { DATAGRAM_KEY_LABEL, type DatagramKeys, deriveDatagramKeys } from './keys.js';
export { REPLAY_WINDOW_SIZE, ReplayWindow } from './replay-window.js';
