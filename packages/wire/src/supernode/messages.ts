/**
 * The encoding rules and limits of every message of spec/proto/parley/v1/supernode.proto: the limits table
 * of spec/07-supernode.md §10 ([SN-LIMIT-1]), enforced by the raw checker before protobufjs decodes
 * (spec/01-packets.md WIRE-LIMIT-*). A test compares these rules with the chapter's table.
 *
 * Fixed lengths (a 32-byte key id, a 16-byte device or message id) are bounds here and exact checks where
 * the field is used (./objects.ts, the supernode's handlers): a field longer than its bound is FIELD_LIMIT
 * on decode, a shorter one MALFORMED where it is used.
 */
import { defineMessage, type MessageRules } from '../codec/rules.js';
import { DEVICE_ID_BYTES } from '../identity/certificate.js';
import { KEY_ID_BYTES } from '../identity/keys.js';
import { MAX_OFFLINE_MESSAGE_BYTES, MAX_PRESENCE_RECORD_BYTES } from '../identity/signed.js';
import { ENDPOINT_RULES, MAX_ENCODED_CERTIFICATE_BYTES, MAX_USERNAME_INPUT_BYTES } from '../login/messages.js';

/** Slack for a `Signed` envelope around its body (signature, key id, context, tags and lengths), as in 06. */
export const SIGNED_ENVELOPE_SLACK = 256;
/** [SN-LIMIT-1] [DIR-REC-9] `sealed_endpoints` of a presence record, opaque to supernodes. */
export const MAX_SEALED_ENDPOINTS_BYTES = 512;
/** [SN-LIMIT-1] [STORE-MSG-8] The end-to-end encrypted payload of an offline message. */
export const MAX_OFFLINE_CIPHERTEXT_BYTES = 16_384;
/** [SN-LIMIT-1] Presence records held and returned for one user: one per device. */
export const MAX_PRESENCE_DEVICES = 8;
/** [SN-LIMIT-1] Supernodes one Redirect names. */
export const MAX_REDIRECT_SUPERNODES = 8;
/** [SN-LIMIT-1] Messages one FetchMessages may ask for, and one AckMessages may acknowledge. */
export const MAX_FETCH_MESSAGES = 64;
/** [SN-LIMIT-1] Records or messages in one ReplicatePresence or ReplicateMessages. */
export const MAX_REPLICATE_BATCH = 32;
/** [STORE-MSG-3] A message id: 16 random bytes. */
export const MESSAGE_ID_BYTES = 16;
/** [SN-LIMIT-1] An encoded `Signed` PresenceRecord: the record body maximum plus the envelope slack. */
export const MAX_SIGNED_PRESENCE_RECORD_BYTES = MAX_PRESENCE_RECORD_BYTES + SIGNED_ENVELOPE_SLACK;
/** [SN-LIMIT-1] An encoded `Signed` OfflineMessage: the message body maximum plus the envelope slack. */
export const MAX_SIGNED_OFFLINE_MESSAGE_BYTES = MAX_OFFLINE_MESSAGE_BYTES + SIGNED_ENVELOPE_SLACK;

const username = { kind: 'string', maxLength: MAX_USERNAME_INPUT_BYTES } as const;
const certificateBytes = { kind: 'bytes', maxLength: MAX_ENCODED_CERTIFICATE_BYTES } as const;

// ---- Attachment, 07 §3 ---------------------------------------------------------------------------------

export const ATTACH_RULES = defineMessage({
  name: 'Attach',
  fields: [
    { number: 1, name: 'standby', kind: 'bool' },
    { number: 2, name: 'list_epoch', kind: 'uint64' },
  ],
});
export const ATTACHED_RULES = defineMessage({
  name: 'Attached',
  fields: [
    { number: 1, name: 'keepalive_interval_ms', kind: 'uint32' },
    { number: 2, name: 'observed', kind: 'message', message: ENDPOINT_RULES },
    { number: 3, name: 'list_epoch', kind: 'uint64' },
  ],
});
export const REDIRECT_RULES = defineMessage({
  name: 'Redirect',
  fields: [
    {
      number: 1,
      name: 'supernode_key_ids',
      kind: 'bytes',
      maxLength: KEY_ID_BYTES,
      repeated: true,
      maxCount: MAX_REDIRECT_SUPERNODES,
    },
    { number: 2, name: 'list_epoch', kind: 'uint64' },
  ],
});
export const ATTACH_REPLY_RULES = defineMessage({
  name: 'AttachReply',
  fields: [
    { number: 1, name: 'attached', kind: 'message', oneof: 'result', message: ATTACHED_RULES },
    { number: 2, name: 'redirect', kind: 'message', oneof: 'result', message: REDIRECT_RULES },
  ],
});

