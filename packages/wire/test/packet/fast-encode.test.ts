// encodePacket's direct path for envelope-list bodies (LookupPresenceReply, ReplicatePresence,
// ReplicateMessages) against the generic protobufjs path: the same bytes for every packet, the same
// ApiMisuse for every packet refused ([WIRE-ENC-1], [WIRE-LIMIT-1], [WIRE-LIMIT-3], [WIRE-INT-2]).
// fast-check with the seed of scripts/vitest-setup.ts, printed below; replay with PARLEY_SEED=<seed>.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CompiledField } from '../../src/codec/rules.js';
import { ApiMisuse } from '../../src/errors.js';
import { SLAB_MAX_ALLOCATION, SLAB_SIZE, slabAllocate } from '../../src/framing/slab.js';
import { encodeFrame } from '../../src/framing/stream.js';
import { MAX_STREAM_PACKET_SIZE, PACKET_RULES } from '../../src/packet/limits.js';
import {
  DIRECT_BODIES,
  decodePacket,
  encodePacket,
  encodePacketGeneric,
  type Packet,
  type PacketBody,
} from '../../src/packet/packet.js';
import { bytes, ld, vf } from './wire-bytes.js';

const seed = Number(fc.readConfigureGlobal().seed);
console.log(`fast-encode.test.ts: fast-check seed ${seed} (replay: PARLEY_SEED=${seed})`);

type Outcome = { readonly bytes: number[] } | { readonly error: string };

/** The bytes of an encoder, or the message of its ApiMisuse; any other exception fails the test. */
function outcome(encode: () => Uint8Array): Outcome {
  try {
    return { bytes: [...encode()] };
  } catch (e) {
    if (e instanceof ApiMisuse) return { error: e.message };
    throw e;
  }
}

/** The list field and the two envelope fields of a direct body, from the rules. */
function layoutOf(member: string): { list: CompiledField; first: CompiledField; second: CompiledField } {
  const body = PACKET_RULES.fields.find((f) => f.property === member)!;
  const list = body.message!.fields[0]!;
  const [first, second] = list.message!.fields as [CompiledField, CompiledField];
  return { list, first, second };
}

/** Lengths that cross varint widths and limits, or any length up to one past the limit. */
const lengthArb = (max: number): fc.Arbitrary<number> =>
  fc.oneof(
    fc.constantFrom(0, 1, 127, 128, 129, 16_383, 16_384, max - 1, max, max + 1).filter((n) => n >= 0 && n <= max + 1),
    fc.nat(max + 1),
    fc.nat(300),
  );

/** A bytes field: absent, or an array (sometimes a view at an offset inside a larger buffer). */
const bytesFieldArb = (max: number): fc.Arbitrary<Uint8Array | undefined> =>
  fc.option(
    fc.tuple(lengthArb(max), fc.nat(255), fc.nat(7)).map(([length, fill, offset]) => {
      const backing = new Uint8Array(length + offset + 3);
      for (let i = 0; i < backing.length; i++) backing[i] = (fill + i * 31) & 0xff;
      return backing.subarray(offset, offset + length);
    }),
    { nil: undefined, freq: 6 },
  );

const requestIdArb = fc.oneof(
  fc.constantFrom(0, 1, 127, 128, 16_384, 2 ** 32 - 1),
  fc.nat({ max: 2 ** 32 - 1 }),
  fc.constantFrom(-1, 2 ** 32, 1.5, Number.NaN),
);

function envelopeListPacketArb(member: (typeof DIRECT_BODIES)[number], valid: boolean): fc.Arbitrary<Packet> {
  const { list, first, second } = layoutOf(member);
  // Valid: within every limit, and small enough for most packets to fit in MAX_STREAM_PACKET_SIZE.
  const field = (f: CompiledField) => bytesFieldArb(valid ? Math.min(f.maxLength!, 2_000) : f.maxLength!);
  const envelope = fc.record({ [first.property]: field(first), [second.property]: field(second) });
  const envelopes = fc.array(envelope, { maxLength: valid ? Math.min(list.maxCount!, 8) : list.maxCount! + 1 });
  return fc.tuple(valid ? fc.nat({ max: 2 ** 32 - 1 }) : requestIdArb, envelopes).map(([requestId, items]) => {
    // Absent fields as absent properties (not `undefined` own properties), as decoded plain objects have them.
    const clean = items.map((e) => Object.fromEntries(Object.entries(e).filter(([, v]) => v !== undefined)));
    return { requestId, body: { case: member, value: { [list.property]: clean } } as unknown as PacketBody };
  });
}

