/**
 * The signed objects supernodes hold for users: presence records (spec/07-supernode.md §5, DIR-REC-*) and
 * offline messages (§7, STORE-MSG-*), each carried in an envelope with the certificate that verifies it.
 *
 * A record or message is signed by the certified subject key of the sending device (a ROLE_USER
 * certificate issued by the network's login key) under its own signature context (02-identity.md §4.2:
 * 3 "parley/v1 presence-record", 11 "parley/v1 offline-message"). Verification checks, in order: the
 * envelope's encoding, the certificate (its chain to a pinned root through a login certificate the caller
 * holds, validity in time, revocation, role), the `Signed` object (limits, context, signer, signature),
 * then the fields of the body against the certificate and the receiver's clock ([DIR-REC-4],
 * [STORE-MSG-4]). Verify first, decode second (02 ID-SIG-10); the signed bytes are never re-encoded: a
 * verified result carries the envelope exactly as it will be stored and served ([DIR-REC-10],
 * [STORE-MSG-9]).
 */
import { bytesEqual, copyBytes } from '../codec/bytes.js';
import { checkFields } from '../codec/check.js';
import { asMisuse, decodeBody } from '../codec/object-body.js';
import { encodeMessage, toSafeInteger } from '../codec/proto.js';
import type { MessageRules } from '../codec/rules.js';
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
import type { VerifiedCertificateCache } from '../identity/certificate-cache.js';
import { type VerifiedChain, verifyChain } from '../identity/chain.js';
import { KEY_ID_BYTES, type SigningKey } from '../identity/keys.js';
import { SignatureContext, signObject, verifySigned } from '../identity/signed.js';
import {
  MESSAGE_ID_BYTES,
  OFFLINE_ENVELOPE_RULES,
  OFFLINE_MESSAGE_RULES,
  PRESENCE_ENVELOPE_RULES,
  PRESENCE_RECORD_RULES,
} from './messages.js';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

/** [DIR-REC-3] [STORE-MSG-3] The only format version of a presence record and of an offline message. */
export const PRESENCE_RECORD_VERSION = 1;
export const OFFLINE_MESSAGE_VERSION = 1;
/** [DIR-REC-7] The longest a presence record may be valid: expires_at - issued_at. */
export const MAX_PRESENCE_LIFETIME_MS = 15 * MINUTE;
/** [DIR-REC-7] The lifetime a device gives its records by default; it refreshes them at half-life. */
export const DEFAULT_PRESENCE_LIFETIME_MS = 10 * MINUTE;
/**
 * [STORE-MSG-7] `offline-lifetime` when the caller passes none: the default of the policy's
 * `directory.offline_lifetime_s` (06 §8.3), 30 days. Pass `EffectivePolicy.directory.offlineLifetimeMs`.
 */
export const DEFAULT_OFFLINE_LIFETIME_MS = 30 * DAY;
/** [DIR-REC-6] The largest sequence number of a presence record: 2^53-1. */
export const MAX_PRESENCE_SEQUENCE = Number.MAX_SAFE_INTEGER;

export const PresenceStatus = parley.v1.PresenceStatus;
export type PresenceStatus = parley.v1.PresenceStatus;

/** [DIR-REC-8] The status values this version defines: ONLINE, AWAY, DO_NOT_DISTURB, OFFLINE. */
export function isDefinedPresenceStatus(status: number): boolean {
  return status >= PresenceStatus.PRESENCE_STATUS_ONLINE && status <= PresenceStatus.PRESENCE_STATUS_OFFLINE;
}

/**
 * 06 [LOGIN-NAME-3] True when `name` is a normalised user name: 3 to 32 characters, a lower-case letter
 * first, then lower-case letters, digits and `.`, `_`, `-`, each punctuation character followed by a
 * letter or digit. The same grammar as packages/login-server/src/accounts/username.ts.
 */
export function isNormalisedUsername(name: string): boolean {
  return typeof name === 'string' && NORMALISED_USERNAME.test(name);
}
const NORMALISED_USERNAME = /^[a-z](?:[a-z0-9]|[._-](?=[a-z0-9])){2,31}$/;

