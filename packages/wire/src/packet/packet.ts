/**
 * The top-level control packet (spec/01-packets.md §2-§6: WIRE-PKT-*, WIRE-ENC-*, WIRE-INT-*,
 * WIRE-UTF8-*, WIRE-LIMIT-*; schema spec/proto/parley/v1/packet.proto).
 *
 * `decodePacket` checks the size first, then scans the envelope and walks the body's raw encoding once
 * against the limits table (./limits.ts), then lets protobufjs build the body, and returns a typed `Packet` whose `body` is
 * a discriminated union. It throws nothing but `DecodeError`. `encodePacket` checks a packet against the
 * same rules and produces the canonical encoding (WIRE-ENC-1).
 */
import type Long from 'long';
import $protobuf from 'protobufjs/minimal.js';
import {
  checkEncoding,
  checkFields,
  fail,
  lastVarintTooWide,
  lastVarintValue,
  scanVarint,
  skipField,
  varintFailure,
} from '../codec/check.js';
import { encodeMessage, toSafeInteger } from '../codec/proto.js';
import type { CompiledField, MessageRules } from '../codec/rules.js';
import { ApiMisuse, DecodeError, ErrorCode, isWireCode } from '../errors.js';
import { slabAllocate } from '../framing/slab.js';
import { parley } from '../gen/parley.js';
import {
  BODY_NUMBER_FIRST,
  BODY_NUMBER_LAST,
  MAX_DATAGRAM_PACKET_SIZE,
  MAX_STREAM_PACKET_SIZE,
  PACKET_RULES,
} from './limits.js';

const Reader = $protobuf.Reader;

/** Sent before closing a channel on purpose (WIRE-CLOSE-*); code 0 is an orderly close. */
export interface Close {
  readonly code: ErrorCode;
  readonly detail: string;
}
/** A liveness and round-trip probe (WIRE-PING-*). `data` is a view into the received bytes. */
export interface Ping {
  readonly sequence: number;
  readonly data: Uint8Array;
}
/** The answer to a Ping: its `sequence` and `data`, echoed. */
export interface Pong {
  readonly sequence: number;
  readonly data: Uint8Array;
}
/** A request was refused; the channel stays open (WIRE-ERRREPLY-*). */
export interface ErrorReply {
  readonly code: ErrorCode;
  readonly detail: string;
  /** [WIRE-ERRREPLY-3] With BUSY or RATE_LIMITED: wait at least this long before retrying (0: no hint). */
  readonly retryAfterMs?: number;
  /** [WIRE-ERRREPLY-3] Add a uniformly random delay in [0, retryJitterMs] to `retryAfterMs`. */
  readonly retryJitterMs?: number;
}

type IsNestedMessage<V> = [NonNullable<V>] extends [Long | Uint8Array | readonly unknown[] | string | number | boolean]
  ? false
  : true;
type PlainField<V> = V extends Long
  ? number
  : V extends Uint8Array
    ? Uint8Array
    : V extends readonly (infer E)[]
      ? readonly PlainField<NonNullable<E>>[]
      : V extends object
        ? PlainMessage<V>
        : V;
/**
 * A decoded message as a plain object: every scalar, bytes and repeated field an own property (its zero
 * value when absent), 64-bit integers as numbers (at most 2^53-1, WIRE-INT-1), nested messages plain
 * objects or undefined when absent. What `decodePacket` returns for bodies of chapters 06 onwards.
 */
export type PlainMessage<T> = {
  readonly [K in Exclude<FieldKeys<T>, MessageKeys<T>>]-?: PlainField<NonNullable<T[K]>>;
} & { readonly [K in MessageKeys<T>]?: PlainField<NonNullable<T[K]>> };
type FieldKeys<T> = {
  [K in keyof T]-?: K extends '$unknowns' ? never : T[K] extends (...args: never[]) => unknown ? never : K;
}[keyof T];
type MessageKeys<T> = { [K in FieldKeys<T>]-?: IsNestedMessage<T[K]> extends true ? K : never }[FieldKeys<T>];
type L = typeof parley.v1;

