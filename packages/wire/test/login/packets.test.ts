// The login bodies 100-131 of spec/06-login-server.md as packets (spec/01-packets.md applied to
// login.proto): round trips of every body, the limits table of 06 ([LOGIN-LIMIT-1]) driven generically
// from LOGIN_PROTO_RULES (one over every maximum is FIELD_LIMIT on decode and ApiMisuse on encode),
// 64-bit ranges, and properties over arbitrary valid and mutated bodies.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mutatedArbitrary } from '../../fuzz/arbitraries.js';
import { checkEncoding, checkFields } from '../../src/codec/check.js';
import type { MessageRules } from '../../src/codec/rules.js';
import { nodeCrypto } from '../../src/crypto/index.js';
import { ApiMisuse, DecodeError, ErrorCode } from '../../src/errors.js';
import { SignatureContext, signObject } from '../../src/identity/signed.js';
import {
  CERTIFICATE_REQUEST_RULES,
  decodeNetworkPolicy,
  decodeRevocationListPage,
  decodeSupernodeListPage,
  LOGIN_BODIES,
  LOGIN_PROTO_RULES,
  NETWORK_POLICY_RULES,
  REVOCATION_LIST_PAGE_RULES,
  SIGNED_PREKEY_RULES,
  SUPERNODE_LIST_PAGE_RULES,
  verifySignedPrekey,
} from '../../src/login/index.js';
import { decodePacket, encodePacket, PACKET_RULES, type Packet } from '../../src/packet/index.js';
import { makeMember, makeNetwork } from '../identity/fixtures.js';
import {
  codeOf,
  expectLimit,
  expectWide,
  limitedFields,
  type ObjectRoot,
  ofLength,
  packet,
  sample,
  routes as sharedRoutes,
  wideFields,
} from '../packet/body-limits.js';
import { varint } from '../packet/wire-bytes.js';
import { bodyProperty, loginPacketArbitrary, pathTo, plain, wrap, zeroElement } from './rules.js';

/** Decodes; returns the packet or the DecodeError; any other exception fails the property. */
function decodeOrError(bytes: Uint8Array): Packet | DecodeError {
  try {
    return decodePacket(bytes);
  } catch (e) {
    if (e instanceof DecodeError) return e;
    throw e;
  }
}