// ---- Trust -------------------------------------------------------------------------------------------------

/**
 * How a receiver judges the certificate that travels with a record or message: the network's pinned
 * root keys, the login certificates it holds (encoded `Signed` ROLE_LOGIN certificates, as login replies
 * carry them: 06 LOGIN-PUB-1), its clock, and the revocation list.
 */
export interface SupernodeObjectTrust {
  /** Pinned root public keys (02 ID-KEY-2); at least one. */
  trustAnchors: Uint8Array[];
  /** The login certificates whose subject keys may issue user certificates; at least one. */
  loginCertificates: readonly Uint8Array[];
  /** The receiver's clock, unix milliseconds. */
  nowMs: number;
  /** `cert-clock-skew`: tolerated on certificate validity and on a future issued_at / created_at. */
  skewMs?: number;
  /** True when the user certificate with this serial (issued by a login key) is revoked (06 LOGIN-REVOKE-*). */
  isRevoked?: (serial: number) => boolean;
  /** A memo of verified certificates (02 ID-CHAIN-10): a returning sender's certificate costs no signature check. */
  cache?: VerifiedCertificateCache;
}

/**
 * [DIR-REC-4] step 2, [STORE-MSG-4] step 2: verifies an encoded ROLE_USER certificate as issued by the
 * subject key of one of `trust.loginCertificates`, itself issued by a pinned root (02 ID-CHAIN-3, a chain
 * of [user, login]); valid at `trust.nowMs` with `trust.skewMs`; not revoked. Errors: those of the chain
 * (CERT_UNKNOWN_ISSUER when no login certificate issued it, CERT_EXPIRED, CERT_NOT_YET_VALID,
 * CERT_REVOKED, CERT_WRONG_ROLE, CERT_INVALID, CHAIN_INVALID, NETWORK_MISMATCH, BAD_SIGNATURE, ...).
 */
export function verifyUserCertificate(
  suite: CryptoSuite,
  certificate: Uint8Array,
  trust: SupernodeObjectTrust,
): VerifiedChain {
  return verifyIssuedCertificate(suite, certificate, trust, Role.ROLE_USER);
}

/**
 * An encoded certificate of `role` as issued by the subject key of one of `trust.loginCertificates` (a
 * chain of [certificate, login] to a pinned root), valid at `trust.nowMs` with `trust.skewMs`, not revoked:
 * the check behind verifyUserCertificate (ROLE_USER) and verifySupernodeCertificate (ROLE_SUPERNODE, 08).
 */
export function verifyIssuedCertificate(
  suite: CryptoSuite,
  certificate: Uint8Array,
  trust: SupernodeObjectTrust,
  role: Role,
): VerifiedChain {
  if (trust.loginCertificates.length === 0) throw new ApiMisuse('at least one login certificate is required');
  const skewMs = trust.skewMs ?? DEFAULT_CLOCK_SKEW_MS;
  let anchorIds: Uint8Array[] | undefined;
  const revoked = trust.isRevoked;
  const policy = {
    trustAnchors: trust.trustAnchors,
    nowMs: trust.nowMs,
    skewMs,
    acceptedRoles: [role],
    cache: trust.cache,
    // Serials of the revocation list are those a login key issued: a login certificate (issued by a root)
    // is never looked up in it.
    isRevoked:
      revoked === undefined
        ? undefined
        : (issuerKeyId: Uint8Array, serial: number): boolean => {
            anchorIds ??= trust.trustAnchors.map((a) => suite.sha256(a));
            return !anchorIds.some((id) => bytesEqual(id, issuerKeyId)) && revoked(serial);
          },
  };
  let first: unknown;
  for (const login of trust.loginCertificates) {
    try {
      return verifyChain(suite, [certificate, login], policy);
    } catch (e) {
      // Another login certificate may be the issuer; any other failure is final.
      if (!(e instanceof IdentityError && e.code === ErrorCode.CERT_UNKNOWN_ISSUER)) throw e;
      first ??= e;
    }
  }
  throw first;
}

