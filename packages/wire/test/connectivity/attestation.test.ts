// Reachability attestations (spec/08-connectivity.md §8, src/connectivity/attestation.ts): signing by a
// supernode's certified key, the body's rules and limits, every refusal of the verification with the code
// it gives, and properties over arbitrary valid fields, arbitrary bodies and mutated attestations.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mutatedArbitrary } from '../../fuzz/arbitraries.js';
import {
  ATTESTATION_LIFETIME_MS,
  ATTESTATION_RULES,
  ATTESTATION_VERSION,
  type AttestationFields,
  type AttestationTrust,
  decodeAttestation,
  MAX_SIGNED_ATTESTATION_BYTES,
  signAttestation,
  verifyAttestation,
  verifySupernodeCertificate,
} from '../../src/connectivity/index.js';
import { nobleCrypto, nodeCrypto } from '../../src/crypto/index.js';
import {
  ApiMisuse,
  DecodeError,
  ErrorCode,
  IdentityError,
  IncompatiblePeer,
  ParleyError,
  ProtocolViolation,
  RequestRefused,
} from '../../src/errors.js';
import { parley } from '../../src/gen/parley.js';
import { DEFAULT_CLOCK_SKEW_MS, issueCertificate, Role } from '../../src/identity/certificate.js';
import { generateSigningKey } from '../../src/identity/keys.js';
import { decodeSigned, MAX_ATTESTATION_BYTES, SignatureContext, signObject } from '../../src/identity/signed.js';
import { expectCode, HOUR, makeMember, makeNetwork, NOW } from '../identity/fixtures.js';

const suite = nodeCrypto;
const C = SignatureContext;
const net = makeNetwork(suite, 'attestations');
const supernode = makeMember(net, { subject: 'sn1.parley.example', role: Role.ROLE_SUPERNODE }, 3001);
const otherSupernode = makeMember(net, { subject: 'sn2.parley.example', role: Role.ROLE_SUPERNODE }, 3002);
const alice = makeMember(net, { subject: 'alice' }, 3003);
const SKEW = DEFAULT_CLOCK_SKEW_MS;

const fields: AttestationFields = {
  subjectKeyId: alice.key.keyId,
  username: 'alice',
  deviceId: alice.fields.deviceId,
  address: Uint8Array.of(198, 51, 100, 7),
  tcpPort: 40_001,
  tcpReachable: true,
  udpPort: 40_002,
  udpReachable: false,
  nonce: new Uint8Array(24).fill(0x5a),
  issuedAt: NOW - 60_000,
  expiresAt: NOW - 60_000 + ATTESTATION_LIFETIME_MS,
};
const trust: AttestationTrust = { trustAnchors: [net.root.publicKey], loginCertificates: [net.loginCert], nowMs: NOW };
const expectAlice = { subjectKeyId: alice.key.keyId, nonce: fields.nonce };

function reply(
  over: Partial<AttestationFields> = {},
  signer = supernode,
): { certificate: Uint8Array; attestation: Uint8Array } {
  return { certificate: supernode.cert, attestation: signAttestation(suite, signer.key, { ...fields, ...over }) };
}

/** The body encoded as given (no signer-side checks), signed by the supernode's key under `context`. */
function raw(props: Record<string, unknown>, context: number = C.SIGNATURE_CONTEXT_ATTESTATION) {
  const body = parley.v1.Attestation.encode({ version: 1, ...fields, ...props } as never).finish();
  return { certificate: supernode.cert, attestation: signObject(suite, supernode.key, context, body) };
}

/** The code a call fails with ('ok' when it does not); anything but a ParleyError is a bug. */
function codeOf(g: () => unknown): ErrorCode | 'ok' {
  try {
    g();
    return 'ok';
  } catch (e) {
    if (e instanceof ParleyError) return e.code;
    throw e;
  }
}

