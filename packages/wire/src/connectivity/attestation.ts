/**
 * Reachability attestations (spec/08-connectivity.md §8, ATTEST-*): what a supernode signs after it dialled
 * an election candidate back, and how a verifier (the login server, chapter 12) checks it.
 *
 * An attestation is a `Signed` Attestation under context 9 "parley/v1 attestation" (02-identity.md §4.2),
 * signed by the certified subject key of the attesting supernode, and travels in an AttestReply next to
 * that supernode's encoded ROLE_SUPERNODE certificate ([ATTEST-SIGN-1]). Verification ([ATTEST-VERIFY-1])
 * checks, in order: the two fields' presence and limits, the certificate (chained to a pinned root through
 * one of the login certificates the verifier holds, valid now, not revoked, ROLE_SUPERNODE), the signed
 * object (02 ID-SIG-6: limits, context, signer, signature), the body's intrinsic rules
 * (`decodeAttestation`), what the verifier expects (the candidate's key id and its nonce), then time.
 * Verify first, decode second (02 ID-SIG-10).
 */
import { bytesEqual, copyBytes } from '../codec/bytes.js';
import { checkFields } from '../codec/check.js';
import { asMisuse, decodeBody } from '../codec/object-body.js';
import { encodeMessage, toSafeInteger } from '../codec/proto.js';
import type { CryptoSuite } from '../crypto/suite.js';
import { ApiMisuse, DecodeError, ErrorCode, IdentityError, ProtocolViolation, RequestRefused } from '../errors.js';
import { parley } from '../gen/parley.js';
import {
  type Certificate,
  checkFixedLength,
  DEFAULT_CLOCK_SKEW_MS,
  DEVICE_ID_BYTES,
  MAX_CLOCK_SKEW_MS,
  malformed,
  Role,
} from '../identity/certificate.js';
import type { VerifiedChain } from '../identity/chain.js';
import { KEY_ID_BYTES, type SigningKey } from '../identity/keys.js';
import { SignatureContext, signObject, verifySigned } from '../identity/signed.js';
import { MAX_ENCODED_CERTIFICATE_BYTES } from '../login/messages.js';
import { type SupernodeObjectTrust, verifyIssuedCertificate } from '../supernode/objects.js';
import {
  ATTESTATION_RULES,
  MAX_ATTEST_NONCE_BYTES,
  MAX_SIGNED_ATTESTATION_BYTES,
  MIN_ATTEST_NONCE_BYTES,
} from './messages.js';

/** [ATTEST-SIGN-1] The only format version of an Attestation. */
export const ATTESTATION_VERSION = 1;
/** [ATTEST-SIGN-1] `attestation-lifetime`: expires_at - issued_at, and the most a verifier accepts. */
export const ATTESTATION_LIFETIME_MS = 3_600_000;
const MAX_PORT = 65_535;

/**
 * How a verifier judges the certificate of an attestation: the same inputs as for the signed objects of
 * chapter 07 (pinned roots, the login certificates it holds, its clock and skew, the revocation list).
 */
export type AttestationTrust = SupernodeObjectTrust;

/** The fields of an attestation; times are unix milliseconds. */
export interface AttestationFields {
  /** Key id of the candidate's certified key (its channel's certificate), 32 bytes. */
  subjectKeyId: Uint8Array;
  /** The candidate's certificate subject. */
  username: string;
  /** The candidate's device id, 16 bytes. */
  deviceId: Uint8Array;
  /** The observed IP address the supernode dialled: 4 or 16 bytes. */
  address: Uint8Array;
  /** 1..65535. */
  tcpPort: number;
  tcpReachable: boolean;
  /** 0..65535; 0: UDP not tested (then `udpReachable` is false). */
  udpPort: number;
  udpReachable: boolean;
  /** The candidate's nonce, 16..32 bytes. */
  nonce: Uint8Array;
  issuedAt: number;
  expiresAt: number;
}

/** An attestation that passed every check of [ATTEST-VERIFY-1]. */
export interface VerifiedAttestation extends AttestationFields {
  /** Key id of the attesting supernode (its certificate's subject key, the signer). */
  supernodeKeyId: Uint8Array;
  /** The attesting supernode's certificate. */
  supernodeCertificate: Certificate;
}

/** What the verifier expects an attestation to be about ([ATTEST-VERIFY-1]). */
export interface AttestationExpectation {
  /** The candidate's key id (the certificate it reports with). */
  subjectKeyId: Uint8Array;
  /** The nonce the candidate chose for this report. */
  nonce: Uint8Array;
}

function checkPort(port: number, field: string, min: number): void {
  if (port < min || port > MAX_PORT) throw malformed(`${field}: ${port}`);
}

/**
 * [ATTEST-SIGN-1] [NAT-LIMIT-1] The intrinsic checks of a decoded Attestation, those that need neither
 * the certificate nor a clock. DecodeError (MISSING_FIELD, MALFORMED, FIELD_LIMIT, INTEGER_RANGE).
 */