function checkTrust(trust: SupernodeObjectTrust): number {
  const skewMs = trust.skewMs ?? DEFAULT_CLOCK_SKEW_MS;
  if (!Number.isSafeInteger(trust.nowMs) || trust.nowMs < 0) throw new ApiMisuse('nowMs must be a safe integer >= 0');
  if (!Number.isSafeInteger(skewMs) || skewMs < 0 || skewMs > MAX_CLOCK_SKEW_MS) {
    throw new ApiMisuse(`skewMs must be 0..${MAX_CLOCK_SKEW_MS}`);
  }
  return skewMs;
}

// ---- Helpers -------------------------------------------------------------------------------------------

function checkVersion(version: number, expected: number, what: string): void {
  if (version === 0) throw new DecodeError(ErrorCode.MISSING_FIELD, `${what}.version`);
  if (version !== expected) throw malformed(`${what}.version: ${version}`);
}

function required(value: number, what: string): void {
  if (value === 0) throw new DecodeError(ErrorCode.MISSING_FIELD, what);
}

/** Two encoded byte fields (`certificate` = 1, the signed object = 2) as one envelope. */
interface EnvelopeParts {
  readonly certificate: Uint8Array;
  readonly signed: Uint8Array;
}

function envelopeParts(
  input: Uint8Array | { readonly certificate: Uint8Array } | undefined,
  rules: MessageRules,
  type: { decode(r: Uint8Array): { certificate: Uint8Array } },
  signedProperty: 'record' | 'message',
): { parts: EnvelopeParts; bytes: Uint8Array } {
  const what = rules.name;
  let certificate: Uint8Array;
  let signed: Uint8Array;
  let bytes: Uint8Array | undefined;
  // an absent envelope of a decoded body (`PublishPresence.presence`, `StoreMessage.message`)
  if (input === undefined || input === null) throw new DecodeError(ErrorCode.MISSING_FIELD, what);
  if (input instanceof Uint8Array) {
    const m = decodeBody(type, rules, input) as unknown as Record<string, Uint8Array>;
    certificate = m.certificate!;
    signed = m[signedProperty]!;
    bytes = copyBytes(input);
  } else {
    // A decoded envelope (a packet body's member): its two fields are what is signed and certified; the
    // envelope around them is re-made canonically (it is not signed).
    certificate = input.certificate;
    signed = (input as unknown as Record<string, Uint8Array>)[signedProperty]!;
    for (const [field, value] of [
      [rules.fields[0]!, certificate],
      [rules.fields[1]!, signed],
    ] as const) {
      if (!(value instanceof Uint8Array)) throw new ApiMisuse(`${what}.${field.name}: not a Uint8Array`);
      if (value.length > field.maxLength!) {
        throw new DecodeError(ErrorCode.FIELD_LIMIT, `${what}.${field.name}: ${value.length} bytes`); // [SN-LIMIT-1]
      }
    }
  }
  if (!(certificate instanceof Uint8Array) || certificate.length === 0) {
    throw new DecodeError(ErrorCode.MISSING_FIELD, `${what}.certificate`);
  }
  if (!(signed instanceof Uint8Array) || signed.length === 0) {
    throw new DecodeError(ErrorCode.MISSING_FIELD, `${what}.${signedProperty}`);
  }
  bytes ??= encodeEnvelope(rules, certificate, signedProperty, signed);
  return { parts: { certificate, signed }, bytes };
}

/** An envelope kind: its rules, its generated type and the property of its signed object. */
interface EnvelopeKind {
  readonly rules: MessageRules;
  readonly type: { decode(r: Uint8Array): { certificate: Uint8Array } };
  readonly signedProperty: 'record' | 'message';
}

/**
 * The first steps of [DIR-REC-4] and [STORE-MSG-4], in order: the envelope (DecodeError), the certificate
 * (`verifyUserCertificate`), the signed object (ID-SIG-6) under `context` by the certificate's subject key.
 * Returns the verified chain, its leaf, the signed body (not yet decoded) and the exact envelope bytes.
 */
