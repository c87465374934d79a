/**
 * Consumes spec/vectors/connectivity.json as an implementer in another language would. The attestation's
 * body and its `Signed` envelope are encoded again by a canonical protobuf encoder written from
 * connectivity.proto below, the signed message built from the text of 02 ID-SIG-2, the signature checked
 * with node:crypto's Ed25519. Then the reference implementation, on both crypto suites, must accept what
 * the file says is valid and refuse the rest with the code it names.
 */
import { describe, expect, it } from 'vitest';
import { verifyAttestation } from '../../src/connectivity/index.js';
import { outcome, suites } from './implementation.js';
import { concat, ed25519Public, ed25519Verify, loadVector, sha256, tohex, unhex, utf8 } from './independent.js';
import { encoder, json, type Schema } from './proto-encoder.js';

// biome-ignore lint/suspicious/noExplicitAny: untyped JSON
type J = any;

const v = loadVector('connectivity');

// ---- A canonical protobuf encoder, written from connectivity.proto and identity.proto -------------------------

const SCHEMA: Schema = {
  Signed: [
    [1, 'body', 'bytes'],
    [2, 'signature', 'bytes'],
    [3, 'signerKeyId', 'bytes'],
    [4, 'context', 'enum'],
  ],
  Attestation: [
    [1, 'version', 'uint32'],
    [2, 'subjectKeyId', 'bytes'],
    [3, 'username', 'string'],
    [4, 'deviceId', 'bytes'],
    [5, 'address', 'bytes'],
    [6, 'tcpPort', 'uint32'],
    [7, 'tcpReachable', 'bool'],
    [8, 'udpPort', 'uint32'],
    [9, 'udpReachable', 'bool'],
    [10, 'nonce', 'bytes'],
    [11, 'issuedAt', 'uint64'],
    [12, 'expiresAt', 'uint64'],
  ],
};
const encode = encoder(SCHEMA);

describe('connectivity.json: attestations [ATTEST-SIGN-1] [ATTEST-VERIFY-1]', () => {
  const a = v.attestation;

  it('[ATTEST-SIGN-1] body, signed message, signature and Signed recomputed independently', () => {
    expect(tohex(encode('Attestation', a.fields))).toBe(a.body);
    expect(a.context).toBe(9);
    expect(a.signedMessage).toBe(tohex(concat(utf8('parley/v1 attestation'), Uint8Array.of(0), unhex(a.body))));
    expect(tohex(ed25519Public(unhex(v.network.supernode.seed)))).toBe(v.network.supernode.publicKey);
    expect(ed25519Verify(unhex(v.network.supernode.publicKey), unhex(a.signedMessage), unhex(a.signature))).toBe(true);
    expect(a.signerKeyId).toBe(tohex(sha256(unhex(v.network.supernode.publicKey))));
    expect(tohex(encode('Signed', a))).toBe(a.signed);
    expect(a.fields.subjectKeyId).toBe(tohex(sha256(unhex(v.network.user.publicKey))));
  });

  it('[ATTEST-VERIFY-1] every verification gives the expected result on both suites', () => {
    expect(a.verifications.filter((c: J) => !('error' in c.expected)).length).toBeGreaterThan(1);
    expect(a.verifications.filter((c: J) => 'error' in c.expected).length).toBeGreaterThan(10);
    for (const c of a.verifications) {
      for (const [name, suite] of suites) {
        const r = outcome(() => {
          const { supernodeCertificate, ...rest } = verifyAttestation(
            suite,
            { certificate: unhex(c.certificate), attestation: unhex(c.attestation) },
            {
              trustAnchors: v.verifier.trustAnchors.map(unhex),
              loginCertificates: v.verifier.loginCertificates.map(unhex),
              nowMs: c.nowMs,
              skewMs: v.verifier.skewMs,
              isRevoked: (serial: number) => c.revoked.includes(serial),
            },
            c.expect === null
              ? undefined
              : { subjectKeyId: unhex(c.expect.subjectKeyId), nonce: unhex(c.expect.nonce) },
          );
          return { ...rest, supernodeCertificateSerial: supernodeCertificate.serial };
        });
        expect('error' in r ? r : json(r.ok), `${c.name} on ${name}`).toStrictEqual(c.expected);
      }
    }
  });
});
