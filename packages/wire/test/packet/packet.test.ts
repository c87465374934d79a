// spec/01-packets.md §2, §7, §8: the Packet, request ids, bodies, what a receiver does with rejections,
// Close, Ping, Pong and ErrorReply.
import { describe, expect, it } from 'vitest';
import { DecodeError, ErrorCode, isParleyError, ResourceError } from '../../src/errors.js';
import {
  decodePacket,
  encodePacket,
  nextRequestId,
  OutstandingRequests,
  type Packet,
  pongFor,
  REQUEST_TIMEOUT_MS,
  rejectionAction,
  UnknownBodyError,
} from '../../src/packet/index.js';
import { bytes, ld, vf } from './wire-bytes.js';

const ping = (requestId: number, sequence = 1, data = new Uint8Array([1, 2, 3])): Packet => ({
  requestId,
  body: { case: 'ping', value: { sequence, data } },
});

/** A body value with byte fields as plain arrays (decoded bytes are Buffer views under Node). */
function plain(value: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, v instanceof Uint8Array ? [...v] : v]));
}

function decodeError(f: () => unknown): DecodeError {
  try {
    f();
  } catch (e) {
    if (e instanceof DecodeError) return e;
    throw e;
  }
  throw new Error('expected a DecodeError');
}

describe('Packet [WIRE-PKT-1]', () => {
  it('[WIRE-PKT-1] decodes what it encodes, one Packet per plaintext, for every body of this chapter', () => {
    const packets: Packet[] = [
      { requestId: 0, body: { case: 'close', value: { code: ErrorCode.ERROR_CODE_UNSPECIFIED, detail: '' } } },
      { requestId: 0, body: { case: 'close', value: { code: ErrorCode.FIELD_LIMIT, detail: 'detail too long' } } },
      ping(7, 9),
      { requestId: 7, body: { case: 'pong', value: { sequence: 9, data: new Uint8Array([1, 2, 3]) } } },
      { requestId: 0xffff_ffff, body: { case: 'error', value: { code: ErrorCode.BUSY, detail: 'täglich 😀' } } },
    ];
    for (const p of packets) {
      const decoded = decodePacket(encodePacket(p));
      expect(decoded.requestId).toBe(p.requestId);
      expect(decoded.body.case).toBe(p.body.case);
      expect(plain(decoded.body.value)).toEqual(plain(p.body.value));
    }
  });

  it('[WIRE-PKT-4] rejects a packet without a body with UNKNOWN_BODY', () => {
    const e = decodeError(() => decodePacket(bytes(vf(1, 5))));
    expect(e).toBeInstanceOf(UnknownBodyError);
    expect(e.code).toBe(ErrorCode.UNKNOWN_BODY);
    expect((e as UnknownBodyError).requestId).toBe(5);
    expect((e as UnknownBodyError).field).toBe(0);
    expect(decodeError(() => decodePacket(new Uint8Array(0))).code).toBe(ErrorCode.UNKNOWN_BODY);
  });

  it('[WIRE-PKT-4] [WIRE-PKT-5] [GEN-VER-5] a body number it does not implement, in 16-499, is UNKNOWN_BODY', () => {
    for (const field of [20, 99, 132, 150, 199, 299, 300, 499]) {
      const e = decodeError(() => decodePacket(bytes(vf(1, 12), ld(field, [8, 1]))));
      expect(e.code).toBe(ErrorCode.UNKNOWN_BODY);
      expect((e as UnknownBodyError).field).toBe(field);
      expect((e as UnknownBodyError).requestId).toBe(12);
    }
  });

  it('[WIRE-PKT-5] numbers 500 and above are not bodies: skipped as unknown fields', () => {
    const p = decodePacket(bytes(ld(500, [1, 2]), ld(17, [8, 3]), ld(4096, [])));
    expect(p.body.case).toBe('ping');
    expect((decodeError(() => decodePacket(bytes(ld(500, [1, 2])))) as UnknownBodyError).field).toBe(0);
  });

  it('[WIRE-PKT-5] [WIRE-ENC-4] a known and an unknown body together are two bodies: MALFORMED', () => {
    expect(decodeError(() => decodePacket(bytes(ld(17, []), ld(150, [])))).code).toBe(ErrorCode.MALFORMED);
    expect(decodeError(() => decodePacket(bytes(ld(150, []), ld(151, [])))).code).toBe(ErrorCode.MALFORMED);
  });

  it('[WIRE-PKT-5] a body is a message: another wire type in 16-499 is MALFORMED', () => {
    expect(decodeError(() => decodePacket(bytes(vf(150, 1)))).code).toBe(ErrorCode.MALFORMED);
    expect(decodeError(() => decodePacket(bytes(vf(17, 1)))).code).toBe(ErrorCode.MALFORMED);
  });
});