function openEnvelope(
  suite: CryptoSuite,
  envelope: Uint8Array | { readonly certificate: Uint8Array } | undefined,
  kind: EnvelopeKind,
  context: SignatureContext,
  trust: SupernodeObjectTrust,
): { chain: VerifiedChain; cert: Certificate; body: Uint8Array; bytes: Uint8Array } {
  const { parts, bytes } = envelopeParts(envelope, kind.rules, kind.type, kind.signedProperty);
  const chain = verifyUserCertificate(suite, parts.certificate, trust);
  const cert = chain.leaf;
  const body = verifySigned(suite, parts.signed, context, cert.subjectKey);
  return { chain, cert, body, bytes };
}

/**
 * [DIR-REC-2] [STORE-MSG-2] Sender side: checks `props` against the rules, encodes them, refuses
 * (ApiMisuse) what the receiver's `check` of the body would refuse, and signs the body under `context`.
 */
function signBody(
  suite: CryptoSuite,
  signer: SigningKey | Uint8Array,
  context: SignatureContext,
  props: object,
  body: { rules: MessageRules; type: unknown; what: string; check: (body: Uint8Array) => unknown },
): Uint8Array {
  checkFields(props, body.rules);
  const bytes = encodeMessage(body.type as never, props as never);
  asMisuse(body.what, () => body.check(bytes));
  return signObject(suite, signer, context, bytes);
}

function encodeEnvelope(
  rules: MessageRules,
  certificate: Uint8Array,
  signedProperty: 'record' | 'message',
  signed: Uint8Array,
): Uint8Array {
  const props = { certificate, [signedProperty]: signed };
  checkFields(props, rules);
  if (certificate.length === 0 || signed.length === 0) throw new ApiMisuse(`${rules.name}: an empty field`);
  const type = rules === PRESENCE_ENVELOPE_RULES ? parley.v1.PresenceEnvelope : parley.v1.OfflineEnvelope;
  return encodeMessage(type as never, props as never);
}

function checkNotFuture(at: number, nowMs: number, skewMs: number, what: string): void {
  if (at > nowMs + skewMs) {
    throw new IdentityError(ErrorCode.CERT_NOT_YET_VALID, `${what}: ${at} is after now ${nowMs} + skew ${skewMs}`);
  }
}

function checkNotExpired(expiresAt: number, nowMs: number, what: string): void {
  if (expiresAt <= nowMs) throw new ProtocolViolation(ErrorCode.TOO_OLD, `${what}: expired at ${expiresAt}`);
}

// ---- Presence records ----------------------------------------------------------------------------------

/** The fields of a presence record; times are unix milliseconds. */
export interface PresenceRecordFields {
  username: string;
  deviceId: Uint8Array;
  sequence: number;
  issuedAt: number;
  expiresAt: number;
  status: PresenceStatus;
  /** Key id of the device's home supernode, 32 bytes. */
  homeSupernode: Uint8Array;
  /** The device's endpoints sealed for its contacts (chapter 09); 0..512 bytes, opaque here. */
  sealedEndpoints?: Uint8Array;
}

/** A presence record that passed every check of [DIR-REC-4], with the envelope to store and serve. */
export interface VerifiedPresence {
  username: string;
  deviceId: Uint8Array;
  sequence: number;
  issuedAt: number;
  expiresAt: number;
  status: PresenceStatus;
  homeSupernode: Uint8Array;
  certificateSerial: number;
  certificateNotAfter: number;
  /** Key id of the certificate's subject key, the record's signer. */
  subjectKeyId?: Uint8Array;
  /** The exact encoded PresenceEnvelope: stored as is and returned by lookups unaltered ([DIR-REC-10]). */
  envelope: Uint8Array;
}

/**
 * [DIR-REC-3], [DIR-REC-6] .. [DIR-REC-9]: the intrinsic checks of a decoded record, those that need neither the
 * certificate nor a clock. DecodeError (MISSING_FIELD, MALFORMED, INTEGER_RANGE).
 */