describe('encodePacket: envelope lists written directly [WIRE-ENC-1]', () => {
  it('writes LookupPresenceReply, ReplicatePresence and ReplicateMessages directly', () => {
    expect([...DIRECT_BODIES].sort()).toEqual(['lookupPresenceReply', 'replicateMessages', 'replicatePresence']);
  });

  it('[WIRE-ENC-1] the bytes of a LookupPresenceReply, field by field', () => {
    const certificate = Uint8Array.of(1, 2, 3);
    const record = new Uint8Array(130).fill(9);
    const packet: Packet = {
      requestId: 300,
      body: {
        case: 'lookupPresenceReply',
        value: {
          records: [
            { certificate, record },
            { certificate: new Uint8Array(0), record },
          ],
        },
      },
    };
    const expected = bytes(
      vf(1, 300),
      ld(205, [...ld(1, [...ld(1, certificate), ...ld(2, record)]), ...ld(1, ld(2, record))]),
    );
    expect([...encodePacket(packet)]).toEqual([...expected]);
    expect([...encodePacketGeneric(packet)]).toEqual([...expected]);
    // request_id 0 and an empty list: the body alone, zero-length.
    const empty: Packet = { requestId: 0, body: { case: 'lookupPresenceReply', value: { records: [] } } };
    expect([...encodePacket(empty)]).toEqual([...bytes(ld(205, []))]);
  });

  for (const member of DIRECT_BODIES) {
    it(`[WIRE-ENC-1] ${member}: the same bytes as the generic encoder, and decodes back (seed ${seed})`, () => {
      let encoded = 0;
      fc.assert(
        fc.property(envelopeListPacketArb(member, true), (packet) => {
          const fast = outcome(() => encodePacket(packet));
          expect(fast).toEqual(outcome(() => encodePacketGeneric(packet)));
          if (!('bytes' in fast)) return;
          encoded++;
          const decoded = decodePacket(Uint8Array.from(fast.bytes));
          expect(decoded.requestId).toBe(packet.requestId);
          expect([...encodePacket(decoded)]).toEqual(fast.bytes);
        }),
        { seed, numRuns: 1_000 },
      );
      expect(encoded).toBeGreaterThan(500);
    });

    it(`[WIRE-LIMIT-1] [WIRE-LIMIT-3] [WIRE-INT-2] ${member}: refused exactly when the generic encoder refuses, with its message (seed ${seed})`, () => {
      const seen = { bytes: 0, error: 0 };
      fc.assert(
        fc.property(envelopeListPacketArb(member, false), (packet) => {
          const fast = outcome(() => encodePacket(packet));
          expect(fast).toEqual(outcome(() => encodePacketGeneric(packet)));
          seen['bytes' in fast ? 'bytes' : 'error']++;
        }),
        { seed, numRuns: 400 },
      );
      expect(seen.bytes).toBeGreaterThan(50);
      expect(seen.error).toBeGreaterThan(50);
    });
  }

  it('[WIRE-LIMIT-3] honours maxSize as the generic encoder does', () => {
    const record = new Uint8Array(1_000).fill(1);
    const packet: Packet = {
      requestId: 7,
      body: { case: 'lookupPresenceReply', value: { records: [{ certificate: record, record }] } },
    };
    const size = encodePacketGeneric(packet).length;
    expect(encodePacket(packet, { maxSize: size }).length).toBe(size);
    expect(() => encodePacket(packet, { maxSize: size - 1 })).toThrow(`Packet: ${size} bytes, limit ${size - 1}`);
    expect(() => encodePacketGeneric(packet, { maxSize: size - 1 })).toThrow(
      `Packet: ${size} bytes, limit ${size - 1}`,
    );
    expect(size).toBeLessThan(MAX_STREAM_PACKET_SIZE);
  });

  it('leaves values carrying protobufjs $unknowns to the generic encoder', () => {
    const unknown = Uint8Array.of(0x18, 0x05); // field 3, varint 5
    const withUnknowns = { certificate: Uint8Array.of(1), record: Uint8Array.of(2), $unknowns: [unknown] };
    const packet = {
      requestId: 1,
      body: { case: 'lookupPresenceReply', value: { records: [withUnknowns] } },
    } as unknown as Packet;
    expect([...encodePacket(packet)]).toEqual([...encodePacketGeneric(packet)]);
  });
});

describe('slab arrays', () => {
  it('hands out disjoint zero-filled regions, and large arrays of their own', () => {
    const a = slabAllocate(100);
    const b = slabAllocate(100);
    expect(a.every((x) => x === 0) && b.every((x) => x === 0)).toBe(true);
    a.fill(0xff);
    expect(b.every((x) => x === 0)).toBe(true);
    const big = slabAllocate(SLAB_MAX_ALLOCATION + 1);
    expect(big.byteOffset).toBe(0);
    expect(big.buffer.byteLength).toBe(SLAB_MAX_ALLOCATION + 1);
    for (let i = 0; i < (2 * SLAB_SIZE) / SLAB_MAX_ALLOCATION + 1; i++) {
      expect(slabAllocate(SLAB_MAX_ALLOCATION).length).toBe(SLAB_MAX_ALLOCATION);
    }
  });

  it('[CHAN-FRAME-1] frames from a slab are header and message, unaffected by later frames', () => {
    const first = encodeFrame(Uint8Array.of(1, 2, 3));
    const second = encodeFrame(new Uint8Array(300).fill(7));
    expect([...first]).toEqual([0, 3, 1, 2, 3]);
    expect(second.length).toBe(302);
    expect([...second.subarray(0, 2)]).toEqual([1, 44]);
    expect([...first]).toEqual([0, 3, 1, 2, 3]);
  });
});