function attestationFields(m: parley.v1.Attestation): AttestationFields {
  if (m.version === 0) throw new DecodeError(ErrorCode.MISSING_FIELD, 'Attestation.version');
  if (m.version !== ATTESTATION_VERSION) throw malformed(`Attestation.version: ${m.version}`);
  checkFixedLength(m.subjectKeyId, KEY_ID_BYTES, 'Attestation.subject_key_id', malformed);
  if (m.username.length === 0) throw new DecodeError(ErrorCode.MISSING_FIELD, 'Attestation.username');
  checkFixedLength(m.deviceId, DEVICE_ID_BYTES, 'Attestation.device_id', malformed);
  if (m.address.length === 0) throw new DecodeError(ErrorCode.MISSING_FIELD, 'Attestation.address');
  if (m.address.length !== 4 && m.address.length !== 16) {
    throw malformed(`Attestation.address: ${m.address.length} bytes, not 4 or 16`);
  }
  if (m.tcpPort === 0) throw new DecodeError(ErrorCode.MISSING_FIELD, 'Attestation.tcp_port');
  checkPort(m.tcpPort, 'Attestation.tcp_port', 1);
  checkPort(m.udpPort, 'Attestation.udp_port', 0);
  // A port that was not tested cannot have been reached.
  if (m.udpPort === 0 && m.udpReachable) throw malformed('Attestation.udp_reachable without a udp_port');
  if (m.nonce.length === 0) throw new DecodeError(ErrorCode.MISSING_FIELD, 'Attestation.nonce');
  if (m.nonce.length > MAX_ATTEST_NONCE_BYTES) {
    throw new DecodeError(ErrorCode.FIELD_LIMIT, `Attestation.nonce: ${m.nonce.length} bytes`);
  }
  if (m.nonce.length < MIN_ATTEST_NONCE_BYTES) throw malformed(`Attestation.nonce: ${m.nonce.length} bytes`);
  const issuedAt = toSafeInteger(m.issuedAt, 'Attestation.issued_at');
  const expiresAt = toSafeInteger(m.expiresAt, 'Attestation.expires_at');
  if (issuedAt === 0) throw new DecodeError(ErrorCode.MISSING_FIELD, 'Attestation.issued_at');
  // issued_at < expires_at <= issued_at + attestation-lifetime
  if (expiresAt <= issuedAt) throw malformed('Attestation: expires_at is not after issued_at');
  if (expiresAt - issuedAt > ATTESTATION_LIFETIME_MS) {
    throw malformed(`Attestation: lifetime ${expiresAt - issuedAt} ms above ${ATTESTATION_LIFETIME_MS}`);
  }
  return {
    subjectKeyId: copyBytes(m.subjectKeyId),
    username: m.username,
    deviceId: copyBytes(m.deviceId),
    address: copyBytes(m.address),
    tcpPort: m.tcpPort,
    tcpReachable: m.tcpReachable,
    udpPort: m.udpPort,
    udpReachable: m.udpReachable,
    nonce: copyBytes(m.nonce),
    issuedAt,
    expiresAt,
  };
}

/**
 * Decodes an Attestation body (at most MAX_ATTESTATION_BYTES, the context's limit) with its intrinsic
 * checks. Call it only on a body whose signature held. Throws DecodeError only.
 */
export function decodeAttestation(body: Uint8Array): AttestationFields {
  return attestationFields(decodeBody(parley.v1.Attestation, ATTESTATION_RULES, body));
}

/**
 * [ATTEST-SIGN-1] Encodes and signs an attestation with the attesting supernode's certified key (its
 * signing key or seed) under "parley/v1 attestation"; returns the encoded `Signed`. ApiMisuse for an
 * attestation a verifier would refuse on its own (limits, lengths, ports, times).
 */
export function signAttestation(
  suite: CryptoSuite,
  signer: SigningKey | Uint8Array,
  fields: AttestationFields,
): Uint8Array {
  const props = {
    version: ATTESTATION_VERSION,
    subjectKeyId: fields.subjectKeyId,
    username: fields.username,
    deviceId: fields.deviceId,
    address: fields.address,
    tcpPort: fields.tcpPort,
    tcpReachable: fields.tcpReachable,
    udpPort: fields.udpPort,
    udpReachable: fields.udpReachable,
    nonce: fields.nonce,
    issuedAt: fields.issuedAt,
    expiresAt: fields.expiresAt,
  };
  checkFields(props, ATTESTATION_RULES);
  const body = encodeMessage(parley.v1.Attestation as never, props as never);
  asMisuse('attestation', () => decodeAttestation(body));
  return signObject(suite, signer, SignatureContext.SIGNATURE_CONTEXT_ATTESTATION, body);
}