function presenceFields(m: parley.v1.PresenceRecord): PresenceRecordFields {
  checkVersion(m.version, PRESENCE_RECORD_VERSION, 'PresenceRecord'); // [DIR-REC-3]
  if (m.username.length === 0) throw new DecodeError(ErrorCode.MISSING_FIELD, 'PresenceRecord.username');
  checkFixedLength(m.deviceId, DEVICE_ID_BYTES, 'PresenceRecord.device_id', malformed);
  const sequence = toSafeInteger(m.sequence, 'PresenceRecord.sequence'); // [DIR-REC-6] at most 2^53-1
  required(sequence, 'PresenceRecord.sequence'); // [DIR-REC-6] at least 1
  const issuedAt = toSafeInteger(m.issuedAt, 'PresenceRecord.issued_at');
  const expiresAt = toSafeInteger(m.expiresAt, 'PresenceRecord.expires_at');
  required(issuedAt, 'PresenceRecord.issued_at');
  // [DIR-REC-7] issued_at < expires_at <= issued_at + 15 min
  if (expiresAt <= issuedAt) throw malformed('PresenceRecord: expires_at is not after issued_at');
  if (expiresAt - issuedAt > MAX_PRESENCE_LIFETIME_MS) {
    throw malformed(`PresenceRecord: lifetime ${expiresAt - issuedAt} ms above ${MAX_PRESENCE_LIFETIME_MS}`);
  }
  // [DIR-REC-8] a status this version defines
  required(m.status, 'PresenceRecord.status');
  if (!isDefinedPresenceStatus(m.status)) throw malformed(`PresenceRecord.status: ${m.status}`);
  checkFixedLength(m.homeSupernode, KEY_ID_BYTES, 'PresenceRecord.home_supernode', malformed); // [DIR-REC-9]
  return {
    username: m.username,
    deviceId: copyBytes(m.deviceId),
    sequence,
    issuedAt,
    expiresAt,
    status: m.status,
    homeSupernode: copyBytes(m.homeSupernode),
    sealedEndpoints: copyBytes(m.sealedEndpoints),
  };
}

/** Decodes a PresenceRecord body with its intrinsic checks. Call it only on a body whose signature held. */
export function decodePresenceRecord(body: Uint8Array): PresenceRecordFields {
  return presenceFields(decodeBody(parley.v1.PresenceRecord, PRESENCE_RECORD_RULES, body));
}

/**
 * [DIR-REC-2] Encodes and signs a presence record with the device's certified key (its seed or signing
 * key) under "parley/v1 presence-record"; returns the encoded `Signed`. ApiMisuse for a record a
 * receiver would refuse on its own (limits, version, lengths, times, status); the checks against the
 * certificate and the clock are the receiver's.
 */
export function signPresenceRecord(
  suite: CryptoSuite,
  signer: SigningKey | Uint8Array,
  fields: PresenceRecordFields,
): Uint8Array {
  const props = {
    version: PRESENCE_RECORD_VERSION,
    username: fields.username,
    deviceId: fields.deviceId,
    sequence: fields.sequence,
    issuedAt: fields.issuedAt,
    expiresAt: fields.expiresAt,
    status: fields.status,
    homeSupernode: fields.homeSupernode,
    sealedEndpoints: fields.sealedEndpoints ?? new Uint8Array(0),
  };
  return signBody(suite, signer, SignatureContext.SIGNATURE_CONTEXT_PRESENCE_RECORD, props, {
    rules: PRESENCE_RECORD_RULES,
    type: parley.v1.PresenceRecord,
    what: 'presence record',
    check: (body) => decodePresenceRecord(body),
  });
}

/** [DIR-REC-1] The encoded PresenceEnvelope of a certificate and a signed record (both encoded `Signed`). */
export function encodePresenceEnvelope(certificate: Uint8Array, record: Uint8Array): Uint8Array {
  return encodeEnvelope(PRESENCE_ENVELOPE_RULES, certificate, 'record', record);
}