/** Bodies of spec/06-login-server.md (numbers 100-131, login.proto), by member name. */
export interface LoginPacketBodies {
  registerStart: PlainMessage<InstanceType<L['RegisterStart']>>;
  registerStartReply: PlainMessage<InstanceType<L['RegisterStartReply']>>;
  registerFinish: PlainMessage<InstanceType<L['RegisterFinish']>>;
  registerFinishReply: PlainMessage<InstanceType<L['RegisterFinishReply']>>;
  loginStart: PlainMessage<InstanceType<L['LoginStart']>>;
  loginStartReply: PlainMessage<InstanceType<L['LoginStartReply']>>;
  loginFinish: PlainMessage<InstanceType<L['LoginFinish']>>;
  loginFinishReply: PlainMessage<InstanceType<L['CertificateReply']>>;
  renewCertificate: PlainMessage<InstanceType<L['RenewCertificate']>>;
  renewCertificateReply: PlainMessage<InstanceType<L['CertificateReply']>>;
  changePasswordStart: PlainMessage<InstanceType<L['ChangePasswordStart']>>;
  changePasswordStartReply: PlainMessage<InstanceType<L['ChangePasswordStartReply']>>;
  changePasswordFinish: PlainMessage<InstanceType<L['ChangePasswordFinish']>>;
  changePasswordFinishReply: PlainMessage<InstanceType<L['ChangePasswordFinishReply']>>;
  getPolicy: PlainMessage<InstanceType<L['GetPolicy']>>;
  policyReply: PlainMessage<InstanceType<L['PolicyReply']>>;
  getSupernodeList: PlainMessage<InstanceType<L['GetSupernodeList']>>;
  supernodeListReply: PlainMessage<InstanceType<L['SupernodeListReply']>>;
  getRevocationList: PlainMessage<InstanceType<L['GetRevocationList']>>;
  revocationListReply: PlainMessage<InstanceType<L['RevocationListReply']>>;
  supernodeRegister: PlainMessage<InstanceType<L['SupernodeRegister']>>;
  supernodeRegisterReply: PlainMessage<InstanceType<L['SupernodeRegisterReply']>>;
  supernodeHeartbeat: PlainMessage<InstanceType<L['SupernodeHeartbeat']>>;
  supernodeHeartbeatReply: PlainMessage<InstanceType<L['SupernodeHeartbeatReply']>>;
  uploadPrekeys: PlainMessage<InstanceType<L['UploadPrekeys']>>;
  uploadPrekeysReply: PlainMessage<InstanceType<L['UploadPrekeysReply']>>;
  fetchPrekeys: PlainMessage<InstanceType<L['FetchPrekeys']>>;
  fetchPrekeysReply: PlainMessage<InstanceType<L['FetchPrekeysReply']>>;
  getContactBlob: PlainMessage<InstanceType<L['GetContactBlob']>>;
  contactBlobReply: PlainMessage<InstanceType<L['ContactBlobReply']>>;
  putContactBlob: PlainMessage<InstanceType<L['PutContactBlob']>>;
  putContactBlobReply: PlainMessage<InstanceType<L['PutContactBlobReply']>>;
}

/** Bodies of spec/07-supernode.md (numbers 200-223, supernode.proto), by member name. */
export interface SupernodePacketBodies {
  attach: PlainMessage<InstanceType<L['Attach']>>;
  /** `attached` or `redirect` is set (the oneof `result`; the rules decode it as two members). */
  attachReply: Omit<PlainMessage<InstanceType<L['AttachReply']>>, 'result'>;
  publishPresence: PlainMessage<InstanceType<L['PublishPresence']>>;
  publishPresenceReply: PlainMessage<InstanceType<L['PublishPresenceReply']>>;
  lookupPresence: PlainMessage<InstanceType<L['LookupPresence']>>;
  lookupPresenceReply: PlainMessage<InstanceType<L['LookupPresenceReply']>>;
  storeMessage: PlainMessage<InstanceType<L['StoreMessage']>>;
  storeMessageReply: PlainMessage<InstanceType<L['StoreMessageReply']>>;
  fetchMessages: PlainMessage<InstanceType<L['FetchMessages']>>;
  fetchMessagesReply: PlainMessage<InstanceType<L['FetchMessagesReply']>>;
  ackMessages: PlainMessage<InstanceType<L['AckMessages']>>;
  ackMessagesReply: PlainMessage<InstanceType<L['AckMessagesReply']>>;
  replicatePresence: PlainMessage<InstanceType<L['ReplicatePresence']>>;
  replicatePresenceReply: PlainMessage<InstanceType<L['ReplicatePresenceReply']>>;
  replicateMessages: PlainMessage<InstanceType<L['ReplicateMessages']>>;
  replicateMessagesReply: PlainMessage<InstanceType<L['ReplicateMessagesReply']>>;
}

