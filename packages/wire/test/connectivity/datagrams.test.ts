/**
 * The connectivity datagrams (spec/08-connectivity.md §3, src/connectivity/datagrams.ts): the byte layout of
 * every type 0x02-0x07, round trips under fast-check, every length bound and the order of the checks
 * (type, then length, then fields), the probe reply that is never longer than its probe, the truncated
 * HMACs of binds and punches (one tampered byte and they are not authentic), and a fuzz property: any
 * bytes decode to a valid datagram or fail with a DecodeError, and decoding changes nothing.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mutatedArbitrary } from '../../fuzz/arbitraries.js';
import {
  CONNECTIVITY_MAC_BYTES,
  type ConnectivityDatagram,
  connectivityMac,
  DATAGRAM_TYPE_PROBE,
  DATAGRAM_TYPE_PROBE_REPLY,
  DATAGRAM_TYPE_PUNCH,
  DATAGRAM_TYPE_RELAY_BIND,
  DATAGRAM_TYPE_RELAY_BIND_ACK,
  DATAGRAM_TYPE_RELAY_DATA,
  DATAGRAM_TYPE_SESSION_HANDSHAKE,
  decodeConnectivityDatagram,
  encodeProbe,
  encodeProbeReply,
  encodePunch,
  encodeRelayBind,
  encodeRelayData,
  isPeerDatagramType,
  MAX_PROBE_LENGTH,
  MAX_RELAY_DATA_LENGTH,
  MIN_PROBE_LENGTH,
  MIN_RELAY_DATA_LENGTH,
  PUNCH_FLAG_CALLEE,
  PUNCH_FLAG_ECHO,
  PUNCH_LENGTH,
  punchAuthentic,
  RELAY_BIND_LENGTH,
  RELAY_COOKIE_BYTES,
  RELAY_DATA_HEADER_LENGTH,
  relayBindAuthentic,
} from '../../src/connectivity/index.js';
import { nobleCrypto, nodeCrypto } from '../../src/crypto/index.js';
import { DATAGRAM_TYPE_DATA, MAX_DATAGRAM_LENGTH } from '../../src/datagram/channel.js';
import { ApiMisuse, DecodeError, ErrorCode } from '../../src/errors.js';
import { caught, expectCode } from '../identity/fixtures.js';

const suite = nodeCrypto;
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s/g, ''), 'hex'));
const filled = (n: number, byte: number): Uint8Array => new Uint8Array(n).fill(byte);
const U64_MAX = 0xffff_ffff_ffff_ffffn;

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const txid = bytes(12);
const token = bytes(8);
const key = bytes(32);
const allocationId = bytes(8);
const cookie = bytes(16);
const punchId = bytes(12);
const counter = fc.bigInt({ min: 0n, max: U64_MAX });
const port = fc.integer({ min: 1, max: 65535 });
const address = fc.oneof(bytes(4), bytes(16));
const probeLength = fc.integer({ min: MIN_PROBE_LENGTH, max: MAX_PROBE_LENGTH });
const flags = fc.constantFrom(0, PUNCH_FLAG_CALLEE, PUNCH_FLAG_ECHO, PUNCH_FLAG_CALLEE | PUNCH_FLAG_ECHO);
/** A type 0x01 channel datagram as the relay sees it: the type byte and 28..1,199 opaque bytes. */
const channelDatagram = fc
  .uint8Array({ minLength: 29, maxLength: MAX_DATAGRAM_LENGTH })
  .map((d) => Uint8Array.from([DATAGRAM_TYPE_DATA, ...d.subarray(1)]));
const bindType = fc.constantFrom(DATAGRAM_TYPE_RELAY_BIND, DATAGRAM_TYPE_RELAY_BIND_ACK);

/** Every valid datagram of this chapter, as its sender encodes it. */
const validDatagram: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.tuple(txid, probeLength).map(([t, n]) => encodeProbe(t, n)),
  fc
    .tuple(txid, address, port, token, probeLength)
    .map(([t, a, p, k, n]) => encodeProbeReply(t, { address: a, port: p }, k, n)),
  fc
    .tuple(bindType, key, allocationId, counter, cookie)
    .map(([t, k, i, c, ck]) => encodeRelayBind(suite, t, k, i, c, ck)),
  fc.tuple(allocationId, channelDatagram).map(([i, d]) => encodeRelayData(i, d)),
  fc.tuple(key, punchId, flags).map(([k, i, f]) => encodePunch(suite, k, i, f)),
);

/** The code of the DecodeError `f` throws (and that it throws one, and nothing else). */
function decodeCode(input: Uint8Array): ErrorCode | undefined {
  try {
    decodeConnectivityDatagram(input);
    return undefined;
  } catch (e) {
    expect(e).toBeInstanceOf(DecodeError);
    return (e as DecodeError).code;
  }
}

/** Whether `part` is a view into the memory of `whole` (decoded fields are views, never copies). */
const viewOf = (part: Uint8Array, whole: Uint8Array): boolean =>
  part.buffer === whole.buffer &&
  part.byteOffset >= whole.byteOffset &&
  part.byteOffset + part.length <= whole.byteOffset + whole.length;

