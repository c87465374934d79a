/**
 * The identity payload a party sends inside its Noise handshake: its certificate chain, a signature
 * by its certified key over its Noise static public key, its protocol versions and software string.
 * Normative text: spec/02-identity.md §7 (ID-HS-*); where it travels: spec/03-channels.md (CHAN-*).
 *
 * Hot path: the payload is decoded once, each certificate signature and the binding signature are
 * verified exactly once, and only what the result keeps is copied out of the peer's buffer.
 */
import { checkEncoding } from '../codec/check.js';
import { decodeMessage, encodeMessage } from '../codec/proto.js';
import { defineMessage } from '../codec/rules.js';
import type { CryptoSuite } from '../crypto/suite.js';
import { ApiMisuse, DecodeError, ErrorCode, IdentityError, ParleyError } from '../errors.js';
import { parley } from '../gen/parley.js';
import { type Certificate, checkFixedLength, checkText, decodeCertificate, malformed } from './certificate.js';
import { type ChainPolicy, MAX_CHAIN_LENGTH, verifyChain } from './chain.js';
import { bytesEqual, copyBytes, PUBLIC_KEY_BYTES, SEED_BYTES, SIGNATURE_BYTES } from './keys.js';
import { decodeSigned, SIGNED_RULES, SignatureContext, signWithContext, verifyWithContext } from './signed.js';

/** [ID-HS-1] Maximum encoded handshake payload. */
export const MAX_HANDSHAKE_PAYLOAD_BYTES = 2048;
/** [ID-HS-5] At most this many protocol versions. */
export const MAX_PROTOCOL_VERSIONS = 16;
/** [ID-HS-6] The software string: 0..64 bytes of UTF-8. */
export const MAX_SOFTWARE_BYTES = 64;
const MAX_UINT32 = 0xffff_ffff;

/** [ID-HS-1] The encoding rules and per-field maxima of `HandshakePayload`, checked before decoding. */
export const HANDSHAKE_PAYLOAD_RULES = defineMessage({
  name: 'HandshakePayload',
  fields: [
    {
      number: 1,
      name: 'certificates',
      kind: 'message',
      message: SIGNED_RULES,
      repeated: true,
      maxCount: MAX_CHAIN_LENGTH,
    },
    { number: 2, name: 'static_key_signature', kind: 'bytes', maxLength: SIGNATURE_BYTES },
    { number: 3, name: 'protocol_versions', kind: 'uint32', repeated: true, maxCount: MAX_PROTOCOL_VERSIONS },
    { number: 4, name: 'software', kind: 'string', maxLength: MAX_SOFTWARE_BYTES },
  ],
});

/** What a party proves itself with. */
export interface LocalIdentity {
  /** Encoded `Signed` certificates, leaf first (the trust anchor is never included). */
  chain: Uint8Array[];
  /** Ed25519 seed of the leaf subject key. */
  seed: Uint8Array;
}

/** The verified identity of the remote party. */
export interface PeerIdentity {
  /** The peer's (leaf) certificate. */
  certificate: Certificate;
  /** Key id of the peer's certified subject key ([ID-KEY-1]). */
  keyId: Uint8Array;
  /** Fingerprint of the pinned root the peer's chain ends at ([ID-KEY-3]). */
  networkFingerprint: Uint8Array;
  /** The peer's whole chain, decoded, leaf first. */
  chain: Certificate[];
  /** The pinned root public key the chain ends at. */
  trustAnchor: Uint8Array;
}

/** How a peer's payload is judged: exactly a chain policy ([ID-CHAIN-3], [ID-HS-7]). */
export type VerifyPolicy = ChainPolicy;

function misuse<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof ParleyError) throw new ApiMisuse(`${what}: ${e.message}`);
    throw e;
  }
}

/** [ID-HS-5] 1..16 versions (none MISSING_FIELD, more FIELD_LIMIT), each 1..2^32-1 and distinct (MALFORMED). */
function checkProtocolVersions(versions: readonly number[]): void {
  if (versions.length === 0) throw new DecodeError(ErrorCode.MISSING_FIELD, 'HandshakePayload.protocol_versions');
  if (versions.length > MAX_PROTOCOL_VERSIONS) {
    throw new DecodeError(ErrorCode.FIELD_LIMIT, `HandshakePayload.protocol_versions: ${versions.length} entries`);
  }
  for (let i = 0; i < versions.length; i++) {
    const v = versions[i]!;
    if (!Number.isInteger(v) || v < 1 || v > MAX_UINT32) throw malformed(`HandshakePayload.protocol_versions: ${v}`);
    for (let j = 0; j < i; j++) {
      if (versions[j] === v) throw malformed(`HandshakePayload.protocol_versions: ${v} twice`);
    }
  }
}