/** Bodies of spec/08-connectivity.md (numbers 240-281, connectivity.proto), by member name. */
export interface ConnectivityPacketBodies {
  observeRequest: PlainMessage<InstanceType<L['ObserveRequest']>>;
  observeReply: PlainMessage<InstanceType<L['ObserveReply']>>;
  classifyRequest: PlainMessage<InstanceType<L['ClassifyRequest']>>;
  classifyReply: PlainMessage<InstanceType<L['ClassifyReply']>>;
  classifyProbe: PlainMessage<InstanceType<L['ClassifyProbe']>>;
  classifyProbeReply: PlainMessage<InstanceType<L['ClassifyProbeReply']>>;
  punchRequest: PlainMessage<InstanceType<L['PunchRequest']>>;
  punchReply: PlainMessage<InstanceType<L['PunchReply']>>;
  punchOffer: PlainMessage<InstanceType<L['PunchOffer']>>;
  punchOfferReply: PlainMessage<InstanceType<L['PunchOfferReply']>>;
  relayAllocate: PlainMessage<InstanceType<L['RelayAllocate']>>;
  relayAllocateReply: PlainMessage<InstanceType<L['RelayAllocateReply']>>;
  relayRefresh: PlainMessage<InstanceType<L['RelayRefresh']>>;
  relayRefreshReply: PlainMessage<InstanceType<L['RelayRefreshReply']>>;
  relayFrame: PlainMessage<InstanceType<L['RelayFrame']>>;
  attestRequest: PlainMessage<InstanceType<L['AttestRequest']>>;
  attestReply: PlainMessage<InstanceType<L['AttestReply']>>;
}

/** The body types, by their `oneof body` member name in packet.proto. Later chapters add theirs here. */
export interface PacketBodies extends LoginPacketBodies, SupernodePacketBodies, ConnectivityPacketBodies {
  close: Close;
  ping: Ping;
  pong: Pong;
  error: ErrorReply;
}
export type PacketBodyName = keyof PacketBodies;
/** Exactly one body (WIRE-PKT-4), tagged with its member name. */
export type PacketBody = {
  [K in PacketBodyName]: { readonly case: K; readonly value: PacketBodies[K] };
}[PacketBodyName];

export interface Packet {
  /** 0 when no reply is expected; otherwise correlates a response with its request (WIRE-PKT-2, -3). */
  readonly requestId: number;
  readonly body: PacketBody;
}

/** Which kind of channel a packet travels on: it decides the size limit and the code for exceeding it. */
export type ChannelKind = 'stream' | 'datagram';

export interface DecodePacketOptions {
  /** 'stream' (default) or 'datagram'. */
  readonly channel?: ChannelKind;
  /**
   * The largest packet accepted, in bytes. Defaults to MAX_STREAM_PACKET_SIZE on streams and to
   * MAX_DATAGRAM_PACKET_SIZE on datagrams.
   */
  readonly maxSize?: number;
}

/**
 * The packet had no body, or a body this implementation does not know (WIRE-PKT-6). Not fatal: the
 * receiver answers ErrorReply(UNKNOWN_BODY) when `requestId` is not 0, and the channel stays open.
 */
export class UnknownBodyError extends DecodeError {
  override readonly name: string = 'UnknownBodyError';
  /** The packet's request_id (0 when it expects no reply). */
  readonly requestId: number;
  /** The body's field number when there was one this implementation does not know; 0 when none. */
  readonly field: number;
  constructor(requestId: number, field: number) {
    super(ErrorCode.UNKNOWN_BODY, field === 0 ? 'Packet: no body' : `Packet: unknown body ${field}`);
    this.requestId = requestId;
    this.field = field;
  }
}

