/**
 * X3DH key agreement between two devices (spec/10-e2e.md §3-4), after The X3DH Key Agreement Protocol
 * (Marlinspike & Perrin, 2016) with X25519 and SHA-256. A device's long-term X25519 identity key (IK) is
 * the `identity_dh_key` of its signed prekey, which its certified Ed25519 key signs (06 LOGIN-PREKEY-2),
 * so a verified bundle binds IK, the signed prekey (SPK) and the one-time prekey (OPK) to a certificate.
 *
 *   DH1 = DH(IK_A, SPK_B)   DH2 = DH(EK_A, IK_B)   DH3 = DH(EK_A, SPK_B)   [DH4 = DH(EK_A, OPK_B)]
 *   SK  = HKDF-SHA-256(ikm = 0xFF x 32 || DH1 || DH2 || DH3 [|| DH4], salt = 0 x 32, "parley/1 x3dh", 32)
 *   AD  = "parley/1 e2e ad" || IK_A || IK_B || len || name_A || device_A || len || name_B || device_B
 */
import { concatBytes } from '../codec/bytes.js';
import type { CryptoSuite, Random } from '../crypto/suite.js';
import { ApiMisuse, DecodeError, ErrorCode } from '../errors.js';
import type { Certificate } from '../identity/certificate.js';
import { type SignedPrekeyFields, signSignedPrekey, verifySignedPrekey } from '../login/objects.js';
import { E2E_KEY_BYTES } from './messages.js';

const utf8 = new TextEncoder();
const X3DH_INFO = utf8.encode('parley/1 x3dh');
const AD_LABEL = utf8.encode('parley/1 e2e ad');
const F = new Uint8Array(32).fill(0xff);
const ZERO_SALT = new Uint8Array(32);