// ---- Directory, 07 §5-6 --------------------------------------------------------------------------------

/** The body of a Signed presence record (context 3); at most MAX_PRESENCE_RECORD_BYTES ([DIR-REC-1]). */
export const PRESENCE_RECORD_RULES = defineMessage({
  name: 'PresenceRecord',
  fields: [
    { number: 1, name: 'version', kind: 'uint32' },
    { number: 2, name: 'username', ...username },
    { number: 3, name: 'device_id', kind: 'bytes', maxLength: DEVICE_ID_BYTES },
    { number: 4, name: 'sequence', kind: 'uint64' },
    { number: 5, name: 'issued_at', kind: 'uint64' },
    { number: 6, name: 'expires_at', kind: 'uint64' },
    { number: 7, name: 'status', kind: 'enum' },
    { number: 8, name: 'home_supernode', kind: 'bytes', maxLength: KEY_ID_BYTES },
    { number: 9, name: 'sealed_endpoints', kind: 'bytes', maxLength: MAX_SEALED_ENDPOINTS_BYTES },
  ],
});
export const PRESENCE_ENVELOPE_RULES = defineMessage({
  name: 'PresenceEnvelope',
  fields: [
    { number: 1, name: 'certificate', ...certificateBytes },
    { number: 2, name: 'record', kind: 'bytes', maxLength: MAX_SIGNED_PRESENCE_RECORD_BYTES },
  ],
});
const presenceEnvelopes = (maxCount: number) =>
  ({ kind: 'message', message: PRESENCE_ENVELOPE_RULES, repeated: true, maxCount }) as const;
export const PUBLISH_PRESENCE_RULES = defineMessage({
  name: 'PublishPresence',
  fields: [{ number: 1, name: 'presence', kind: 'message', message: PRESENCE_ENVELOPE_RULES }],
});
export const PUBLISH_PRESENCE_REPLY_RULES = defineMessage({
  name: 'PublishPresenceReply',
  fields: [
    { number: 1, name: 'sequence', kind: 'uint64' },
    { number: 2, name: 'replicas', kind: 'uint32' },
  ],
});
export const LOOKUP_PRESENCE_RULES = defineMessage({
  name: 'LookupPresence',
  fields: [{ number: 1, name: 'username', ...username }],
});
export const LOOKUP_PRESENCE_REPLY_RULES = defineMessage({
  name: 'LookupPresenceReply',
  fields: [{ number: 1, name: 'records', ...presenceEnvelopes(MAX_PRESENCE_DEVICES) }],
});

// ---- Offline store, 07 §7-8 ----------------------------------------------------------------------------

/** The body of a Signed offline message (context 11); at most MAX_OFFLINE_MESSAGE_BYTES ([STORE-MSG-1]). */
export const OFFLINE_MESSAGE_RULES = defineMessage({
  name: 'OfflineMessage',
  fields: [
    { number: 1, name: 'version', kind: 'uint32' },
    { number: 2, name: 'message_id', kind: 'bytes', maxLength: MESSAGE_ID_BYTES },
    { number: 3, name: 'sender', ...username },
    { number: 4, name: 'sender_device_id', kind: 'bytes', maxLength: DEVICE_ID_BYTES },
    { number: 5, name: 'recipient', ...username },
    { number: 6, name: 'created_at', kind: 'uint64' },
    { number: 7, name: 'expires_at', kind: 'uint64' },
    { number: 8, name: 'ciphertext', kind: 'bytes', maxLength: MAX_OFFLINE_CIPHERTEXT_BYTES },
  ],
});
export const OFFLINE_ENVELOPE_RULES = defineMessage({
  name: 'OfflineEnvelope',
  fields: [
    { number: 1, name: 'certificate', ...certificateBytes },
    { number: 2, name: 'message', kind: 'bytes', maxLength: MAX_SIGNED_OFFLINE_MESSAGE_BYTES },
  ],
});
const offlineEnvelopes = (maxCount: number) =>
  ({ kind: 'message', message: OFFLINE_ENVELOPE_RULES, repeated: true, maxCount }) as const;