/**
 * Decodes one packet: the plaintext of one Noise transport message (stream) or of one datagram.
 * Throws DecodeError with the code of the first violation; UnknownBodyError (a DecodeError) when the
 * body is missing or unknown. Decoded `bytes` fields are views into `bytes`.
 */
export function decodePacket(bytes: Uint8Array, options?: DecodePacketOptions): Packet {
  const channel = options?.channel ?? 'stream';
  const maxSize = options?.maxSize ?? (channel === 'stream' ? MAX_STREAM_PACKET_SIZE : MAX_DATAGRAM_PACKET_SIZE);
  // [WIRE-LIMIT-3] [WIRE-LIMIT-4] size first, before any decoding or allocation.
  if (bytes.length > maxSize) {
    const code = channel === 'stream' ? ErrorCode.FRAME_TOO_LARGE : ErrorCode.DATAGRAM_TOO_LARGE;
    throw new DecodeError(code, `Packet: ${bytes.length} bytes, limit ${maxSize}`);
  }
  // The envelope is scanned here rather than by protobufjs's Packet.decode, whose oneof setter deletes
  // properties and halves the decode rate; the body is then checked and decoded on its own.
  const rules = PACKET_RULES;
  const end = bytes.length;
  let requestId = 0;
  let seen = 0; // 1: request_id, 2: a body member
  let bodyNumber = 0;
  let bodyStart = 0;
  let bodyEnd = 0;
  let pos = 0;
  while (pos < end) {
    let r = scanVarint(bytes, pos, end, 32);
    if (r < 0) varintFailure(r, rules, 'tag');
    if (lastVarintTooWide()) fail(ErrorCode.MALFORMED, rules, 'tag above 32 bits'); // [WIRE-ENC-3]
    pos = r;
    const tag = lastVarintValue();
    const number = tag >>> 3;
    const wireType = tag & 7;
    if (number === 1) {
      if (wireType !== 0) fail(ErrorCode.MALFORMED, rules, `request_id: wire type ${wireType}`); // [WIRE-ENC-3]
      if (seen & 1) fail(ErrorCode.MALFORMED, rules, 'request_id occurs twice'); // [WIRE-ENC-4]
      seen |= 1;
      r = scanVarint(bytes, pos, end, 32);
      if (r < 0) varintFailure(r, rules, 'request_id');
      if (lastVarintTooWide()) fail(ErrorCode.INTEGER_RANGE, rules, 'request_id: above 2^32-1'); // [WIRE-INT-2]
      requestId = lastVarintValue();
      pos = r;
    } else if (number >= BODY_NUMBER_FIRST && number <= BODY_NUMBER_LAST) {
      // [WIRE-PKT-4] [WIRE-ENC-4] at most one body member, known or not; every body is a message.
      if (seen & 2) fail(ErrorCode.MALFORMED, rules, `second body (field ${number})`);
      seen |= 2;
      if (wireType !== 2) fail(ErrorCode.MALFORMED, rules, `body ${number}: wire type ${wireType}`);
      r = scanVarint(bytes, pos, end, 32);
      if (r < 0) varintFailure(r, rules, `body ${number}`);
      const length = lastVarintValue();
      if (lastVarintTooWide() || r + length > end)
        fail(ErrorCode.TRUNCATED, rules, `body ${number}: length past the end`);
      bodyNumber = number;
      bodyStart = r;
      bodyEnd = r + length;
      pos = bodyEnd;
    } else {
      if (number === 0) fail(ErrorCode.MALFORMED, rules, 'field number 0'); // [WIRE-ENC-3]
      pos = skipField(bytes, pos, end, wireType, rules, number); // [GEN-VER-3] unknown fields are skipped
    }
  }
  const member = bodyNumber < rules.byNumber.length ? rules.byNumber[bodyNumber] : undefined;
  // [WIRE-PKT-4] [WIRE-PKT-6] no body, or one this implementation does not know.
  if (member === undefined) throw new UnknownBodyError(requestId, bodyNumber);
  // [WIRE-ENC-3] [WIRE-INT-2] [WIRE-UTF8-1] [WIRE-LIMIT-1] one pass over the body's raw bytes.
  checkEncoding(bytes, member.message!, bodyStart, bodyEnd, 1);
  const reader = Reader.create(bytes);
  reader.pos = bodyStart;
  const length = bodyEnd - bodyStart;
  try {
    switch (member.property as PacketBodyName) {
      // Bodies are returned as plain objects with every field an own property: protobufjs keeps zero
      // values on the prototype, where spreading or serializing a value would lose them.
      case 'close': {
        const m = parley.v1.Close.decode(reader, length);
        return { requestId, body: { case: 'close', value: { code: m.code, detail: m.detail } } };
      }
      case 'ping': {
        const m = parley.v1.Ping.decode(reader, length);
        return { requestId, body: { case: 'ping', value: { sequence: m.sequence, data: m.data } } };
      }
      case 'pong': {
        const m = parley.v1.Pong.decode(reader, length);
        return { requestId, body: { case: 'pong', value: { sequence: m.sequence, data: m.data } } };
      }
      case 'error': {
        const m = parley.v1.ErrorReply.decode(reader, length);
        // [WIRE-ERRREPLY-1] an ErrorReply names a code.
        if (m.code === ErrorCode.ERROR_CODE_UNSPECIFIED)
          throw new DecodeError(ErrorCode.MISSING_FIELD, 'ErrorReply: no code');
        // [WIRE-ERRREPLY-2] the retry hint means something only with BUSY or RATE_LIMITED; ignored otherwise.
        const hinted = m.code === ErrorCode.BUSY || m.code === ErrorCode.RATE_LIMITED;
        const value: ErrorReply =
          hinted && (m.retryAfterMs !== 0 || m.retryJitterMs !== 0)
            ? { code: m.code, detail: m.detail, retryAfterMs: m.retryAfterMs, retryJitterMs: m.retryJitterMs }
            : { code: m.code, detail: m.detail };
        return { requestId, body: { case: 'error', value } };
      }
      default: {
        // Bodies of chapters 06 onwards: protobufjs decodes, then a plain copy with numbers for uint64.
        const type = bodyType(member.message!.name);
        if (type === undefined) break;
        const m = type.decode(reader, length);
        const value = toPlain(m as Record<string, unknown>, member.message!, member.property);
        return { requestId, body: { case: member.property, value } as PacketBody };
      }
    }
  } catch (e) {
    if (e instanceof DecodeError) throw e;
    // Not reached after checkEncoding; kept so that a decoder never throws anything but DecodeError.
    throw new DecodeError(ErrorCode.MALFORMED, `Packet: ${(e as Error).message}`, { cause: e });
  }
  // A member in PACKET_RULES that this switch does not decode yet: a body this implementation does not know.
  throw new UnknownBodyError(requestId, bodyNumber);
}

