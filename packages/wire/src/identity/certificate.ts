/**
 * Certificates: fields and their limits, decoding, issuance and validity in time.
 * Normative text: spec/02-identity.md §5 (ID-CERT-*).
 *
 * A certificate is the body of a `Signed` under the `parley/v1 certificate` context. Its 64-bit
 * fields are plain numbers here (unix milliseconds, serials up to 2^53-1); its byte fields are owned
 * copies, never views into a received buffer.
 */
import { checkEncoding } from '../codec/check.js';
import { decodeMessage, encodeMessage, fromSafeInteger, toSafeInteger } from '../codec/proto.js';
import { defineMessage } from '../codec/rules.js';
import type { CryptoSuite } from '../crypto/suite.js';
import { ApiMisuse, DecodeError, ErrorCode, IdentityError, ParleyError } from '../errors.js';
import { parley } from '../gen/parley.js';
import { copyBytes, KEY_ID_BYTES, PUBLIC_KEY_BYTES, type SigningKey, signingKeyFromSeed } from './keys.js';
import { MAX_CERTIFICATE_BYTES, SignatureContext, signObject } from './signed.js';

export const Role = parley.v1.Role;
export type Role = parley.v1.Role;

/** [ID-CERT-3] The only certificate format version this text defines. */
export const CERTIFICATE_VERSION = 1;
/** [ID-CERT-4] Subject: 1..64 bytes of UTF-8. */
export const MAX_SUBJECT_BYTES = 64;
/** [ID-CERT-6] Device id: exactly 16 bytes. */
export const DEVICE_ID_BYTES = 16;
/** [ID-CERT-8] Serial: 1..2^53-1. */
export const MAX_SERIAL = Number.MAX_SAFE_INTEGER;

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** [ID-CERT-10] The longest validity period a certificate of each role may state. */
export const MAX_LIFETIME_MS: Readonly<Record<1 | 2 | 3, number>> = Object.freeze({
  [parley.v1.Role.ROLE_USER]: 7 * DAY_MS,
  [parley.v1.Role.ROLE_SUPERNODE]: DAY_MS,
  [parley.v1.Role.ROLE_LOGIN]: 400 * DAY_MS,
});

/** Default lifetimes a login server issues (spec/02-identity.md §9; the login chapter's policy may change them). */
export const DEFAULT_LIFETIME_MS: Readonly<Record<1 | 2 | 3, number>> = Object.freeze({
  [parley.v1.Role.ROLE_USER]: DAY_MS,
  [parley.v1.Role.ROLE_SUPERNODE]: 6 * HOUR_MS,
  [parley.v1.Role.ROLE_LOGIN]: 365 * DAY_MS,
});

/** The largest enum value on the wire (01-packets.md, WIRE-INT-2). */
const MAX_ENUM = 0x7fff_ffff;

/** [ID-CERT-12] Clock skew tolerated on both validity bounds unless the verifier configures another. */
export const DEFAULT_CLOCK_SKEW_MS = 5 * 60_000;
/** [ID-CERT-13] The largest skew a verifier may configure. */
export const MAX_CLOCK_SKEW_MS = HOUR_MS;

/** [ID-CERT-1] The encoding rules and per-field maxima of `Certificate`, checked before decoding. */
export const CERTIFICATE_RULES = defineMessage({
  name: 'Certificate',
  fields: [
    { number: 1, name: 'version', kind: 'uint32' },
    { number: 2, name: 'subject', kind: 'string', maxLength: MAX_SUBJECT_BYTES },
    { number: 3, name: 'subject_key', kind: 'bytes', maxLength: PUBLIC_KEY_BYTES },
    { number: 4, name: 'device_id', kind: 'bytes', maxLength: DEVICE_ID_BYTES },
    { number: 5, name: 'role', kind: 'enum' },
    { number: 6, name: 'serial', kind: 'uint64' },
    { number: 7, name: 'not_before', kind: 'uint64' },
    { number: 8, name: 'not_after', kind: 'uint64' },
    { number: 9, name: 'issuer_key_id', kind: 'bytes', maxLength: KEY_ID_BYTES },
  ],
});

