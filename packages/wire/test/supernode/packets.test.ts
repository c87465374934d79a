// The supernode bodies 200-223 of spec/07-supernode.md as packets (spec/01-packets.md applied to
// supernode.proto): round trips of every body, the limits table ([SN-LIMIT-1]) driven generically from
// SUPERNODE_PROTO_RULES (one over every maximum is FIELD_LIMIT on decode and ApiMisuse on encode), 64-bit
// ranges, the oneof of AttachReply, and properties over arbitrary valid and mutated packets.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mutatedArbitrary } from '../../fuzz/arbitraries.js';
import type { MessageRules } from '../../src/codec/rules.js';
import { DecodeError, ErrorCode, type ParleyError } from '../../src/errors.js';
import { parley } from '../../src/gen/parley.js';
import { decodePacket, encodePacket, PACKET_RULES, type Packet } from '../../src/packet/index.js';
import {
  decodeOfflineMessage,
  decodePresenceRecord,
  OFFLINE_MESSAGE_RULES,
  PRESENCE_RECORD_RULES,
  SUPERNODE_BODIES,
  SUPERNODE_PROTO_RULES,
} from '../../src/supernode/index.js';
import { bodyProperty, messageArbitrary, pathTo, plain } from '../login/rules.js';
import {
  codeOf,
  expectLimit,
  expectWide,
  limitedFields,
  type ObjectRoot,
  oneMemberEach,
  packet,
  sample,
  routes as sharedRoutes,
  wideFields,
} from '../packet/body-limits.js';
import { varint } from '../packet/wire-bytes.js';

