/**
 * Signed objects and the registry of signature contexts.
 * Normative text: spec/02-identity.md §4 (ID-SIG-*).
 *
 * The Ed25519 signature of a `Signed` covers `UTF-8(context name) || 0x00 || body`, where `body` is
 * the exact serialized inner message ([ID-SIG-1], [ID-SIG-2]). Verification checks the envelope's
 * limits, the context, the signer and the signature, in that order, and only then hands `body` to a
 * decoder ([ID-SIG-6]): verify first, decode second.
 */
import { checkEncoding } from '../codec/check.js';
import { decodeMessage, encodeMessage } from '../codec/proto.js';
import { defineMessage } from '../codec/rules.js';
import type { CryptoSuite } from '../crypto/suite.js';
import { ApiMisuse, DecodeError, ErrorCode, IdentityError } from '../errors.js';
import { parley } from '../gen/parley.js';
import {
  bytesEqual,
  KEY_ID_BYTES,
  PUBLIC_KEY_BYTES,
  SIGNATURE_BYTES,
  type SigningKey,
  signingKeyFromSeed,
} from './keys.js';

export const SignatureContext = parley.v1.SignatureContext;
export type SignatureContext = parley.v1.SignatureContext;

/** A decoded `Signed` envelope (its `bytes` fields may be views into the decoded buffer). */
export type Signed = parley.v1.Signed;

/** One row of the context registry ([ID-SIG-3]). */
export interface SignatureContextInfo {
  readonly id: SignatureContext;
  /** The context name the signature covers, e.g. `parley/v1 certificate`. */
  readonly name: string;
  /** Maximum length of `body` under this context, in bytes ([ID-SIG-5]). */
  readonly maxBodyBytes: number;
  /** `UTF-8(name) || 0x00`, the bytes signed before `body`. */
  readonly prefix: Uint8Array;
  /** A bare signature over a fixed-length value, never carried in a `Signed` envelope. */
  readonly bare: boolean;
}

/** Maximum encoded certificate body ([ID-CERT-1]). */
export const MAX_CERTIFICATE_BYTES = 512;
/** [ID-SIG-5] No signed object's body exceeds the stream frame maximum; a context may set less. */
export const MAX_SIGNED_BODY_BYTES = 65_535;
/** Body maximum of reserved contexts until their chapter sets one. */
export const MAX_RESERVED_BODY_BYTES = MAX_SIGNED_BODY_BYTES;
/** spec/06-login-server.md [POLICY-GEN-1]: the largest NetworkPolicy body. */
export const MAX_NETWORK_POLICY_BYTES = 8_192;
/**
 * spec/06-login-server.md [LOGIN-LIST-3]: the largest body of one supernode-list or revocation-list page,
 * small enough that the page, its envelope and the issuer's certificate fit in one stream packet.
 */
export const MAX_LIST_PAGE_BYTES = 60_000;
/** spec/06-login-server.md [LOGIN-PREKEY-2]: the largest SignedPrekey body. */
export const MAX_SIGNED_PREKEY_BYTES = 256;
/** spec/07-supernode.md [DIR-REC-1]: the largest PresenceRecord body. */
export const MAX_PRESENCE_RECORD_BYTES = 1_024;
/** spec/07-supernode.md [STORE-MSG-1]: the largest OfflineMessage body (16,384 bytes of ciphertext and its fields). */
export const MAX_OFFLINE_MESSAGE_BYTES = 17_408;
/** spec/08-connectivity.md [NAT-LIMIT-1]: the largest Attestation body. */
export const MAX_ATTESTATION_BYTES = 512;
/** spec/06-login-server.md [LOGIN-CERT-3]: a certificate request's proof covers the 32-byte handshake hash. */
export const CERTIFICATE_REQUEST_MESSAGE_BYTES = 32;

/** [ID-SIG-5] The encoding rules and limits of `Signed` (checked before protobufjs decodes it). */
export const SIGNED_RULES = defineMessage({
  name: 'Signed',
  fields: [
    { number: 1, name: 'body', kind: 'bytes', maxLength: MAX_SIGNED_BODY_BYTES },
    { number: 2, name: 'signature', kind: 'bytes', maxLength: SIGNATURE_BYTES },
    { number: 3, name: 'signer_key_id', kind: 'bytes', maxLength: KEY_ID_BYTES },
    { number: 4, name: 'context', kind: 'enum' },
  ],
});

const utf8 = new TextEncoder();

function row(id: SignatureContext, name: string, maxBodyBytes: number, bare = false): SignatureContextInfo {
  const nameBytes = utf8.encode(name);
  const prefix = new Uint8Array(nameBytes.length + 1); // trailing 0x00 terminates the name [ID-SIG-2]
  prefix.set(nameBytes);
  return Object.freeze({ id, name, maxBodyBytes, prefix, bare });
}