describe('login packets: round trips [WIRE-PKT-1] [WIRE-PKT-5]', () => {
  it('[WIRE-PKT-5] the bodies are numbered 100-131 in packet.proto, in the login range', () => {
    expect(LOGIN_BODIES.map((b) => b.number)).toEqual(Array.from({ length: 32 }, (_, i) => 100 + i));
    for (const b of LOGIN_BODIES) {
      expect(PACKET_RULES.byNumber[b.number]?.name).toBe(b.name);
      expect(PACKET_RULES.byNumber[b.number]?.message).toBe(b.rules);
    }
  });

  for (const b of LOGIN_BODIES) {
    it(`[WIRE-PKT-1] [WIRE-ENC-1] body ${b.number} ${b.name}: every field set round trips, under its own field number`, () => {
      const value = sample(b.rules);
      const bytes = encodePacket(packet(b.number, value, 0));
      // request_id 0 is omitted: the packet starts with the body's tag, field b.number, wire type 2
      expect([...bytes.subarray(0, varint(b.number * 8 + 2).length)]).toEqual(varint(b.number * 8 + 2));
      const decoded = decodePacket(bytes);
      expect(decoded.requestId).toBe(0);
      expect(decoded.body.case).toBe(bodyProperty(b.number));
      expect(plain(decoded.body.value)).toStrictEqual(plain(value));
      expect([...encodePacket(decoded)]).toEqual([...bytes]);
    });

    it(`[WIRE-PKT-1] [WIRE-ENC-1] body ${b.number} ${b.name}: empty, every field decodes to its zero value`, () => {
      const bytes = encodePacket(packet(b.number, {}, 9));
      const decoded = decodePacket(bytes);
      const expected = Object.fromEntries(
        b.rules.fields.map((f) => [f.property, f.repeated ? [] : f.kind === 'message' ? undefined : zeroElement(f)]),
      );
      expect(plain(decoded.body.value)).toStrictEqual(plain(expected));
      // every field an own property, absent nested messages included
      expect(Object.keys(decoded.body.value).sort()).toEqual(b.rules.fields.map((f) => f.property).sort());
      expect([...encodePacket(decoded)]).toEqual([...bytes]);
    });
  }

  it('[WIRE-PKT-1] [LOGIN-CERT-2] LoginFinish carries its CertificateRequest as a nested plain object, or undefined', () => {
    const request = {
      subjectKey: new Uint8Array(32).fill(1),
      deviceId: new Uint8Array(16).fill(2),
      proof: new Uint8Array(64).fill(3),
    };
    const withRequest = decodePacket(
      encodePacket(packet(106, { finishLoginRequest: Uint8Array.of(9), certificateRequest: request })),
    );
    const v = withRequest.body.value as { certificateRequest?: { subjectKey: Uint8Array; proof: Uint8Array } };
    expect(v.certificateRequest).toBeDefined();
    expect(Object.getPrototypeOf(v.certificateRequest)).toBe(Object.prototype);
    expect([...v.certificateRequest!.proof]).toEqual([...request.proof]);
    const without = decodePacket(encodePacket(packet(106, { finishLoginRequest: Uint8Array.of(9) })));
    expect('certificateRequest' in without.body.value).toBe(true);
    expect((without.body.value as { certificateRequest?: unknown }).certificateRequest).toBeUndefined();
  });

  it('[WIRE-INT-1] uint64 fields decode as numbers, up to 2^53-1, nested ones included', () => {
    const versions = {
      policyVersion: Number.MAX_SAFE_INTEGER,
      supernodeListEpoch: 2 ** 32 + 1,
      revocationListNumber: 0,
    };
    const d = decodePacket(encodePacket(packet(121, { heartbeatIntervalMs: 30_000, versions })));
    expect(d.body.value).toStrictEqual({ heartbeatIntervalMs: 30_000, versions });
    const g = decodePacket(encodePacket(packet(114, { knownVersion: 2 ** 53 - 1 })));
    expect(g.body.value).toStrictEqual({ knownVersion: 2 ** 53 - 1 });
    expect(typeof (g.body.value as { knownVersion: unknown }).knownVersion).toBe('number');
  });

  it('[WIRE-PKT-1] repeated fields keep their order; a bundle without a one-time prekey has it undefined', () => {
    const endpoints = [
      { protocol: 1, address: Uint8Array.of(192, 0, 2, 1), port: 4000 },
      { protocol: 2, address: new Uint8Array(16).fill(0x20), port: 443 },
    ];
    const r = decodePacket(encodePacket(packet(120, { endpoints, capacity: 800 })));
    expect(plain(r.body.value)).toStrictEqual(plain({ endpoints, capacity: 800 }));
    const bundles = [
      {
        certificate: Uint8Array.of(1),
        signedPrekey: Uint8Array.of(2),
        oneTimePrekey: { id: 5, publicKey: new Uint8Array(32) },
      },
      { certificate: Uint8Array.of(3), signedPrekey: Uint8Array.of(4), oneTimePrekey: undefined },
    ];
    const f = decodePacket(encodePacket(packet(127, { bundles })));
    expect(plain(f.body.value)).toStrictEqual(plain({ bundles }));
  });
});

// ---- Limits, generically from the rules ----------------------------------------------------------------

const net = makeNetwork(nodeCrypto, 'login packets');
const member = makeMember(net);

/** Signed objects: the root messages a decoder of objects.ts checks, with that decoder. */
const OBJECT_ROOTS: ObjectRoot[] = [
  { root: 'NetworkPolicy', rules: NETWORK_POLICY_RULES, decode: decodeNetworkPolicy },
  { root: 'SupernodeListPage', rules: SUPERNODE_LIST_PAGE_RULES, decode: decodeSupernodeListPage },
  { root: 'RevocationListPage', rules: REVOCATION_LIST_PAGE_RULES, decode: decodeRevocationListPage },
  {
    root: 'SignedPrekey',
    rules: SIGNED_PREKEY_RULES,
    // signed as-is by the member's certified key, then verified: the body decoder runs after the signature
    decode: (body) =>
      verifySignedPrekey(
        nodeCrypto,
        signObject(nodeCrypto, member.key, SignatureContext.SIGNATURE_CONTEXT_PREKEY_BUNDLE, body),
        { ...member.fields, version: 1, issuerKeyId: net.login.keyId },
      ),
  },
];
const BODY_ROOTS = LOGIN_BODIES.map((b) => ({ root: b.number, rules: b.rules }));

const routes = (rules: MessageRules) => sharedRoutes(rules, BODY_ROOTS, OBJECT_ROOTS);
const limited = limitedFields(LOGIN_PROTO_RULES);
const wide = wideFields(LOGIN_PROTO_RULES);