/** A decoded, limit-checked certificate. */
export interface Certificate {
  readonly version: number;
  readonly subject: string;
  readonly subjectKey: Uint8Array;
  readonly deviceId: Uint8Array;
  readonly role: Role;
  readonly serial: number;
  /** Unix milliseconds, inclusive. */
  readonly notBefore: number;
  /** Unix milliseconds, exclusive. */
  readonly notAfter: number;
  readonly issuerKeyId: Uint8Array;
}

/** What an issuer chooses; `version` and `issuerKeyId` are filled in by `issueCertificate`. */
export type CertificateFields = Omit<Certificate, 'version' | 'issuerKeyId'>;

/**
 * [ID-CERT-4] Code points never allowed in a subject (or in the handshake's software string): C0 and
 * C1 controls, DEL, the line and paragraph separators, and the bidirectional formatting characters.
 */
export function isForbiddenCodePoint(cp: number): boolean {
  return (
    cp <= 0x1f ||
    (cp >= 0x7f && cp <= 0x9f) ||
    cp === 0x200e ||
    cp === 0x200f ||
    (cp >= 0x2028 && cp <= 0x202e) ||
    (cp >= 0x2066 && cp <= 0x2069) ||
    (cp >= 0xd800 && cp <= 0xdfff) // lone surrogates: not representable in UTF-8
  );
}

/** Makes the error for a value that is present but breaks its rule (CERT_INVALID, MALFORMED, ...). */
export type InvalidValue = (detail: string) => ParleyError;

/** [ID-CERT-3] .. [ID-CERT-11]: a certificate field present but breaking its rule. */
export const invalidCertificate: InvalidValue = (detail) => new IdentityError(ErrorCode.CERT_INVALID, detail);
/** A field of a message other than a certificate, present but breaking its rule (chapter 00: MALFORMED). */
export const malformed: InvalidValue = (detail) => new DecodeError(ErrorCode.MALFORMED, detail);

/**
 * Checks a text field without encoding it: empty and required is MISSING_FIELD, more than `maxBytes`
 * of UTF-8 is FIELD_LIMIT, fewer than `minBytes` or a forbidden code point ([ID-CERT-4]) is `invalid`.
 */
export function checkText(
  value: string,
  field: string,
  minBytes: number,
  maxBytes: number,
  invalid: InvalidValue,
): void {
  if (value.length === 0 && minBytes > 0) throw new DecodeError(ErrorCode.MISSING_FIELD, field);
  let bytes = 0;
  for (const ch of value) {
    const cp = ch.codePointAt(0)!;
    if (isForbiddenCodePoint(cp)) throw invalid(`${field}: code point U+${cp.toString(16).padStart(4, '0')}`);
    bytes += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (bytes > maxBytes) throw new DecodeError(ErrorCode.FIELD_LIMIT, `${field}: more than ${maxBytes} bytes`);
  }
  if (bytes < minBytes) throw invalid(`${field}: fewer than ${minBytes} bytes`);
}

/**
 * Checks a fixed-length byte field: absent is MISSING_FIELD, longer FIELD_LIMIT (the encoding rules
 * already refuse that on decode), shorter `invalid`.
 */
export function checkFixedLength(value: Uint8Array, length: number, field: string, invalid: InvalidValue): void {
  if (value.length === 0) throw new DecodeError(ErrorCode.MISSING_FIELD, field);
  if (value.length > length) throw new DecodeError(ErrorCode.FIELD_LIMIT, `${field}: ${value.length} bytes`);
  if (value.length < length) throw invalid(`${field}: ${value.length} bytes, not ${length}`);
}