/** The invariants every decoded datagram satisfies ([NAT-DGRAM-3]). */
function checkDecoded(d: ConnectivityDatagram, input: Uint8Array): void {
  expect(d.type).toBe(input[0]);
  switch (d.type) {
    case DATAGRAM_TYPE_PROBE:
      expect(input.length).toBeGreaterThanOrEqual(MIN_PROBE_LENGTH);
      expect(input.length).toBeLessThanOrEqual(MAX_PROBE_LENGTH);
      expect(d.length).toBe(input.length);
      expect(d.transactionId.length).toBe(12);
      expect(viewOf(d.transactionId, input)).toBe(true);
      break;
    case DATAGRAM_TYPE_PROBE_REPLY: {
      expect(input.length).toBeGreaterThanOrEqual(MIN_PROBE_LENGTH);
      expect(input.length).toBeLessThanOrEqual(MAX_PROBE_LENGTH);
      expect(d.transactionId.length).toBe(12);
      expect([4, 16]).toContain(d.observed.address.length);
      expect(input[13]).toBe(d.observed.address.length === 4 ? 4 : 6);
      expect(d.observed.port).toBeGreaterThanOrEqual(1);
      expect(d.observed.port).toBeLessThanOrEqual(65535);
      expect(d.token.length).toBe(8);
      for (const f of [d.transactionId, d.observed.address, d.token]) expect(viewOf(f, input)).toBe(true);
      break;
    }
    case DATAGRAM_TYPE_RELAY_BIND:
    case DATAGRAM_TYPE_RELAY_BIND_ACK:
      expect(input.length).toBe(RELAY_BIND_LENGTH);
      expect(d.allocationId.length).toBe(8);
      expect(d.counter >= 0n && d.counter <= U64_MAX).toBe(true);
      expect(d.cookie.length).toBe(16);
      expect(d.mac.length).toBe(16);
      for (const f of [d.allocationId, d.cookie, d.mac]) expect(viewOf(f, input)).toBe(true);
      break;
    case DATAGRAM_TYPE_RELAY_DATA:
      expect(input.length).toBeGreaterThanOrEqual(MIN_RELAY_DATA_LENGTH);
      expect(input.length).toBeLessThanOrEqual(MAX_RELAY_DATA_LENGTH);
      expect(d.allocationId.length).toBe(8);
      expect(d.inner[0]).toBe(DATAGRAM_TYPE_DATA);
      expect(d.inner.length).toBe(input.length - RELAY_DATA_HEADER_LENGTH);
      for (const f of [d.allocationId, d.inner]) expect(viewOf(f, input)).toBe(true);
      break;
    case DATAGRAM_TYPE_PUNCH:
      expect(input.length).toBe(PUNCH_LENGTH);
      expect(d.punchId.length).toBe(12);
      expect(d.flags & ~(PUNCH_FLAG_CALLEE | PUNCH_FLAG_ECHO)).toBe(0);
      expect(d.mac.length).toBe(16);
      for (const f of [d.punchId, d.mac]) expect(viewOf(f, input)).toBe(true);
      break;
    default:
      throw new Error(`unexpected type ${(d as { type: number }).type}`);
  }
}

