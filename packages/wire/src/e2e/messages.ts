/**
 * The encoding rules and limits of spec/proto/parley/v1/e2e.proto ([E2E-LIMIT-1]; a test compares them
 * with spec/10-e2e.md §9), and the codecs of the messages that travel: E2eBundle, E2eMessage,
 * RatchetHeader. Decoders throw only DecodeError; a fixed-length field shorter than its length is
 * MALFORMED where it is used.
 */
import { checkEncoding } from '../codec/check.js';
import { decodeMessage, encodeMessage } from '../codec/proto.js';
import { defineMessage, type MessageRules } from '../codec/rules.js';
import { DecodeError, ErrorCode } from '../errors.js';
import { parley } from '../gen/parley.js';
import { DEVICE_ID_BYTES } from '../identity/certificate.js';
import { MAX_SIGNED_PREKEY_BYTES } from '../identity/signed.js';

/** [E2E-LIMIT-1] An X25519 public key (ratchet and ephemeral keys): 32 bytes. */
export const E2E_KEY_BYTES = 32;
/** [E2E-LIMIT-1] An encoded RatchetHeader: at most 64 bytes (the largest is 46). */
export const MAX_RATCHET_HEADER_BYTES = 64;
/** [E2E-LIMIT-1] A ratchet message's ciphertext (plaintext and 16-byte tag): at most 16,384 bytes. */
export const MAX_E2E_CIPHERTEXT_BYTES = 16_384;
/** The largest plaintext one ratchet message carries. */
export const MAX_E2E_PLAINTEXT_BYTES = MAX_E2E_CIPHERTEXT_BYTES - 16;
/** [E2E-LIMIT-1] An encoded Signed SignedPrekey (06 LOGIN-PREKEY-2: a body of 256 bytes and the envelope). */
export const MAX_E2E_SIGNED_PREKEY_BYTES = MAX_SIGNED_PREKEY_BYTES + 256;
/** [E2E-LIMIT-1] Device messages in one E2eBundle. */
export const MAX_BUNDLE_DEVICES = 16;
/** [E2E-SKIP-1] Skipped message keys kept per session in all. */
export const MAX_SKIPPED_KEYS_TOTAL = 2_000;

const key = { kind: 'bytes', maxLength: E2E_KEY_BYTES } as const;

export const RATCHET_HEADER_RULES = defineMessage({
  name: 'RatchetHeader',
  fields: [
    { number: 1, name: 'dh', ...key },
    { number: 2, name: 'pn', kind: 'uint32' },
    { number: 3, name: 'n', kind: 'uint32' },
  ],
});
export const RATCHET_MESSAGE_RULES = defineMessage({
  name: 'RatchetMessage',
  fields: [
    { number: 1, name: 'header', kind: 'bytes', maxLength: MAX_RATCHET_HEADER_BYTES },
    { number: 2, name: 'ciphertext', kind: 'bytes', maxLength: MAX_E2E_CIPHERTEXT_BYTES },
  ],
});
export const PREKEY_MESSAGE_RULES = defineMessage({
  name: 'PrekeyMessage',
  fields: [
    { number: 1, name: 'sender_signed_prekey', kind: 'bytes', maxLength: MAX_E2E_SIGNED_PREKEY_BYTES },
    { number: 2, name: 'ephemeral_key', ...key },
    { number: 3, name: 'signed_prekey_id', kind: 'uint32' },
    { number: 4, name: 'one_time_prekey_id', kind: 'uint32' },
    { number: 5, name: 'message', kind: 'message', message: RATCHET_MESSAGE_RULES },
  ],
});
export const E2E_MESSAGE_RULES = defineMessage({
  name: 'E2eMessage',
  fields: [
    { number: 1, name: 'prekey', kind: 'message', message: PREKEY_MESSAGE_RULES, oneof: 'body' },
    { number: 2, name: 'ratchet', kind: 'message', message: RATCHET_MESSAGE_RULES, oneof: 'body' },
  ],
});
export const DEVICE_MESSAGE_RULES = defineMessage({
  name: 'DeviceMessage',
  fields: [
    { number: 1, name: 'recipient_device_id', kind: 'bytes', maxLength: DEVICE_ID_BYTES },
    { number: 2, name: 'message', kind: 'message', message: E2E_MESSAGE_RULES },
  ],
});
export const E2E_BUNDLE_RULES = defineMessage({
  name: 'E2eBundle',
  fields: [
    {
      number: 1,
      name: 'messages',
      kind: 'message',
      message: DEVICE_MESSAGE_RULES,
      repeated: true,
      maxCount: MAX_BUNDLE_DEVICES,
    },
  ],
});