/**
 * Checks once, when an identity is loaded, that `seed` is the key the leaf certificate certifies and
 * that the chain is well-formed; `buildHandshakePayload` trusts its input and does not repeat this.
 */
export function checkLocalIdentity(suite: CryptoSuite, identity: LocalIdentity): void {
  if (identity.seed.length !== SEED_BYTES) throw new ApiMisuse(`seed must be ${SEED_BYTES} bytes`);
  if (identity.chain.length === 0 || identity.chain.length > MAX_CHAIN_LENGTH) {
    throw new ApiMisuse(`chain must have 1..${MAX_CHAIN_LENGTH} certificates`);
  }
  const leaf = misuse('leaf certificate', () => decodeCertificate(decodeSigned(identity.chain[0]!).body));
  if (!bytesEqual(leaf.subjectKey, suite.ed25519PublicKey(identity.seed))) {
    throw new ApiMisuse('seed is not the key of the leaf certificate');
  }
}

// Ed25519 signatures are deterministic, so remembering the last binding per seed changes no byte of
// output; it saves one signature per handshake when the Noise static key is long-lived.
// The entry is used only while the seed array still holds the seed it was made with, so a caller that
// overwrites its seed array in place never gets another key's signature.
const bindingCache = new WeakMap<Uint8Array, { seed: Uint8Array; staticKey: Uint8Array; signature: Uint8Array }>();

/** [ID-HS-3] The binding signature: the leaf key's signature over the static-key-binding context and the static key. */
export function signStaticKeyBinding(
  suite: CryptoSuite,
  seed: Uint8Array,
  noiseStaticPublicKey: Uint8Array,
): Uint8Array {
  const cached = bindingCache.get(seed);
  if (cached !== undefined && bytesEqual(cached.seed, seed) && bytesEqual(cached.staticKey, noiseStaticPublicKey)) {
    return cached.signature;
  }
  const signature = signWithContext(
    suite,
    seed,
    SignatureContext.SIGNATURE_CONTEXT_STATIC_KEY_BINDING,
    noiseStaticPublicKey,
  );
  bindingCache.set(seed, { seed: copyBytes(seed), staticKey: copyBytes(noiseStaticPublicKey), signature });
  return signature;
}

/**
 * Builds this party's handshake payload ([ID-HS-2]): the chain, the binding signature over
 * `noiseStaticPublicKey`, the protocol versions and the software string. Arguments outside the
 * limits of §7 are ApiMisuse.
 */
export function buildHandshakePayload(
  suite: CryptoSuite,
  identity: LocalIdentity,
  noiseStaticPublicKey: Uint8Array,
  opts: { protocolVersions: number[]; software: string },
): Uint8Array {
  if (noiseStaticPublicKey.length !== PUBLIC_KEY_BYTES) {
    throw new ApiMisuse(`Noise static public key must be ${PUBLIC_KEY_BYTES} bytes`);
  }
  if (identity.seed.length !== SEED_BYTES) throw new ApiMisuse(`seed must be ${SEED_BYTES} bytes`);
  if (identity.chain.length === 0 || identity.chain.length > MAX_CHAIN_LENGTH) {
    throw new ApiMisuse(`chain must have 1..${MAX_CHAIN_LENGTH} certificates`);
  }
  misuse('protocolVersions', () => checkProtocolVersions(opts.protocolVersions));
  misuse('software', () => checkText(opts.software, 'software', 0, MAX_SOFTWARE_BYTES, malformed));
  const certificates = identity.chain.map((c) => misuse('chain', () => decodeSigned(c)));
  const payload = encodeMessage(parley.v1.HandshakePayload, {
    certificates,
    staticKeySignature: signStaticKeyBinding(suite, identity.seed, noiseStaticPublicKey),
    protocolVersions: opts.protocolVersions,
    software: opts.software,
  });
  if (payload.length > MAX_HANDSHAKE_PAYLOAD_BYTES) {
    throw new ApiMisuse(`handshake payload of ${payload.length} bytes exceeds ${MAX_HANDSHAKE_PAYLOAD_BYTES}`);
  }
  return payload;
}

/**
 * [ID-HS-11] The anonymous payload of an initiator that holds no certificate yet: no chain, no binding,
 * only its protocol versions and software. Only a login server accepts it (06-login-server.md).
 */
export function buildAnonymousHandshakePayload(opts: { protocolVersions: number[]; software: string }): Uint8Array {
  misuse('protocolVersions', () => checkProtocolVersions(opts.protocolVersions));
  misuse('software', () => checkText(opts.software, 'software', 0, MAX_SOFTWARE_BYTES, malformed));
  return encodeMessage(parley.v1.HandshakePayload, {
    protocolVersions: opts.protocolVersions,
    software: opts.software,
  });
}

