// Tests of spec/02-identity.md §5: certificate fields and limits (each with its error code), the
// order of the body checks, validity in time with skew (exact boundaries), and issuance.
import fc from 'fast-check';
import Long from 'long';
import { describe, expect, it } from 'vitest';
import { mutatedArbitrary } from '../../fuzz/arbitraries.js';
import { encodeMessage } from '../../src/codec/proto.js';
import { nobleCrypto } from '../../src/crypto/noble.js';
import { nodeCrypto } from '../../src/crypto/node.js';
import { seededRandom } from '../../src/crypto/random.js';
import { ApiMisuse, DecodeError, ErrorCode, IdentityError, ParleyError } from '../../src/errors.js';
import { parley } from '../../src/gen/parley.js';
import {
  CERTIFICATE_VERSION,
  type Certificate,
  checkValidity,
  createRootKey,
  DEFAULT_CLOCK_SKEW_MS,
  decodeCertificate,
  decodeSigned,
  encodeCertificate,
  generateSigningKey,
  issueCertificate,
  MAX_CLOCK_SKEW_MS,
  MAX_LIFETIME_MS,
  Role,
  signingKeyFromSeed,
  verifyChain,
} from '../../src/identity/index.js';
import {
  caught,
  DAY,
  expectCode,
  HOUR,
  makeMember,
  makeNetwork,
  NOW,
  policyFor,
  signRawCertificate,
  userCertificate,
} from './fixtures.js';

const suite = nodeCrypto;
const issuer = signingKeyFromSeed(suite, new Uint8Array(32).fill(0x10));
const subject = signingKeyFromSeed(suite, new Uint8Array(32).fill(0x20));
const base = userCertificate(issuer, subject.publicKey);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** decodeCertificate of `base` with some fields replaced. */
function decodeWith(fields: Partial<Certificate>): Certificate {
  return decodeCertificate(encodeCertificate({ ...base, ...fields }));
}

