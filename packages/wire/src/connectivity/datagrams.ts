/**
 * The connectivity datagrams of spec/08-connectivity.md §3 (NAT-DGRAM-*): fixed binary layouts that share
 * a UDP socket with the datagram channel of spec/03-channels.md, told apart by their first byte.
 *
 *   type  name            layout after the type byte                                       length
 *   0x01  (channel)       03 CHAN-DGRAM-3                                                  29..1,200
 *   0x02  probe           transaction id (12), zero padding                                64..1,200
 *   0x03  probe reply     transaction id (12), family (1: 4|6), port (2), address (4|16),  64..1,200
 *                         token (8), zero padding (to the probe's length)
 *   0x04  relay bind      allocation id (8), counter (8), cookie (16), mac (16)            49
 *   0x05  relay bind ack  allocation id (8), counter (8), cookie (16), mac (16)            49
 *   0x06  relay data      allocation id (8), one type 0x01 datagram                        38..1,209
 *   0x07  punch           punch id (12), flags (1), mac (16)                               30
 *
 * The decoder checks the type, then the length bounds of the type, then the fields ([NAT-DGRAM-2]), and
 * throws DecodeError (TRUNCATED, MALFORMED, DATAGRAM_TOO_LARGE); it never verifies a MAC (relayBindAuthentic
 * and punchAuthentic do, with the caller's key). Every decoded field is a view into the received bytes.
 */
import { bytesEqual } from '../codec/bytes.js';
import type { CryptoSuite } from '../crypto/suite.js';
import { DATAGRAM_TYPE_DATA, MAX_DATAGRAM_LENGTH } from '../datagram/channel.js';
import { ApiMisuse, DecodeError, ErrorCode } from '../errors.js';
import { ALLOCATION_ID_BYTES, PROBE_TOKEN_BYTES, PUNCH_ID_BYTES, TRANSACTION_ID_BYTES } from './messages.js';

export const DATAGRAM_TYPE_PROBE = 0x02;
export const DATAGRAM_TYPE_PROBE_REPLY = 0x03;
export const DATAGRAM_TYPE_RELAY_BIND = 0x04;
export const DATAGRAM_TYPE_RELAY_BIND_ACK = 0x05;
export const DATAGRAM_TYPE_RELAY_DATA = 0x06;
export const DATAGRAM_TYPE_PUNCH = 0x07;

/** [NAT-DGRAM-3] A probe, and so a probe reply, is at least this long (room for the largest reply's fields: 40 bytes). */
export const MIN_PROBE_LENGTH = 64;
/** [NAT-DGRAM-3] The longest probe or probe reply: `datagram-max`. */
export const MAX_PROBE_LENGTH = MAX_DATAGRAM_LENGTH;
/** [RELAY-BIND-1] A relay bind and its acknowledgement: exactly 49 bytes. */
export const RELAY_BIND_LENGTH = 49;
/** A bind's return-routability cookie, and the truncated MACs of binds and punches: 16 bytes. */
export const RELAY_COOKIE_BYTES = 16;
export const CONNECTIVITY_MAC_BYTES = 16;
/** [RELAY-DATA-1] Relay data: the type, the allocation id, then one whole channel datagram. */
export const RELAY_DATA_HEADER_LENGTH = 1 + ALLOCATION_ID_BYTES;
/**
 * The peers' own datagrams, which a relay carries unread (RELAY-DATA-2, RELAY-TCP-1): the datagram channel's
 * (type 0x01, 03 CHAN-DGRAM-3) and the peer session's handshake (type 0x08, 09-node.md). 29 bytes is the
 * shortest channel datagram (a 13-byte header and a 16-byte tag); a relay checks no more than the type and
 * the length bounds.
 */
