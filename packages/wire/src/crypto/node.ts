/**
 * `nodeCrypto`: the Parley v1 cipher suite on node:crypto (OpenSSL) — the fast default on Node.
 *
 * Implements: RFC 7748 (X25519), RFC 8032 (Ed25519, strict verification as Parley defines it),
 * RFC 8439 (ChaCha20-Poly1305), FIPS 180-4 (SHA-256), RFC 2104 (HMAC), RFC 5869 (HKDF).
 * Normative text: spec/04-crypto.md (CRYPTO-*). Must give the same bytes as `nobleCrypto` on every
 * input ([CRYPTO-SUITE-2]).
 *
 * node:crypto is reached through `process.getBuiltinModule` (Node >= 20.16) rather than a static
 * import, so that a browser bundle that includes this module (through the crypto barrel) neither
 * fails to resolve `node:crypto` nor pulls in a polyfill; there, `nodeCryptoAvailable()` is false and
 * every method throws `ApiMisuse`.
 *
 * Raw keys become KeyObjects through JWK (RFC 8037 OKP), which on Node 20 / OpenSSL 3.0 is about ten
 * times faster than the fixed PKCS #8 / SPKI DER prefixes of RFC 8410 (see `privateKeyObject`).
 */
import type * as NodeCryptoModule from 'node:crypto';
import { bytesEqual } from '../codec/bytes.js';
import { ApiMisuse, DecryptError, ErrorCode } from '../errors.js';
import { passesStrictPrechecks } from './ed25519-strict.js';
import {
  AEAD_KEY_LENGTH,
  AEAD_NONCE_LENGTH,
  AEAD_TAG_LENGTH,
  ED25519_SEED_LENGTH,
  requireBytes,
  requireHkdfLength,
  requireLength,
  SHA256_LENGTH,
  X25519_KEY_LENGTH,
} from './lengths.js';
import type { CryptoSuite } from './suite.js';

type Builtins = { getBuiltinModule?: (id: string) => unknown };
const nc = (globalThis as { process?: Builtins }).process?.getBuiltinModule?.('node:crypto') as
  | typeof NodeCryptoModule
  | undefined;

/** True when node:crypto can back `nodeCrypto` here (Node >= 20.16 with ChaCha20-Poly1305). */
export function nodeCryptoAvailable(): boolean {
  available ??= nc?.getCiphers().includes('chacha20-poly1305') === true;
  return available;
}
let available: boolean | undefined;

function lib(): typeof NodeCryptoModule {
  if (nc === undefined) throw new ApiMisuse('nodeCrypto needs node:crypto; use nobleCrypto here');
  return nc;
}

type OkpCurve = 'X25519' | 'Ed25519';

function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

/**
 * A private KeyObject from a raw 32-byte key, through JWK. Not through PKCS #8 DER: OpenSSL 3.0's
 * DER decoder parses ~1,600 keys/s here, while Node builds a key from JWK `d` directly
 * (EVP_PKEY_new_raw_private_key) at ~16,000/s. Node requires `x` to be a string but derives the
 * public key from `d`; the contract suite's RFC 7748 / RFC 8032 answers would catch a Node that did
 * otherwise. The cost is an immutable base64 string of the secret left for the garbage collector
 * ([CRYPTO-KEY-2] is a SHOULD, and a KeyObject keeps a copy in OpenSSL memory either way).
 */
function privateKeyObject(crv: OkpCurve, raw: Uint8Array): NodeCryptoModule.KeyObject {
  return memoized(crv, raw, 'private');
}

function importKey(crv: OkpCurve, raw: Uint8Array, kind: 'private' | 'public'): NodeCryptoModule.KeyObject {
  return kind === 'private'
    ? lib().createPrivateKey({ key: { kty: 'OKP', crv, d: base64url(raw), x: '' }, format: 'jwk' })
    : lib().createPublicKey({ key: { kty: 'OKP', crv, x: base64url(raw) }, format: 'jwk' });
}

interface MemoEntry {
  readonly crv: OkpCurve;
  readonly kind: 'private' | 'public';
  readonly raw: Uint8Array;
  readonly key: NodeCryptoModule.KeyObject;
}

