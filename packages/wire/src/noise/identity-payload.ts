/**
 * The HandshakePayloadCodec that proves and checks certified identities: the channel's side of
 * spec/03-channels.md §4 ([CHAN-HS-2], [CHAN-HS-3], [CHAN-HS-4]); the rules themselves are the identity
 * chapter's (spec/02-identity.md §7, ID-HS-*), implemented in identity/handshake-payload.ts.
 */
import type { CryptoSuite } from '../crypto/suite.js';
import {
  buildAnonymousHandshakePayload,
  buildHandshakePayload,
  type LocalIdentity,
  type PeerIdentity,
  type VerifyPolicy,
  verifyHandshakePayload,
  verifyLoginClientPayload,
} from '../identity/handshake-payload.js';
import type { HandshakePayloadCodec } from './channel.js';

export interface CertifiedPayloadOptions {
  /** This party's certificate chain and leaf seed. */
  identity: LocalIdentity;
  /**
   * How the peer is judged. A function is called once per verification, so that the injected clock
   * (`nowMs`) is read when the peer's payload arrives, not when the codec was made.
   */
  policy: VerifyPolicy | (() => VerifyPolicy);
  /** This party's software string (ID-HS: at most 64 bytes). */
  software: string;
}

/** The codec of certified handshake payloads, for `ChannelConfig.payload`. */
export function certifiedPayloadCodec(
  suite: CryptoSuite,
  options: CertifiedPayloadOptions,
): HandshakePayloadCodec<PeerIdentity> {
  const { identity, policy, software } = options;
  return {
    build: (noiseStaticPublicKey, protocolVersions) =>
      buildHandshakePayload(suite, identity, noiseStaticPublicKey, {
        protocolVersions: [...protocolVersions],
        software,
      }),
    verify: (payload, remoteStaticPublicKey) =>
      verifyHandshakePayload(suite, payload, remoteStaticPublicKey, typeof policy === 'function' ? policy() : policy),
  };
}

/**
 * The codec of an initiator that connects to a login server without a certificate ([ID-HS-11]): it sends
 * an anonymous payload and verifies the server's certified one (role LOGIN in `policy.acceptedRoles`).
 */
export function anonymousPayloadCodec(
  suite: CryptoSuite,
  options: Omit<CertifiedPayloadOptions, 'identity'>,
): HandshakePayloadCodec<PeerIdentity> {
  const { policy, software } = options;
  return {
    build: (_noiseStaticPublicKey, protocolVersions) =>
      buildAnonymousHandshakePayload({ protocolVersions: [...protocolVersions], software }),
    verify: (payload, remoteStaticPublicKey) =>
      verifyHandshakePayload(suite, payload, remoteStaticPublicKey, typeof policy === 'function' ? policy() : policy),
  };
}

/**
 * A login server's codec ([ID-HS-11]): it proves its LOGIN identity and accepts initiators that are
 * anonymous (`peer` null) or certified (judged by `policy`).
 */
export function loginServerPayloadCodec(
  suite: CryptoSuite,
  options: CertifiedPayloadOptions,
): HandshakePayloadCodec<PeerIdentity | null> {
  const { identity, policy, software } = options;
  return {
    build: (noiseStaticPublicKey, protocolVersions) =>
      buildHandshakePayload(suite, identity, noiseStaticPublicKey, {
        protocolVersions: [...protocolVersions],
        software,
      }),
    verify: (payload, remoteStaticPublicKey) =>
      verifyLoginClientPayload(suite, payload, remoteStaticPublicKey, typeof policy === 'function' ? policy() : policy),
  };
}