export interface EncodePacketOptions {
  /** The largest encoding allowed; defaults to MAX_STREAM_PACKET_SIZE. */
  readonly maxSize?: number;
}

/**
 * Encodes `packet` canonically (WIRE-ENC-1). Throws ApiMisuse when the packet breaks a rule a receiver
 * enforces (a limit, an integer range, a string without UTF-8 encoding, a local-only error code, an
 * ErrorReply without code) or its encoding exceeds `maxSize`: a sender never sends what a receiver refuses.
 *
 * Bodies that are a list of envelopes (LookupPresenceReply, ReplicatePresence, ReplicateMessages: one
 * repeated field of messages made of two bytes fields) are written directly, with the same checks and
 * exactly the bytes of the generic path (test/packet/fast-encode.test.ts); every other body goes through
 * protobufjs.
 */
export function encodePacket(packet: Packet, options?: EncodePacketOptions): Uint8Array {
  const layout = ENVELOPE_LIST_BODIES.get(packet.body.case);
  const direct =
    layout === undefined
      ? undefined
      : encodeEnvelopeList(
          packet.requestId,
          packet.body.value as EnvelopeListValue,
          layout,
          options?.maxSize ?? MAX_STREAM_PACKET_SIZE,
        );
  return direct ?? encodePacketGeneric(packet, options);
}