describe('attestations: signing and verification [ATTEST-SIGN-1] [ATTEST-VERIFY-1]', () => {
  it('[ATTEST-SIGN-1] [ATTEST-VERIFY-1] a signed attestation verifies on both suites with every field', () => {
    const r = reply();
    for (const s of [nodeCrypto, nobleCrypto]) {
      const v = verifyAttestation(s, r, trust, expectAlice);
      expect(v).toMatchObject({
        username: 'alice',
        tcpPort: 40_001,
        tcpReachable: true,
        udpPort: 40_002,
        udpReachable: false,
        issuedAt: fields.issuedAt,
        expiresAt: fields.expiresAt,
      });
      expect([...v.subjectKeyId]).toEqual([...alice.key.keyId]);
      expect([...v.deviceId]).toEqual([...alice.fields.deviceId]);
      expect([...v.address]).toEqual([198, 51, 100, 7]);
      expect([...v.nonce]).toEqual([...fields.nonce]);
      expect([...v.supernodeKeyId]).toEqual([...supernode.key.keyId]);
      expect(v.supernodeCertificate.role).toBe(Role.ROLE_SUPERNODE);
      expect(v.supernodeCertificate.serial).toBe(3001);
    }
    // without an expectation the subject and nonce are not compared
    expect(verifyAttestation(suite, r, trust).username).toBe('alice');
  });

  it('[ATTEST-SIGN-1] the attestation is a Signed under context 9 by the certified key; the seed signs alike', () => {
    const signed = signAttestation(suite, supernode.key, fields);
    const s = decodeSigned(signed);
    expect(s.context).toBe(C.SIGNATURE_CONTEXT_ATTESTATION);
    expect(s.context).toBe(9);
    expect([...s.signerKeyId]).toEqual([...supernode.key.keyId]);
    expect(s.body.length).toBeLessThanOrEqual(MAX_ATTESTATION_BYTES);
    expect(decodeAttestation(s.body)).toMatchObject({ username: 'alice', tcpPort: 40_001 });
    expect(parley.v1.Attestation.decode(s.body).version).toBe(ATTESTATION_VERSION);
    expect([...signAttestation(suite, supernode.key.seed, fields)]).toEqual([...signed]);
  });

  it('[ATTEST-SIGN-1] an unreachable result is attested too (false, false), IPv6 and an untested UDP port alike', () => {
    const r = reply({ address: new Uint8Array(16).fill(0x20), tcpReachable: false, udpPort: 0, udpReachable: false });
    const v = verifyAttestation(suite, r, trust, expectAlice);
    expect(v.tcpReachable).toBe(false);
    expect(v.udpReachable).toBe(false);
    expect(v.udpPort).toBe(0);
    expect(v.address.length).toBe(16);
  });

  it('[ATTEST-SIGN-1] the signer refuses (ApiMisuse) what a verifier would refuse', () => {
    for (const bad of [
      { nonce: new Uint8Array(15) },
      { nonce: new Uint8Array(33) },
      { subjectKeyId: new Uint8Array(31) },
      { deviceId: new Uint8Array(17) },
      { address: new Uint8Array(5) },
      { tcpPort: 0 },
      { tcpPort: 65_536 },
      { udpPort: 65_536 },
      { udpPort: 0, udpReachable: true },
      { expiresAt: fields.issuedAt },
      { expiresAt: fields.issuedAt + ATTESTATION_LIFETIME_MS + 1 },
      { username: '' },
    ] satisfies Partial<AttestationFields>[]) {
      expectCode(() => signAttestation(suite, supernode.key, { ...fields, ...bad }), ErrorCode.API_MISUSE, ApiMisuse);
    }
  });

  it('[ATTEST-VERIFY-1] a body signed under another context is WRONG_CONTEXT; the context moved is BAD_SIGNATURE', () => {
    expectCode(
      () => verifyAttestation(suite, raw({}, C.SIGNATURE_CONTEXT_PRESENCE_RECORD), trust),
      ErrorCode.WRONG_CONTEXT,
      IdentityError,
    );
    const s = decodeSigned(raw({}, C.SIGNATURE_CONTEXT_ELECTION_REPORT).attestation);
    const moved = parley.v1.Signed.encode({ ...s, context: C.SIGNATURE_CONTEXT_ATTESTATION }).finish();
    expectCode(
      () => verifyAttestation(suite, { certificate: supernode.cert, attestation: moved }, trust),
      ErrorCode.BAD_SIGNATURE,
      IdentityError,
    );
  });

  it('[ATTEST-VERIFY-1] only a ROLE_SUPERNODE certificate attests: a user signing for itself is CERT_WRONG_ROLE', () => {
    const selfMade = { certificate: alice.cert, attestation: signAttestation(suite, alice.key, fields) };
    expectCode(() => verifyAttestation(suite, selfMade, trust, expectAlice), ErrorCode.CERT_WRONG_ROLE, IdentityError);
    expectCode(() => verifySupernodeCertificate(suite, alice.cert, trust), ErrorCode.CERT_WRONG_ROLE);
  });

  it('[ATTEST-VERIFY-1] an attestation signed by another key than the certificate names is CERT_UNKNOWN_ISSUER', () => {
    const r = { certificate: supernode.cert, attestation: reply({}, otherSupernode).attestation };
    expectCode(() => verifyAttestation(suite, r, trust), ErrorCode.CERT_UNKNOWN_ISSUER, IdentityError);
  });

  it('[ATTEST-VERIFY-1] a revoked supernode certificate is CERT_REVOKED; another serial is not', () => {
    expectCode(
      () => verifyAttestation(suite, reply(), { ...trust, isRevoked: (s) => s === 3001 }),
      ErrorCode.CERT_REVOKED,
      IdentityError,
    );
    expect(codeOf(() => verifyAttestation(suite, reply(), { ...trust, isRevoked: (s) => s === 3002 }))).toBe('ok');
  });

  it('[ATTEST-VERIFY-1] the certificate must chain to the network: another root or login key is refused', () => {
    const other = makeNetwork(suite, 'another network');
    expectCode(
      () => verifyAttestation(suite, reply(), { ...trust, trustAnchors: [other.root.publicKey] }),
      ErrorCode.NETWORK_MISMATCH,
      IncompatiblePeer,
    );
    expectCode(
      () => verifyAttestation(suite, reply(), { ...trust, loginCertificates: [other.loginCert] }),
      ErrorCode.NETWORK_MISMATCH,
    );
    // the login certificate that issued it is found among others of the network
    const secondLogin = issueCertificate(suite, net.root, {
      ...net.loginFields,
      subjectKey: generateSigningKey(suite, net.random).publicKey,
      serial: 2,
    });
    expectCode(
      () => verifyAttestation(suite, reply(), { ...trust, loginCertificates: [secondLogin] }),
      ErrorCode.CERT_UNKNOWN_ISSUER,
    );
    const both = { ...trust, loginCertificates: [secondLogin, net.loginCert] };
    expect(codeOf(() => verifyAttestation(suite, reply(), both))).toBe('ok');
  });

  it('[ATTEST-VERIFY-1] an expired supernode certificate is CERT_EXPIRED', () => {
    const late = { ...trust, nowMs: supernode.fields.notAfter + SKEW + 1 };
    expectCode(() => verifyAttestation(suite, reply(), late), ErrorCode.CERT_EXPIRED, IdentityError);
  });

  it('[ATTEST-VERIFY-1] time: issued_at <= now + skew < expires_at, at both edges', () => {
    const r = reply();
    const at = (nowMs: number) => codeOf(() => verifyAttestation(suite, r, { ...trust, nowMs }, expectAlice));
    expect(at(fields.issuedAt - SKEW)).toBe('ok');
    expect(at(fields.issuedAt - SKEW - 1)).toBe(ErrorCode.CERT_NOT_YET_VALID);
    expect(at(fields.expiresAt - SKEW - 1)).toBe('ok');
    expect(at(fields.expiresAt - SKEW)).toBe(ErrorCode.TOO_OLD);
    expectCode(
      () => verifyAttestation(suite, r, { ...trust, nowMs: fields.expiresAt }),
      ErrorCode.TOO_OLD,
      ProtocolViolation,
    );
    expectCode(
      () => verifyAttestation(suite, r, { ...trust, nowMs: fields.issuedAt - SKEW - 1 }),
      ErrorCode.CERT_NOT_YET_VALID,
      IdentityError,
    );
    // with no skew, the edges move
    const noSkew = (nowMs: number) => codeOf(() => verifyAttestation(suite, r, { ...trust, nowMs, skewMs: 0 }));
    expect(noSkew(fields.expiresAt - 1)).toBe('ok');
    expect(noSkew(fields.issuedAt - 1)).toBe(ErrorCode.CERT_NOT_YET_VALID);
  });

  it('[ATTEST-VERIFY-1] any flipped bit of the signed attestation is refused; nothing flips to another valid value', () => {
    const r = reply();
    fc.assert(
      fc.property(fc.nat({ max: r.attestation.length * 8 - 1 }), (bit) => {
        const attestation = Uint8Array.from(r.attestation);
        attestation[bit >> 3]! ^= 1 << (bit & 7);
        expect(codeOf(() => verifyAttestation(suite, { certificate: r.certificate, attestation }, trust))).not.toBe(
          'ok',
        );
      }),
    );
    // a tampered body (the tcp result turned to false) fails the signature
    const s = decodeSigned(r.attestation);
    const body = parley.v1.Attestation.encode({
      ...parley.v1.Attestation.decode(s.body),
      tcpReachable: false,
    }).finish();
    const tampered = parley.v1.Signed.encode({ ...s, body }).finish();
    expectCode(
      () => verifyAttestation(suite, { certificate: r.certificate, attestation: tampered }, trust),
      ErrorCode.BAD_SIGNATURE,
      IdentityError,
    );
  });

  it('[ATTEST-VERIFY-1] subject and nonce must be what the verifier expects', () => {
    const r = reply();
    expectCode(
      () => verifyAttestation(suite, r, trust, { ...expectAlice, nonce: new Uint8Array(24).fill(0x5b) }),
      ErrorCode.REPLAYED,
      ProtocolViolation,
    );
    expectCode(
      () => verifyAttestation(suite, r, trust, { ...expectAlice, nonce: fields.nonce.subarray(0, 16) }),
      ErrorCode.REPLAYED,
    );
    const bob = makeMember(net, { subject: 'bob' }, 3004);
    expectCode(
      () => verifyAttestation(suite, r, trust, { ...expectAlice, subjectKeyId: bob.key.keyId }),
      ErrorCode.NOT_AUTHORIZED,
      RequestRefused,
    );
  });

  it('[ATTEST-VERIFY-1] [NAT-LIMIT-1] oversize: a body above 512 bytes, fields above their limits, absent fields', () => {
    // a body over MAX_ATTESTATION_BYTES, refused by the envelope's limit before anything is decoded
    const big = parley.v1.Attestation.encode({ version: 1, ...fields, username: 'a'.repeat(600) } as never).finish();
    expect(big.length).toBeGreaterThan(MAX_ATTESTATION_BYTES);
    const env = parley.v1.Signed.encode({
      body: big,
      signature: new Uint8Array(64),
      signerKeyId: supernode.key.keyId,
      context: C.SIGNATURE_CONTEXT_ATTESTATION,
    }).finish();
    expectCode(
      () => verifyAttestation(suite, { certificate: supernode.cert, attestation: env }, trust),
      ErrorCode.FIELD_LIMIT,
    );
    expect(() => signObject(suite, supernode.key, C.SIGNATURE_CONTEXT_ATTESTATION, big)).toThrow(ApiMisuse);
    // the AttestReply fields' own limits
    const tooLong = new Uint8Array(MAX_SIGNED_ATTESTATION_BYTES + 1);
    expectCode(
      () => verifyAttestation(suite, { certificate: supernode.cert, attestation: tooLong }, trust),
      ErrorCode.FIELD_LIMIT,
      DecodeError,
    );
    expectCode(
      () => verifyAttestation(suite, { certificate: new Uint8Array(4096), attestation: reply().attestation }, trust),
      ErrorCode.FIELD_LIMIT,
    );
    expectCode(
      () => verifyAttestation(suite, { certificate: supernode.cert, attestation: new Uint8Array(0) }, trust),
      ErrorCode.MISSING_FIELD,
    );
    expectCode(
      () => verifyAttestation(suite, { certificate: new Uint8Array(0), attestation: reply().attestation }, trust),
      ErrorCode.MISSING_FIELD,
    );
    expectCode(() => verifyAttestation(suite, undefined, trust), ErrorCode.MISSING_FIELD);
  });

  it('[ATTEST-VERIFY-1] bad trust inputs are API misuse', () => {
    expect(() => verifyAttestation(suite, reply(), { ...trust, nowMs: -1 })).toThrow(ApiMisuse);
    expect(() => verifyAttestation(suite, reply(), { ...trust, skewMs: 2 * HOUR })).toThrow(ApiMisuse);
    expect(() => verifyAttestation(suite, reply(), { ...trust, loginCertificates: [] })).toThrow(ApiMisuse);
  });
});