// Local storage (not sent): generous bounds that still refuse a corrupted file.
const SKIPPED_KEY_RULES = defineMessage({
  name: 'SkippedMessageKey',
  fields: [
    { number: 1, name: 'dh', ...key },
    { number: 2, name: 'n', kind: 'uint32' },
    { number: 3, name: 'key', ...key },
    { number: 4, name: 'step', kind: 'uint32' },
  ],
});
export const RATCHET_SESSION_STATE_RULES = defineMessage({
  name: 'RatchetSessionState',
  fields: [
    { number: 1, name: 'version', kind: 'uint32' },
    { number: 2, name: 'root_key', ...key },
    { number: 3, name: 'dh_self_private', ...key },
    { number: 4, name: 'dh_remote', ...key },
    { number: 5, name: 'send_chain_key', ...key },
    { number: 6, name: 'recv_chain_key', ...key },
    { number: 7, name: 'ns', kind: 'uint32' },
    { number: 8, name: 'nr', kind: 'uint32' },
    { number: 9, name: 'pn', kind: 'uint32' },
    { number: 10, name: 'ad', kind: 'bytes', maxLength: 512 },
    {
      number: 11,
      name: 'skipped',
      kind: 'message',
      message: SKIPPED_KEY_RULES,
      repeated: true,
      maxCount: MAX_SKIPPED_KEYS_TOTAL,
    },
    { number: 12, name: 'step', kind: 'uint32' },
    { number: 13, name: 'base_key', ...key },
    { number: 14, name: 'initiator', kind: 'bool' },
    { number: 15, name: 'confirmed', kind: 'bool' },
    { number: 16, name: 'pending', kind: 'message', message: PREKEY_MESSAGE_RULES },
    { number: 17, name: 'created_at', kind: 'uint64' },
    { number: 18, name: 'standby', kind: 'bool' },
  ],
});

/** Every rules object of e2e.proto (the limits-table test walks them). */
export const E2E_RULES: readonly MessageRules[] = [
  RATCHET_HEADER_RULES,
  RATCHET_MESSAGE_RULES,
  PREKEY_MESSAGE_RULES,
  E2E_MESSAGE_RULES,
  DEVICE_MESSAGE_RULES,
  E2E_BUNDLE_RULES,
];

export type RatchetMessage = parley.v1.RatchetMessage;
export type PrekeyMessage = parley.v1.PrekeyMessage;
export type E2eMessage = parley.v1.E2eMessage;

export interface DeviceMessage {
  readonly recipientDeviceId: Uint8Array;
  /** The encoded E2eMessage. */
  readonly message: E2eMessage;
}

const malformed = (what: string): never => {
  throw new DecodeError(ErrorCode.MALFORMED, what);
};

function decodeWith<T>(type: { decode(r: Uint8Array): T }, rules: MessageRules, bytes: Uint8Array): T {
  checkEncoding(bytes, rules);
  return decodeMessage<T>(type as never, bytes, rules.name);
}

export interface RatchetHeaderFields {
  readonly dh: Uint8Array;
  readonly pn: number;
  readonly n: number;
}

export function encodeRatchetHeader(h: RatchetHeaderFields): Uint8Array {
  return encodeMessage(parley.v1.RatchetHeader, { dh: h.dh, pn: h.pn, n: h.n } as parley.v1.RatchetHeader);
}