/**
 * The generic encoder (protobufjs) for every body, the envelope lists included. Not exported by the
 * package: `encodePacket` is the API; tests compare its direct paths with this one.
 */
export function encodePacketGeneric(packet: Packet, options?: EncodePacketOptions): Uint8Array {
  const { body } = packet;
  const message: parley.v1.Packet.$Properties = { requestId: packet.requestId };
  switch (body.case) {
    case 'close':
      checkCode(body.value.code, 'Close', true);
      message.close = { code: body.value.code, detail: body.value.detail };
      break;
    case 'ping':
      message.ping = { sequence: body.value.sequence, data: body.value.data };
      break;
    case 'pong':
      message.pong = { sequence: body.value.sequence, data: body.value.data };
      break;
    case 'error': {
      const v = body.value;
      checkCode(v.code, 'ErrorReply', false);
      // [WIRE-ERRREPLY-2] a sender sets the retry hint only with BUSY or RATE_LIMITED.
      if ((v.retryAfterMs || v.retryJitterMs) && v.code !== ErrorCode.BUSY && v.code !== ErrorCode.RATE_LIMITED) {
        throw new ApiMisuse(`ErrorReply: a retry hint with ${v.code}`);
      }
      message.error = { code: v.code, detail: v.detail };
      if (v.retryAfterMs !== undefined) message.error.retryAfterMs = v.retryAfterMs;
      if (v.retryJitterMs !== undefined) message.error.retryJitterMs = v.retryJitterMs;
      break;
    }
    default: {
      if (!ENCODABLE_BODIES.has(body.case)) {
        throw new ApiMisuse(`Packet: unknown body ${(body as { case: unknown }).case}`);
      }
      (message as Record<string, unknown>)[body.case] = body.value;
    }
  }
  checkFields(message, PACKET_RULES);
  const bytes = encodeMessage(parley.v1.Packet, message);
  const maxSize = options?.maxSize ?? MAX_STREAM_PACKET_SIZE;
  // [WIRE-LIMIT-3] a sender never produces a packet its channel cannot carry.
  if (bytes.length > maxSize) throw new ApiMisuse(`Packet: ${bytes.length} bytes, limit ${maxSize}`);
  return bytes;
}

/** Body members of chapters 06 onwards that protobufjs can encode (a rule and a generated type). */
const ENCODABLE_BODIES: ReadonlySet<string> = new Set(
  PACKET_RULES.fields
    .filter((f) => f.oneof === 'body' && f.message !== undefined && bodyType(f.message.name) !== undefined)
    .map((f) => f.property),
);

// ---- Envelope lists, written directly ------------------------------------------------------------------

/** A body that is one repeated field of two-field envelopes, as the encoder reads it. */
type EnvelopeListValue = Readonly<Record<string, readonly (Readonly<Record<string, unknown>> | null)[] | null>>;

/** What the direct encoder of an envelope-list body needs, taken from the rules (./limits.ts). */
interface EnvelopeListLayout {
  /** The body member's tag (field number, wire type 2) as a varint. */
  readonly bodyTag: Uint8Array;
  readonly list: CompiledField;
  readonly first: CompiledField;
  readonly second: CompiledField;
  /** `Packet.<member>` and `Packet.<member>.<list>`, as in checkFields' messages. */
  readonly member: string;
  readonly where: string;
}

/**
 * The body members whose rules have the shape the direct encoder writes: exactly one field, repeated, of
 * a message with exactly two singular bytes fields, numbered 1..15 in increasing order (one-byte tags).
 * Found from the rules at load time, so a body whose rules change shape falls back to the generic path.
 */