describe('layouts and round trips [NAT-DGRAM-3]', () => {
  it('[NAT-DGRAM-3] a probe is 0x02, the transaction id at 1..13, zero padding to its length (64..1,200)', () => {
    const t = unhex('0102030405060708090a0b0c');
    const p = encodeProbe(t);
    expect(p.length).toBe(64);
    expect(hex(p)).toBe(`02${hex(t)}${'00'.repeat(51)}`);
    expect(encodeProbe(t, MAX_PROBE_LENGTH).length).toBe(1_200);
    fc.assert(
      fc.property(txid, probeLength, (t, n) => {
        const bytes = encodeProbe(t, n);
        expect(bytes.length).toBe(n);
        expect(bytes.subarray(13).every((b) => b === 0)).toBe(true);
        const d = decodeConnectivityDatagram(bytes);
        expect(d).toMatchObject({ type: DATAGRAM_TYPE_PROBE, length: n });
        expect(hex((d as { transactionId: Uint8Array }).transactionId)).toBe(hex(t));
        checkDecoded(d, bytes);
      }),
    );
  });

  it('[NAT-DGRAM-3] [NAT-OBS-2] a probe reply is 0x03, txid, family 4|6, port big-endian, address, token, padding', () => {
    const t = filled(12, 0xaa);
    const k = unhex('1112131415161718');
    const v4 = encodeProbeReply(t, { address: Uint8Array.of(203, 0, 113, 7), port: 0xc350 }, k, 64);
    expect(hex(v4)).toBe(`03${'aa'.repeat(12)}04c350cb007107${hex(k)}${'00'.repeat(64 - 28)}`);
    const a6 = unhex('20010db8000000000000000000000001');
    const v6 = encodeProbeReply(t, { address: a6, port: 1 }, k, 64);
    expect(hex(v6)).toBe(`03${'aa'.repeat(12)}060001${hex(a6)}${hex(k)}${'00'.repeat(64 - 40)}`);
    fc.assert(
      fc.property(txid, address, port, token, probeLength, (t, a, p, k, n) => {
        const bytes = encodeProbeReply(t, { address: a, port: p }, k, n);
        expect(bytes.length).toBe(n);
        expect(bytes.subarray(16 + a.length + 8).every((b) => b === 0)).toBe(true);
        const d = decodeConnectivityDatagram(bytes);
        if (d.type !== DATAGRAM_TYPE_PROBE_REPLY) throw new Error('not a probe reply');
        expect([hex(d.transactionId), hex(d.observed.address), d.observed.port, hex(d.token)]).toEqual([
          hex(t),
          hex(a),
          p,
          hex(k),
        ]);
        checkDecoded(d, bytes);
      }),
    );
  });

  it('[NAT-DGRAM-3] [NAT-DGRAM-4] [RELAY-BIND-1] a bind and its ack: type, id, counter (big-endian), cookie, HMAC of the first 33 bytes', () => {
    const k = filled(32, 7);
    const id = unhex('0001020304050607');
    const ck = filled(16, 0xcc);
    const b = encodeRelayBind(suite, DATAGRAM_TYPE_RELAY_BIND, k, id, 0x0102030405060708n, ck);
    expect(b.length).toBe(RELAY_BIND_LENGTH);
    expect(hex(b.subarray(0, 33))).toBe(`04${hex(id)}0102030405060708${'cc'.repeat(16)}`);
    expect(hex(b.subarray(33))).toBe(hex(suite.hmacSha256(k, b.subarray(0, 33)).subarray(0, 16)));
    fc.assert(
      fc.property(bindType, key, allocationId, counter, cookie, (t, k, i, c, ck) => {
        const bytes = encodeRelayBind(suite, t, k, i, c, ck);
        const d = decodeConnectivityDatagram(bytes);
        if (d.type !== DATAGRAM_TYPE_RELAY_BIND && d.type !== DATAGRAM_TYPE_RELAY_BIND_ACK)
          throw new Error('not a bind');
        expect([d.type, hex(d.allocationId), d.counter, hex(d.cookie)]).toEqual([t, hex(i), c, hex(ck)]);
        expect(relayBindAuthentic(suite, k, bytes)).toBe(true);
        checkDecoded(d, bytes);
      }),
    );
  });

  it('[NAT-DGRAM-3] [RELAY-DATA-2] relay data is 0x06, the allocation id, then the channel datagram unaltered', () => {
    fc.assert(
      fc.property(allocationId, channelDatagram, (i, inner) => {
        const bytes = encodeRelayData(i, inner);
        expect(bytes.length).toBe(RELAY_DATA_HEADER_LENGTH + inner.length);
        expect(bytes[0]).toBe(DATAGRAM_TYPE_RELAY_DATA);
        const d = decodeConnectivityDatagram(bytes);
        if (d.type !== DATAGRAM_TYPE_RELAY_DATA) throw new Error('not relay data');
        expect(hex(d.allocationId)).toBe(hex(i));
        expect(hex(d.inner)).toBe(hex(inner));
        checkDecoded(d, bytes);
      }),
    );
  });

  it('[RELAY-DATA-2] [NAT-AMP-1] forwarding rewrites only the 8 id bytes: the same length, the same inner datagram', () => {
    fc.assert(
      fc.property(allocationId, allocationId, channelDatagram, (from, to, inner) => {
        const received = encodeRelayData(from, inner);
        const forwarded = received.slice();
        forwarded.set(to, 1);
        expect(hex(forwarded)).toBe(hex(encodeRelayData(to, inner)));
        expect(forwarded.length).toBe(received.length);
      }),
    );
  });

  it('[NAT-DGRAM-3] [NAT-DGRAM-4] [NAT-PUNCH-6] a punch is 0x07, the punch id, flags, HMAC of the first 14 bytes: 30 bytes', () => {
    const k = filled(32, 9);
    const id = filled(12, 0x11);
    const p = encodePunch(suite, k, id, PUNCH_FLAG_CALLEE | PUNCH_FLAG_ECHO);
    expect(p.length).toBe(PUNCH_LENGTH);
    expect(hex(p.subarray(0, 14))).toBe(`07${'11'.repeat(12)}03`);
    expect(hex(p.subarray(14))).toBe(hex(suite.hmacSha256(k, p.subarray(0, 14)).subarray(0, 16)));
    fc.assert(
      fc.property(key, punchId, flags, (k, i, f) => {
        const bytes = encodePunch(suite, k, i, f);
        const d = decodeConnectivityDatagram(bytes);
        if (d.type !== DATAGRAM_TYPE_PUNCH) throw new Error('not a punch');
        expect([hex(d.punchId), d.flags]).toEqual([hex(i), f]);
        expect(punchAuthentic(suite, k, bytes)).toBe(true);
        checkDecoded(d, bytes);
      }),
    );
  });

  it('[NAT-DGRAM-3] both crypto suites encode every datagram identically', () => {
    fc.assert(
      fc.property(key, allocationId, counter, cookie, punchId, flags, (k, i, c, ck, p, f) => {
        for (const t of [DATAGRAM_TYPE_RELAY_BIND, DATAGRAM_TYPE_RELAY_BIND_ACK] as const) {
          expect(hex(encodeRelayBind(nobleCrypto, t, k, i, c, ck))).toBe(
            hex(encodeRelayBind(nodeCrypto, t, k, i, c, ck)),
          );
        }
        expect(hex(encodePunch(nobleCrypto, k, p, f))).toBe(hex(encodePunch(nodeCrypto, k, p, f)));
      }),
      { numRuns: 50 },
    );
  });

  it('[NAT-DGRAM-3] padding is ignored on receipt', () => {
    fc.assert(
      fc.property(txid, address, port, token, probeLength, fc.integer({ min: 1, max: 255 }), (t, a, p, k, n, junk) => {
        const probe = encodeProbe(t, n);
        probe.fill(junk, 13);
        expect(decodeConnectivityDatagram(probe)).toMatchObject({ type: DATAGRAM_TYPE_PROBE, length: n });
        const reply = encodeProbeReply(t, { address: a, port: p }, k, n);
        reply.fill(junk, 16 + a.length + 8);
        const d = decodeConnectivityDatagram(reply);
        expect(d.type === DATAGRAM_TYPE_PROBE_REPLY && d.observed.port === p && hex(d.token) === hex(k)).toBe(true);
      }),
    );
  });

  it('[NAT-DGRAM-3] every decoded field is a view into the received bytes; decoding alters nothing', () => {
    fc.assert(
      fc.property(validDatagram, (bytes) => {
        const before = hex(bytes);
        checkDecoded(decodeConnectivityDatagram(bytes), bytes);
        expect(hex(bytes)).toBe(before);
      }),
    );
  });
});