export interface X25519KeyPair {
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

/** [E2E-KEYS-1] A fresh X25519 key pair from the injected randomness. */
export function generateX25519(suite: CryptoSuite, random: Random): X25519KeyPair {
  const privateKey = random.randomBytes(E2E_KEY_BYTES);
  return { privateKey, publicKey: suite.x25519PublicKey(privateKey) };
}

/** One party of a session: its user name and device id (from its certificate) and its identity DH key. */
export interface DeviceIdentity {
  readonly username: string;
  readonly deviceId: Uint8Array;
  readonly identityDhKey: Uint8Array;
}

/** What a device keeps to answer PrekeyMessages: the private halves of what it uploaded. */
export interface PrekeySecrets {
  /** The private key of its signed prekey `id`, while it keeps it (the current and the previous one). */
  signedPrekey(id: number): Uint8Array | undefined;
  /** The private key of its one-time prekey `id`, until it is used ([E2E-X3DH-6]). */
  oneTimePrekey(id: number): Uint8Array | undefined;
}

/** The device's own keys: its identity DH key pair and its own encoded Signed SignedPrekey. */
export interface LocalDevice {
  readonly username: string;
  readonly deviceId: Uint8Array;
  readonly identityDh: X25519KeyPair;
  /** Its current encoded Signed SignedPrekey, put into every PrekeyMessage it sends ([E2E-X3DH-3]). */
  readonly signedPrekey: Uint8Array;
}

export interface CreatedPrekeys {
  /** The `UploadPrekeys` contents (06 §11). */
  readonly upload: {
    readonly signedPrekey: Uint8Array;
    readonly oneTimePrekeys: { id: number; publicKey: Uint8Array }[];
  };
  readonly signed: { readonly id: number; readonly keyPair: X25519KeyPair };
  readonly oneTime: { readonly id: number; readonly keyPair: X25519KeyPair }[];
}

/**
 * [E2E-KEYS-2] A signed prekey (id >= 1) and `count` one-time prekeys (ids from `firstOneTimeId` >= 1), signed
 * by the device's certified key `seed`.
 */
export function createPrekeys(
  suite: CryptoSuite,
  random: Random,
  o: {
    seed: Uint8Array;
    deviceId: Uint8Array;
    identityDhKey: Uint8Array;
    signedPrekeyId: number;
    firstOneTimeId: number;
    count: number;
    nowMs: number;
  },
): CreatedPrekeys {
  if (o.signedPrekeyId < 1 || o.firstOneTimeId < 1) throw new ApiMisuse('prekey ids start at 1 ([E2E-KEYS-2])');
  const spk = generateX25519(suite, random);
  const signedPrekey = signSignedPrekey(suite, o.seed, {
    id: o.signedPrekeyId,
    publicKey: spk.publicKey,
    identityDhKey: o.identityDhKey,
    deviceId: o.deviceId,
    createdAtMs: o.nowMs,
  });
  const oneTime = Array.from({ length: o.count }, (_, i) => ({
    id: o.firstOneTimeId + i,
    keyPair: generateX25519(suite, random),
  }));
  return {
    upload: { signedPrekey, oneTimePrekeys: oneTime.map((k) => ({ id: k.id, publicKey: k.keyPair.publicKey })) },
    signed: { id: o.signedPrekeyId, keyPair: spk },
    oneTime,
  };
}

/** A prekey bundle whose certificate and signed prekey were verified (E2E-X3DH-1). */
export interface VerifiedBundle {
  readonly peer: DeviceIdentity;
  readonly signedPrekeyId: number;
  readonly signedPrekey: Uint8Array;
  readonly oneTimePrekey?: { readonly id: number; readonly publicKey: Uint8Array } | undefined;
}

/**
 * [E2E-X3DH-1] The keys of a bundle, once its certificate has been verified (the caller verifies the chain
 * with verifyUserCertificate): the signed prekey must verify under the certificate (LOGIN-PREKEY-2), and a
 * one-time prekey must be 32 bytes with an id >= 1.
 */
export function bundleKeys(
  suite: CryptoSuite,
  certificate: Certificate,
  signedPrekey: Uint8Array,
  oneTimePrekey?: { readonly id: number; readonly publicKey: Uint8Array } | null,
): VerifiedBundle {
  const spk = verifySignedPrekey(suite, signedPrekey, certificate);
  if (spk.id === 0) throw new DecodeError(ErrorCode.MISSING_FIELD, 'SignedPrekey.id');
  let otk: VerifiedBundle['oneTimePrekey'];
  if (oneTimePrekey !== null && oneTimePrekey !== undefined) {
    if (oneTimePrekey.publicKey.length !== E2E_KEY_BYTES) {
      throw new DecodeError(ErrorCode.MALFORMED, 'OneTimePrekey.public_key: not 32 bytes');
    }
    if (oneTimePrekey.id === 0) throw new DecodeError(ErrorCode.MISSING_FIELD, 'OneTimePrekey.id');
    otk = { id: oneTimePrekey.id, publicKey: Uint8Array.from(oneTimePrekey.publicKey) };
  }
  return {
    peer: { username: certificate.subject, deviceId: certificate.deviceId, identityDhKey: spk.identityDhKey },
    signedPrekeyId: spk.id,
    signedPrekey: spk.publicKey,
    oneTimePrekey: otk,
  };
}

/** [E2E-X3DH-4] The sender's identity from its own signed prekey, verified under the carrier's certificate. */
export function senderIdentity(suite: CryptoSuite, certificate: Certificate, signedPrekey: Uint8Array): DeviceIdentity {
  const spk: SignedPrekeyFields = verifySignedPrekey(suite, signedPrekey, certificate);
  return { username: certificate.subject, deviceId: certificate.deviceId, identityDhKey: spk.identityDhKey };
}

function lengthPrefixed(s: string): Uint8Array {
  const b = utf8.encode(s);
  if (b.length > 255) throw new ApiMisuse('a user name of more than 255 bytes');
  return concatBytes([Uint8Array.of(b.length), b]);
}

/** [E2E-X3DH-5] The associated data of a session: both identities, the initiator's first. */
export function associatedData(initiator: DeviceIdentity, responder: DeviceIdentity): Uint8Array {
  return concatBytes([
    AD_LABEL,
    initiator.identityDhKey,
    responder.identityDhKey,
    lengthPrefixed(initiator.username),
    initiator.deviceId,
    lengthPrefixed(responder.username),
    responder.deviceId,
  ]);
}

/** [E2E-X3DH-2] SK from the DH outputs (an all-zero DH output is INVALID_KEY: CRYPTO-X25519-2). */
export function deriveSecret(suite: CryptoSuite, dhs: readonly Uint8Array[]): Uint8Array {
  return suite.hkdfSha256(concatBytes([F, ...dhs]), ZERO_SALT, X3DH_INFO, 32);
}

/** The initiator's side: SK, from its identity and a fresh ephemeral key, against a verified bundle. */
export function x3dhInitiate(
  suite: CryptoSuite,
  local: X25519KeyPair,
  ephemeral: X25519KeyPair,
  bundle: VerifiedBundle,
): Uint8Array {
  const dhs = [
    suite.x25519(local.privateKey, bundle.signedPrekey),
    suite.x25519(ephemeral.privateKey, bundle.peer.identityDhKey),
    suite.x25519(ephemeral.privateKey, bundle.signedPrekey),
  ];
  if (bundle.oneTimePrekey !== undefined) dhs.push(suite.x25519(ephemeral.privateKey, bundle.oneTimePrekey.publicKey));
  return deriveSecret(suite, dhs);
}

/** The responder's side: the same SK from its private keys and the initiator's public ones. */
export function x3dhRespond(
  suite: CryptoSuite,
  local: { identityDh: X25519KeyPair; signedPrekey: Uint8Array; oneTimePrekey?: Uint8Array | undefined },
  initiatorIdentity: Uint8Array,
  ephemeralKey: Uint8Array,
): Uint8Array {
  const dhs = [
    suite.x25519(local.signedPrekey, initiatorIdentity),
    suite.x25519(local.identityDh.privateKey, ephemeralKey),
    suite.x25519(local.signedPrekey, ephemeralKey),
  ];
  if (local.oneTimePrekey !== undefined) dhs.push(suite.x25519(local.oneTimePrekey, ephemeralKey));
  return deriveSecret(suite, dhs);
}
