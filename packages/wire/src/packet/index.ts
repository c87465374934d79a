/**
 * Packets and limits (spec/01-packets.md): the public surface of this folder, re-exported by the
 * package index.
 */
export {
  BODY_NUMBER_FIRST,
  BODY_NUMBER_LAST,
  BODY_NUMBER_RANGES,
  CLOSE_RULES,
  ERROR_REPLY_RULES,
  MAX_DATAGRAM_PACKET_SIZE,
  MAX_DETAIL_LENGTH,
  MAX_PING_DATA_LENGTH,
  MAX_STREAM_PACKET_SIZE,
  PACKET_PROTO_RULES,
  PACKET_RULES,
  PING_RULES,
  PONG_RULES,
} from './limits.js';
export type {
  ChannelKind,
  Close,
  DecodePacketOptions,
  EncodePacketOptions,
  ErrorReply,
  Packet,
  PacketBodies,
  PacketBody,
  PacketBodyName,
  Ping,
  Pong,
  SupernodePacketBodies,
} from './packet.js';
export { decodePacket, encodePacket, UnknownBodyError } from './packet.js';
export type { RejectionAction, RejectionContext } from './receive.js';
export {
  nextRequestId,
  OutstandingRequests,
  PING_RATE,
  pongFor,
  REQUEST_TIMEOUT_MS,
  rejectionAction,
} from './receive.js';
export { PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS } from './version.js';