describe('request ids [WIRE-PKT-2] [WIRE-PKT-3]', () => {
  it('[WIRE-PKT-2] allocates ids other than 0 and other than any outstanding id, wrapping at 2^32-1', () => {
    expect(nextRequestId(0, new Set())).toBe(1);
    expect(nextRequestId(0xffff_ffff, new Set())).toBe(1);
    expect(nextRequestId(0xffff_fffe, new Set([0xffff_ffff, 1, 2]))).toBe(3);
  });

  it('[WIRE-PKT-2] [WIRE-PKT-3] tracks outstanding requests: settles a matching response once, times out the rest', () => {
    const requests = new OutstandingRequests({ max: 3 });
    const a = requests.open(0);
    const b = requests.open(10);
    expect(a).not.toBe(0);
    expect(b).not.toBe(a);
    expect(requests.settle(a)).toBe(true);
    expect(requests.settle(a)).toBe(false); // a duplicate response: discarded
    expect(requests.settle(0)).toBe(false); // a notice is never a response
    expect(requests.settle(12345)).toBe(false); // matches nothing: discarded
    expect(requests.nextDeadline()).toBe(10 + REQUEST_TIMEOUT_MS);
    expect(requests.expire(10 + REQUEST_TIMEOUT_MS - 1)).toEqual([]);
    expect(requests.expire(10 + REQUEST_TIMEOUT_MS)).toEqual([b]);
    expect(requests.settle(b)).toBe(false); // a late response after the timeout
    requests.open(0);
    requests.open(0);
    requests.open(0);
    expect(() => requests.open(0)).toThrow(ResourceError);
  });

  it('[WIRE-PKT-3] [WIRE-PING-1] a Pong answers with the request_id, sequence and data of its Ping', () => {
    const request = decodePacket(encodePacket(ping(41, 7, new Uint8Array([9, 9]))));
    if (request.body.case !== 'ping') throw new Error('not a ping');
    const pong = decodePacket(encodePacket(pongFor(request.requestId, request.body.value)));
    expect(pong.requestId).toBe(41);
    expect(pong.body.case).toBe('pong');
    if (pong.body.case !== 'pong') return;
    expect(pong.body.value.sequence).toBe(7);
    expect([...pong.body.value.data]).toEqual([9, 9]);
  });
});

describe('rejections [WIRE-RECV-1] [WIRE-RECV-2] [WIRE-RECV-3] [WIRE-PKT-6] [GEN-ERR-4]', () => {
  const reject = (b: Uint8Array): unknown => {
    try {
      decodePacket(b);
    } catch (e) {
      return e;
    }
    throw new Error('accepted');
  };
  const unknownRequest = reject(bytes(vf(1, 77), ld(150, [])));
  const unknownNotice = reject(bytes(ld(150, [])));
  const malformed = reject(bytes(ld(17, [8, 1]), ld(17, [8, 2])));

  it('[WIRE-PKT-6] answers an unknown body with ErrorReply(UNKNOWN_BODY) when it is a request; the channel stays open', () => {
    for (const channel of ['stream', 'datagram'] as const) {
      const action = rejectionAction(unknownRequest, { channel });
      expect(action.action).toBe('reply');
      if (action.action !== 'reply') return;
      expect(action.reply).toEqual({
        requestId: 77,
        body: { case: 'error', value: { code: ErrorCode.UNKNOWN_BODY, detail: '' } },
      });
      expect(decodePacket(encodePacket(action.reply)).body.case).toBe('error');
      expect(rejectionAction(unknownNotice, { channel })).toEqual({ action: 'discard' });
    }
  });

  it('[WIRE-RECV-1] closes a stream channel with Close(code) on any other decode error', () => {
    const action = rejectionAction(malformed, { channel: 'stream' });
    expect(action).toEqual({
      action: 'close',
      close: { requestId: 0, body: { case: 'close', value: { code: ErrorCode.MALFORMED, detail: '' } } },
    });
    for (const code of [
      ErrorCode.FIELD_LIMIT,
      ErrorCode.MISSING_FIELD,
      ErrorCode.INTEGER_RANGE,
      ErrorCode.TRUNCATED,
      ErrorCode.FRAME_TOO_LARGE,
    ]) {
      expect(rejectionAction(new DecodeError(code), { channel: 'stream', requestId: 5 }).action).toBe('close');
    }
  });

  it('[WIRE-RECV-2] discards a rejected datagram and answers nothing', () => {
    for (const code of [
      ErrorCode.MALFORMED,
      ErrorCode.FIELD_LIMIT,
      ErrorCode.TRUNCATED,
      ErrorCode.DATAGRAM_TOO_LARGE,
    ]) {
      expect(rejectionAction(new DecodeError(code), { channel: 'datagram', requestId: 0 })).toEqual({
        action: 'discard',
      });
    }
  });

  it('[WIRE-RECV-3] [GEN-ERR-4] refuses a request with ErrorReply for open codes, and identity codes after the handshake', () => {
    const busy = rejectionAction(new DecodeError(ErrorCode.BUSY), { channel: 'stream', requestId: 3 });
    expect(busy).toEqual({
      action: 'reply',
      reply: { requestId: 3, body: { case: 'error', value: { code: ErrorCode.BUSY, detail: '' } } },
    });
    const sig = new DecodeError(ErrorCode.BAD_SIGNATURE);
    expect(rejectionAction(sig, { channel: 'stream', requestId: 3 }).action).toBe('reply');
    expect(rejectionAction(sig, { channel: 'stream', requestId: 3, handshake: true }).action).toBe('abort');
    expect(rejectionAction(new DecodeError(ErrorCode.VERSION_UNSUPPORTED), { channel: 'stream' }).action).toBe('close');
  });

  it('[GEN-ERR-4] [CHAN-HS-6] during the handshake every rejection aborts: nothing is sent, whatever the code', () => {
    for (const code of [ErrorCode.MALFORMED, ErrorCode.DECRYPT_FAILED, ErrorCode.CERT_EXPIRED, ErrorCode.BUSY]) {
      expect(rejectionAction(new DecodeError(code), { channel: 'stream', requestId: 9, handshake: true })).toEqual({
        action: 'abort',
      });
    }
  });

  it('[GEN-ERR-6] acts on the code alone, never on the detail text', () => {
    const a = rejectionAction(new DecodeError(ErrorCode.RATE_LIMITED, 'slow down'), {
      channel: 'stream',
      requestId: 9,
    });
    const b = rejectionAction(new DecodeError(ErrorCode.RATE_LIMITED, 'close the channel now'), {
      channel: 'stream',
      requestId: 9,
    });
    expect(a).toEqual(b);
  });

  it('[GEN-ERR-5] [GEN-ERR-1] never sends a local code, and rethrows what is not a ParleyError', () => {
    expect(() => rejectionAction(new DecodeError(ErrorCode.API_MISUSE), { channel: 'stream' })).toThrow();
    expect(() => rejectionAction(new TypeError('bug'), { channel: 'stream' })).toThrow(TypeError);
  });
});