/** Decodes a PresenceEnvelope (its limits, both fields present) without verifying anything. */
export function decodePresenceEnvelope(bytes: Uint8Array): { certificate: Uint8Array; record: Uint8Array } {
  const { parts } = envelopeParts(bytes, PRESENCE_ENVELOPE_RULES, parley.v1.PresenceEnvelope, 'record');
  return { certificate: copyBytes(parts.certificate), record: copyBytes(parts.signed) };
}

/**
 * [DIR-REC-4] Verifies a presence envelope, encoded or as decoded from a packet body (absent is
 * MISSING_FIELD), and returns the record's fields with the exact envelope bytes. In order: the envelope
 * (DecodeError), the certificate (`verifyUserCertificate`), the signed record (ID-SIG-6: limits,
 * WRONG_CONTEXT, CERT_UNKNOWN_ISSUER when the subject key did not sign it, BAD_SIGNATURE), the body
 * (DIR-REC-3, DIR-REC-6 .. DIR-REC-9: MISSING_FIELD, MALFORMED, INTEGER_RANGE, FIELD_LIMIT), the
 * certificate's subject and device (DIR-REC-5, MALFORMED), then time (DIR-REC-7): TOO_OLD when
 * expires_at <= now, CERT_NOT_YET_VALID when issued_at > now + skew.
 */
export function verifyPresenceEnvelope(
  suite: CryptoSuite,
  envelope: Uint8Array | { readonly certificate: Uint8Array; readonly record: Uint8Array } | undefined,
  trust: SupernodeObjectTrust,
): VerifiedPresence {
  const skewMs = checkTrust(trust);
  const { chain, cert, body, bytes } = openEnvelope(
    suite,
    envelope,
    { rules: PRESENCE_ENVELOPE_RULES, type: parley.v1.PresenceEnvelope, signedProperty: 'record' },
    SignatureContext.SIGNATURE_CONTEXT_PRESENCE_RECORD,
    trust,
  );
  const r = decodePresenceRecord(body);
  checkSubject(r.username, r.deviceId, cert, 'PresenceRecord.username', 'PresenceRecord.device_id');
  checkNotExpired(r.expiresAt, trust.nowMs, 'PresenceRecord'); // [DIR-REC-7]
  checkNotFuture(r.issuedAt, trust.nowMs, skewMs, 'PresenceRecord.issued_at'); // [DIR-REC-7]
  return {
    username: r.username,
    deviceId: r.deviceId,
    sequence: r.sequence,
    issuedAt: r.issuedAt,
    expiresAt: r.expiresAt,
    status: r.status,
    homeSupernode: r.homeSupernode,
    certificateSerial: cert.serial,
    certificateNotAfter: cert.notAfter,
    subjectKeyId: chain.leafKeyId,
    envelope: bytes,
  };
}

/** [DIR-REC-5] [STORE-MSG-5] The object names the certificate's subject and device. */
function checkSubject(name: string, deviceId: Uint8Array, cert: Certificate, nameField: string, deviceField: string) {
  if (name !== cert.subject) throw malformed(`${nameField}: not the certificate's subject`);
  if (!bytesEqual(deviceId, cert.deviceId)) throw malformed(`${deviceField}: not the certificate's device`);
}

// ---- Offline messages ----------------------------------------------------------------------------------

/** The fields of an offline message; times are unix milliseconds. */
export interface OfflineMessageFields {
  /** 16 random bytes; with the sender, the message's identity. */
  messageId: Uint8Array;
  sender: string;
  senderDeviceId: Uint8Array;
  /** A normalised user name. */
  recipient: string;
  createdAt: number;
  expiresAt: number;
  /** End-to-end encrypted (chapter 10); 1..16,384 bytes, opaque here. */
  ciphertext: Uint8Array;
}

