/**
 * Signing keys, key ids and network fingerprints.
 * Normative text: spec/02-identity.md §3 (ID-KEY-*).
 *
 * A key id is SHA-256 of the raw 32-byte Ed25519 public key, all 32 bytes, no truncation
 * ([ID-KEY-1]); a network fingerprint is the key id of a root key ([ID-KEY-3]).
 */
import { bytesEqual, copyBytes } from '../codec/bytes.js';
import type { CryptoSuite, Random } from '../crypto/suite.js';
import { ApiMisuse } from '../errors.js';

/** Length of an Ed25519 public key and of an Ed25519 seed. */
export const PUBLIC_KEY_BYTES = 32;
export const SEED_BYTES = 32;
/** Length of a key id and of a network fingerprint: a full SHA-256 output. */
export const KEY_ID_BYTES = 32;
/** Length of an Ed25519 signature. */
export const SIGNATURE_BYTES = 64;

/** An Ed25519 signing key with its public key and key id computed once. */
export interface SigningKey {
  readonly seed: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly keyId: Uint8Array;
}

/** A root key: the trust anchor of a network, and the fingerprint that names the network. */
export interface RootKey extends SigningKey {
  readonly networkFingerprint: Uint8Array;
}

/** [ID-KEY-1] The key id of an Ed25519 public key: SHA-256 of its 32 raw bytes. */
export function keyId(suite: CryptoSuite, publicKey: Uint8Array): Uint8Array {
  if (publicKey.length !== PUBLIC_KEY_BYTES) throw new ApiMisuse(`public key must be ${PUBLIC_KEY_BYTES} bytes`);
  return suite.sha256(publicKey);
}

/** [ID-KEY-3] The fingerprint of a network: the key id of its root public key. */
export function networkFingerprint(suite: CryptoSuite, rootPublicKey: Uint8Array): Uint8Array {
  return keyId(suite, rootPublicKey);
}

/** [ID-KEY-4] The display form of a key id or fingerprint: 64 lower-case hexadecimal digits. */
export function fingerprintHex(fingerprint: Uint8Array): string {
  let s = '';
  for (const b of fingerprint) s += b.toString(16).padStart(2, '0');
  return s;
}

/** The signing key for a 32-byte Ed25519 seed (deterministic). */
export function signingKeyFromSeed(suite: CryptoSuite, seed: Uint8Array): SigningKey {
  if (seed.length !== SEED_BYTES) throw new ApiMisuse(`seed must be ${SEED_BYTES} bytes`);
  const ownSeed = copyBytes(seed);
  const publicKey = suite.ed25519PublicKey(ownSeed);
  return { seed: ownSeed, publicKey, keyId: suite.sha256(publicKey) };
}

/** A fresh signing key whose seed comes from `random` (inject a seeded `Random` for reproducible keys). */
export function generateSigningKey(suite: CryptoSuite, random: Random): SigningKey {
  return signingKeyFromSeed(suite, random.randomBytes(SEED_BYTES));
}

/**
 * A network's root key from `random` (or from a fixed 32-byte seed). The root key signs only LOGIN
 * certificates ([ID-CHAIN-4]) and may be kept offline.
 */
export function createRootKey(suite: CryptoSuite, source: Random | Uint8Array): RootKey {
  const key = source instanceof Uint8Array ? signingKeyFromSeed(suite, source) : generateSigningKey(suite, source);
  return { ...key, networkFingerprint: key.keyId };
}

/**
 * An owned copy of `bytes` as a plain Uint8Array. (`Buffer#slice` returns a view, not a copy, and
 * protobufjs hands out Buffers under Node: never copy with `.slice()`.)
 */

export { bytesEqual, copyBytes };