describe('Close, Ping, ErrorReply [WIRE-CLOSE-1] [WIRE-CLOSE-2] [WIRE-ERRREPLY-1]', () => {
  it('[WIRE-CLOSE-1] [GEN-ERR-5] sends code 0 only as an orderly Close, and never a local code', () => {
    const orderly = encodePacket({ requestId: 0, body: { case: 'close', value: { code: 0, detail: '' } } });
    expect([...orderly]).toEqual([0x82, 0x01, 0x00]); // field 16, length 0: the body is present though empty
    const local = { requestId: 0, body: { case: 'close', value: { code: ErrorCode.API_MISUSE, detail: '' } } } as const;
    expect(() => encodePacket(local)).toThrow(expect.objectContaining({ code: ErrorCode.API_MISUSE }));
    const noCode = { requestId: 4, body: { case: 'error', value: { code: 0, detail: '' } } } as const;
    expect(() => encodePacket(noCode)).toThrow(expect.objectContaining({ code: ErrorCode.API_MISUSE }));
  });

  it('[WIRE-CLOSE-2] [GEN-VER-4] accepts a Close with any code: orderly, known, unknown or local', () => {
    for (const code of [0, 100, 799, 650, 1234, 0x7fff_ffff]) {
      const p = decodePacket(bytes(ld(16, vf(1, code))));
      expect(p.body.case).toBe('close');
      if (p.body.case === 'close') expect(p.body.value.code).toBe(code);
    }
  });

  it('[WIRE-ERRREPLY-1] rejects an ErrorReply without a code with MISSING_FIELD', () => {
    expect(decodeError(() => decodePacket(bytes(vf(1, 3), ld(19, [])))).code).toBe(ErrorCode.MISSING_FIELD);
    expect(decodeError(() => decodePacket(bytes(vf(1, 3), ld(19, vf(1, 0))))).code).toBe(ErrorCode.MISSING_FIELD);
    const p = decodePacket(bytes(vf(1, 3), ld(19, vf(1, 701))));
    expect(p.body.case === 'error' && p.body.value.code).toBe(701);
  });

  it('[WIRE-ENC-1] a packet with an empty Ping still carries its body', () => {
    const p = decodePacket(
      encodePacket({ requestId: 1, body: { case: 'ping', value: { sequence: 0, data: new Uint8Array(0) } } }),
    );
    expect(p.body.case).toBe('ping');
  });

  it('[GEN-ERR-1] every decode rejection is a ParleyError with one code of the table', () => {
    const e = decodeError(() => decodePacket(bytes(0x08)));
    expect(isParleyError(e)).toBe(true);
    expect(e.code).toBe(ErrorCode.TRUNCATED);
    expect(ErrorCode[e.code]).toBe('TRUNCATED');
  });
});