/**
 * Verifies a peer's handshake payload ([ID-HS-7]) received over a Noise handshake whose remote static
 * key is `remoteStaticPublicKey`: size and decode, field limits, the chain (§6.3), then the binding.
 * Throws DecodeError, IdentityError or IncompatiblePeer(NETWORK_MISMATCH), and never anything else,
 * whatever `payload` holds ([ID-HS-10]); a wrong-length `remoteStaticPublicKey` is ApiMisuse.
 */
export function verifyHandshakePayload(
  suite: CryptoSuite,
  payload: Uint8Array,
  remoteStaticPublicKey: Uint8Array,
  policy: VerifyPolicy,
): { peer: PeerIdentity; protocolVersions: number[]; software: string } {
  return verifyPayload(suite, payload, remoteStaticPublicKey, policy, false) as {
    peer: PeerIdentity;
    protocolVersions: number[];
    software: string;
  };
}

/**
 * A login server's verification of its initiator's payload ([ID-HS-11]): an anonymous payload (no
 * certificates and no binding) gives `peer: null` after steps 1-3 of [ID-HS-7]; any other payload is
 * verified exactly as `verifyHandshakePayload` does.
 */
export function verifyLoginClientPayload(
  suite: CryptoSuite,
  payload: Uint8Array,
  remoteStaticPublicKey: Uint8Array,
  policy: VerifyPolicy,
): { peer: PeerIdentity | null; protocolVersions: number[]; software: string } {
  return verifyPayload(suite, payload, remoteStaticPublicKey, policy, true);
}

function verifyPayload(
  suite: CryptoSuite,
  payload: Uint8Array,
  remoteStaticPublicKey: Uint8Array,
  policy: VerifyPolicy,
  allowAnonymous: boolean,
): { peer: PeerIdentity | null; protocolVersions: number[]; software: string } {
  if (remoteStaticPublicKey.length !== PUBLIC_KEY_BYTES) {
    throw new ApiMisuse(`remote static public key must be ${PUBLIC_KEY_BYTES} bytes`);
  }
  // Step 1 [ID-HS-1]
  if (payload.length > MAX_HANDSHAKE_PAYLOAD_BYTES) {
    throw new DecodeError(ErrorCode.FIELD_LIMIT, `HandshakePayload: ${payload.length} bytes`);
  }
  // Step 2: encoding rules and field maxima on the raw bytes (nested certificates included), then decode
  checkEncoding(payload, HANDSHAKE_PAYLOAD_RULES);
  const m = decodeMessage<parley.v1.HandshakePayload>(parley.v1.HandshakePayload, payload, 'HandshakePayload');
  // [ID-HS-11] An anonymous payload (neither chain nor binding), where the receiver is a login server.
  if (allowAnonymous && m.certificates.length === 0 && m.staticKeySignature.length === 0) {
    checkProtocolVersions(m.protocolVersions);
    checkText(m.software, 'HandshakePayload.software', 0, MAX_SOFTWARE_BYTES, malformed);
    return { peer: null, protocolVersions: Array.from(m.protocolVersions), software: m.software };
  }
  // Step 3: field limits, cheapest first, before any signature [ID-HS-3] [ID-HS-5] [ID-HS-6]
  checkFixedLength(m.staticKeySignature, SIGNATURE_BYTES, 'HandshakePayload.static_key_signature', malformed);
  checkProtocolVersions(m.protocolVersions);
  checkText(m.software, 'HandshakePayload.software', 0, MAX_SOFTWARE_BYTES, malformed);
  // Step 4: the chain [ID-HS-2] [ID-CHAIN-3]
  const chain = verifyChain(suite, m.certificates as parley.v1.Signed[], policy);
  // Step 5 [ID-HS-4]: the certified key vouches for the static key Noise authenticated
  if (
    !verifyWithContext(
      suite,
      chain.leaf.subjectKey,
      SignatureContext.SIGNATURE_CONTEXT_STATIC_KEY_BINDING,
      remoteStaticPublicKey,
      m.staticKeySignature,
    )
  ) {
    throw new IdentityError(ErrorCode.BINDING_INVALID, 'static key signature does not verify');
  }
  return {
    peer: {
      certificate: chain.leaf,
      keyId: chain.leafKeyId,
      networkFingerprint: chain.networkFingerprint,
      chain: chain.certificates,
      trustAnchor: chain.trustAnchor,
    },
    protocolVersions: Array.from(m.protocolVersions),
    software: m.software,
  };
}