export const DATAGRAM_TYPE_SESSION_HANDSHAKE = 0x08;
export const MIN_PEER_DATAGRAM_LENGTH = 29;
/** [NAT-DGRAM-1] The types a relay carries between peers: 0x01 and 0x08. */
export function isPeerDatagramType(type: number): boolean {
  return type === DATAGRAM_TYPE_DATA || type === DATAGRAM_TYPE_SESSION_HANDSHAKE;
}
export const MIN_RELAY_DATA_LENGTH = RELAY_DATA_HEADER_LENGTH + MIN_PEER_DATAGRAM_LENGTH;
export const MAX_RELAY_DATA_LENGTH = RELAY_DATA_HEADER_LENGTH + MAX_DATAGRAM_LENGTH;
/** [NAT-PUNCH-6] A punch datagram: exactly 30 bytes. */
export const PUNCH_LENGTH = 30;
/** Punch flags: the sender is the callee (else the caller); the datagram answers a punch (else it asks). */
export const PUNCH_FLAG_CALLEE = 0x01;
export const PUNCH_FLAG_ECHO = 0x02;

/** An IP address (4 or 16 bytes, network order) and a port, as the probe reply carries them. */
export interface WireAddress {
  readonly address: Uint8Array;
  readonly port: number;
}

export interface ProbeDatagram {
  readonly type: typeof DATAGRAM_TYPE_PROBE;
  readonly transactionId: Uint8Array;
  readonly length: number;
}
export interface ProbeReplyDatagram {
  readonly type: typeof DATAGRAM_TYPE_PROBE_REPLY;
  readonly transactionId: Uint8Array;
  /** The source the replying supernode saw the probe come from (for an unsolicited reply: the target). */
  readonly observed: WireAddress;
  /** Proves the receiver receives at `observed` (zeros in an unsolicited reply). */
  readonly token: Uint8Array;
}
export interface RelayBindDatagram {
  readonly type: typeof DATAGRAM_TYPE_RELAY_BIND | typeof DATAGRAM_TYPE_RELAY_BIND_ACK;
  readonly allocationId: Uint8Array;
  readonly counter: bigint;
  readonly cookie: Uint8Array;
  readonly mac: Uint8Array;
}
export interface RelayDataDatagram {
  readonly type: typeof DATAGRAM_TYPE_RELAY_DATA;
  readonly allocationId: Uint8Array;
  /** The peers' own channel datagram (type 0x01), unread by the relay. */
  readonly inner: Uint8Array;
}
export interface PunchDatagram {
  readonly type: typeof DATAGRAM_TYPE_PUNCH;
  readonly punchId: Uint8Array;
  readonly flags: number;
  readonly mac: Uint8Array;
}
export type ConnectivityDatagram =
  | ProbeDatagram
  | ProbeReplyDatagram
  | RelayBindDatagram
  | RelayDataDatagram
  | PunchDatagram;

const fail = (code: ErrorCode, detail: string): never => {
  throw new DecodeError(code, detail);
};

function checkLength(bytes: Uint8Array, min: number, max: number, what: string): void {
  if (bytes.length > max) fail(ErrorCode.DATAGRAM_TOO_LARGE, `${what}: ${bytes.length} > ${max} bytes`);
  if (bytes.length < min) fail(ErrorCode.TRUNCATED, `${what}: ${bytes.length} < ${min} bytes`);
}

/**
 * Decodes a connectivity datagram (types 0x02-0x07). A type 0x01 datagram belongs to the datagram
 * channel (decodeDatagram); any other first byte is MALFORMED ([NAT-DGRAM-2]).
 */