/**
 * Imported KeyObjects, remembered per key array. Importing dominates the cost of a handshake: each
 * side uses its ephemeral private key in three operations and its static key in two, and a remote
 * ephemeral key in two; a login server signs with one key all day. An entry is used only while the
 * array still holds exactly the bytes the key was made from (a 32-byte comparison), so a caller that
 * wipes or reuses its array never gets a stale key; and it dies with the array (WeakMap). The copy of
 * the bytes lives as long as the caller's own array and the KeyObject's copy inside OpenSSL, which
 * cannot be wiped either ([CRYPTO-KEY-2] is a SHOULD for exactly this reason).
 */
const keyMemo = new WeakMap<Uint8Array, MemoEntry>();

function memoized(crv: OkpCurve, raw: Uint8Array, kind: 'private' | 'public'): NodeCryptoModule.KeyObject {
  const hit = keyMemo.get(raw);
  if (hit !== undefined && hit.crv === crv && hit.kind === kind && bytesEqual(hit.raw, raw)) return hit.key;
  const key = importKey(crv, raw, kind);
  keyMemo.set(raw, { crv, kind, raw: raw.slice(), key });
  return key;
}

/** A public KeyObject from a raw 32-byte key (JWK again: ~60,000/s against ~7,000/s for SPKI DER). */
function publicKeyObject(crv: OkpCurve, raw: Uint8Array): NodeCryptoModule.KeyObject {
  return memoized(crv, raw, 'public');
}

/** The raw 32-byte public key of a KeyObject (JWK export is ~20x faster than SPKI DER here). */
function rawPublicKey(key: NodeCryptoModule.KeyObject): Uint8Array {
  const x = key.export({ format: 'jwk' }).x;
  if (x === undefined) throw new ApiMisuse('not an OKP key');
  return owned(Buffer.from(x, 'base64url'));
}

/**
 * A Buffer returned by node:crypto as a plain Uint8Array the caller owns outright: no copy when the
 * Buffer has its ArrayBuffer to itself, a copy when it is a slice of a shared pool.
 */
function owned(buf: Buffer): Uint8Array {
  if (buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength) {
    return new Uint8Array(buf.buffer, 0, buf.byteLength);
  }
  return new Uint8Array(buf);
}

function sha256(data: Uint8Array): Uint8Array {
  requireBytes(data, 'SHA-256 input');
  return owned(lib().createHash('sha256').update(data).digest());
}

function hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
  requireBytes(key, 'HMAC key');
  requireBytes(data, 'HMAC data');
  return owned(lib().createHmac('sha256', key).update(data).digest());
}

function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  requireBytes(ikm, 'HKDF ikm');
  requireBytes(salt, 'HKDF salt');
  requireBytes(info, 'HKDF info');
  requireHkdfLength(length);
  // OpenSSL's one-call HKDF caps info at 1024 bytes in Node; longer info takes RFC 5869 §2.2-2.3
  // step by step (the same function, so the same bytes).
  if (info.length <= 1024) return new Uint8Array(lib().hkdfSync('sha256', ikm, salt, info, length));
  const prk = hmacSha256(salt, ikm); // HMAC with an empty key = HMAC with HashLen zeros (RFC 2104)
  const okm = new Uint8Array(length);
  let t: Uint8Array = new Uint8Array(0);
  for (let i = 1, at = 0; at < length; i++) {
    t = owned(lib().createHmac('sha256', prk).update(t).update(info).update(Uint8Array.of(i)).digest());
    okm.set(t.subarray(0, Math.min(SHA256_LENGTH, length - at)), at);
    at += SHA256_LENGTH;
  }
  prk.fill(0); // [CRYPTO-KEY-2]
  t.fill(0);
  return okm;
}

function x25519PublicKey(privateKey: Uint8Array): Uint8Array {
  requireLength(privateKey, X25519_KEY_LENGTH, 'X25519 private key');
  return rawPublicKey(lib().createPublicKey(privateKeyObject('X25519', privateKey)));
}