describe('supernode packets: round trips [WIRE-PKT-1] [WIRE-PKT-5]', () => {
  it('[WIRE-PKT-5] the bodies are numbered 200-223 in packet.proto, in the range of chapters 07-08', () => {
    expect(SUPERNODE_BODIES.map((b) => b.number)).toEqual([
      200, 201, 202, 203, 204, 205, 210, 211, 212, 213, 214, 215, 220, 221, 222, 223,
    ]);
    for (const b of SUPERNODE_BODIES) {
      expect(PACKET_RULES.byNumber[b.number]?.name).toBe(b.name);
      expect(PACKET_RULES.byNumber[b.number]?.message).toBe(b.rules);
    }
  });

  for (const b of SUPERNODE_BODIES) {
    it(`[WIRE-PKT-1] [WIRE-ENC-1] body ${b.number} ${b.name}: every field set round trips, under its own number`, () => {
      const value = sample(b.rules);
      const bytes = encodePacket(packet(b.number, value, 0));
      expect([...bytes.subarray(0, varint(b.number * 8 + 2).length)]).toEqual(varint(b.number * 8 + 2));
      const decoded = decodePacket(bytes);
      expect(decoded.body.case).toBe(bodyProperty(b.number));
      expect(plain(decoded.body.value)).toStrictEqual(plain(value));
      expect([...encodePacket(decoded)]).toEqual([...bytes]);
      // empty: every field its zero value, every field an own property
      const empty = decodePacket(encodePacket(packet(b.number, {}, 9)));
      expect(Object.keys(empty.body.value).sort()).toEqual(b.rules.fields.map((f) => f.property).sort());
    });
  }

  it('[WIRE-ENC-4] AttachReply carries attached or redirect, never both', () => {
    const attached = { keepaliveIntervalMs: 25_000, observed: undefined, listEpoch: 3 };
    const redirect = { supernodeKeyIds: [new Uint8Array(32).fill(1)], listEpoch: 3 };
    const a = decodePacket(encodePacket(packet(201, { attached })));
    expect((a.body.value as { redirect?: unknown }).redirect).toBeUndefined();
    expect(plain((a.body.value as { attached?: unknown }).attached)).toStrictEqual(plain(attached));
    const r = decodePacket(encodePacket(packet(201, { redirect })));
    expect(plain((r.body.value as { redirect?: unknown }).redirect)).toStrictEqual(plain(redirect));
    expect(codeOf(() => encodePacket(packet(201, { attached, redirect })))).toBe(ErrorCode.API_MISUSE);
    const one = parley.v1.Packet.encode({ requestId: 1, attachReply: { attached: {} } } as never).finish();
    // append a redirect member to the AttachReply by hand: a second member of the oneof is MALFORMED
    const body = parley.v1.AttachReply.encode({ attached: { keepaliveIntervalMs: 1 } } as never).finish();
    const twice = new Uint8Array([...body, 0x12, 0x00]);
    const bytes = new Uint8Array([0x08, 0x01, ...varint(201 * 8 + 2), ...varint(twice.length), ...twice]);
    expect(codeOf(() => decodePacket(one))).toBe('ok');
    expect(codeOf(() => decodePacket(bytes))).toBe(ErrorCode.MALFORMED);
  });

  it('[WIRE-PKT-1] arbitrary valid supernode packets round trip exactly', () => {
    const arb = fc
      .tuple(
        fc.nat({ max: 0xffff_ffff }),
        fc.oneof(
          ...SUPERNODE_BODIES.map((b) =>
            messageArbitrary(b.rules).map((v) => ({ case: bodyProperty(b.number), value: oneMemberEach(b.rules, v) })),
          ),
        ),
      )
      .map(([requestId, body]) => ({ requestId, body }) as unknown as Packet);
    fc.assert(
      fc.property(arb, (p) => {
        let bytes: Uint8Array;
        try {
          bytes = encodePacket(p);
        } catch (e) {
          // only a packet larger than stream-packet-max is refused (many maximum-size envelopes)
          expect((e as ParleyError).code).toBe(ErrorCode.API_MISUSE);
          expect((e as Error).message).toMatch(/limit 65519/);
          return;
        }
        const d = decodePacket(bytes);
        expect(plain(d)).toStrictEqual(plain(p));
      }),
      { numRuns: 300 },
    );
  });

  it('[WIRE-LIMIT-5] mutated supernode packets decode or fail with a DecodeError, nothing else', () => {
    const valid = fc.constantFrom(...SUPERNODE_BODIES.map((b) => encodePacket(packet(b.number, sample(b.rules)))));
    fc.assert(
      fc.property(mutatedArbitrary(valid), (bytes) => {
        try {
          decodePacket(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 1000 },
    );
  });
});

// ---- Limits, generically from the rules ----------------------------------------------------------------

const OBJECT_ROOTS: ObjectRoot[] = [
  { root: 'PresenceRecord', rules: PRESENCE_RECORD_RULES, decode: decodePresenceRecord },
  { root: 'OfflineMessage', rules: OFFLINE_MESSAGE_RULES, decode: (b) => decodeOfflineMessage(b) },
];
const BODY_ROOTS = SUPERNODE_BODIES.map((b) => ({ root: b.number, rules: b.rules }));
const routes = (rules: MessageRules) => sharedRoutes(rules, BODY_ROOTS, OBJECT_ROOTS);
const limited = limitedFields(SUPERNODE_PROTO_RULES);
const wide = wideFields(SUPERNODE_PROTO_RULES);

describe('supernode.proto limits [WIRE-LIMIT-1] [SN-LIMIT-1]', () => {
  it('[SN-LIMIT-1] every message is a body, inside one, or a signed object; every variable field has a maximum', () => {
    expect(limited.length).toBeGreaterThan(20);
    for (const r of SUPERNODE_PROTO_RULES)
      expect(pathTo(r, BODY_ROOTS) ?? pathTo(r, OBJECT_ROOTS), r.name).toBeDefined();
  });

  for (const { rules, f } of limited) {
    const max = f.repeated ? `${f.maxCount} elements` : `${f.maxLength} bytes`;
    it(`[WIRE-LIMIT-1] [SN-LIMIT-1] ${rules.name}.${f.name} (${max}): one over is FIELD_LIMIT on decode, ApiMisuse on encode; the maximum passes`, () => {
      expectLimit(f, routes(rules));
    });
  }

  for (const { rules, f } of wide) {
    it(`[WIRE-INT-1] ${rules.name}.${f.name}: above 2^53-1 is INTEGER_RANGE on decode and ApiMisuse on encode`, () => {
      expectWide(f, routes(rules), false);
    });
  }
});