export function decodeConnectivityDatagram(bytes: Uint8Array): ConnectivityDatagram {
  if (bytes.length === 0) fail(ErrorCode.TRUNCATED, 'empty datagram');
  const type = bytes[0]!;
  switch (type) {
    case DATAGRAM_TYPE_PROBE:
      checkLength(bytes, MIN_PROBE_LENGTH, MAX_PROBE_LENGTH, 'probe');
      return { type, transactionId: bytes.subarray(1, 1 + TRANSACTION_ID_BYTES), length: bytes.length };
    case DATAGRAM_TYPE_PROBE_REPLY: {
      // [NAT-OBS-3] a reply has its probe's length, and every probe has at least MIN_PROBE_LENGTH bytes (room
      // for the largest reply, 40): a shorter reply answers no probe.
      checkLength(bytes, MIN_PROBE_LENGTH, MAX_PROBE_LENGTH, 'probe reply');
      const family = bytes[13]!;
      if (family !== 4 && family !== 6) fail(ErrorCode.MALFORMED, `probe reply: address family ${family}`);
      const addressLength = family === 4 ? 4 : 16;
      const end = 16 + addressLength + PROBE_TOKEN_BYTES;
      const port = (bytes[14]! << 8) | bytes[15]!;
      if (port === 0) fail(ErrorCode.MALFORMED, 'probe reply: port 0');
      return {
        type,
        transactionId: bytes.subarray(1, 13),
        observed: { address: bytes.subarray(16, 16 + addressLength), port },
        token: bytes.subarray(16 + addressLength, end),
      };
    }
    case DATAGRAM_TYPE_RELAY_BIND:
    case DATAGRAM_TYPE_RELAY_BIND_ACK: {
      checkLength(
        bytes,
        RELAY_BIND_LENGTH,
        RELAY_BIND_LENGTH,
        type === DATAGRAM_TYPE_RELAY_BIND ? 'relay bind' : 'relay bind ack',
      );
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      return {
        type,
        allocationId: bytes.subarray(1, 9),
        counter: view.getBigUint64(9),
        cookie: bytes.subarray(17, 33),
        mac: bytes.subarray(33, 49),
      };
    }
    case DATAGRAM_TYPE_RELAY_DATA: {
      checkLength(bytes, MIN_RELAY_DATA_LENGTH, MAX_RELAY_DATA_LENGTH, 'relay data');
      if (!isPeerDatagramType(bytes[RELAY_DATA_HEADER_LENGTH]!))
        fail(ErrorCode.MALFORMED, `relay data: inner type ${bytes[RELAY_DATA_HEADER_LENGTH]}`);
      return {
        type,
        allocationId: bytes.subarray(1, RELAY_DATA_HEADER_LENGTH),
        inner: bytes.subarray(RELAY_DATA_HEADER_LENGTH),
      };
    }
    case DATAGRAM_TYPE_PUNCH: {
      checkLength(bytes, PUNCH_LENGTH, PUNCH_LENGTH, 'punch');
      const flags = bytes[13]!;
      if ((flags & ~(PUNCH_FLAG_CALLEE | PUNCH_FLAG_ECHO)) !== 0) fail(ErrorCode.MALFORMED, `punch: flags ${flags}`);
      return { type, punchId: bytes.subarray(1, 13), flags, mac: bytes.subarray(14, 30) };
    }
    default:
      return fail(ErrorCode.MALFORMED, `datagram type ${type}`);
  }
}

function exact(bytes: Uint8Array, length: number, what: string): void {
  if (bytes.length !== length) throw new ApiMisuse(`${what}: ${bytes.length} bytes, want ${length}`);
}

/** A probe of `length` bytes (64..1,200; default 64). */
export function encodeProbe(transactionId: Uint8Array, length = MIN_PROBE_LENGTH): Uint8Array {
  exact(transactionId, TRANSACTION_ID_BYTES, 'transaction id');
  if (!Number.isInteger(length) || length < MIN_PROBE_LENGTH || length > MAX_PROBE_LENGTH)
    throw new ApiMisuse(`probe length ${length}`);
  const out = new Uint8Array(length);
  out[0] = DATAGRAM_TYPE_PROBE;
  out.set(transactionId, 1);
  return out;
}

/**
 * A probe reply of exactly `length` bytes ([NAT-OBS-3]: the probe's own length, so a reply is never larger
 * than what it answers; 64 for an unsolicited reply).
 */
export function encodeProbeReply(
  transactionId: Uint8Array,
  observed: WireAddress,
  token: Uint8Array,
  length: number,
): Uint8Array {
  exact(transactionId, TRANSACTION_ID_BYTES, 'transaction id');
  exact(token, PROBE_TOKEN_BYTES, 'token');
  const a = observed.address;
  if (a.length !== 4 && a.length !== 16) throw new ApiMisuse(`address of ${a.length} bytes`);
  if (!Number.isInteger(observed.port) || observed.port < 1 || observed.port > 65535)
    throw new ApiMisuse(`port ${observed.port}`);
  if (!Number.isInteger(length) || length < MIN_PROBE_LENGTH || length > MAX_PROBE_LENGTH)
    throw new ApiMisuse(`probe reply length ${length}`);
  const out = new Uint8Array(length);
  out[0] = DATAGRAM_TYPE_PROBE_REPLY;
  out.set(transactionId, 1);
  out[13] = a.length === 4 ? 4 : 6;
  out[14] = observed.port >>> 8;
  out[15] = observed.port & 0xff;
  out.set(a, 16);
  out.set(token, 16 + a.length);
  return out;
}

