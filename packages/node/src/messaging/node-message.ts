/**
 * NodeMessage, the plaintext of every end-to-end message between nodes (spec/09-node.md §3, node.proto):
 * its rules and limits, and its codec with padding. Decoding throws only DecodeError.
 */
import {
  checkEncoding,
  DecodeError,
  decodeMessage,
  defineMessage,
  ErrorCode,
  encodeMessage,
  fromSafeInteger,
  type MessageRules,
  parley,
  toSafeInteger,
} from '@parley/wire';

/** [NODE-MSG-1] A message id: 16 bytes. */
export const MESSAGE_ID_BYTES = 16;
/** [NODE-MSG-1] Chat text: at most 8,192 bytes of UTF-8. */
export const MAX_CHAT_TEXT_BYTES = 8_192;
/** [NODE-MSG-1] Message ids one receipt names. */
export const MAX_RECEIPT_IDS = 64;
/** [NODE-MSG-4] Plaintexts are padded to a multiple of this many bytes. */
export const PADDING_BLOCK = 64;
const MAX_PADDING = PADDING_BLOCK + 8;

export const CHAT_TEXT_RULES = defineMessage({
  name: 'ChatText',
  fields: [{ number: 1, name: 'text', kind: 'string', maxLength: MAX_CHAT_TEXT_BYTES }],
});
export const DELIVERY_RECEIPT_RULES = defineMessage({
  name: 'DeliveryReceipt',
  fields: [
    {
      number: 1,
      name: 'message_ids',
      kind: 'bytes',
      maxLength: MESSAGE_ID_BYTES,
      repeated: true,
      maxCount: MAX_RECEIPT_IDS,
    },
  ],
});
export const NODE_MESSAGE_RULES = defineMessage({
  name: 'NodeMessage',
  fields: [
    { number: 1, name: 'version', kind: 'uint32' },
    { number: 2, name: 'message_id', kind: 'bytes', maxLength: MESSAGE_ID_BYTES },
    { number: 3, name: 'sent_at', kind: 'uint64' },
    { number: 15, name: 'padding', kind: 'bytes', maxLength: MAX_PADDING },
    { number: 16, name: 'chat', kind: 'message', message: CHAT_TEXT_RULES, oneof: 'body' },
    { number: 17, name: 'receipt', kind: 'message', message: DELIVERY_RECEIPT_RULES, oneof: 'body' },
  ],
});
export const NODE_PROTO_RULES: readonly MessageRules[] = [NODE_MESSAGE_RULES, CHAT_TEXT_RULES, DELIVERY_RECEIPT_RULES];

export type NodeMessageBody =
  | { readonly kind: 'chat'; readonly text: string }
  | { readonly kind: 'receipt'; readonly messageIds: readonly Uint8Array[] };

export interface NodeMessage {
  readonly messageId: Uint8Array;
  readonly sentAt: number;
  readonly body: NodeMessageBody;
}

/** [NODE-MSG-4] The encoded message, padded with zero bytes so that its length is a multiple of 64. */
export function encodeNodeMessage(m: NodeMessage): Uint8Array {
  const props: parley.v1.INodeMessage = {
    version: 1,
    messageId: m.messageId,
    sentAt: fromSafeInteger(m.sentAt),
    ...(m.body.kind === 'chat'
      ? { chat: { text: m.body.text } }
      : { receipt: { messageIds: m.body.messageIds.slice() } }),
  };
  const bare = encodeMessage(parley.v1.NodeMessage, parley.v1.NodeMessage.create(props));
  // The padding field adds 2 bytes of tag and length (its length is below 128) plus its content.
  const room = (PADDING_BLOCK - ((bare.length + 2) % PADDING_BLOCK)) % PADDING_BLOCK;
  return encodeMessage(
    parley.v1.NodeMessage,
    parley.v1.NodeMessage.create({ ...props, padding: new Uint8Array(room) }),
  );
}

/** [NODE-MSG-1] A decrypted plaintext: limits, version 1, a 16-byte id, a time, exactly one body. */
export function decodeNodeMessage(bytes: Uint8Array): NodeMessage {
  checkEncoding(bytes, NODE_MESSAGE_RULES);
  const m = decodeMessage<parley.v1.NodeMessage>(parley.v1.NodeMessage as never, bytes, 'NodeMessage');
  if (m.version === 0) throw new DecodeError(ErrorCode.MISSING_FIELD, 'NodeMessage.version');
  if (m.version !== 1) throw new DecodeError(ErrorCode.MALFORMED, `NodeMessage.version ${m.version}`);
  if (m.messageId.length !== MESSAGE_ID_BYTES) throw new DecodeError(ErrorCode.MALFORMED, 'NodeMessage.message_id');
  const sentAt = toSafeInteger(m.sentAt, 'NodeMessage.sent_at');
  if (sentAt === 0) throw new DecodeError(ErrorCode.MISSING_FIELD, 'NodeMessage.sent_at');
  let body: NodeMessageBody;
  if (m.chat !== null && m.chat !== undefined) body = { kind: 'chat', text: m.chat.text ?? '' };
  else if (m.receipt !== null && m.receipt !== undefined) {
    const ids = (m.receipt.messageIds ?? []) as Uint8Array[];
    if (ids.some((id) => id.length !== MESSAGE_ID_BYTES)) {
      throw new DecodeError(ErrorCode.MALFORMED, 'DeliveryReceipt.message_ids');
    }
    body = { kind: 'receipt', messageIds: ids.map((id) => Uint8Array.from(id)) };
  } else throw new DecodeError(ErrorCode.MISSING_FIELD, 'NodeMessage: no body');
  return { messageId: Uint8Array.from(m.messageId), sentAt, body };
}
