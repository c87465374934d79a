/**
 * What the vector checks need besides the reference implementation: loading spec/vectors, hex, and the
 * primitives and constructions of the spec written again directly on node:crypto (Ed25519, X25519,
 * ChaCha20-Poly1305, SHA-256, HMAC, HKDF, the Noise XX handshake of spec/03-channels.md §3, the
 * datagram layout of §8), so that a vector is checked against code that shares nothing with the
 * generator or with the implementation's own Noise, datagram and signature code.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  sign,
  verify,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const repoRoot = path.resolve(import.meta.dirname, '../../../..');
export const vectorsDir = path.join(repoRoot, 'spec/vectors');
export const VECTOR_FILES = [
  'certificates',
  'signed-objects',
  'packets',
  'framing',
  'handshake-xx',
  'datagram',
  'login',
  'supernode',
  'connectivity',
  'e2e',
] as const;

export function readVectorText(name: string): string {
  return readFileSync(path.join(vectorsDir, `${name}.json`), 'utf8');
}

// biome-ignore lint/suspicious/noExplicitAny: vector files are untyped JSON, checked field by field
export function loadVector(name: string): any {
  return JSON.parse(readVectorText(name));
}

export function unhex(s: string): Uint8Array {
  if (!/^([0-9a-f]{2})*$/.test(s)) throw new Error(`not lower-case hex: ${s.slice(0, 16)}...`);
  return Uint8Array.from(Buffer.from(s, 'hex'));
}

export function tohex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

export function concat(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts.map((p) => Buffer.from(p))));
}

// --- primitives on node:crypto, keys through their RFC 8410 DER forms --------------------------------

const PKCS8 = { ed25519: '302e020100300506032b657004220420', x25519: '302e020100300506032b656e04220420' };
const SPKI = { ed25519: '302a300506032b6570032100', x25519: '302a300506032b656e032100' };

function privateKey(kind: 'ed25519' | 'x25519', raw: Uint8Array) {
  return createPrivateKey({ key: Buffer.concat([Buffer.from(PKCS8[kind], 'hex'), raw]), format: 'der', type: 'pkcs8' });
}
function publicKey(kind: 'ed25519' | 'x25519', raw: Uint8Array) {
  return createPublicKey({ key: Buffer.concat([Buffer.from(SPKI[kind], 'hex'), raw]), format: 'der', type: 'spki' });
}
function rawPublic(kind: 'ed25519' | 'x25519', priv: Uint8Array): Uint8Array {
  const der = createPublicKey(privateKey(kind, priv)).export({ format: 'der', type: 'spki' });
  return Uint8Array.from(der.subarray(der.length - 32));
}

export const sha256 = (data: Uint8Array): Uint8Array => Uint8Array.from(createHash('sha256').update(data).digest());
export const hmac = (key: Uint8Array, data: Uint8Array): Uint8Array =>
  Uint8Array.from(createHmac('sha256', key).update(data).digest());

/** RFC 5869 HKDF-SHA-256, written out (salt, ikm and info of any length, including empty). */
export function hkdf(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  const prk = hmac(salt, ikm);
  const out: Uint8Array[] = [];
  let t: Uint8Array = new Uint8Array(0);
  for (let i = 1; out.length * 32 < length; i++) {
    t = hmac(prk, concat(t, info, Uint8Array.of(i)));
    out.push(t);
  }
  return concat(...out).subarray(0, length);
}

export const ed25519Public = (seed: Uint8Array): Uint8Array => rawPublic('ed25519', seed);
export const ed25519Sign = (seed: Uint8Array, message: Uint8Array): Uint8Array =>
  Uint8Array.from(sign(null, message, privateKey('ed25519', seed)));
