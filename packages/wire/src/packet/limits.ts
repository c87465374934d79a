/**
 * The limits and encoding rules of every message in spec/proto/parley/v1/packet.proto
 * (spec/01-packets.md §6, WIRE-LIMIT-*; the body number ranges of §2.3, WIRE-PKT-5).
 *
 * The table in spec/01-packets.md §6.2 says the same as these rules; test/packet/spec-tables.test.ts
 * compares them, so they cannot drift apart. Adding a body: add its rules here (and its row there).
 */
import { defineMessage, type MessageRules } from '../codec/rules.js';
import { CONNECTIVITY_BODIES } from '../connectivity/messages.js';
import { AEAD_TAG_LENGTH } from '../crypto/lengths.js';
import { MAX_DATAGRAM_PLAINTEXT } from '../datagram/channel.js';
import { MAX_FRAME_LENGTH } from '../framing/stream.js';
import { LOGIN_BODIES } from '../login/messages.js';
import { SUPERNODE_BODIES } from '../supernode/messages.js';

/**
 * [WIRE-LIMIT-3] `stream-packet-max`: the largest packet on a stream channel, one Noise transport message
 * (at most `stream-frame-max`, MAX_FRAME_LENGTH, spec/03-channels.md) less its AEAD tag.
 */
export const MAX_STREAM_PACKET_SIZE = MAX_FRAME_LENGTH - AEAD_TAG_LENGTH;
/**
 * [WIRE-LIMIT-4] The largest packet on a datagram channel: `datagram-max` (MAX_DATAGRAM_LENGTH, 1,200)
 * less the datagram header and tag (spec/03-channels.md).
 */
export const MAX_DATAGRAM_PACKET_SIZE = MAX_DATAGRAM_PLAINTEXT;

/** [WIRE-LIMIT-2] `detail` of Close and ErrorReply, in UTF-8 bytes. */
export const MAX_DETAIL_LENGTH = 256;
/** [WIRE-LIMIT-2] `data` of Ping and Pong, in bytes. */
export const MAX_PING_DATA_LENGTH = 256;

export const CLOSE_RULES: MessageRules = defineMessage({
  name: 'Close',
  fields: [
    { number: 1, name: 'code', kind: 'enum' },
    { number: 2, name: 'detail', kind: 'string', maxLength: MAX_DETAIL_LENGTH },
  ],
});

export const PING_RULES: MessageRules = defineMessage({
  name: 'Ping',
  fields: [
    { number: 1, name: 'sequence', kind: 'uint32' },
    { number: 2, name: 'data', kind: 'bytes', maxLength: MAX_PING_DATA_LENGTH },
  ],
});

export const PONG_RULES: MessageRules = defineMessage({
  name: 'Pong',
  fields: [
    { number: 1, name: 'sequence', kind: 'uint32' },
    { number: 2, name: 'data', kind: 'bytes', maxLength: MAX_PING_DATA_LENGTH },
  ],
});

export const ERROR_REPLY_RULES: MessageRules = defineMessage({
  name: 'ErrorReply',
  fields: [
    { number: 1, name: 'code', kind: 'enum' },
    { number: 2, name: 'detail', kind: 'string', maxLength: MAX_DETAIL_LENGTH },
    { number: 3, name: 'retry_after_ms', kind: 'uint32' },
    { number: 4, name: 'retry_jitter_ms', kind: 'uint32' },
  ],
});

/**
 * [WIRE-PKT-5] Body numbers: 16-99 this chapter, then one range per chapter. A receiver counts an unknown
 * field in 16-499 as a body it does not know (WIRE-PKT-6); 500 and above are not bodies.
 */
export const BODY_NUMBER_RANGES: readonly { readonly from: number; readonly to: number; readonly chapter: string }[] = [
  { from: 16, to: 99, chapter: '01-packets.md' },
  { from: 100, to: 199, chapter: '06 (login server)' },
  { from: 200, to: 299, chapter: '07, 08 (supernode, connectivity)' },
  { from: 300, to: 399, chapter: '09-11 (node)' },
  { from: 400, to: 499, chapter: '12 (election)' },
];

/** [WIRE-PKT-5] The first and last field numbers of `Packet.body` members (known or not). */
export const BODY_NUMBER_FIRST = 16;
export const BODY_NUMBER_LAST = 499;

export const PACKET_RULES: MessageRules = defineMessage({
  name: 'Packet',
  fields: [
    { number: 1, name: 'request_id', kind: 'uint32' },
    { number: 16, name: 'close', kind: 'message', oneof: 'body', message: CLOSE_RULES },
    { number: 17, name: 'ping', kind: 'message', oneof: 'body', message: PING_RULES },
    { number: 18, name: 'pong', kind: 'message', oneof: 'body', message: PONG_RULES },
    { number: 19, name: 'error', kind: 'message', oneof: 'body', message: ERROR_REPLY_RULES },
    // spec/06-login-server.md §3: bodies 100-131.
    ...LOGIN_BODIES.map((b) => ({
      number: b.number,
      name: b.name,
      kind: 'message' as const,
      oneof: 'body',
      message: b.rules,
    })),
    // spec/07-supernode.md: bodies 200-223.
    ...SUPERNODE_BODIES.map((b) => ({
      number: b.number,
      name: b.name,
      kind: 'message' as const,
      oneof: 'body',
      message: b.rules,
    })),
    // spec/08-connectivity.md: bodies 240-281.
    ...CONNECTIVITY_BODIES.map((b) => ({
      number: b.number,
      name: b.name,
      kind: 'message' as const,
      oneof: 'body',
      message: b.rules,
    })),
  ],
  reservedOneofRanges: [{ oneof: 'body', from: BODY_NUMBER_FIRST, to: BODY_NUMBER_LAST }],
});

/** Every message of packet.proto, by name: what the spec's limits table lists. */
export const PACKET_PROTO_RULES: readonly MessageRules[] = [
  PACKET_RULES,
  CLOSE_RULES,
  PING_RULES,
  PONG_RULES,
  ERROR_REPLY_RULES,
];