describe('login.proto limits [WIRE-LIMIT-1] [LOGIN-LIMIT-1]', () => {
  it('[LOGIN-LIMIT-1] every string, bytes and repeated field has a maximum, and some fields are reached each way', () => {
    expect(limited.length).toBeGreaterThan(40);
    expect(limited.filter(({ rules }) => pathTo(rules, BODY_ROOTS) !== undefined).length).toBeGreaterThan(30);
    for (const r of LOGIN_PROTO_RULES) {
      // every message of login.proto is a body, inside one, or inside a signed object
      expect(pathTo(r, BODY_ROOTS) ?? pathTo(r, OBJECT_ROOTS), r.name).toBeDefined();
    }
  });

  for (const { rules, f } of limited) {
    const max = f.repeated ? `${f.maxCount} elements` : `${f.maxLength} bytes`;
    it(`[WIRE-LIMIT-1] [LOGIN-LIMIT-1] ${rules.name}.${f.name} (${max}): one over is FIELD_LIMIT on decode and ApiMisuse on encode; the maximum passes`, () => {
      expectLimit(f, routes(rules));
    });
  }

  for (const { rules, f } of wide) {
    it(`[WIRE-INT-1] ${rules.name}.${f.name}: above 2^53-1 is INTEGER_RANGE on decode and ApiMisuse on encode`, () => {
      expectWide(f, routes(rules), true);
    });
  }

  it('[WIRE-LIMIT-1] [WIRE-UTF8-2] a sender refuses a lone surrogate and a non-integer in a login body', () => {
    expect(codeOf(() => encodePacket(packet(100, { username: 'a\ud800b' })))).toBe(ErrorCode.API_MISUSE);
    expect(codeOf(() => encodePacket(packet(114, { knownVersion: 1.5 })))).toBe(ErrorCode.API_MISUSE);
    expect(codeOf(() => encodePacket(packet(106, { certificateRequest: { subjectKey: 'x' } })))).toBe(
      ErrorCode.API_MISUSE,
    );
    expect(codeOf(() => checkFields({ subjectKey: new Uint8Array(33) }, CERTIFICATE_REQUEST_RULES))).toBe(
      ErrorCode.API_MISUSE,
    );
  });
});

// ---- Properties ----------------------------------------------------------------------------------------

const validLogin = loginPacketArbitrary().map((p) => encodePacket(p));

describe('login packet properties', () => {
  it('[WIRE-PKT-1] [WIRE-ENC-1] decode(encode(x)) == x and encode(decode(bytes)) == bytes for arbitrary valid login bodies', () => {
    fc.assert(
      fc.property(loginPacketArbitrary(), (p) => {
        const bytes = encodePacket(p);
        const decoded = decodePacket(bytes);
        expect(decoded.requestId).toBe(p.requestId);
        expect(decoded.body.case).toBe(p.body.case);
        expect(plain(decoded.body.value)).toStrictEqual(plain(p.body.value));
        expect([...encodePacket(decoded)]).toEqual([...bytes]);
      }),
      { numRuns: 1_000 },
    );
  });

  it('[WIRE-LIMIT-5] [GEN-ERR-1] mutated valid login encodings give a packet or a DecodeError, nothing else', () => {
    fc.assert(
      fc.property(mutatedArbitrary(validLogin), (bytes) => {
        decodeOrError(bytes);
      }),
      { numRuns: 6_000 },
    );
  });

  it('[WIRE-LIMIT-5] arbitrary bytes inside a login body number give a packet or a DecodeError', () => {
    fc.assert(
      fc.property(fc.integer({ min: 100, max: 131 }), fc.uint8Array({ maxLength: 300 }), (number, payload) => {
        const bytes = Uint8Array.from([...varint(number * 8 + 2), ...varint(payload.length), ...payload]);
        const r = decodeOrError(bytes);
        if (!(r instanceof DecodeError)) expect(r.body.case).toBe(bodyProperty(number));
      }),
      { numRuns: 10_000 },
    );
  });

  it('[WIRE-LIMIT-1] the packet decoder accepts exactly what the login rules accept', () => {
    fc.assert(
      fc.property(mutatedArbitrary(validLogin), (bytes) => {
        let generic = true;
        try {
          checkEncoding(bytes, PACKET_RULES);
        } catch {
          generic = false;
        }
        const r = decodeOrError(bytes);
        if (!(r instanceof DecodeError)) expect(generic).toBe(true);
        else if (generic) expect([ErrorCode.UNKNOWN_BODY, ErrorCode.MISSING_FIELD]).toContain(r.code);
      }),
      { numRuns: 3_000 },
    );
  });

  it('[WIRE-LIMIT-1] a sender refuses every login body with one field over its maximum (ApiMisuse, never an encoding)', () => {
    const over = fc.constantFrom(...limited.filter(({ rules }) => pathTo(rules, BODY_ROOTS) !== undefined));
    fc.assert(
      fc.property(over, fc.integer({ min: 1, max: 40 }), ({ rules, f }, extra) => {
        const path = pathTo(rules, BODY_ROOTS)!;
        const v = f.repeated
          ? Array.from({ length: f.maxCount! + extra }, () => zeroElement(f))
          : ofLength(f, f.maxLength! + extra);
        expect(() => encodePacket(packet(path.root as number, wrap(path, { [f.property]: v })))).toThrow(ApiMisuse);
      }),
      { numRuns: 500 },
    );
  });
});