export const ed25519Verify = (pub: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean =>
  verify(null, message, publicKey('ed25519', pub), signature);
export const x25519Public = (priv: Uint8Array): Uint8Array => rawPublic('x25519', priv);
export const x25519 = (priv: Uint8Array, pub: Uint8Array): Uint8Array =>
  Uint8Array.from(diffieHellman({ privateKey: privateKey('x25519', priv), publicKey: publicKey('x25519', pub) }));

export function aeadSeal(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  c.setAAD(ad, { plaintextLength: plaintext.length });
  return concat(c.update(plaintext), c.final(), c.getAuthTag());
}

/** Opens ciphertext || tag; undefined when it does not authenticate. */
export function aeadOpen(
  key: Uint8Array,
  nonce: Uint8Array,
  ad: Uint8Array,
  sealed: Uint8Array,
): Uint8Array | undefined {
  if (sealed.length < 16) return undefined;
  const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  d.setAAD(ad, { plaintextLength: sealed.length - 16 });
  d.setAuthTag(sealed.subarray(sealed.length - 16));
  try {
    return concat(d.update(sealed.subarray(0, sealed.length - 16)), d.final());
  } catch {
    return undefined;
  }
}

/** The Noise nonce of ChaChaPoly (Noise §12.3) and of Parley datagrams (CHAN-DGRAM-6): 4 zero bytes, n LE. */
export function noiseNonce(n: bigint): Uint8Array {
  const out = new Uint8Array(12);
  new DataView(out.buffer).setBigUint64(4, n, true);
  return out;
}

// --- Noise_XX_25519_ChaChaPoly_SHA256, straight from the Noise specification (revision 34) -----------

class Symmetric {
  h: Uint8Array;
  ck: Uint8Array;
  k: Uint8Array | undefined;
  n = 0n;
  constructor(name: string) {
    const bytes = utf8(name);
    this.h = bytes.length <= 32 ? concat(bytes, new Uint8Array(32 - bytes.length)) : sha256(bytes);
    this.ck = this.h;
  }
  mixHash(data: Uint8Array): void {
    this.h = sha256(concat(this.h, data));
  }
  mixKey(ikm: Uint8Array): void {
    const out = hkdf(ikm, this.ck, new Uint8Array(0), 64);
    this.ck = out.slice(0, 32);
    this.k = out.slice(32, 64);
    this.n = 0n;
  }
  encryptAndHash(plaintext: Uint8Array): Uint8Array {
    const c = this.k ? aeadSeal(this.k, noiseNonce(this.n++), this.h, plaintext) : plaintext;
    this.mixHash(c);
    return c;
  }
  split(): [Uint8Array, Uint8Array] {
    const out = hkdf(new Uint8Array(0), this.ck, new Uint8Array(0), 64);
    return [out.slice(0, 32), out.slice(32, 64)];
  }
}

export interface XXInputs {
  protocolName: string;
  prologue: Uint8Array;
  initiatorStatic: Uint8Array;
  initiatorEphemeral: Uint8Array;
  responderStatic: Uint8Array;
  responderEphemeral: Uint8Array;
  payload2: Uint8Array;
  payload3: Uint8Array;
}

/**
 * The three XX messages written by one transcript (the initiator's and the responder's views are the
 * same bytes), with h, ck and the Split() keys after message 3.
 */
export function independentXX(i: XXInputs): {
  messages: Uint8Array[];
  h: Uint8Array;
  ck: Uint8Array;
  k1: Uint8Array;
  k2: Uint8Array;
} {
  const ss = new Symmetric(i.protocolName);
  ss.mixHash(i.prologue);
  const ei = x25519Public(i.initiatorEphemeral);
  const er = x25519Public(i.responderEphemeral);
  const si = x25519Public(i.initiatorStatic);
  const sr = x25519Public(i.responderStatic);
  // -> e
  ss.mixHash(ei);
  const m1 = concat(ei, ss.encryptAndHash(new Uint8Array(0)));
  // <- e, ee, s, es
  ss.mixHash(er);
  ss.mixKey(x25519(i.initiatorEphemeral, er));
  const encSr = ss.encryptAndHash(sr);
  ss.mixKey(x25519(i.initiatorEphemeral, sr));
  const m2 = concat(er, encSr, ss.encryptAndHash(i.payload2));
  // -> s, se
  const encSi = ss.encryptAndHash(si);
  ss.mixKey(x25519(i.initiatorStatic, er));
  const m3 = concat(encSi, ss.encryptAndHash(i.payload3));
  const [k1, k2] = ss.split();
  return { messages: [m1, m2, m3], h: ss.h, ck: ss.ck, k1, k2 };
}