/** An offline message that passed every check of [STORE-MSG-4], with the envelope to store and serve. */
export interface VerifiedOfflineMessage {
  messageId: Uint8Array;
  sender: string;
  senderDeviceId: Uint8Array;
  recipient: string;
  createdAt: number;
  expiresAt: number;
  /** The length of `envelope` in bytes: what the message costs a recipient's storage quota. */
  size: number;
  certificateSerial: number;
  /** The exact encoded OfflineEnvelope: stored as is and returned by fetches unaltered ([STORE-MSG-9]). */
  envelope: Uint8Array;
}

/** Options of offline-message verification beyond the trust inputs. */
export interface OfflineMessageOptions {
  /**
   * `offline-lifetime`: the longest expires_at - created_at, the network policy's
   * `directory.offline_lifetime_s` (`EffectivePolicy.directory.offlineLifetimeMs`); default 30 days.
   */
  maxLifetimeMs?: number;
}

/** [STORE-MSG-3], [STORE-MSG-6] .. [STORE-MSG-8]: the intrinsic checks of a decoded message. */
function offlineFields(m: parley.v1.OfflineMessage, maxLifetimeMs: number): OfflineMessageFields {
  checkVersion(m.version, OFFLINE_MESSAGE_VERSION, 'OfflineMessage'); // [STORE-MSG-3]
  checkFixedLength(m.messageId, MESSAGE_ID_BYTES, 'OfflineMessage.message_id', malformed); // [STORE-MSG-3]
  if (m.sender.length === 0) throw new DecodeError(ErrorCode.MISSING_FIELD, 'OfflineMessage.sender');
  checkFixedLength(m.senderDeviceId, DEVICE_ID_BYTES, 'OfflineMessage.sender_device_id', malformed);
  // [STORE-MSG-6] the recipient is a normalised user name
  if (m.recipient.length === 0) throw new DecodeError(ErrorCode.MISSING_FIELD, 'OfflineMessage.recipient');
  if (!isNormalisedUsername(m.recipient)) {
    throw new RequestRefused(ErrorCode.USERNAME_INVALID, 'OfflineMessage.recipient: not a normalised user name');
  }
  const createdAt = toSafeInteger(m.createdAt, 'OfflineMessage.created_at');
  const expiresAt = toSafeInteger(m.expiresAt, 'OfflineMessage.expires_at');
  required(createdAt, 'OfflineMessage.created_at');
  // [STORE-MSG-7] created_at < expires_at <= created_at + offline-lifetime
  if (expiresAt <= createdAt) throw malformed('OfflineMessage: expires_at is not after created_at');
  if (expiresAt - createdAt > maxLifetimeMs) {
    throw malformed(`OfflineMessage: lifetime ${expiresAt - createdAt} ms above ${maxLifetimeMs}`);
  }
  // [STORE-MSG-8] 1..16,384 bytes of ciphertext (the maximum is the decode rule's)
  if (m.ciphertext.length === 0) throw new DecodeError(ErrorCode.MISSING_FIELD, 'OfflineMessage.ciphertext');
  return {
    messageId: copyBytes(m.messageId),
    sender: m.sender,
    senderDeviceId: copyBytes(m.senderDeviceId),
    recipient: m.recipient,
    createdAt,
    expiresAt,
    ciphertext: m.ciphertext,
  };
}

function lifetimeOption(options: OfflineMessageOptions | undefined): number {
  const max = options?.maxLifetimeMs ?? DEFAULT_OFFLINE_LIFETIME_MS;
  if (!Number.isSafeInteger(max) || max < 1) throw new ApiMisuse('maxLifetimeMs must be a positive integer');
  return max;
}

/**
 * Decodes an OfflineMessage body with its intrinsic checks. Call it only on a body whose signature held.
 * `ciphertext` is a view into `body`; the other byte fields are copies.
 */
export function decodeOfflineMessage(body: Uint8Array, options?: OfflineMessageOptions): OfflineMessageFields {
  return offlineFields(decodeBody(parley.v1.OfflineMessage, OFFLINE_MESSAGE_RULES, body), lifetimeOption(options));
}

/**
 * [STORE-MSG-2] Encodes and signs an offline message with the sending device's certified key under
 * "parley/v1 offline-message"; returns the encoded `Signed`. ApiMisuse for a message a receiver would
 * refuse on its own (limits, lengths, recipient, times under `options.maxLifetimeMs`).
 */