const C = parley.v1.SignatureContext;

/** [ID-SIG-3] The registry of signature contexts: number, name, body maximum. */
export const SIGNATURE_CONTEXTS: ReadonlyMap<SignatureContext, SignatureContextInfo> = new Map(
  [
    row(C.SIGNATURE_CONTEXT_CERTIFICATE, 'parley/v1 certificate', MAX_CERTIFICATE_BYTES),
    row(C.SIGNATURE_CONTEXT_STATIC_KEY_BINDING, 'parley/v1 static-key-binding', PUBLIC_KEY_BYTES, true),
    row(C.SIGNATURE_CONTEXT_PRESENCE_RECORD, 'parley/v1 presence-record', MAX_PRESENCE_RECORD_BYTES),
    row(C.SIGNATURE_CONTEXT_SUPERNODE_LIST, 'parley/v1 supernode-list', MAX_LIST_PAGE_BYTES),
    row(C.SIGNATURE_CONTEXT_NETWORK_POLICY, 'parley/v1 network-policy', MAX_NETWORK_POLICY_BYTES),
    row(C.SIGNATURE_CONTEXT_REVOCATION_LIST, 'parley/v1 revocation-list', MAX_LIST_PAGE_BYTES),
    row(C.SIGNATURE_CONTEXT_PREKEY_BUNDLE, 'parley/v1 prekey-bundle', MAX_SIGNED_PREKEY_BYTES),
    row(C.SIGNATURE_CONTEXT_ELECTION_REPORT, 'parley/v1 election-report', MAX_RESERVED_BODY_BYTES),
    row(C.SIGNATURE_CONTEXT_ATTESTATION, 'parley/v1 attestation', MAX_ATTESTATION_BYTES),
    row(
      C.SIGNATURE_CONTEXT_CERTIFICATE_REQUEST,
      'parley/v1 certificate-request',
      CERTIFICATE_REQUEST_MESSAGE_BYTES,
      true,
    ),
    row(C.SIGNATURE_CONTEXT_OFFLINE_MESSAGE, 'parley/v1 offline-message', MAX_OFFLINE_MESSAGE_BYTES),
    row(C.SIGNATURE_CONTEXT_PLACEMENT, 'parley/v1 placement', KEY_ID_BYTES, true),
  ].map((r) => [r.id, r]),
);

/** The registry row of `context`; an unregistered context is API misuse. */
export function signatureContextInfo(context: SignatureContext): SignatureContextInfo {
  const info = SIGNATURE_CONTEXTS.get(context);
  if (info === undefined) throw new ApiMisuse(`unregistered signature context ${context}`);
  return info;
}

function concatPrefix(info: SignatureContextInfo, message: Uint8Array): Uint8Array {
  const out = new Uint8Array(info.prefix.length + message.length);
  out.set(info.prefix);
  out.set(message, info.prefix.length);
  return out;
}

/** [ID-SIG-2] The exact bytes an Ed25519 signature covers: `UTF-8(name) || 0x00 || message`. */
export function signedMessage(context: SignatureContext, message: Uint8Array): Uint8Array {
  return concatPrefix(signatureContextInfo(context), message);
}

/** A bare Ed25519 signature under `context` (used where no `Signed` envelope travels, e.g. [ID-HS-3]). */
export function signWithContext(
  suite: CryptoSuite,
  seed: Uint8Array,
  context: SignatureContext,
  message: Uint8Array,
): Uint8Array {
  return suite.ed25519Sign(seed, signedMessage(context, message));
}

/** Verifies a bare signature under `context`; never throws on a bad signature, returns false. */
export function verifyWithContext(
  suite: CryptoSuite,
  publicKey: Uint8Array,
  context: SignatureContext,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (signature.length !== SIGNATURE_BYTES || publicKey.length !== PUBLIC_KEY_BYTES) return false;
  return suite.ed25519Verify(publicKey, signedMessage(context, message), signature);
}

/**
 * Signs `body` (the exact serialized inner message) under `context` and returns the encoded `Signed`.
 * `signer` is a signing key or its 32-byte seed.
 */
export function signObject(
  suite: CryptoSuite,
  signer: SigningKey | Uint8Array,
  context: SignatureContext,
  body: Uint8Array,
): Uint8Array {
  const key = signer instanceof Uint8Array ? signingKeyFromSeed(suite, signer) : signer;
  const info = signatureContextInfo(context);
  if (body.length === 0 || body.length > info.maxBodyBytes) {
    throw new ApiMisuse(`body of ${info.name} must be 1..${info.maxBodyBytes} bytes`);
  }
  const signature = suite.ed25519Sign(key.seed, signedMessage(context, body));
  return encodeMessage(parley.v1.Signed, { body, signature, signerKeyId: key.keyId, context });
}