describe('attestation bodies: the rules of every field [ATTEST-SIGN-1] [NAT-LIMIT-1]', () => {
  const cases: [string, Record<string, unknown>, ErrorCode][] = [
    ['version 0', { version: 0 }, ErrorCode.MISSING_FIELD],
    ['version 2', { version: 2 }, ErrorCode.MALFORMED],
    ['subject key id absent', { subjectKeyId: new Uint8Array(0) }, ErrorCode.MISSING_FIELD],
    ['subject key id of 31 bytes', { subjectKeyId: new Uint8Array(31) }, ErrorCode.MALFORMED],
    ['subject key id of 33 bytes', { subjectKeyId: new Uint8Array(33) }, ErrorCode.FIELD_LIMIT],
    ['username absent', { username: '' }, ErrorCode.MISSING_FIELD],
    ['device id of 15 bytes', { deviceId: new Uint8Array(15) }, ErrorCode.MALFORMED],
    ['device id of 17 bytes', { deviceId: new Uint8Array(17) }, ErrorCode.FIELD_LIMIT],
    ['address absent', { address: new Uint8Array(0) }, ErrorCode.MISSING_FIELD],
    ['address of 5 bytes', { address: new Uint8Array(5) }, ErrorCode.MALFORMED],
    ['address of 17 bytes', { address: new Uint8Array(17) }, ErrorCode.FIELD_LIMIT],
    ['tcp port 0', { tcpPort: 0 }, ErrorCode.MISSING_FIELD],
    ['tcp port 65536', { tcpPort: 65_536 }, ErrorCode.MALFORMED],
    ['udp port 65536', { udpPort: 65_536 }, ErrorCode.MALFORMED],
    ['udp reachable at port 0', { udpPort: 0, udpReachable: true }, ErrorCode.MALFORMED],
    ['nonce absent', { nonce: new Uint8Array(0) }, ErrorCode.MISSING_FIELD],
    ['nonce of 15 bytes', { nonce: new Uint8Array(15) }, ErrorCode.MALFORMED],
    ['nonce of 33 bytes', { nonce: new Uint8Array(33) }, ErrorCode.FIELD_LIMIT],
    ['issued_at 0', { issuedAt: 0 }, ErrorCode.MISSING_FIELD],
    ['expires_at = issued_at', { expiresAt: fields.issuedAt }, ErrorCode.MALFORMED],
    ['lifetime above 1 h', { expiresAt: fields.issuedAt + ATTESTATION_LIFETIME_MS + 1 }, ErrorCode.MALFORMED],
    ['issued_at above 2^53', { issuedAt: 2 ** 60, expiresAt: 2 ** 60 + 1 }, ErrorCode.INTEGER_RANGE],
  ];
  for (const [name, props, code] of cases) {
    it(`[ATTEST-VERIFY-1] ${name}: ${ErrorCode[code]}, from decode and from a signed attestation`, () => {
      const body = parley.v1.Attestation.encode({ version: 1, ...fields, ...props } as never).finish();
      expectCode(() => decodeAttestation(body), code, DecodeError);
      expectCode(() => verifyAttestation(suite, raw(props), trust), code, DecodeError);
    });
  }

  it('[ATTEST-VERIFY-1] nonces of 16 and 32 bytes and a lifetime of exactly 1 h are accepted', () => {
    for (const nonce of [new Uint8Array(16), new Uint8Array(32)]) {
      expect(
        decodeAttestation(parley.v1.Attestation.encode({ version: 1, ...fields, nonce } as never).finish()).nonce,
      ).toHaveLength(nonce.length);
    }
    expect(ATTESTATION_RULES.name).toBe('Attestation');
    expect(codeOf(() => verifyAttestation(suite, reply(), trust))).toBe('ok');
  });
});