describe('certificates (spec/02-identity.md §5)', () => {
  it('[ID-CERT-1] a certificate round-trips through issuance and decoding', () => {
    const net = makeNetwork(suite, 'cert-round-trip');
    const alice = makeMember(net);
    const cert = decodeCertificate(decodeSigned(alice.cert).body);
    expect(cert).toEqual({ ...alice.fields, version: CERTIFICATE_VERSION, issuerKeyId: net.login.keyId });
  });

  it('[ID-CERT-1] a body above 512 bytes is FIELD_LIMIT', () => {
    const body = new Uint8Array([...encodeCertificate(base), 0x7a, 0xff, 0x03, ...new Uint8Array(0x1ff)]);
    expect(body.length).toBeGreaterThan(512);
    expectCode(() => decodeCertificate(body), ErrorCode.FIELD_LIMIT, DecodeError);
  });

  it('[ID-CERT-1] a field repeated in the body is refused by the encoding rules (MALFORMED)', () => {
    const body = encodeCertificate(base);
    expectCode(() => decodeCertificate(new Uint8Array([...body, 0x08, 0x01])), ErrorCode.MALFORMED, DecodeError);
  });

  it('[ID-CERT-2] node and noble suites issue byte-identical certificates, canonically encoded', () => {
    const fields = {
      subject: 'carol',
      subjectKey: subject.publicKey,
      deviceId: new Uint8Array(16).fill(9),
      role: Role.ROLE_SUPERNODE,
      serial: 123_456_789,
      notBefore: NOW,
      notAfter: NOW + 6 * HOUR,
    };
    const a = issueCertificate(nodeCrypto, new Uint8Array(32).fill(0x10), fields);
    const b = issueCertificate(nobleCrypto, new Uint8Array(32).fill(0x10), fields);
    expect(hex(a)).toBe(hex(b));
    const rootA = createRootKey(nodeCrypto, seededRandom('cross-suite'));
    const rootB = createRootKey(nobleCrypto, seededRandom('cross-suite'));
    const loginA = generateSigningKey(nodeCrypto, seededRandom('cross-suite login'));
    const f = { ...fields, subjectKey: loginA.publicKey, role: Role.ROLE_LOGIN, notAfter: NOW + 365 * DAY };
    expect(hex(issueCertificate(nodeCrypto, rootA, f))).toBe(hex(issueCertificate(nobleCrypto, rootB, f)));
    // Canonical: decoding and re-encoding the body gives the same bytes.
    const body = decodeSigned(a).body;
    expect(hex(encodeCertificate(decodeCertificate(body)))).toBe(hex(body));
  });

  it('[ID-CERT-3] an absent version is MISSING_FIELD, a version other than 1 CERT_INVALID', () => {
    expectCode(() => decodeWith({ version: 0 }), ErrorCode.MISSING_FIELD, DecodeError);
    expectCode(() => decodeWith({ version: 2 }), ErrorCode.CERT_INVALID, IdentityError);
  });

  describe('[ID-CERT-4] subject', () => {
    it('[ID-CERT-4] empty is MISSING_FIELD', () => {
      expectCode(() => decodeWith({ subject: '' }), ErrorCode.MISSING_FIELD, DecodeError);
    });
    it('[ID-CERT-4] 64 bytes pass, 65 bytes are FIELD_LIMIT (counted in UTF-8 bytes)', () => {
      expect(decodeWith({ subject: 'a'.repeat(64) }).subject).toBe('a'.repeat(64));
      expect(decodeWith({ subject: '😀'.repeat(16) }).subject).toBe('😀'.repeat(16));
      expectCode(() => decodeWith({ subject: 'a'.repeat(65) }), ErrorCode.FIELD_LIMIT, DecodeError);
      expectCode(() => decodeWith({ subject: `${'😀'.repeat(16)}a` }), ErrorCode.FIELD_LIMIT, DecodeError);
      expectCode(() => decodeWith({ subject: 'é'.repeat(33) }), ErrorCode.FIELD_LIMIT, DecodeError);
    });
    const forbidden = [
      0x00, 0x09, 0x0a, 0x1f, 0x7f, 0x80, 0x9f, 0x200e, 0x200f, 0x2028, 0x2029, 0x202a, 0x202e, 0x2066, 0x2069,
    ];
    for (const cp of forbidden) {
      it(`[ID-CERT-4] U+${cp.toString(16).padStart(4, '0')} is CERT_INVALID`, () => {
        expectCode(
          () => decodeWith({ subject: `al${String.fromCodePoint(cp)}ce` }),
          ErrorCode.CERT_INVALID,
          IdentityError,
        );
      });
    }
    it('[ID-CERT-4] neighbours of the forbidden ranges are allowed', () => {
      for (const cp of [0x20, 0x7e, 0xa0, 0x200d, 0x2027, 0x202f, 0x2065, 0x206a, 0xfffd, 0x1f600]) {
        const s = `a${String.fromCodePoint(cp)}b`;
        expect(decodeWith({ subject: s }).subject).toBe(s);
      }
    });
    it('[ID-CERT-4] invalid UTF-8 is MALFORMED', () => {
      const body = encodeCertificate({ ...base, subject: 'ab' });
      const at = body.indexOf(0x61);
      for (const bad of [
        [0xc3, 0x28],
        [0xed, 0xa0], // would start a surrogate
        [0xc0, 0xaf], // overlong
      ]) {
        const copy = new Uint8Array(body);
        copy[at] = bad[0]!;
        copy[at + 1] = bad[1]!;
        expectCode(() => decodeCertificate(copy), ErrorCode.MALFORMED, DecodeError);
      }
    });
  });

  it('[ID-CERT-5] subject_key must be 32 bytes: absent MISSING_FIELD, longer FIELD_LIMIT, shorter CERT_INVALID', () => {
    expectCode(() => decodeWith({ subjectKey: new Uint8Array(0) }), ErrorCode.MISSING_FIELD, DecodeError);
    expectCode(() => decodeWith({ subjectKey: new Uint8Array(31) }), ErrorCode.CERT_INVALID, IdentityError);
    expectCode(() => decodeWith({ subjectKey: new Uint8Array(33) }), ErrorCode.FIELD_LIMIT, DecodeError);
  });

  it('[ID-CERT-6] device_id must be 16 bytes: absent MISSING_FIELD, longer FIELD_LIMIT, shorter CERT_INVALID', () => {
    expectCode(() => decodeWith({ deviceId: new Uint8Array(0) }), ErrorCode.MISSING_FIELD, DecodeError);
    expectCode(() => decodeWith({ deviceId: new Uint8Array(15) }), ErrorCode.CERT_INVALID, IdentityError);
    expectCode(() => decodeWith({ deviceId: new Uint8Array(17) }), ErrorCode.FIELD_LIMIT, DecodeError);
  });

  it('[ID-CERT-7] role: absent is MISSING_FIELD, a negative or over-wide value INTEGER_RANGE', () => {
    expectCode(() => decodeWith({ role: 0 as Role }), ErrorCode.MISSING_FIELD, DecodeError);
    expectCode(() => decodeWith({ role: -1 as Role }), ErrorCode.INTEGER_RANGE, DecodeError);
    expectCode(() => decodeWith({ role: (2 ** 31) as Role }), ErrorCode.INTEGER_RANGE, DecodeError);
    for (const role of [Role.ROLE_USER, Role.ROLE_SUPERNODE, Role.ROLE_LOGIN]) {
      expect(decodeWith({ role, notAfter: base.notBefore + HOUR }).role).toBe(role);
    }
  });

  it('[ID-CERT-7] a role this version does not define decodes (GEN-VER-4) but grants nothing', () => {
    expect(decodeWith({ role: 4 as Role, notAfter: base.notBefore + 30 * DAY }).role).toBe(4);
    const net = makeNetwork(suite, 'cert-7');
    const k = generateSigningKey(suite, net.random);
    const leaf = signRawCertificate(suite, net.login, { ...userCertificate(net.login, k.publicKey), role: 4 as Role });
    // as a leaf: no use accepts it
    expectCode(
      () => verifyChain(suite, [leaf, net.loginCert], policyFor(net)),
      ErrorCode.CERT_WRONG_ROLE,
      IdentityError,
    );
    // as the top: it is not LOGIN
    const top = signRawCertificate(suite, net.root, {
      ...userCertificate(net.root, net.login.publicKey),
      role: 4 as Role,
    });
    expectCode(() => verifyChain(suite, [top], policyFor(net)), ErrorCode.CHAIN_INVALID);
    // and a caller cannot ask for it
    expect(
      caught(() => verifyChain(suite, [leaf, net.loginCert], policyFor(net, { acceptedRoles: [4 as Role] }))),
    ).toBeInstanceOf(ApiMisuse);
  });

  it('[ID-CERT-8] serial: 0 is MISSING_FIELD, 2^53-1 passes, 2^53 is INTEGER_RANGE', () => {
    expectCode(() => decodeWith({ serial: 0 }), ErrorCode.MISSING_FIELD, DecodeError);
    expect(decodeWith({ serial: Number.MAX_SAFE_INTEGER }).serial).toBe(Number.MAX_SAFE_INTEGER);
    expectCode(() => decodeWith({ serial: 2 ** 53 }), ErrorCode.INTEGER_RANGE, DecodeError);
    const huge = encodeMessage(parley.v1.Certificate, { ...encodedBase(), serial: Long.MAX_UNSIGNED_VALUE });
    expectCode(() => decodeCertificate(huge), ErrorCode.INTEGER_RANGE, DecodeError);
  });

  it('[ID-CERT-9] not_before must be before not_after (CERT_INVALID); bounds above 2^53-1 are INTEGER_RANGE', () => {
    expectCode(() => decodeWith({ notAfter: base.notBefore }), ErrorCode.CERT_INVALID, IdentityError);
    expectCode(() => decodeWith({ notAfter: base.notBefore - 1 }), ErrorCode.CERT_INVALID, IdentityError);
    expectCode(() => decodeWith({ notAfter: 0, notBefore: 0 }), ErrorCode.CERT_INVALID, IdentityError);
    expectCode(() => decodeWith({ notAfter: 2 ** 53 }), ErrorCode.INTEGER_RANGE, DecodeError);
    expectCode(() => decodeWith({ notBefore: 2 ** 53 }), ErrorCode.INTEGER_RANGE, DecodeError);
    expect(decodeWith({ notBefore: 0, notAfter: 1 }).notBefore).toBe(0);
  });

  for (const [role, max] of [
    [Role.ROLE_USER, 7 * DAY],
    [Role.ROLE_SUPERNODE, DAY],
    [Role.ROLE_LOGIN, 400 * DAY],
  ] as const) {
    it(`[ID-CERT-10] role ${Role[role]}: a lifetime of ${max} ms passes, one more ms is CERT_INVALID`, () => {
      expect(MAX_LIFETIME_MS[role]).toBe(max);
      expect(decodeWith({ role, notAfter: base.notBefore + max }).notAfter).toBe(base.notBefore + max);
      expectCode(() => decodeWith({ role, notAfter: base.notBefore + max + 1 }), ErrorCode.CERT_INVALID, IdentityError);
    });
  }

  it('[ID-CERT-11] issuer_key_id must be 32 bytes: absent MISSING_FIELD, longer FIELD_LIMIT, shorter CERT_INVALID', () => {
    expectCode(() => decodeWith({ issuerKeyId: new Uint8Array(0) }), ErrorCode.MISSING_FIELD, DecodeError);
    expectCode(() => decodeWith({ issuerKeyId: new Uint8Array(31) }), ErrorCode.CERT_INVALID, IdentityError);
    expectCode(() => decodeWith({ issuerKeyId: new Uint8Array(33) }), ErrorCode.FIELD_LIMIT, DecodeError);
  });

  it('[ID-CERT-11] issuer_key_id differing from the envelope signer is CERT_INVALID', () => {
    const net = makeNetwork(suite, 'cert-11');
    const alice = generateSigningKey(suite, net.random);
    const lying = signRawCertificate(suite, net.login, {
      ...userCertificate(net.login, alice.publicKey),
      issuerKeyId: net.root.keyId,
    });
    expectCode(() => verifyChain(suite, [lying, net.loginCert], policyFor(net)), ErrorCode.CERT_INVALID, IdentityError);
  });

  it('[ID-CERT-14] checks the body in the spec order and reports the first failure', () => {
    // version before subject
    expectCode(() => decodeWith({ version: 2, subject: '' }), ErrorCode.CERT_INVALID);
    // subject before subject_key
    expectCode(() => decodeWith({ subject: '', subjectKey: new Uint8Array(3) }), ErrorCode.MISSING_FIELD);
    expectCode(() => decodeWith({ subject: 'a\n', subjectKey: new Uint8Array(0) }), ErrorCode.CERT_INVALID);
    // subject_key before device_id
    expectCode(
      () => decodeWith({ subjectKey: new Uint8Array(0), deviceId: new Uint8Array(3) }),
      ErrorCode.MISSING_FIELD,
    );
    // device_id before role
    expectCode(() => decodeWith({ deviceId: new Uint8Array(3), role: 0 as Role }), ErrorCode.CERT_INVALID);
    // role before serial
    expectCode(() => decodeWith({ role: 0 as Role, serial: 0, deviceId: base.deviceId }), ErrorCode.MISSING_FIELD);
    // serial before issuer_key_id
    expectCode(() => decodeWith({ serial: 0, issuerKeyId: new Uint8Array(1) }), ErrorCode.MISSING_FIELD);
    // issuer_key_id before the validity order
    expectCode(() => decodeWith({ issuerKeyId: new Uint8Array(0), notAfter: 1 }), ErrorCode.MISSING_FIELD);
    // the order of not_before/not_after before the lifetime
    expectCode(() => decodeWith({ notBefore: base.notAfter, notAfter: base.notAfter }), ErrorCode.CERT_INVALID);
    // encoding limits (step 2) before version (step 3)
    expectCode(() => decodeWith({ version: 2, subject: 'a'.repeat(65) }), ErrorCode.FIELD_LIMIT);
    expectCode(() => decodeWith({ version: 0, subjectKey: new Uint8Array(33) }), ErrorCode.FIELD_LIMIT);
  });

  it('[ID-CERT-14] byte fields of a decoded certificate are copies, not views into the input', () => {
    const body = encodeCertificate(base);
    const cert = decodeCertificate(body);
    body.fill(0);
    expect(hex(cert.subjectKey)).toBe(hex(subject.publicKey));
    expect(hex(cert.issuerKeyId)).toBe(hex(issuer.keyId));
  });

  it('[ID-CERT-15] unknown fields in a certificate body are ignored', () => {
    const body = new Uint8Array([...encodeCertificate(base), 0x80, 0x01, 0x05, 0xaa, 0x01, 0x02, 0x03, 0x04]); // field 16 varint, field 21 bytes
    expect(decodeCertificate(body).subject).toBe('alice');
    const net = makeNetwork(suite, 'cert-15');
    const alice = generateSigningKey(suite, net.random);
    const cert = userCertificate(net.login, alice.publicKey);
    const withUnknown = new Uint8Array([...encodeCertificate(cert), 0x78, 0x01]);
    const signed = encodeMessage(parley.v1.Signed, {
      ...decodeSigned(signRawCertificate(suite, net.login, cert)),
      body: withUnknown,
      signature: suite.ed25519Sign(
        net.login.seed,
        new Uint8Array([...new TextEncoder().encode('parley/v1 certificate'), 0, ...withUnknown]),
      ),
    });
    expect(verifyChain(suite, [signed, net.loginCert], policyFor(net)).leaf.subject).toBe('alice');
  });

  it('[ID-CERT-16] issuance refuses fields that break a rule with API_MISUSE', () => {
    const { version: _v, issuerKeyId: _i, ...ok } = base;
    expect(issueCertificate(suite, issuer, ok).length).toBeGreaterThan(100);
    for (const bad of [
      { subject: '' },
      { subject: 'a\u0000' },
      { subject: 'x'.repeat(65) },
      { subject: '\ud800' },
      { subjectKey: new Uint8Array(31) },
      { deviceId: new Uint8Array(8) },
      { role: 0 as Role },
      { serial: 0 },
      { serial: 1.5 },
      { serial: -1 },
      { notAfter: base.notBefore },
      { notAfter: base.notBefore + 8 * DAY },
      { notBefore: Number.NaN },
    ]) {
      expect(caught(() => issueCertificate(suite, issuer, { ...ok, ...bad }))).toBeInstanceOf(ApiMisuse);
    }
  });

  describe('[ID-CERT-12] validity in time, skew applied to both bounds', () => {
    const cert = decodeWith({});
    const skew = 1000;
    it('[ID-CERT-12] valid from not_before - skew inclusive; one ms earlier is CERT_NOT_YET_VALID', () => {
      expect(() => checkValidity(cert, cert.notBefore - skew, skew)).not.toThrow();
      expectCode(
        () => checkValidity(cert, cert.notBefore - skew - 1, skew),
        ErrorCode.CERT_NOT_YET_VALID,
        IdentityError,
      );
    });
    it('[ID-CERT-12] valid until not_after + skew exclusive; at not_after + skew it is CERT_EXPIRED', () => {
      expect(() => checkValidity(cert, cert.notAfter + skew - 1, skew)).not.toThrow();
      expectCode(() => checkValidity(cert, cert.notAfter + skew, skew), ErrorCode.CERT_EXPIRED, IdentityError);
    });
    it('[ID-CERT-12] with zero skew the bounds are exactly not_before (inclusive) and not_after (exclusive)', () => {
      expect(() => checkValidity(cert, cert.notBefore, 0)).not.toThrow();
      expectCode(() => checkValidity(cert, cert.notBefore - 1, 0), ErrorCode.CERT_NOT_YET_VALID);
      expect(() => checkValidity(cert, cert.notAfter - 1, 0)).not.toThrow();
      expectCode(() => checkValidity(cert, cert.notAfter, 0), ErrorCode.CERT_EXPIRED);
    });
    it('[ID-CERT-12] a chain checks every certificate against the injected clock', () => {
      const net = makeNetwork(suite, 'validity-chain');
      const alice = makeMember(net);
      const { notBefore, notAfter } = alice.fields;
      const at = (nowMs: number) => () => verifyChain(suite, alice.chain, policyFor(net, { nowMs }));
      expect(at(notBefore - DEFAULT_CLOCK_SKEW_MS)).not.toThrow();
      expectCode(at(notBefore - DEFAULT_CLOCK_SKEW_MS - 1), ErrorCode.CERT_NOT_YET_VALID);
      expect(at(notAfter + DEFAULT_CLOCK_SKEW_MS - 1)).not.toThrow();
      expectCode(at(notAfter + DEFAULT_CLOCK_SKEW_MS), ErrorCode.CERT_EXPIRED);
      // the LOGIN certificate too
      const lf = net.loginFields;
      const late = makeMember(net, { notBefore: lf.notAfter - HOUR, notAfter: lf.notAfter + HOUR });
      expectCode(
        () => verifyChain(suite, late.chain, policyFor(net, { nowMs: lf.notAfter + DEFAULT_CLOCK_SKEW_MS })),
        ErrorCode.CERT_EXPIRED,
      );
    });
  });

  it('[ID-CERT-13] the default skew is 5 minutes; 0..1 hour may be configured; more is API misuse', () => {
    expect(DEFAULT_CLOCK_SKEW_MS).toBe(300_000);
    expect(MAX_CLOCK_SKEW_MS).toBe(3_600_000);
    const cert = decodeWith({});
    expect(() => checkValidity(cert, cert.notAfter + 299_999)).not.toThrow();
    expectCode(() => checkValidity(cert, cert.notAfter + 300_000), ErrorCode.CERT_EXPIRED);
    const net = makeNetwork(suite, 'skew');
    const alice = makeMember(net);
    const late = alice.fields.notAfter + MAX_CLOCK_SKEW_MS - 1;
    expect(
      verifyChain(suite, alice.chain, policyFor(net, { nowMs: late, skewMs: MAX_CLOCK_SKEW_MS })).leaf.subject,
    ).toBe('alice');
    for (const skewMs of [MAX_CLOCK_SKEW_MS + 1, -1, 0.5, Number.NaN]) {
      expect(caught(() => verifyChain(suite, alice.chain, policyFor(net, { skewMs })))).toBeInstanceOf(ApiMisuse);
    }
  });

  it('[ID-CERT-14] property: random bytes into decodeCertificate give a value or a ParleyError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        try {
          decodeCertificate(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(ParleyError);
        }
      }),
    );
  });

  it('[ID-CERT-14] property: mutated valid certificate bodies give a value or a ParleyError', () => {
    const body = encodeCertificate(base);
    fc.assert(
      fc.property(mutatedArbitrary(fc.constant(body)), (bytes) => {
        try {
          decodeCertificate(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(ParleyError);
        }
      }),
    );
  });
});

/** `base` in the protobufjs shape (Long for 64-bit fields), to encode values the plain type cannot hold. */
function encodedBase(): parley.v1.Certificate.$Properties {
  return parley.v1.Certificate.decode(encodeCertificate(base));
}