/**
 * Decodes a `Signed` envelope under the encoding rules of spec/01-packets.md and `SIGNED_RULES`;
 * `checkSignedEnvelope` applies the exact lengths and the context before any field is trusted.
 */
export function decodeSigned(bytes: Uint8Array): Signed {
  checkEncoding(bytes, SIGNED_RULES);
  return decodeMessage<parley.v1.Signed>(parley.v1.Signed, bytes, 'Signed');
}

function exactLength(value: Uint8Array, length: number, field: string): void {
  if (value.length === 0) throw new DecodeError(ErrorCode.MISSING_FIELD, field);
  if (value.length > length) throw new DecodeError(ErrorCode.FIELD_LIMIT, `${field}: ${value.length} bytes`);
  if (value.length < length)
    throw new DecodeError(ErrorCode.MALFORMED, `${field}: ${value.length} bytes, not ${length}`);
}

/**
 * Steps 2 and 3 of [ID-SIG-6], before any key is looked at: the envelope limits, then the context.
 * [ID-SIG-5] `signature` 64 bytes, `signer_key_id` 32 bytes, `body` 1..the context's maximum; absent
 * fields are MISSING_FIELD, longer ones FIELD_LIMIT, shorter ones MALFORMED.
 */
export function checkSignedEnvelope(signed: Signed, context: SignatureContextInfo): void {
  if (signed.body.length === 0) throw new DecodeError(ErrorCode.MISSING_FIELD, 'Signed.body');
  if (signed.body.length > context.maxBodyBytes) {
    throw new DecodeError(ErrorCode.FIELD_LIMIT, `Signed.body: ${signed.body.length} > ${context.maxBodyBytes}`);
  }
  exactLength(signed.signature, SIGNATURE_BYTES, 'Signed.signature');
  exactLength(signed.signerKeyId, KEY_ID_BYTES, 'Signed.signer_key_id');
  // [ID-SIG-7] the context number must name the expected context
  if (signed.context !== context.id) {
    throw new IdentityError(ErrorCode.WRONG_CONTEXT, `expected ${context.name}, got context ${signed.context}`);
  }
}

/**
 * Step 5 of [ID-SIG-6] for an envelope already checked by `checkSignedEnvelope` whose signer is known
 * to be `publicKey`: BAD_SIGNATURE unless the signature holds.
 */
export function checkSignedSignature(
  suite: CryptoSuite,
  signed: Signed,
  context: SignatureContextInfo,
  publicKey: Uint8Array,
): void {
  // [ID-SIG-9] the signature covers the expected context's name, whatever the envelope claims
  if (!suite.ed25519Verify(publicKey, concatPrefix(context, signed.body), signed.signature)) {
    throw new IdentityError(ErrorCode.BAD_SIGNATURE, context.name);
  }
}

/**
 * [ID-SIG-6] Verifies a signed object made by `expectedKey` under `context` and returns its `body`:
 * envelope decode and limits (DecodeError), context (WRONG_CONTEXT), signer key id
 * (CERT_UNKNOWN_ISSUER), signature (BAD_SIGNATURE). The returned body is a view into the input;
 * decode it and copy what you keep.
 */
export function verifySigned(
  suite: CryptoSuite,
  signed: Uint8Array | Signed,
  context: SignatureContext,
  expectedKey: Uint8Array,
): Uint8Array {
  const info = signatureContextInfo(context);
  if (expectedKey.length !== PUBLIC_KEY_BYTES) throw new ApiMisuse(`public key must be ${PUBLIC_KEY_BYTES} bytes`);
  const envelope = signed instanceof Uint8Array ? decodeSigned(signed) : signed;
  checkSignedEnvelope(envelope, info);
  // [ID-SIG-8] the envelope must name the key the verifier expects
  if (!bytesEqual(envelope.signerKeyId, suite.sha256(expectedKey))) {
    throw new IdentityError(ErrorCode.CERT_UNKNOWN_ISSUER, `${info.name}: signer is not the expected key`);
  }
  checkSignedSignature(suite, envelope, info, expectedKey);
  return envelope.body;
}

/** Verify first, decode second ([ID-SIG-6], [ID-SIG-10]): `decode` only ever sees a body whose signature held. */
export function verifyAndDecode<T>(
  suite: CryptoSuite,
  signed: Uint8Array | Signed,
  context: SignatureContext,
  expectedKey: Uint8Array,
  decode: (body: Uint8Array) => T,
): T {
  return decode(verifySigned(suite, signed, context, expectedKey));
}