describe('the order of the checks and every length bound [NAT-DGRAM-2]', () => {
  // type: [shortest, longest]
  const bounds: [number, number, number][] = [
    [DATAGRAM_TYPE_PROBE, MIN_PROBE_LENGTH, MAX_PROBE_LENGTH],
    [DATAGRAM_TYPE_PROBE_REPLY, MIN_PROBE_LENGTH, MAX_PROBE_LENGTH],
    [DATAGRAM_TYPE_RELAY_BIND, RELAY_BIND_LENGTH, RELAY_BIND_LENGTH],
    [DATAGRAM_TYPE_RELAY_BIND_ACK, RELAY_BIND_LENGTH, RELAY_BIND_LENGTH],
    [DATAGRAM_TYPE_RELAY_DATA, MIN_RELAY_DATA_LENGTH, MAX_RELAY_DATA_LENGTH],
    [DATAGRAM_TYPE_PUNCH, PUNCH_LENGTH, PUNCH_LENGTH],
  ];

  it('[NAT-DGRAM-2] [NAT-DGRAM-3] the bounds of each type: 64..1,200, 64..1,200, 49, 49, 38..1,209, 30', () => {
    expect(bounds.map(([, min, max]) => [min, max])).toEqual([
      [64, 1_200],
      [64, 1_200],
      [49, 49],
      [49, 49],
      [38, 1_209],
      [30, 30],
    ]);
    // The shortest probe has room for the longest probe reply's fields (IPv6: 40 bytes).
    expect(1 + 12 + 1 + 2 + 16 + 8).toBeLessThanOrEqual(MIN_PROBE_LENGTH);
    expect(MAX_RELAY_DATA_LENGTH).toBe(RELAY_DATA_HEADER_LENGTH + MAX_DATAGRAM_LENGTH);
  });

  it('[NAT-DGRAM-1] [NAT-DGRAM-2] an empty datagram is TRUNCATED; a type other than 0x02-0x07 is MALFORMED whatever its length', () => {
    expectCode(() => decodeConnectivityDatagram(new Uint8Array(0)), ErrorCode.TRUNCATED, DecodeError);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 255 }).filter((t) => t < 2 || t > 7),
        fc.integer({ min: 1, max: 1_400 }),
        (t, n) => {
          const b = new Uint8Array(n);
          b[0] = t;
          expect(decodeCode(b)).toBe(ErrorCode.MALFORMED);
        },
      ),
    );
    // 0x01 is the datagram channel's (03 CHAN-DGRAM-3), not a connectivity datagram [NAT-DGRAM-1].
    expectCode(() => decodeConnectivityDatagram(filled(100, DATAGRAM_TYPE_DATA)), ErrorCode.MALFORMED, DecodeError);
  });

  it('[NAT-DGRAM-2] too long is DATAGRAM_TOO_LARGE and too short TRUNCATED, before any field is read', () => {
    fc.assert(
      fc.property(fc.constantFrom(...bounds), fc.integer({ min: 1, max: 1_400 }), fc.integer(), (b, n, s) => {
        const [type, min, max] = b;
        // Content that breaks every field rule: family 0, port 0, flags 0xff, inner type 0x00.
        const input = new Uint8Array(n).fill(s & 1 ? 0x00 : 0xff);
        input[0] = type;
        if (n > 13) input[13] = 0xff;
        if (n > RELAY_DATA_HEADER_LENGTH) input[RELAY_DATA_HEADER_LENGTH] = 0;
        const code = decodeCode(input);
        if (n > max) expect(code).toBe(ErrorCode.DATAGRAM_TOO_LARGE);
        else if (n < min) expect(code).toBe(ErrorCode.TRUNCATED);
        else expect([ErrorCode.MALFORMED, undefined]).toContain(code);
      }),
      { numRuns: 500 },
    );
    for (const [type, min, max] of bounds) {
      const at = (n: number) => {
        const v = validAt(type, n);
        return decodeCode(v);
      };
      expect(at(min - 1), `type ${type}`).toBe(ErrorCode.TRUNCATED);
      expect(at(min), `type ${type}`).toBeUndefined();
      expect(at(max), `type ${type}`).toBeUndefined();
      expect(at(max + 1), `type ${type}`).toBe(ErrorCode.DATAGRAM_TOO_LARGE);
    }
  });

  it('[NAT-DGRAM-2] the field checks: family 4|6, port not 0, inner type 0x01 or 0x08, no unknown punch flag: MALFORMED', () => {
    const reply = encodeProbeReply(filled(12, 1), { address: filled(4, 9), port: 80 }, filled(8, 2), 64);
    for (const family of [0, 5, 16, 255]) {
      const b = reply.slice();
      b[13] = family;
      expect(decodeCode(b), `family ${family}`).toBe(ErrorCode.MALFORMED);
    }
    const port0 = reply.slice();
    port0[14] = 0;
    port0[15] = 0;
    expect(decodeCode(port0)).toBe(ErrorCode.MALFORMED);
    const v6 = encodeProbeReply(filled(12, 1), { address: filled(16, 9), port: 65535 }, filled(8, 2), 64);
    expect(decodeCode(v6)).toBeUndefined();

    const data = encodeRelayData(filled(8, 3), validAt(DATAGRAM_TYPE_DATA, 29));
    for (let inner = 0; inner < 256; inner++) {
      const b = data.slice();
      b[RELAY_DATA_HEADER_LENGTH] = inner;
      // [NAT-DGRAM-1] the peers' own datagrams: the channel's (0x01) and the session handshake's (0x08).
      expect(decodeCode(b), `inner type ${inner}`).toBe(isPeerDatagramType(inner) ? undefined : ErrorCode.MALFORMED);
    }
    expect([0x01, 0x08].every(isPeerDatagramType)).toBe(true);
    expect(() => encodeRelayData(filled(8, 3), validAt(DATAGRAM_TYPE_SESSION_HANDSHAKE, 29))).not.toThrow();
    expect(() => encodeRelayData(filled(8, 3), validAt(0x07, 29))).toThrow(ApiMisuse);

    const punch = encodePunch(suite, filled(32, 4), filled(12, 5), 0);
    for (let f = 0; f < 256; f++) {
      const b = punch.slice();
      b[13] = f;
      expect(decodeCode(b), `flags ${f}`).toBe(f <= 3 ? undefined : ErrorCode.MALFORMED);
    }
  });

  it('[NAT-DGRAM-2] the length is checked before the fields: a short reply with a bad family is TRUNCATED', () => {
    const b = filled(63, 0);
    b[0] = DATAGRAM_TYPE_PROBE_REPLY;
    b[13] = 9;
    expect(decodeCode(b)).toBe(ErrorCode.TRUNCATED);
    const long = filled(1_201, 0);
    long[0] = DATAGRAM_TYPE_PROBE_REPLY;
    long[13] = 9;
    expect(decodeCode(long)).toBe(ErrorCode.DATAGRAM_TOO_LARGE);
    const punch = filled(31, 0xff);
    punch[0] = DATAGRAM_TYPE_PUNCH;
    expect(decodeCode(punch)).toBe(ErrorCode.DATAGRAM_TOO_LARGE);
    const data = filled(37, 0);
    data[0] = DATAGRAM_TYPE_RELAY_DATA;
    expect(decodeCode(data)).toBe(ErrorCode.TRUNCATED);
  });
});

