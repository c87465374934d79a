/**
 * Certificate chains: from a trust anchor (a pinned root public key, never carried) down to the leaf.
 * Normative text: spec/02-identity.md §6 (ID-CHAIN-*).
 *
 * Chains are verified top-down, so that each certificate is checked against a key that is already
 * trusted before its body is decoded ([ID-SIG-6]); each signature is verified exactly once.
 */
import type { CryptoSuite } from '../crypto/suite.js';
import { ApiMisuse, ErrorCode, IdentityError, IncompatiblePeer } from '../errors.js';
import {
  type Certificate,
  checkValidity,
  DEFAULT_CLOCK_SKEW_MS,
  decodeCertificate,
  isKnownRole,
  MAX_CLOCK_SKEW_MS,
  Role,
} from './certificate.js';
import type { VerifiedCertificateCache } from './certificate-cache.js';
import { bytesEqual, PUBLIC_KEY_BYTES } from './keys.js';
import {
  checkSignedEnvelope,
  checkSignedSignature,
  decodeSigned,
  SignatureContext,
  type Signed,
  signatureContextInfo,
} from './signed.js';

/** [ID-CHAIN-2] A chain has one or two certificates: [LOGIN] or [USER|SUPERNODE, LOGIN]. */
export const MAX_CHAIN_LENGTH = 2;

/** How a chain is judged: the pinned anchors, the injected clock, and what the caller accepts. */
export interface ChainPolicy {
  /** Root public keys (32 bytes each) the verifier pins; at least one ([ID-KEY-2]). */
  trustAnchors: Uint8Array[];
  /** The verifier's clock, unix milliseconds; nothing here reads a clock itself. */
  nowMs: number;
  /** Skew tolerated on both validity bounds, 0..MAX_CLOCK_SKEW_MS; default DEFAULT_CLOCK_SKEW_MS. */
  skewMs?: number;
  /** Roles the leaf may have for this use ([ID-CHAIN-9]). */
  acceptedRoles: Role[];
  /** Revocation hook: true when `serial` under `issuerKeyId` is revoked ([ID-CHAIN-8]). */
  isRevoked?: (issuerKeyId: Uint8Array, serial: number) => boolean;
  /** Optional memo of verified certificates: skips steps 2.3-2.4 for envelopes seen before ([ID-CHAIN-10]). */
  cache?: VerifiedCertificateCache;
}

/** A verified chain. */
export interface VerifiedChain {
  /** The leaf certificate (the peer's own). */
  leaf: Certificate;
  /** Key id of the leaf's subject key. */
  leafKeyId: Uint8Array;
  /** Every certificate, leaf first, as carried. */
  certificates: Certificate[];
  /** The pinned root public key the chain ends at. */
  trustAnchor: Uint8Array;
  /** The network fingerprint of that anchor ([ID-KEY-3]). */
  networkFingerprint: Uint8Array;
}

function checkPolicy(policy: ChainPolicy): number {
  const skewMs = policy.skewMs ?? DEFAULT_CLOCK_SKEW_MS;
  if (!Number.isSafeInteger(policy.nowMs) || policy.nowMs < 0) throw new ApiMisuse('nowMs must be a safe integer >= 0');
  // [ID-CERT-13]
  if (!Number.isSafeInteger(skewMs) || skewMs < 0 || skewMs > MAX_CLOCK_SKEW_MS) {
    throw new ApiMisuse(`skewMs must be 0..${MAX_CLOCK_SKEW_MS}`);
  }
  if (policy.trustAnchors.length === 0) throw new ApiMisuse('at least one trust anchor is required');
  for (const r of policy.acceptedRoles) if (!isKnownRole(r)) throw new ApiMisuse(`accepted role ${r} is not defined`);
  for (const a of policy.trustAnchors) {
    if (a.length !== PUBLIC_KEY_BYTES) throw new ApiMisuse(`trust anchors are ${PUBLIC_KEY_BYTES}-byte public keys`);
  }
  return skewMs;
}

/**
 * [ID-CHAIN-3] Verifies `chain` (encoded or decoded `Signed` certificates, leaf first) against
 * `policy`, applying the checks of spec/02-identity.md §6.3 in order. Throws the first failure.
 */