function safeInteger(value: number, field: string): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new DecodeError(ErrorCode.INTEGER_RANGE, field);
}

/**
 * [ID-CERT-14] Every intrinsic check of a certificate, in the spec's order (§5.3 steps 3-11): version,
 * subject, subject_key, device_id, role, serial, issuer_key_id, then the validity period's order and
 * length. Throws DecodeError (MISSING_FIELD, FIELD_LIMIT, INTEGER_RANGE) or IdentityError(CERT_INVALID).
 * On decoded input the encoding step has already refused what is too long or out of range; the same
 * checks here make a plain value (for issuance) meet the same rules.
 */
export function checkCertificate(cert: Certificate): void {
  // [ID-CERT-3]
  if (cert.version === 0) throw new DecodeError(ErrorCode.MISSING_FIELD, 'Certificate.version');
  if (cert.version !== CERTIFICATE_VERSION) throw invalidCertificate(`version ${cert.version}`);
  checkText(cert.subject, 'Certificate.subject', 1, MAX_SUBJECT_BYTES, invalidCertificate); // [ID-CERT-4]
  checkFixedLength(cert.subjectKey, PUBLIC_KEY_BYTES, 'Certificate.subject_key', invalidCertificate); // [ID-CERT-5]
  checkFixedLength(cert.deviceId, DEVICE_ID_BYTES, 'Certificate.device_id', invalidCertificate); // [ID-CERT-6]
  // [ID-CERT-7] absent is refused; a value this version does not know decodes (GEN-VER-4) and grants nothing
  if (!Number.isInteger(cert.role) || cert.role < 0 || cert.role > MAX_ENUM) {
    throw new DecodeError(ErrorCode.INTEGER_RANGE, 'Certificate.role');
  }
  if (cert.role === Role.ROLE_UNSPECIFIED) throw new DecodeError(ErrorCode.MISSING_FIELD, 'Certificate.role');
  // [ID-CERT-8]
  safeInteger(cert.serial, 'Certificate.serial');
  if (cert.serial === 0) throw new DecodeError(ErrorCode.MISSING_FIELD, 'Certificate.serial');
  // [ID-CERT-9]
  safeInteger(cert.notBefore, 'Certificate.not_before');
  safeInteger(cert.notAfter, 'Certificate.not_after');
  checkFixedLength(cert.issuerKeyId, KEY_ID_BYTES, 'Certificate.issuer_key_id', invalidCertificate); // [ID-CERT-11]
  // [ID-CERT-9]
  if (cert.notBefore >= cert.notAfter) throw invalidCertificate('not_before is not before not_after');
  // [ID-CERT-10] roles this version does not know have no maximum here: no use accepts them (ID-CHAIN-9)
  const max = isKnownRole(cert.role) ? MAX_LIFETIME_MS[cert.role] : Number.POSITIVE_INFINITY;
  if (cert.notAfter - cert.notBefore > max)
    throw invalidCertificate(`lifetime exceeds the maximum for role ${cert.role}`);
}

/** True for the roles this version defines: USER, SUPERNODE, LOGIN. */
export function isKnownRole(role: number): role is 1 | 2 | 3 {
  return role === Role.ROLE_USER || role === Role.ROLE_SUPERNODE || role === Role.ROLE_LOGIN;
}

/**
 * Decodes and checks a certificate body ([ID-CERT-1], [ID-CERT-14]). Call it only on a body whose
 * signature was verified ([ID-SIG-6]). Byte fields of the result are copies.
 */