const ENVELOPE_LIST_BODIES: ReadonlyMap<string, EnvelopeListLayout> = new Map(
  PACKET_RULES.fields.flatMap((member): [string, EnvelopeListLayout][] => {
    if (member.oneof !== 'body' || member.message === undefined || member.message.fields.length !== 1) return [];
    if (!ENCODABLE_BODIES.has(member.property)) return [];
    const list = member.message.fields[0]!;
    const envelope = list.message?.fields;
    if (!list.repeated || list.kind !== 'message' || list.number > 15 || envelope?.length !== 2) return [];
    const [first, second] = envelope as [CompiledField, CompiledField];
    for (const f of [first, second]) if (f.kind !== 'bytes' || f.repeated || f.oneof !== undefined) return [];
    if (!(first.number < second.number && second.number <= 15)) return [];
    const bodyTag = varintBytes((member.number << 3) | 2);
    const where = `Packet.${member.name}`;
    return [[member.property, { bodyTag, list, first, second, member: where, where: `${where}.${list.name}` }]];
  }),
);

/** The body members `encodePacket` writes directly (for tests: each must match the generic path). */
export const DIRECT_BODIES: readonly PacketBodyName[] = Object.freeze([
  ...ENVELOPE_LIST_BODIES.keys(),
] as PacketBodyName[]);

function varintBytes(value: number): Uint8Array {
  const out: number[] = [];
  while (value > 0x7f) {
    out.push((value & 0x7f) | 0x80);
    value >>>= 7;
  }
  out.push(value);
  return Uint8Array.from(out);
}

/** The length of the shortest varint of a value in 0..2^32-1. */
function varintSize(value: number): number {
  return value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x20_0000 ? 3 : value < 0x1000_0000 ? 4 : 5;
}