function checkTrust(trust: AttestationTrust): number {
  const skewMs = trust.skewMs ?? DEFAULT_CLOCK_SKEW_MS;
  if (!Number.isSafeInteger(trust.nowMs) || trust.nowMs < 0) throw new ApiMisuse('nowMs must be a safe integer >= 0');
  if (!Number.isSafeInteger(skewMs) || skewMs < 0 || skewMs > MAX_CLOCK_SKEW_MS) {
    throw new ApiMisuse(`skewMs must be 0..${MAX_CLOCK_SKEW_MS}`);
  }
  if (trust.loginCertificates.length === 0) throw new ApiMisuse('at least one login certificate is required');
  return skewMs;
}

/**
 * [ATTEST-VERIFY-1] Verifies an encoded ROLE_SUPERNODE certificate as issued by the subject key of one of
 * `trust.loginCertificates`, itself issued by a pinned root (02 ID-CHAIN-3, a chain of [supernode,
 * login]); valid at `trust.nowMs` with the skew; not revoked. The errors of the chain (CERT_WRONG_ROLE,
 * CERT_REVOKED, CERT_EXPIRED, CERT_UNKNOWN_ISSUER, NETWORK_MISMATCH, BAD_SIGNATURE, ...).
 */
export function verifySupernodeCertificate(
  suite: CryptoSuite,
  certificate: Uint8Array,
  trust: AttestationTrust,
): VerifiedChain {
  checkTrust(trust);
  return verifyIssuedCertificate(suite, certificate, trust, Role.ROLE_SUPERNODE);
}

function requiredBytes(value: unknown, max: number, field: string): Uint8Array {
  if (value === undefined || value === null) throw new DecodeError(ErrorCode.MISSING_FIELD, field);
  if (!(value instanceof Uint8Array)) throw new ApiMisuse(`${field}: not a Uint8Array`);
  if (value.length === 0) throw new DecodeError(ErrorCode.MISSING_FIELD, field);
  if (value.length > max) throw new DecodeError(ErrorCode.FIELD_LIMIT, `${field}: ${value.length} bytes`);
  return value;
}

/**
 * [ATTEST-VERIFY-1] Verifies an attestation as an AttestReply carries it: `certificate` (the attesting
 * supernode's encoded certificate) and `attestation` (the encoded Signed Attestation). In order:
 *
 * 1. both fields present and within their limits (MISSING_FIELD, FIELD_LIMIT);
 * 2. the certificate (`verifySupernodeCertificate`: CERT_WRONG_ROLE, CERT_REVOKED, CERT_EXPIRED, ...);
 * 3. the signed attestation (02 ID-SIG-6: FIELD_LIMIT above MAX_ATTESTATION_BYTES, WRONG_CONTEXT,
 *    CERT_UNKNOWN_ISSUER when the certificate's key did not sign it, BAD_SIGNATURE);
 * 4. the body (`decodeAttestation`: version 1, lengths, ports, lifetime);
 * 5. when `expect` is given: the subject key id (NOT_AUTHORIZED: an attestation of another candidate)
 *    and the nonce (REPLAYED: an attestation made for another report);
 * 6. time: CERT_NOT_YET_VALID when issued_at > now + skew, TOO_OLD when now + skew >= expires_at.
 */
export function verifyAttestation(
  suite: CryptoSuite,
  reply: { readonly certificate: Uint8Array; readonly attestation: Uint8Array } | undefined,
  trust: AttestationTrust,
  expect?: AttestationExpectation,
): VerifiedAttestation {
  const skewMs = checkTrust(trust);
  if (reply === undefined || reply === null) throw new DecodeError(ErrorCode.MISSING_FIELD, 'AttestReply');
  const certificate = requiredBytes(reply.certificate, MAX_ENCODED_CERTIFICATE_BYTES, 'AttestReply.certificate');
  const signed = requiredBytes(reply.attestation, MAX_SIGNED_ATTESTATION_BYTES, 'AttestReply.attestation');
  const chain = verifySupernodeCertificate(suite, certificate, trust);
  const body = verifySigned(suite, signed, SignatureContext.SIGNATURE_CONTEXT_ATTESTATION, chain.leaf.subjectKey);
  const a = decodeAttestation(body);
  if (expect !== undefined) {
    if (!bytesEqual(a.subjectKeyId, expect.subjectKeyId)) {
      throw new RequestRefused(ErrorCode.NOT_AUTHORIZED, 'Attestation.subject_key_id: another candidate');
    }
    if (!bytesEqual(a.nonce, expect.nonce)) {
      throw new ProtocolViolation(ErrorCode.REPLAYED, 'Attestation.nonce: not the nonce of this report');
    }
  }
  // issued_at <= now + skew < expires_at
  if (a.issuedAt > trust.nowMs + skewMs) {
    throw new IdentityError(
      ErrorCode.CERT_NOT_YET_VALID,
      `Attestation.issued_at: ${a.issuedAt} is after now ${trust.nowMs} + skew ${skewMs}`,
    );
  }
  if (trust.nowMs + skewMs >= a.expiresAt) {
    throw new ProtocolViolation(ErrorCode.TOO_OLD, `Attestation: expired at ${a.expiresAt}`);
  }
  return { ...a, supernodeKeyId: chain.leafKeyId, supernodeCertificate: chain.leaf };
}