export const MESSAGE_REF_RULES = defineMessage({
  name: 'MessageRef',
  fields: [
    { number: 1, name: 'sender', ...username },
    { number: 2, name: 'message_id', kind: 'bytes', maxLength: MESSAGE_ID_BYTES },
  ],
});
export const STORE_MESSAGE_RULES = defineMessage({
  name: 'StoreMessage',
  fields: [{ number: 1, name: 'message', kind: 'message', message: OFFLINE_ENVELOPE_RULES }],
});
export const STORE_MESSAGE_REPLY_RULES = defineMessage({
  name: 'StoreMessageReply',
  fields: [{ number: 1, name: 'replicas', kind: 'uint32' }],
});
export const FETCH_MESSAGES_RULES = defineMessage({
  name: 'FetchMessages',
  fields: [
    { number: 1, name: 'max_messages', kind: 'uint32' },
    { number: 2, name: 'recipient', ...username },
  ],
});
export const FETCH_MESSAGES_REPLY_RULES = defineMessage({
  name: 'FetchMessagesReply',
  fields: [
    { number: 1, name: 'messages', ...offlineEnvelopes(MAX_FETCH_MESSAGES) },
    { number: 2, name: 'more', kind: 'bool' },
  ],
});
export const ACK_MESSAGES_RULES = defineMessage({
  name: 'AckMessages',
  fields: [
    {
      number: 1,
      name: 'messages',
      kind: 'message',
      message: MESSAGE_REF_RULES,
      repeated: true,
      maxCount: MAX_FETCH_MESSAGES,
    },
    { number: 2, name: 'recipient', ...username },
  ],
});
export const ACK_MESSAGES_REPLY_RULES = defineMessage({
  name: 'AckMessagesReply',
  fields: [{ number: 1, name: 'deleted', kind: 'uint32' }],
});

// ---- Overlay between supernodes, 07 §9 -----------------------------------------------------------------

export const REPLICATE_PRESENCE_RULES = defineMessage({
  name: 'ReplicatePresence',
  fields: [{ number: 1, name: 'records', ...presenceEnvelopes(MAX_REPLICATE_BATCH) }],
});
export const REPLICATE_PRESENCE_REPLY_RULES = defineMessage({
  name: 'ReplicatePresenceReply',
  fields: [{ number: 1, name: 'accepted', kind: 'uint32' }],
});
export const REPLICATE_MESSAGES_RULES = defineMessage({
  name: 'ReplicateMessages',
  fields: [{ number: 1, name: 'messages', ...offlineEnvelopes(MAX_REPLICATE_BATCH) }],
});
export const REPLICATE_MESSAGES_REPLY_RULES = defineMessage({
  name: 'ReplicateMessagesReply',
  fields: [{ number: 1, name: 'accepted', kind: 'uint32' }],
});

/** Packet bodies 200-223 (spec/07-supernode.md): number, `oneof body` member name, rules. */
export const SUPERNODE_BODIES: readonly {
  readonly number: number;
  readonly name: string;
  readonly rules: MessageRules;
}[] = [
  { number: 200, name: 'attach', rules: ATTACH_RULES },
  { number: 201, name: 'attach_reply', rules: ATTACH_REPLY_RULES },
  { number: 202, name: 'publish_presence', rules: PUBLISH_PRESENCE_RULES },
  { number: 203, name: 'publish_presence_reply', rules: PUBLISH_PRESENCE_REPLY_RULES },
  { number: 204, name: 'lookup_presence', rules: LOOKUP_PRESENCE_RULES },
  { number: 205, name: 'lookup_presence_reply', rules: LOOKUP_PRESENCE_REPLY_RULES },
  { number: 210, name: 'store_message', rules: STORE_MESSAGE_RULES },
  { number: 211, name: 'store_message_reply', rules: STORE_MESSAGE_REPLY_RULES },
  { number: 212, name: 'fetch_messages', rules: FETCH_MESSAGES_RULES },
  { number: 213, name: 'fetch_messages_reply', rules: FETCH_MESSAGES_REPLY_RULES },
  { number: 214, name: 'ack_messages', rules: ACK_MESSAGES_RULES },
  { number: 215, name: 'ack_messages_reply', rules: ACK_MESSAGES_REPLY_RULES },
  { number: 220, name: 'replicate_presence', rules: REPLICATE_PRESENCE_RULES },
  { number: 221, name: 'replicate_presence_reply', rules: REPLICATE_PRESENCE_REPLY_RULES },
  { number: 222, name: 'replicate_messages', rules: REPLICATE_MESSAGES_RULES },
  { number: 223, name: 'replicate_messages_reply', rules: REPLICATE_MESSAGES_REPLY_RULES },
];

/** Every message of supernode.proto, for the limits-table test (Endpoint belongs to login.proto). */
export const SUPERNODE_PROTO_RULES: readonly MessageRules[] = [
  ...new Set(SUPERNODE_BODIES.map((b) => b.rules)),
  ATTACHED_RULES,
  REDIRECT_RULES,
  PRESENCE_RECORD_RULES,
  PRESENCE_ENVELOPE_RULES,
  OFFLINE_MESSAGE_RULES,
  OFFLINE_ENVELOPE_RULES,
  MESSAGE_REF_RULES,
];