/** A valid datagram of `type` (or a channel datagram for 0x01) of exactly `n` bytes, where `n` may break the bounds. */
function validAt(type: number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  b[0] = type;
  if (type === DATAGRAM_TYPE_PROBE_REPLY && n > 16) {
    b[13] = 4;
    b[15] = 80;
  }
  if (type === DATAGRAM_TYPE_RELAY_DATA && n > RELAY_DATA_HEADER_LENGTH)
    b[RELAY_DATA_HEADER_LENGTH] = DATAGRAM_TYPE_DATA;
  return b;
}

describe('a probe reply is never longer than its probe [NAT-OBS-3] [NAT-AMP-1]', () => {
  it('[NAT-OBS-3] [NAT-AMP-1] the reply to any probe has exactly the probe length, for either family', () => {
    fc.assert(
      fc.property(txid, probeLength, address, port, token, (t, n, a, p, k) => {
        const probe = decodeConnectivityDatagram(encodeProbe(t, n));
        if (probe.type !== DATAGRAM_TYPE_PROBE) throw new Error('not a probe');
        const reply = encodeProbeReply(probe.transactionId, { address: a, port: p }, k, probe.length);
        expect(reply.length).toBe(n);
        expect(decodeConnectivityDatagram(reply).type).toBe(DATAGRAM_TYPE_PROBE_REPLY);
      }),
    );
  });

  it('[NAT-OBS-3] a reply shorter than the shortest probe answers none: refused to the encoder, TRUNCATED to the decoder', () => {
    const t = filled(12, 1);
    const at = { address: filled(16, 2), port: 9 };
    expect(caught(() => encodeProbeReply(t, at, filled(8, 3), 63))).toBeInstanceOf(ApiMisuse);
    expect(caught(() => encodeProbeReply(t, at, filled(8, 3), 1_201))).toBeInstanceOf(ApiMisuse);
    const full = encodeProbeReply(t, at, filled(8, 3), 64);
    expect(decodeCode(full.subarray(0, 40))).toBe(ErrorCode.TRUNCATED);
    expect(decodeCode(full.subarray(0, 63))).toBe(ErrorCode.TRUNCATED);
  });

  it('[NAT-CLASS-3] an unsolicited reply is 64 bytes with a zero token', () => {
    const r = encodeProbeReply(
      filled(12, 4),
      { address: Uint8Array.of(198, 51, 100, 1), port: 4000 },
      filled(8, 0),
      64,
    );
    const d = decodeConnectivityDatagram(r);
    expect(r.length).toBe(64);
    expect(d.type === DATAGRAM_TYPE_PROBE_REPLY && d.token.every((x) => x === 0)).toBe(true);
  });
});