/** The first 16 bytes of HMAC-SHA-256(key, data): the MAC of binds, bind acks and punches. */
export function connectivityMac(suite: CryptoSuite, key: Uint8Array, data: Uint8Array): Uint8Array {
  return suite.hmacSha256(key, data).subarray(0, CONNECTIVITY_MAC_BYTES);
}

/**
 * A relay bind (type 0x04) or its acknowledgement (0x05), MACed with the allocation key
 * ([RELAY-BIND-1]): the MAC covers the 33 bytes before it.
 */
export function encodeRelayBind(
  suite: CryptoSuite,
  type: typeof DATAGRAM_TYPE_RELAY_BIND | typeof DATAGRAM_TYPE_RELAY_BIND_ACK,
  allocationKey: Uint8Array,
  allocationId: Uint8Array,
  counter: bigint,
  cookie: Uint8Array,
): Uint8Array {
  exact(allocationId, ALLOCATION_ID_BYTES, 'allocation id');
  exact(cookie, RELAY_COOKIE_BYTES, 'cookie');
  if (counter < 0n || counter > 0xffff_ffff_ffff_ffffn) throw new ApiMisuse('counter');
  const out = new Uint8Array(RELAY_BIND_LENGTH);
  out[0] = type;
  out.set(allocationId, 1);
  new DataView(out.buffer).setBigUint64(9, counter);
  out.set(cookie, 17);
  out.set(connectivityMac(suite, allocationKey, out.subarray(0, 33)), 33);
  return out;
}

/** Whether a decoded bind or bind ack carries the MAC of `allocationKey` (constant-time comparison). */
export function relayBindAuthentic(suite: CryptoSuite, allocationKey: Uint8Array, bytes: Uint8Array): boolean {
  if (bytes.length !== RELAY_BIND_LENGTH) return false;
  return bytesEqual(connectivityMac(suite, allocationKey, bytes.subarray(0, 33)), bytes.subarray(33, 49));
}

/**
 * Relay data: the type, `allocationId` (the receiving side's own id when the relay forwards), then the
 * channel datagram. [RELAY-DATA-2] the relay forwards by rewriting the 8 id bytes in place.
 */
export function encodeRelayData(allocationId: Uint8Array, inner: Uint8Array): Uint8Array {
  exact(allocationId, ALLOCATION_ID_BYTES, 'allocation id');
  if (inner.length < MIN_PEER_DATAGRAM_LENGTH || inner.length > MAX_DATAGRAM_LENGTH || !isPeerDatagramType(inner[0]!))
    throw new ApiMisuse('relay data: not a peer datagram');
  const out = new Uint8Array(RELAY_DATA_HEADER_LENGTH + inner.length);
  out[0] = DATAGRAM_TYPE_RELAY_DATA;
  out.set(allocationId, 1);
  out.set(inner, RELAY_DATA_HEADER_LENGTH);
  return out;
}

/** A punch datagram, MACed with the punch key over the 14 bytes before the MAC ([NAT-PUNCH-6]). */
export function encodePunch(suite: CryptoSuite, punchKey: Uint8Array, punchId: Uint8Array, flags: number): Uint8Array {
  exact(punchId, PUNCH_ID_BYTES, 'punch id');
  if ((flags & ~(PUNCH_FLAG_CALLEE | PUNCH_FLAG_ECHO)) !== 0) throw new ApiMisuse('flags');
  const out = new Uint8Array(PUNCH_LENGTH);
  out[0] = DATAGRAM_TYPE_PUNCH;
  out.set(punchId, 1);
  out[13] = flags;
  out.set(connectivityMac(suite, punchKey, out.subarray(0, 14)), 14);
  return out;
}

/** Whether a punch datagram carries the MAC of `punchKey` (constant-time comparison). */
export function punchAuthentic(suite: CryptoSuite, punchKey: Uint8Array, bytes: Uint8Array): boolean {
  if (bytes.length !== PUNCH_LENGTH) return false;
  return bytesEqual(connectivityMac(suite, punchKey, bytes.subarray(0, 14)), bytes.subarray(14, 30));
}
