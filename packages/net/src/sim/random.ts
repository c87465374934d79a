/**
 * Seeded randomness for the simulator (DESIGN.md §2, §9; spec/05-network.md): one seed (a string or a
 * number) gives every host and every link its own independent stream, so a run is a pure function of the
 * seed and adding a host, or drawing more numbers on one host, never perturbs what another host sees.
 *
 * The generator is sfc32 (Chris Doty-Humphrey's "small fast chaotic" 32-bit generator, public domain):
 * four 32-bit words of state, a handful of integer operations per output, passes PractRand. Not
 * cryptographic — simulation only; real Transports use the system's CSPRNG.
 */
import type { Random } from '../transport.js';

/** A 32-bit hash of a seed: strings by FNV-1a, then finalised (murmur3 fmix32) so close seeds diverge. */
export function hashSeed(seed: string | number): number {
  const text = typeof seed === 'number' ? `#${seed}` : seed;
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}

function fmix32(x: number): number {
  let h = x | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** What a stream is for, so a host's Transport randomness and its link's loss/jitter draws never share a stream. */
export const StreamKind = { Simulator: 0, HostTransport: 1, HostLink: 2, Middlebox: 3 } as const;

export class SeededRandom implements Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** Stream `index` of kind `kind` under the 32-bit seed hash `seedHash`. */
  constructor(seedHash: number, kind = 0, index = 0) {
    this.a = fmix32(seedHash ^ 0x9e3779b9);
    this.b = fmix32(Math.imul(kind + 1, 0x85ebca6b) ^ seedHash);
    this.c = fmix32(Math.imul(index + 1, 0xc2b2ae35) ^ seedHash);
    this.d = fmix32(index ^ Math.imul(kind, 0x27d4eb2f)) | 1;
    // sfc32's state needs a few rounds to mix a structured seed.
    for (let i = 0; i < 12; i++) this.uint32();
  }

  static fromSeed(seed: string | number, kind = 0, index = 0): SeededRandom {
    return new SeededRandom(hashSeed(seed), kind, index);
  }

  /** @internal The four state words as int32 (hosts' link streams live in `Simulator.linkState`: simulator.ts). */
  stateWords(): [number, number, number, number] {
    return [this.a | 0, this.b | 0, this.c | 0, this.d | 0];
  }

  /** A uniform 32-bit unsigned integer. */
  uint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** A float in [0, 1) with 32 bits of randomness (enough for loss and jitter draws). */
  float(): number {
    return this.uint32() / 4294967296;
  }

  /** An integer in [0, n) for n <= 2^32 (the tiny modulo bias is irrelevant to simulation). */
  below(n: number): number {
    return Math.floor(this.float() * n);
  }

  randomBytes(length: number): Uint8Array {
    return bytesFromWords(length, () => this.uint32());
  }
}

/**
 * `length` bytes from a stream of uint32 words, each word's bytes little-endian: the one byte layout of
 * every simulator random stream (a host's link stream, kept in `Simulator.linkState`, uses it too).
 */
export function bytesFromWords(length: number, next: () => number): Uint8Array {
  const out = new Uint8Array(length);
  let i = 0;
  for (; i + 4 <= length; i += 4) {
    const x = next();
    out[i] = x & 0xff;
    out[i + 1] = (x >>> 8) & 0xff;
    out[i + 2] = (x >>> 16) & 0xff;
    out[i + 3] = x >>> 24;
  }
  if (i < length) {
    let x = next();
    for (; i < length; i++, x >>>= 8) out[i] = x & 0xff;
  }
  return out;
}