export function decodeCertificate(body: Uint8Array): Certificate {
  // [ID-CERT-1]
  if (body.length > MAX_CERTIFICATE_BYTES) {
    throw new DecodeError(ErrorCode.FIELD_LIMIT, `Certificate: ${body.length} > ${MAX_CERTIFICATE_BYTES} bytes`);
  }
  // Encoding rules, field maxima, UTF-8 of `subject` and 64-bit ranges on the raw bytes [ID-CERT-1]
  checkEncoding(body, CERTIFICATE_RULES);
  const m = decodeMessage<parley.v1.Certificate>(parley.v1.Certificate, body, 'Certificate');
  const cert: Certificate = {
    version: m.version,
    subject: m.subject,
    subjectKey: m.subjectKey,
    deviceId: m.deviceId,
    role: m.role,
    serial: toSafeInteger(m.serial, 'Certificate.serial'),
    notBefore: toSafeInteger(m.notBefore, 'Certificate.not_before'),
    notAfter: toSafeInteger(m.notAfter, 'Certificate.not_after'),
    issuerKeyId: m.issuerKeyId,
  };
  checkCertificate(cert);
  // Copy only after every check passed: the views point into the peer's buffer.
  return {
    ...cert,
    subjectKey: copyBytes(cert.subjectKey),
    deviceId: copyBytes(cert.deviceId),
    issuerKeyId: copyBytes(cert.issuerKeyId),
  };
}

/** Encodes a certificate body without checking it (`issueCertificate` checks; tests build bad ones). */
export function encodeCertificate(cert: Certificate): Uint8Array {
  return encodeMessage(parley.v1.Certificate, {
    version: cert.version,
    subject: cert.subject,
    subjectKey: cert.subjectKey,
    deviceId: cert.deviceId,
    role: cert.role,
    serial: fromSafeInteger(cert.serial),
    notBefore: fromSafeInteger(cert.notBefore),
    notAfter: fromSafeInteger(cert.notAfter),
    issuerKeyId: cert.issuerKeyId,
  });
}

/**
 * Issues a certificate: checks `fields` against every limit (a violation is ApiMisuse), fills in
 * `version` and `issuer_key_id`, signs under the certificate context and returns the encoded `Signed`.
 * Deterministic: the same issuer and fields give the same bytes on every `CryptoSuite` ([ID-CERT-2]).
 */
export function issueCertificate(
  suite: CryptoSuite,
  issuer: SigningKey | Uint8Array,
  fields: CertificateFields,
): Uint8Array {
  const key = issuer instanceof Uint8Array ? signingKeyFromSeed(suite, issuer) : issuer;
  const cert: Certificate = {
    version: CERTIFICATE_VERSION,
    subject: fields.subject,
    subjectKey: fields.subjectKey,
    deviceId: fields.deviceId,
    role: fields.role,
    serial: fields.serial,
    notBefore: fields.notBefore,
    notAfter: fields.notAfter,
    issuerKeyId: key.keyId,
  };
  try {
    // [ID-CERT-16] an issuer issues only roles this version defines
    if (!isKnownRole(cert.role)) throw invalidCertificate(`role ${cert.role} is not defined`);
    checkCertificate(cert);
  } catch (e) {
    if (e instanceof ParleyError) throw new ApiMisuse(`certificate fields: ${e.message}`);
    throw e;
  }
  return signObject(suite, key, SignatureContext.SIGNATURE_CONTEXT_CERTIFICATE, encodeCertificate(cert));
}

/**
 * [ID-CERT-12] Validity in time with skew applied to both bounds: valid when
 * `notBefore - skewMs <= nowMs < notAfter + skewMs`; otherwise CERT_NOT_YET_VALID or CERT_EXPIRED.
 */
export function checkValidity(cert: Certificate, nowMs: number, skewMs: number = DEFAULT_CLOCK_SKEW_MS): void {
  if (nowMs < cert.notBefore - skewMs) {
    throw new IdentityError(ErrorCode.CERT_NOT_YET_VALID, `serial ${cert.serial} valid from ${cert.notBefore}`);
  }
  if (nowMs >= cert.notAfter + skewMs) {
    throw new IdentityError(ErrorCode.CERT_EXPIRED, `serial ${cert.serial} expired at ${cert.notAfter}`);
  }
}