/** [E2E-RATCHET-6] A received header: its limits, then a 32-byte ratchet key. */
export function decodeRatchetHeader(bytes: Uint8Array): RatchetHeaderFields {
  const h = decodeWith(parley.v1.RatchetHeader, RATCHET_HEADER_RULES, bytes);
  if (h.dh.length !== E2E_KEY_BYTES) malformed('RatchetHeader.dh: not 32 bytes');
  return { dh: h.dh, pn: h.pn, n: h.n };
}

/** [E2E-MSG-1] An E2eMessage: its limits, exactly one body, and the lengths its fields must have. */
export function decodeE2eMessage(bytes: Uint8Array): E2eMessage {
  const m = decodeWith(parley.v1.E2eMessage, E2E_MESSAGE_RULES, bytes);
  checkE2eMessage(m);
  return m;
}

function checkRatchetMessage(r: RatchetMessage | null | undefined, what: string): void {
  if (r === null || r === undefined) throw new DecodeError(ErrorCode.MISSING_FIELD, `${what}: no ratchet message`);
  if (r.header.length === 0) throw new DecodeError(ErrorCode.MISSING_FIELD, `${what}.header`);
  if (r.ciphertext.length < 16) malformed(`${what}.ciphertext: shorter than a tag`);
}

function checkE2eMessage(m: E2eMessage): void {
  if (m.prekey !== null && m.prekey !== undefined) {
    const p = m.prekey as PrekeyMessage;
    if (p.senderSignedPrekey.length === 0)
      throw new DecodeError(ErrorCode.MISSING_FIELD, 'PrekeyMessage.sender_signed_prekey');
    if (p.ephemeralKey.length !== E2E_KEY_BYTES) malformed('PrekeyMessage.ephemeral_key: not 32 bytes');
    if (p.signedPrekeyId === 0) throw new DecodeError(ErrorCode.MISSING_FIELD, 'PrekeyMessage.signed_prekey_id');
    checkRatchetMessage(p.message as RatchetMessage | null | undefined, 'PrekeyMessage.message');
  } else if (m.ratchet !== null && m.ratchet !== undefined) {
    checkRatchetMessage(m.ratchet as RatchetMessage, 'RatchetMessage');
  } else {
    throw new DecodeError(ErrorCode.MISSING_FIELD, 'E2eMessage: no body');
  }
}

export function encodeE2eMessage(m: E2eMessage): Uint8Array {
  return encodeMessage(parley.v1.E2eMessage, m);
}

/** [E2E-BUNDLE-1] An E2eBundle: 1..16 device messages, each with a 16-byte device id, no id twice. */
export function decodeE2eBundle(bytes: Uint8Array): DeviceMessage[] {
  const b = decodeWith(parley.v1.E2eBundle, E2E_BUNDLE_RULES, bytes);
  if (b.messages.length === 0) throw new DecodeError(ErrorCode.MISSING_FIELD, 'E2eBundle.messages');
  const seen = new Set<string>();
  return (b.messages as parley.v1.DeviceMessage[]).map((d, i) => {
    if (d.recipientDeviceId.length !== DEVICE_ID_BYTES) malformed(`E2eBundle.messages[${i}].recipient_device_id`);
    const id = Buffer.from(d.recipientDeviceId).toString('hex');
    if (seen.has(id)) malformed(`E2eBundle.messages[${i}]: a device twice`);
    seen.add(id);
    if (d.message === null || d.message === undefined) {
      throw new DecodeError(ErrorCode.MISSING_FIELD, `E2eBundle.messages[${i}].message`);
    }
    const message = d.message as E2eMessage;
    checkE2eMessage(message);
    return { recipientDeviceId: d.recipientDeviceId, message };
  });
}

export function encodeE2eBundle(messages: readonly DeviceMessage[]): Uint8Array {
  return encodeMessage(parley.v1.E2eBundle, {
    messages: messages.map((m) => ({ recipientDeviceId: m.recipientDeviceId, message: m.message })),
  } as parley.v1.E2eBundle);
}