export function verifyChain(
  suite: CryptoSuite,
  chain: readonly (Uint8Array | Signed)[],
  policy: ChainPolicy,
): VerifiedChain {
  const skewMs = checkPolicy(policy);
  // Step 1 [ID-CHAIN-2]
  if (chain.length === 0 || chain.length > MAX_CHAIN_LENGTH) {
    throw new IdentityError(ErrorCode.CHAIN_INVALID, `chain of ${chain.length} certificates`);
  }
  const context = signatureContextInfo(SignatureContext.SIGNATURE_CONTEXT_CERTIFICATE);
  const anchorIds = policy.trustAnchors.map((a) => suite.sha256(a));
  const certificates = new Array<Certificate>(chain.length);
  let trustAnchor: Uint8Array | undefined;
  let networkFingerprint: Uint8Array | undefined;
  let issuerKey: Uint8Array | undefined;
  let issuerKeyId: Uint8Array | undefined;

  for (let i = chain.length - 1; i >= 0; i--) {
    const item = chain[i]!;
    // Step 2.1: envelope decode, limits and context [ID-SIG-5] [ID-SIG-7]
    const signed = item instanceof Uint8Array ? decodeSigned(item) : item;
    checkSignedEnvelope(signed, context);
    const top = i === chain.length - 1;
    // Step 2.2: the issuer
    if (top) {
      // [ID-CHAIN-4] the top certificate is issued by a pinned anchor, or the peer is of another network
      const k = anchorIds.findIndex((id) => bytesEqual(id, signed.signerKeyId));
      if (k < 0) throw new IncompatiblePeer(ErrorCode.NETWORK_MISMATCH, 'chain does not end at a pinned root key');
      issuerKey = policy.trustAnchors[k]!;
      issuerKeyId = anchorIds[k]!;
      trustAnchor = issuerKey;
      networkFingerprint = issuerKeyId;
    } else if (!bytesEqual(issuerKeyId!, signed.signerKeyId)) {
      // [ID-CHAIN-5] each other certificate is issued by the subject of the next one
      throw new IdentityError(ErrorCode.CERT_UNKNOWN_ISSUER, `certificate ${i} not issued by certificate ${i + 1}`);
    }
    // [ID-CHAIN-10] a memo hit stands for steps 2.3-2.4: same issuer key, same body, same signature
    let cert = policy.cache?.get(signed, issuerKey!);
    if (cert === undefined) {
      // Step 2.3: signature [ID-SIG-6]
      checkSignedSignature(suite, signed, context, issuerKey!);
      // Step 2.4: decode and intrinsic checks [ID-CERT-14]
      cert = decodeCertificate(signed.body);
      policy.cache?.set(signed, issuerKey!, cert);
    }
    // Step 2.5 [ID-CERT-11]
    if (!bytesEqual(cert.issuerKeyId, signed.signerKeyId)) {
      throw new IdentityError(ErrorCode.CERT_INVALID, 'issuer_key_id differs from the envelope signer_key_id');
    }
    // Step 2.6 [ID-CHAIN-4] [ID-CHAIN-6]: who may issue what (a role this version does not know is
    // never LOGIN, so it is refused at the top and left to step 3 below it)
    if (top ? cert.role !== Role.ROLE_LOGIN : cert.role === Role.ROLE_LOGIN) {
      throw new IdentityError(ErrorCode.CHAIN_INVALID, `role ${cert.role} at position ${i}`);
    }
    // Step 2.7 [ID-CHAIN-7]: an anchor is never carried, and nothing certifies its own issuer
    const subjectKeyId = suite.sha256(cert.subjectKey);
    if (bytesEqual(subjectKeyId, issuerKeyId!) || anchorIds.some((id) => bytesEqual(id, subjectKeyId))) {
      throw new IdentityError(ErrorCode.CHAIN_INVALID, `certificate ${i} certifies a root or its own issuer key`);
    }
    // Step 2.8 [ID-CERT-12]
    checkValidity(cert, policy.nowMs, skewMs);
    // Step 2.9 [ID-CHAIN-8]
    if (policy.isRevoked?.(cert.issuerKeyId, cert.serial)) {
      throw new IdentityError(ErrorCode.CERT_REVOKED, `serial ${cert.serial}`);
    }
    certificates[i] = cert;
    issuerKey = cert.subjectKey;
    issuerKeyId = subjectKeyId;
  }

  const leaf = certificates[0]!;
  // Step 3 [ID-CHAIN-9]
  if (!policy.acceptedRoles.includes(leaf.role)) {
    throw new IdentityError(ErrorCode.CERT_WRONG_ROLE, `role ${leaf.role} not accepted here`);
  }
  return {
    leaf,
    leafKeyId: issuerKeyId!,
    certificates,
    trustAnchor: trustAnchor!,
    networkFingerprint: networkFingerprint!,
  };
}
