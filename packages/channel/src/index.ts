/**
 * The stream channel driver (spec/03-channels.md §4-7, spec/01-packets.md §2, §7-8): one Parley stream
 * channel over a @parley/net Stream, for the login server, supernodes and nodes.
 */
export {
  ChannelClosedError,
  type CloseReason,
  DEFAULT_CLOSE_LINGER_MS,
  DEFAULT_MAX_WRITE_BUFFER_BYTES,
  HANDSHAKE_TIMEOUT_MS,
  isResponseBody,
  StreamChannel,
  type StreamChannelEvents,
  type StreamChannelOptions,
  type StreamChannelStats,
} from './stream-channel.js';