function writeVarint(out: Uint8Array, pos: number, value: number): number {
  while (value > 0x7f) {
    out[pos++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  out[pos++] = value;
  return pos;
}

const NOTHING = new Uint8Array(0);

/**
 * One bytes field of element `i` of the list `where`, after checkFields' checks: absent (undefined or
 * null, or not an own property, which protobufjs does not write) is empty, and an empty field is written
 * as nothing ([WIRE-ENC-1]).
 */
function envelopeField(
  envelope: Readonly<Record<string, unknown>>,
  f: CompiledField,
  where: string,
  i: number,
): Uint8Array {
  const x = envelope[f.property];
  if (x === undefined || x === null) return NOTHING;
  if (!(x instanceof Uint8Array)) throw new ApiMisuse(`${where}[${i}].${f.name}: not a Uint8Array`);
  if (x.length > f.maxLength!) {
    throw new ApiMisuse(`${where}[${i}].${f.name}: ${x.length} bytes, limit ${f.maxLength}`); // [WIRE-LIMIT-1]
  }
  return Object.hasOwn(envelope, f.property) ? x : NOTHING;
}

/**
 * Writes a packet whose body is an envelope list: request_id when not 0, then the body member, each
 * envelope as a length-delimited element of the list, each of its bytes fields when not empty. The checks
 * and their order are checkFields' (request_id, the list's count, each element's fields), then the size.
 * Undefined when the value carries protobufjs `$unknowns` (not part of the typed API): the generic path,
 * which writes them, encodes it.
 */
function encodeEnvelopeList(
  requestId: number | undefined,
  value: EnvelopeListValue,
  layout: EnvelopeListLayout,
  maxSize: number,
): Uint8Array | undefined {
  // request_id: absent (undefined) is 0, as in checkFields and protobufjs.
  const id = requestId ?? 0;
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > 0xffff_ffff) {
    throw new ApiMisuse('Packet.request_id: not an integer in 0..4294967295');
  }
  if (typeof value !== 'object' || value === null) throw new ApiMisuse(`${layout.member}: not an object`);
  if (value.$unknowns != null) return undefined;
  const { list, first, second } = layout;
  const items = value[list.property];
  let count = 0;
  if (items !== undefined && items !== null) {
    if (!Array.isArray(items)) throw new ApiMisuse(`${layout.where}: not an array`);
    count = items.length;
    if (count > list.maxCount!) throw new ApiMisuse(`${layout.where}: ${count} elements, limit ${list.maxCount}`); // [WIRE-LIMIT-1]
  }
  // Every field read and checked once, and the sizes summed, before any byte is written; then one array
  // of the exact length, written from the arrays read here.
  const fields: Uint8Array[] = [];
  let bodyLength = 0;
  for (let i = 0; i < count; i++) {
    const envelope = items![i];
    if (typeof envelope !== 'object' || envelope === null) {
      throw new ApiMisuse(`${layout.where}[${i}]: not an object`);
    }
    if (envelope.$unknowns != null) return undefined;
    const x = envelopeField(envelope, first, layout.where, i);
    const y = envelopeField(envelope, second, layout.where, i);
    fields.push(x, y);
    const a = x.length;
    const b = y.length;
    const envelopeLength = (a > 0 ? 1 + varintSize(a) + a : 0) + (b > 0 ? 1 + varintSize(b) + b : 0);
    bodyLength += 1 + varintSize(envelopeLength) + envelopeLength;
  }
  const size = (id !== 0 ? 1 + varintSize(id) : 0) + layout.bodyTag.length + varintSize(bodyLength) + bodyLength;
  // [WIRE-LIMIT-3] a sender never produces a packet its channel cannot carry.
  if (size > maxSize) throw new ApiMisuse(`Packet: ${size} bytes, limit ${maxSize}`);
  const out = slabAllocate(size);
  let pos = 0;
  if (id !== 0) {
    out[pos++] = 0x08; // request_id: field 1, varint
    pos = writeVarint(out, pos, id);
  }
  out.set(layout.bodyTag, pos);
  pos = writeVarint(out, pos + layout.bodyTag.length, bodyLength);
  const listTag = (list.number << 3) | 2;
  const firstTag = (first.number << 3) | 2;
  const secondTag = (second.number << 3) | 2;
  for (let i = 0; i < count; i++) {
    const x = fields[2 * i]!;
    const y = fields[2 * i + 1]!;
    const a = x.length;
    const b = y.length;
    out[pos++] = listTag;
    pos = writeVarint(out, pos, (a > 0 ? 1 + varintSize(a) + a : 0) + (b > 0 ? 1 + varintSize(b) + b : 0));
    if (a > 0) {
      out[pos++] = firstTag;
      pos = writeVarint(out, pos, a);
      out.set(x, pos);
      pos += a;
    }
    if (b > 0) {
      out[pos++] = secondTag;
      pos = writeVarint(out, pos, b);
      out.set(y, pos);
      pos += b;
    }
  }
  return out;
}

function checkCode(code: number, what: string, zeroAllowed: boolean): void {
  if (code === 0 && zeroAllowed) return; // [WIRE-CLOSE-1] code 0: an orderly close
  // [GEN-ERR-5] local codes (600-699) and codes outside the table's ranges are never sent.
  if (!isWireCode(code)) throw new ApiMisuse(`${what}: code ${code} is not sent on the wire`);
}

/** The generated protobufjs type of a body message, by its .proto name; undefined when none. */
function bodyType(name: string): { decode(reader: $protobuf.Reader, length: number): unknown } | undefined {
  const t = (parley.v1 as unknown as Record<string, { decode?: unknown } | undefined>)[name];
  return typeof t?.decode === 'function'
    ? (t as { decode(reader: $protobuf.Reader, length: number): unknown })
    : undefined;
}

/**
 * A plain copy of a decoded message, driven by its rules: every field an own property (protobufjs keeps
 * zero values on the prototype), uint64 as a checked number (INTEGER_RANGE above 2^53-1, WIRE-INT-1),
 * nested messages copied the same way or undefined when absent. `bytes` stay views into the input.
 */
function toPlain(m: Record<string, unknown>, rules: MessageRules, where: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of rules.fields) {
    const x = m[f.property];
    const at = `${where}.${f.name}`;
    const one = (v: unknown): unknown => {
      if (f.kind === 'uint64' || f.kind === 'fixed64') return toSafeInteger(v as Long | number | null, at);
      if (f.kind === 'message')
        return v === null || v === undefined ? undefined : toPlain(v as Record<string, unknown>, f.message!, at);
      return v;
    };
    out[f.property] = f.repeated ? (x as unknown[]).map(one) : one(x);
  }
  return out;
}