describe('the MACs of binds and punches [NAT-DGRAM-4] [RELAY-BIND-1] [NAT-PUNCH-6]', () => {
  it('[NAT-DGRAM-4] [RELAY-BIND-1] [NAT-PUNCH-6] connectivityMac is the first 16 bytes of HMAC-SHA-256 (RFC 4231 test case 2)', () => {
    const mac = connectivityMac(
      suite,
      new TextEncoder().encode('Jefe'),
      new TextEncoder().encode('what do ya want for nothing?'),
    );
    expect(mac.length).toBe(CONNECTIVITY_MAC_BYTES);
    expect(hex(mac)).toBe('5bdcc146bf60754e6a042426089575c7');
    expect(hex(connectivityMac(nobleCrypto, filled(32, 1), filled(14, 2)))).toBe(
      hex(connectivityMac(nodeCrypto, filled(32, 1), filled(14, 2))),
    );
  });

  it('[RELAY-BIND-1] one tampered byte, another key or another length: the bind is not authentic', () => {
    fc.assert(
      fc.property(
        bindType,
        key,
        key,
        allocationId,
        counter,
        cookie,
        fc.nat(RELAY_BIND_LENGTH - 1),
        fc.integer({ min: 1, max: 255 }),
        (t, k, other, i, c, ck, at, x) => {
          const b = encodeRelayBind(suite, t, k, i, c, ck);
          const tampered = b.slice();
          tampered[at]! ^= x;
          expect(relayBindAuthentic(suite, k, tampered)).toBe(false);
          fc.pre(hex(other) !== hex(k));
          expect(relayBindAuthentic(suite, other, b)).toBe(false);
        },
      ),
    );
    const b = encodeRelayBind(suite, DATAGRAM_TYPE_RELAY_BIND, filled(32, 1), filled(8, 2), 5n, filled(16, 3));
    expect(relayBindAuthentic(suite, filled(32, 1), b.subarray(0, 48))).toBe(false);
    expect(relayBindAuthentic(suite, filled(32, 1), Uint8Array.from([...b, 0]))).toBe(false);
  });

  it('[NAT-DGRAM-4] [RELAY-BIND-1] [RELAY-BIND-2] a bind is no ack: the type byte is under the MAC', () => {
    fc.assert(
      fc.property(key, allocationId, counter, cookie, (k, i, c, ck) => {
        const bind = encodeRelayBind(suite, DATAGRAM_TYPE_RELAY_BIND, k, i, c, ck);
        const ack = encodeRelayBind(suite, DATAGRAM_TYPE_RELAY_BIND_ACK, k, i, c, ck);
        expect(hex(bind.subarray(33))).not.toBe(hex(ack.subarray(33)));
        const reflected = bind.slice();
        reflected[0] = DATAGRAM_TYPE_RELAY_BIND_ACK;
        expect(relayBindAuthentic(suite, k, reflected)).toBe(false);
      }),
    );
  });

  it('[NAT-PUNCH-6] one tampered byte, another key or another length: the punch is not authentic', () => {
    fc.assert(
      fc.property(
        key,
        key,
        punchId,
        flags,
        fc.nat(PUNCH_LENGTH - 1),
        fc.integer({ min: 1, max: 255 }),
        (k, other, i, f, at, x) => {
          const p = encodePunch(suite, k, i, f);
          const tampered = p.slice();
          tampered[at]! ^= x;
          expect(punchAuthentic(suite, k, tampered)).toBe(false);
          fc.pre(hex(other) !== hex(k));
          expect(punchAuthentic(suite, other, p)).toBe(false);
        },
      ),
    );
    const p = encodePunch(suite, filled(32, 1), filled(12, 2), 0);
    expect(punchAuthentic(suite, filled(32, 1), p.subarray(0, 29))).toBe(false);
    expect(punchAuthentic(suite, filled(32, 1), Uint8Array.from([...p, 0]))).toBe(false);
  });

  it('[NAT-DGRAM-4] [NAT-PUNCH-6] the flags are under the MAC: an echo or another role is another MAC', () => {
    const k = filled(32, 6);
    const id = filled(12, 7);
    const macs = [0, PUNCH_FLAG_CALLEE, PUNCH_FLAG_ECHO, PUNCH_FLAG_CALLEE | PUNCH_FLAG_ECHO].map((f) =>
      hex(encodePunch(suite, k, id, f).subarray(14)),
    );
    expect(new Set(macs).size).toBe(4);
  });
});

