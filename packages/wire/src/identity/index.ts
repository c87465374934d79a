/**
 * Identity, certificates, signed objects and the handshake identity payload: the public API.
 * Normative text: spec/02-identity.md (ID-*). Module-internal helpers (byte comparison, field checks)
 * stay out of this barrel.
 */
export {
  CERTIFICATE_RULES,
  CERTIFICATE_VERSION,
  type Certificate,
  type CertificateFields,
  checkCertificate,
  checkValidity,
  DEFAULT_CLOCK_SKEW_MS,
  DEFAULT_LIFETIME_MS,
  DEVICE_ID_BYTES,
  decodeCertificate,
  encodeCertificate,
  isForbiddenCodePoint,
  isKnownRole,
  issueCertificate,
  MAX_CLOCK_SKEW_MS,
  MAX_LIFETIME_MS,
  MAX_SERIAL,
  MAX_SUBJECT_BYTES,
  Role,
} from './certificate.js';
export { VerifiedCertificateCache } from './certificate-cache.js';
export { type ChainPolicy, MAX_CHAIN_LENGTH, type VerifiedChain, verifyChain } from './chain.js';
export {
  buildAnonymousHandshakePayload,
  buildHandshakePayload,
  checkLocalIdentity,
  HANDSHAKE_PAYLOAD_RULES,
  type LocalIdentity,
  MAX_HANDSHAKE_PAYLOAD_BYTES,
  MAX_PROTOCOL_VERSIONS,
  MAX_SOFTWARE_BYTES,
  type PeerIdentity,
  signStaticKeyBinding,
  type VerifyPolicy,
  verifyHandshakePayload,
  verifyLoginClientPayload,
} from './handshake-payload.js';
export {
  createRootKey,
  fingerprintHex,
  generateSigningKey,
  KEY_ID_BYTES,
  keyId,
  networkFingerprint,
  PUBLIC_KEY_BYTES,
  type RootKey,
  SEED_BYTES,
  SIGNATURE_BYTES,
  type SigningKey,
  signingKeyFromSeed,
} from './keys.js';
export { createNetworkKeys, type NetworkKeys } from './network.js';
export {
  decodeSigned,
  MAX_CERTIFICATE_BYTES,
  MAX_RESERVED_BODY_BYTES,
  MAX_SIGNED_BODY_BYTES,
  SIGNATURE_CONTEXTS,
  SIGNED_RULES,
  SignatureContext,
  type SignatureContextInfo,
  type Signed,
  signatureContextInfo,
  signedMessage,
  signObject,
  signWithContext,
  verifyAndDecode,
  verifySigned,
  verifyWithContext,
} from './signed.js';
