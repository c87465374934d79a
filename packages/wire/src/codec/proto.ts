/**
 * The one way Parley decodes protobuf bytes (spec/01-packets.md, WIRE-*): protobufjs errors become
 * `DecodeError`s with a spec code, and 64-bit integers come out as checked JavaScript numbers.
 */
import Long from 'long';
import { DecodeError, ErrorCode } from '../errors.js';

/** A generated protobufjs message type (`parley.v1.X`). */
export interface MessageType<T> {
  decode(reader: Uint8Array, length?: number): T;
  encode(message: T): { finish(): Uint8Array };
}

/**
 * Decodes `bytes` as `type`; any failure of the protobuf reader (truncation, bad wire type, bad
 * varint) becomes DecodeError(MALFORMED). Decoded `bytes` fields are views into `bytes`: callers that
 * keep them past the buffer's lifetime copy them.
 */
export function decodeMessage<T>(type: MessageType<T>, bytes: Uint8Array, what: string): T {
  try {
    return type.decode(bytes);
  } catch (e) {
    throw new DecodeError(ErrorCode.MALFORMED, `${what}: ${(e as Error).message}`, { cause: e });
  }
}

/** Encodes `message` as `type` into a fresh byte array. */
export function encodeMessage<T>(type: MessageType<T>, message: T): Uint8Array {
  return type.encode(message).finish();
}

/**
 * Converts a decoded uint64/int64 field to a number; values above 2^53-1 (or negative for unsigned)
 * are DecodeError(INTEGER_RANGE), because Parley's 64-bit fields never carry them (WIRE-INT-*).
 */
export function toSafeInteger(value: Long | number | null | undefined, field: string): number {
  if (value === null || value === undefined) return 0;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw new DecodeError(ErrorCode.INTEGER_RANGE, field);
    return value;
  }
  if (value.isNegative() || value.greaterThan(Long.fromNumber(Number.MAX_SAFE_INTEGER, value.unsigned))) {
    throw new DecodeError(ErrorCode.INTEGER_RANGE, field);
  }
  return value.toNumber();
}

/** The 64-bit field value for a safe, non-negative integer (encoder side). */
export function fromSafeInteger(value: number): Long {
  return Long.fromNumber(value, true);
}