/**
 * The return-routability exchange of §7.2 with the codecs, against a model relay that follows RELAY-BIND-1
 * and RELAY-BIND-2 to the letter (cookie = the first 16 bytes of HMAC-SHA-256(secret, allocation id ||
 * counter || address || port)).
 */
describe('the bind exchange [RELAY-BIND-1] [RELAY-BIND-2] [RELAY-BIND-3]', () => {
  interface Source {
    address: Uint8Array;
    port: number;
  }
  function modelRelay(secret: Uint8Array, allocationKey: Uint8Array, id: Uint8Array) {
    const state = { bound: undefined as Source | undefined, last: -1n };
    const cookieFor = (counter: bigint, from: Source) => {
      const input = new Uint8Array(8 + 8 + from.address.length + 2);
      input.set(id, 0);
      new DataView(input.buffer).setBigUint64(8, counter);
      input.set(from.address, 16);
      input[16 + from.address.length] = from.port >>> 8;
      input[17 + from.address.length] = from.port & 0xff;
      return connectivityMac(suite, secret, input);
    };
    /** A datagram from `from`: the ack it answers with, or undefined (discarded). */
    const receive = (bytes: Uint8Array, from: Source): Uint8Array | undefined => {
      let d: ConnectivityDatagram;
      try {
        d = decodeConnectivityDatagram(bytes);
      } catch {
        return undefined;
      }
      if (d.type !== DATAGRAM_TYPE_RELAY_BIND || hex(d.allocationId) !== hex(id)) return undefined;
      if (!relayBindAuthentic(suite, allocationKey, bytes) || d.counter <= state.last) return undefined;
      const cookie = cookieFor(d.counter, from);
      if (hex(cookie) === hex(d.cookie)) {
        state.bound = from;
        state.last = d.counter;
      }
      const ack = encodeRelayBind(suite, DATAGRAM_TYPE_RELAY_BIND_ACK, allocationKey, id, d.counter, cookie);
      expect(ack.length).toBe(bytes.length); // [NAT-AMP-1]
      return ack;
    };
    return { state, receive };
  }

  /** The node's side (RELAY-BIND-3): zero cookie, then the challenge's cookie under the same counter. */
  function bind(relay: ReturnType<typeof modelRelay>, k: Uint8Array, id: Uint8Array, counter: bigint, from: Source) {
    let cookie = new Uint8Array(16);
    for (let round = 0; round < 2; round++) {
      const ack = relay.receive(encodeRelayBind(suite, DATAGRAM_TYPE_RELAY_BIND, k, id, counter, cookie), from);
      if (ack === undefined || !relayBindAuthentic(suite, k, ack)) return false;
      const d = decodeConnectivityDatagram(ack);
      if (d.type !== DATAGRAM_TYPE_RELAY_BIND_ACK || d.counter !== counter) return false;
      if (hex(d.cookie) === hex(cookie)) return true;
      cookie = Uint8Array.from(d.cookie);
    }
    return false;
  }

  it('[RELAY-BIND-2] [RELAY-BIND-3] a challenge, then the same counter with the cookie, binds the source', () => {
    fc.assert(
      fc.property(key, key, allocationId, counter, address, port, address, port, (secret, k, id, c, a1, p1, a2, p2) => {
        fc.pre(c < U64_MAX);
        const relay = modelRelay(secret, k, id);
        const here = { address: a1, port: p1 };
        expect(bind(relay, k, id, c, here)).toBe(true);
        expect(relay.state.bound).toEqual(here);
        // A captured bind replayed from elsewhere gets a challenge for that source, and binds nothing.
        const there = { address: a2, port: p2 };
        fc.pre(hex(a1) !== hex(a2) || p1 !== p2);
        const replay = encodeRelayBind(suite, DATAGRAM_TYPE_RELAY_BIND, k, id, c + 1n, new Uint8Array(16));
        relay.receive(replay, there);
        expect(relay.state.bound).toEqual(here);
        // The same counter again is stale; a new mapping binds with a greater counter.
        expect(bind(relay, k, id, c, there)).toBe(false);
        expect(bind(relay, k, id, c + 1n, there)).toBe(true);
        expect(relay.state.bound).toEqual(there);
      }),
      { numRuns: 100 },
    );
  });

  it('[RELAY-BIND-1] a bind under another key is discarded unanswered and binds nothing', () => {
    const relay = modelRelay(filled(32, 1), filled(32, 2), filled(8, 3));
    const from = { address: filled(4, 9), port: 9 };
    expect(
      relay.receive(
        encodeRelayBind(suite, DATAGRAM_TYPE_RELAY_BIND, filled(32, 4), filled(8, 3), 1n, filled(16, 0)),
        from,
      ),
    ).toBeUndefined();
    expect(relay.state.bound).toBeUndefined();
    expect(relay.state.last).toBe(-1n);
  });
});