function x25519(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  requireLength(privateKey, X25519_KEY_LENGTH, 'X25519 private key');
  requireLength(publicKey, X25519_KEY_LENGTH, 'X25519 public key');
  const priv = privateKeyObject('X25519', privateKey);
  const pub = publicKeyObject('X25519', publicKey);
  let shared: Buffer;
  try {
    shared = lib().diffieHellman({ privateKey: priv, publicKey: pub });
  } catch (cause) {
    // OpenSSL refuses to return an all-zero X25519 result (RFC 7748 §6.1); lengths and key types
    // are right by construction, so that is the only failure left. [CRYPTO-X25519-2]
    throw new DecryptError(ErrorCode.INVALID_KEY, 'X25519 result is all zeros (low-order public key)', { cause });
  }
  let acc = 0;
  for (let i = 0; i < shared.length; i++) acc |= shared[i]!;
  if (acc === 0) throw new DecryptError(ErrorCode.INVALID_KEY, 'X25519 result is all zeros'); // [CRYPTO-X25519-2]
  return owned(shared);
}

function ed25519PublicKey(seed: Uint8Array): Uint8Array {
  requireLength(seed, ED25519_SEED_LENGTH, 'Ed25519 seed');
  return rawPublicKey(lib().createPublicKey(privateKeyObject('Ed25519', seed)));
}

function ed25519Sign(seed: Uint8Array, message: Uint8Array): Uint8Array {
  requireLength(seed, ED25519_SEED_LENGTH, 'Ed25519 seed');
  requireBytes(message, 'message');
  return owned(lib().sign(null, message, privateKeyObject('Ed25519', seed))); // [CRYPTO-ED25519-1]
}

function ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (!(message instanceof Uint8Array)) return false;
  // [CRYPTO-ED25519-2..5] OpenSSL checks S < L and the cofactorless equation by comparing encodings
  // ([CRYPTO-ED25519-6]) but accepts non-canonical and small-order A; the prechecks close that gap.
  if (!passesStrictPrechecks(publicKey, signature)) return false;
  try {
    return lib().verify(null, message, publicKeyObject('Ed25519', publicKey), signature);
  } catch {
    return false; // A does not decode to a curve point
  }
}

function aeadSeal(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
  requireLength(key, AEAD_KEY_LENGTH, 'AEAD key');
  requireLength(nonce, AEAD_NONCE_LENGTH, 'AEAD nonce');
  requireBytes(ad, 'AEAD associated data');
  requireBytes(plaintext, 'AEAD plaintext');
  const cipher = lib().createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: AEAD_TAG_LENGTH });
  cipher.setAAD(ad, { plaintextLength: plaintext.length });
  // A stream cipher: update() returns every byte and final() none, so one copy assembles ct || tag.
  const ct = cipher.update(plaintext);
  cipher.final();
  const out = new Uint8Array(ct.length + AEAD_TAG_LENGTH);
  out.set(ct);
  out.set(cipher.getAuthTag(), ct.length);
  return out;
}

function aeadOpen(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  requireLength(key, AEAD_KEY_LENGTH, 'AEAD key');
  requireLength(nonce, AEAD_NONCE_LENGTH, 'AEAD nonce');
  requireBytes(ad, 'AEAD associated data');
  requireBytes(ciphertext, 'AEAD ciphertext');
  // [CRYPTO-AEAD-4] too short to hold a tag is the same failure as a wrong tag.
  if (ciphertext.length < AEAD_TAG_LENGTH) throw new DecryptError(ErrorCode.DECRYPT_FAILED);
  const body = ciphertext.length - AEAD_TAG_LENGTH;
  const decipher = lib().createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: AEAD_TAG_LENGTH });
  decipher.setAuthTag(ciphertext.subarray(body));
  decipher.setAAD(ad, { plaintextLength: body });
  const plaintext = decipher.update(ciphertext.subarray(0, body));
  try {
    decipher.final();
  } catch {
    // [CRYPTO-AEAD-4] one error, no detail; [CRYPTO-AEAD-5] the unauthenticated plaintext is wiped.
    plaintext.fill(0);
    throw new DecryptError(ErrorCode.DECRYPT_FAILED);
  }
  return owned(plaintext);
}

/** The Parley v1 suite on node:crypto: the fast default on Node. */
export const nodeCrypto: CryptoSuite = Object.freeze({
  name: 'node',
  sha256,
  hmacSha256,
  hkdfSha256,
  x25519PublicKey,
  x25519,
  ed25519PublicKey,
  ed25519Sign,
  ed25519Verify,
  aeadSeal,
  aeadOpen,
});