export function signOfflineMessage(
  suite: CryptoSuite,
  signer: SigningKey | Uint8Array,
  fields: OfflineMessageFields,
  options?: OfflineMessageOptions,
): Uint8Array {
  const props = {
    version: OFFLINE_MESSAGE_VERSION,
    messageId: fields.messageId,
    sender: fields.sender,
    senderDeviceId: fields.senderDeviceId,
    recipient: fields.recipient,
    createdAt: fields.createdAt,
    expiresAt: fields.expiresAt,
    ciphertext: fields.ciphertext,
  };
  return signBody(suite, signer, SignatureContext.SIGNATURE_CONTEXT_OFFLINE_MESSAGE, props, {
    rules: OFFLINE_MESSAGE_RULES,
    type: parley.v1.OfflineMessage,
    what: 'offline message',
    check: (body) => decodeOfflineMessage(body, options),
  });
}

/** [STORE-MSG-1] The encoded OfflineEnvelope of a certificate and a signed message (both encoded `Signed`). */
export function encodeOfflineEnvelope(certificate: Uint8Array, message: Uint8Array): Uint8Array {
  return encodeEnvelope(OFFLINE_ENVELOPE_RULES, certificate, 'message', message);
}

/** Decodes an OfflineEnvelope (its limits, both fields present) without verifying anything. */
export function decodeOfflineEnvelope(bytes: Uint8Array): { certificate: Uint8Array; message: Uint8Array } {
  const { parts } = envelopeParts(bytes, OFFLINE_ENVELOPE_RULES, parley.v1.OfflineEnvelope, 'message');
  return { certificate: copyBytes(parts.certificate), message: copyBytes(parts.signed) };
}

/**
 * [STORE-MSG-4] Verifies an offline envelope, encoded or as decoded from a packet body (absent is
 * MISSING_FIELD), and returns the message's metadata with the exact envelope bytes (the ciphertext stays
 * inside the envelope). In order: the envelope, the certificate, the signed message (ID-SIG-6), the body
 * (STORE-MSG-3, STORE-MSG-6 .. STORE-MSG-8; USERNAME_INVALID for a recipient that is not a normalised
 * name), the sender and device against the certificate (STORE-MSG-5, MALFORMED), then time (STORE-MSG-7):
 * TOO_OLD when expires_at <= now, CERT_NOT_YET_VALID when created_at > now + skew.
 */
export function verifyOfflineEnvelope(
  suite: CryptoSuite,
  envelope: Uint8Array | { readonly certificate: Uint8Array; readonly message: Uint8Array } | undefined,
  trust: SupernodeObjectTrust,
  options?: OfflineMessageOptions,
): VerifiedOfflineMessage {
  const skewMs = checkTrust(trust);
  const maxLifetimeMs = lifetimeOption(options);
  const { cert, body, bytes } = openEnvelope(
    suite,
    envelope,
    { rules: OFFLINE_ENVELOPE_RULES, type: parley.v1.OfflineEnvelope, signedProperty: 'message' },
    SignatureContext.SIGNATURE_CONTEXT_OFFLINE_MESSAGE,
    trust,
  );
  const m = decodeOfflineMessage(body, { maxLifetimeMs });
  checkSubject(m.sender, m.senderDeviceId, cert, 'OfflineMessage.sender', 'OfflineMessage.sender_device_id');
  checkNotExpired(m.expiresAt, trust.nowMs, 'OfflineMessage'); // [STORE-MSG-7]
  checkNotFuture(m.createdAt, trust.nowMs, skewMs, 'OfflineMessage.created_at'); // [STORE-MSG-7]
  return {
    messageId: m.messageId,
    sender: m.sender,
    senderDeviceId: m.senderDeviceId,
    recipient: m.recipient,
    createdAt: m.createdAt,
    expiresAt: m.expiresAt,
    size: bytes.length,
    certificateSerial: cert.serial,
    envelope: bytes,
  };
}