describe('encoders refuse what a receiver would discard [NAT-DGRAM-3]', () => {
  it('[NAT-DGRAM-3] wrong lengths, ports, counters, flags and inner datagrams are ApiMisuse', () => {
    const misuse = (f: () => unknown) => expect(caught(f)).toBeInstanceOf(ApiMisuse);
    const k = filled(32, 1);
    misuse(() => encodeProbe(filled(11, 0)));
    misuse(() => encodeProbe(filled(12, 0), 63));
    misuse(() => encodeProbe(filled(12, 0), 1_201));
    misuse(() => encodeProbe(filled(12, 0), 64.5));
    const at = { address: filled(4, 1), port: 1 };
    misuse(() => encodeProbeReply(filled(13, 0), at, filled(8, 0), 64));
    misuse(() => encodeProbeReply(filled(12, 0), at, filled(7, 0), 64));
    misuse(() => encodeProbeReply(filled(12, 0), { address: filled(6, 1), port: 1 }, filled(8, 0), 64));
    misuse(() => encodeProbeReply(filled(12, 0), { address: filled(4, 1), port: 0 }, filled(8, 0), 64));
    misuse(() => encodeProbeReply(filled(12, 0), { address: filled(4, 1), port: 65_536 }, filled(8, 0), 64));
    misuse(() => encodeRelayBind(suite, DATAGRAM_TYPE_RELAY_BIND, k, filled(7, 0), 0n, filled(16, 0)));
    misuse(() =>
      encodeRelayBind(suite, DATAGRAM_TYPE_RELAY_BIND, k, filled(8, 0), 0n, filled(RELAY_COOKIE_BYTES + 1, 0)),
    );
    misuse(() => encodeRelayBind(suite, DATAGRAM_TYPE_RELAY_BIND, k, filled(8, 0), -1n, filled(16, 0)));
    misuse(() => encodeRelayBind(suite, DATAGRAM_TYPE_RELAY_BIND, k, filled(8, 0), U64_MAX + 1n, filled(16, 0)));
    misuse(() => encodeRelayData(filled(8, 0), validAt(DATAGRAM_TYPE_DATA, 28)));
    misuse(() => encodeRelayData(filled(8, 0), validAt(DATAGRAM_TYPE_DATA, 1_201)));
    misuse(() => encodeRelayData(filled(8, 0), filled(100, 2)));
    misuse(() => encodeRelayData(filled(9, 0), validAt(DATAGRAM_TYPE_DATA, 29)));
    misuse(() => encodePunch(suite, k, filled(11, 0), 0));
    misuse(() => encodePunch(suite, k, filled(12, 0), 4));
    expect(encodeRelayBind(suite, DATAGRAM_TYPE_RELAY_BIND, k, filled(8, 0), U64_MAX, filled(16, 0)).length).toBe(49);
  });
});

describe('fuzz: any bytes [NAT-DGRAM-2]', () => {
  const type = fc.oneof(fc.integer({ min: 0, max: 8 }), fc.integer({ min: 0, max: 255 }));
  const arbitrary = fc.oneof(
    fc.uint8Array({ maxLength: 1_300 }),
    fc.tuple(type, fc.uint8Array({ maxLength: 1_300 })).map(([t, rest]) => Uint8Array.from([t, ...rest])),
    fc.tuple(type, fc.constantFrom(29, 30, 31, 48, 49, 50, 63, 64, 65, 1_200, 1_201)).map(([t, n]) => {
      const b = new Uint8Array(n);
      b[0] = t;
      return b;
    }),
    validDatagram,
    mutatedArbitrary(validDatagram),
  );

  it('[NAT-DGRAM-2] decodeConnectivityDatagram returns a valid datagram or throws a DecodeError, and changes nothing', () => {
    fc.assert(
      fc.property(arbitrary, (input) => {
        const before = hex(input);
        let d: ConnectivityDatagram | undefined;
        try {
          d = decodeConnectivityDatagram(input);
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError);
          expect([ErrorCode.TRUNCATED, ErrorCode.MALFORMED, ErrorCode.DATAGRAM_TOO_LARGE]).toContain(
            (e as DecodeError).code,
          );
        }
        if (d !== undefined) checkDecoded(d, input);
        expect(hex(input)).toBe(before);
      }),
      { numRuns: 3_000 },
    );
  });

  it('[NAT-DGRAM-2] [RELAY-BIND-1] [NAT-PUNCH-6] a mutated bind or punch is authentic only if it is what the key holder encodes', () => {
    const k = filled(32, 0x42);
    const signedValid = fc.oneof(
      fc.tuple(bindType, allocationId, counter, cookie).map(([t, i, c, ck]) => encodeRelayBind(suite, t, k, i, c, ck)),
      fc.tuple(punchId, flags).map(([i, f]) => encodePunch(suite, k, i, f)),
    );
    fc.assert(
      fc.property(mutatedArbitrary(signedValid), (bytes) => {
        const authentic =
          bytes[0] === DATAGRAM_TYPE_PUNCH ? punchAuthentic(suite, k, bytes) : relayBindAuthentic(suite, k, bytes);
        if (!authentic) return;
        // A mutation that left (or put back) a genuine encoding: it decodes, and re-encoding gives it back.
        const d = decodeConnectivityDatagram(bytes);
        const again =
          d.type === DATAGRAM_TYPE_PUNCH
            ? encodePunch(suite, k, d.punchId, d.flags)
            : d.type === DATAGRAM_TYPE_RELAY_BIND || d.type === DATAGRAM_TYPE_RELAY_BIND_ACK
              ? encodeRelayBind(suite, d.type, k, d.allocationId, d.counter, d.cookie)
              : undefined;
        expect(again && hex(again)).toBe(hex(bytes));
      }),
      { numRuns: 1_000 },
    );
  });
});