describe('attestations: properties', () => {
  const validFields: fc.Arbitrary<AttestationFields> = fc
    .record({
      username: fc.stringMatching(/^[a-z][a-z0-9]{2,31}$/),
      address: fc.oneof(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.uint8Array({ minLength: 16, maxLength: 16 })),
      tcpPort: fc.integer({ min: 1, max: 65_535 }),
      tcpReachable: fc.boolean(),
      udpPort: fc.integer({ min: 0, max: 65_535 }),
      udpReachable: fc.boolean(),
      nonce: fc.uint8Array({ minLength: 16, maxLength: 32 }),
      issuedAt: fc.integer({ min: NOW - HOUR, max: NOW + HOUR }),
      lifetime: fc.integer({ min: 1, max: ATTESTATION_LIFETIME_MS }),
    })
    .map((r) => ({
      subjectKeyId: alice.key.keyId,
      username: r.username,
      deviceId: alice.fields.deviceId,
      address: r.address,
      tcpPort: r.tcpPort,
      tcpReachable: r.tcpReachable,
      udpPort: r.udpPort,
      udpReachable: r.udpPort !== 0 && r.udpReachable,
      nonce: r.nonce,
      issuedAt: r.issuedAt,
      expiresAt: r.issuedAt + r.lifetime,
    }));

  it('[ATTEST-SIGN-1] [ATTEST-VERIFY-1] every attestation the signer accepts decodes to the same fields and verifies in its window', () => {
    fc.assert(
      fc.property(validFields, (a) => {
        const signed = signAttestation(suite, supernode.key, a);
        expect(decodeAttestation(decodeSigned(signed).body)).toEqual(a);
        const r = { certificate: supernode.cert, attestation: signed };
        const at = { ...trust, nowMs: a.issuedAt };
        if (a.issuedAt + SKEW < a.expiresAt) expect(verifyAttestation(suite, r, at).tcpPort).toBe(a.tcpPort);
        else expectCode(() => verifyAttestation(suite, r, at), ErrorCode.TOO_OLD);
      }),
      { numRuns: 200 },
    );
  });

  it('[ATTEST-VERIFY-1] [NAT-LIMIT-1] decode of arbitrary and mutated bodies throws only DecodeError or IdentityError', () => {
    const valid = validFields.map((a) => decodeSigned(signAttestation(suite, supernode.key, a)).body);
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 600 }), mutatedArbitrary(valid)), (body) => {
        try {
          decodeAttestation(body);
        } catch (e) {
          if (!(e instanceof DecodeError || e instanceof IdentityError)) throw e;
        }
      }),
      { numRuns: 1_000 },
    );
  });

  it('[ATTEST-VERIFY-1] verification of mutated attestations and certificates is a value or a ParleyError', () => {
    const r = reply();
    fc.assert(
      fc.property(
        mutatedArbitrary(fc.constant(r.attestation)),
        mutatedArbitrary(fc.constant(r.certificate)),
        fc.boolean(),
        (attestation, certificate, which) => {
          codeOf(() =>
            verifyAttestation(
              suite,
              which ? { certificate: r.certificate, attestation } : { certificate, attestation: r.attestation },
              trust,
              expectAlice,
            ),
          );
        },
      ),
      { numRuns: 300 },
    );
  });
});
