/**
 * A memo of certificates whose signature has been verified and whose body has been decoded, so that
 * a busy verifier does not verify the same LOGIN certificate (or a returning peer's certificate) on
 * every handshake. Normative text: spec/02-identity.md §6.4 ([ID-CHAIN-10]).
 *
 * Sound because both steps it skips are pure functions of what it compares: the issuer's public key,
 * the exact body bytes and the exact signature. Every other step of [ID-CHAIN-3] (issuer, role,
 * position, time, revocation, accepted roles) still runs on every use.
 */
import type { Certificate } from './certificate.js';
import { bytesEqual, copyBytes } from './keys.js';
import type { Signed } from './signed.js';

interface Entry {
  readonly issuerKey: Uint8Array;
  readonly body: Uint8Array;
  readonly certificate: Certificate;
}

function keyOf(signature: Uint8Array): string {
  let s = '';
  for (let i = 0; i < signature.length; i++) s += String.fromCharCode(signature[i]!);
  return s;
}

/** A bounded memo of verified certificates; the oldest entry is dropped when it is full. */
export class VerifiedCertificateCache {
  readonly #entries = new Map<string, Entry>();
  readonly #capacity: number;

  /** `capacity`: how many certificates to remember (default 1,024). */
  constructor(capacity = 1024) {
    this.#capacity = Math.max(1, Math.floor(capacity));
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The decoded certificate if exactly this envelope was verified under exactly this issuer key. */
  get(signed: Signed, issuerKey: Uint8Array): Certificate | undefined {
    const e = this.#entries.get(keyOf(signed.signature));
    if (e === undefined || !bytesEqual(e.issuerKey, issuerKey) || !bytesEqual(e.body, signed.body)) return undefined;
    return e.certificate;
  }

  /** Remembers a certificate whose envelope `signed` verified under `issuerKey` and decoded to `certificate`. */
  set(signed: Signed, issuerKey: Uint8Array, certificate: Certificate): void {
    const k = keyOf(signed.signature);
    this.#entries.delete(k);
    if (this.#entries.size >= this.#capacity) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(k, { issuerKey: copyBytes(issuerKey), body: copyBytes(signed.body), certificate });
  }

  clear(): void {
    this.#entries.clear();
  }
}
