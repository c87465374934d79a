/**
 * Placement of user names on supernodes by rendezvous (highest-random-weight) hashing: spec/07-supernode.md
 * §4 (SN-PLACE-*). Every supernode and node computes the same responsible set of a name from the same
 * signed supernode list, with no routing state of its own.
 *
 *   h(name)         = the first 8 bytes, big-endian unsigned, of
 *                     SHA-256( "parley/v1 rendezvous" || 0x00 || name )
 *   p(supernode)    = the first 8 bytes, big-endian unsigned, of its placement key (06 LOGIN-LIST-8)
 *   score(name, s)  = mix64( h(name) XOR p(s) )        mix64: the SplitMix64 finaliser, modulo 2^64
 *
 * where `name` is the UTF-8 of a normalised user name (06 LOGIN-NAME-2, LOGIN-NAME-3) and the placement
 * key is the 32 bytes the login server lists for the supernode. The order of a name is by score
 * descending, ties by placement key bytes ascending; the responsible set is the first k of that order.
 *
 * One SHA-256 per name and a few integer operations per supernode: placing a name over a list of
 * thousands costs microseconds. The mixing needs no cryptographic strength because nobody chooses its
 * inputs: names are the users', and placement keys are derived by the login server from its own key, so
 * a supernode cannot grind a key that ranks high for a name it wants to hold (07 §13).
 *
 * Callers normalise: these functions hash the name exactly as given and never normalise it themselves,
 * so `Alice` and `alice` place differently. Pass the output of the 06 normalisation.
 */
import { nobleCrypto } from '../crypto/noble.js';
import type { CryptoSuite } from '../crypto/suite.js';
import { ApiMisuse } from '../errors.js';
import { PLACEMENT_KEY_BYTES } from '../login/messages.js';

/** [SN-PLACE-1] The domain-separation prefix of the name hash, without its 0x00 terminator. */
export const RENDEZVOUS_CONTEXT = 'parley/v1 rendezvous';
/** [SN-PLACE-3] The replication factor when the network policy sets none (06 POLICY-GEN-3). */
export const DEFAULT_REPLICATION_FACTOR = 3;

const utf8 = new TextEncoder();
const PREFIX = utf8.encode(`${RENDEZVOUS_CONTEXT}\u0000`);

function checkPlacementKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length !== PLACEMENT_KEY_BYTES) {
    throw new ApiMisuse(`a placement key is ${PLACEMENT_KEY_BYTES} bytes`);
  }
}

/**
 * A 64-bit unsigned value as two 32-bit halves: the score's working form. JavaScript numbers hold 53 bits,
 * and BigInt arithmetic costs a hundred times more, so mix64 runs on halves (`mul64`).
 */
export interface U64 {
  hi: number;
  lo: number;
}

/** The low 64 bits of a * b, both 64-bit, in halves: exact, with 16-bit partial products. */
function mul64(ahi: number, alo: number, bhi: number, blo: number, out: U64): void {
  const a0 = alo & 0xffff;
  const a1 = alo >>> 16;
  const b0 = blo & 0xffff;
  const b1 = blo >>> 16;
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const p11 = a1 * b1;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  out.lo = (((mid & 0xffff) << 16) | (p00 & 0xffff)) >>> 0;
  const carry = p11 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16);
  out.hi = (carry + Math.imul(alo, bhi) + Math.imul(ahi, blo)) >>> 0;
}

// The SplitMix64 finaliser's multipliers (Steele, Lea, Flood, "Fast splittable pseudorandom number
// generators", OOPSLA 2014), in halves.
const M1_HI = 0xbf58476d;
const M1_LO = 0x1ce4e5b9;
const M2_HI = 0x94d049bb;
const M2_LO = 0x133111eb;

/**
 * [SN-PLACE-1] mix64(x) = z3, where z1 = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9, z2 = (z1 ^ (z1 >> 27)) *
 * 0x94d049bb133111eb, z3 = z2 ^ (z2 >> 31), all modulo 2^64. Writes into `out` (no allocation).
 */
export function mix64(hi: number, lo: number, out: U64): void {
  // x ^ (x >> 30)
  let l = (lo ^ ((lo >>> 30) | (hi << 2))) >>> 0;
  let h = (hi ^ (hi >>> 30)) >>> 0;
  mul64(h, l, M1_HI, M1_LO, out);
  // z ^ (z >> 27)
  l = (out.lo ^ ((out.lo >>> 27) | (out.hi << 5))) >>> 0;
  h = (out.hi ^ (out.hi >>> 27)) >>> 0;
  mul64(h, l, M2_HI, M2_LO, out);
  // z ^ (z >> 31)
  l = (out.lo ^ ((out.lo >>> 31) | (out.hi << 1))) >>> 0;
  h = (out.hi ^ (out.hi >>> 31)) >>> 0;
  out.hi = h;
  out.lo = l;
}

/** [SN-PLACE-1] h(name): the first 8 bytes of SHA-256("parley/v1 rendezvous" || 0x00 || name), in halves. */
export function nameHash(name: string, suite: CryptoSuite = nobleCrypto): U64 {
  if (typeof name !== 'string') throw new ApiMisuse('the name must be a string');
  const nameBytes = utf8.encode(name);
  const input = new Uint8Array(PREFIX.length + nameBytes.length);
  input.set(PREFIX);
  input.set(nameBytes, PREFIX.length);
  const d = suite.sha256(input);
  const v = new DataView(d.buffer, d.byteOffset, 8);
  return { hi: v.getUint32(0, false), lo: v.getUint32(4, false) };
}

/** p(s): the first 8 bytes of a placement key, in halves. */
export function placementWord(key: Uint8Array): U64 {
  checkPlacementKey(key);
  return {
    hi: ((key[0]! << 24) | (key[1]! << 16) | (key[2]! << 8) | key[3]!) >>> 0,
    lo: ((key[4]! << 24) | (key[5]! << 16) | (key[6]! << 8) | key[7]!) >>> 0,
  };
}

/** score(name, s) from h(name) and p(s), into `out`. */
export function scoreWords(h: U64, p: U64, out: U64): void {
  mix64((h.hi ^ p.hi) >>> 0, (h.lo ^ p.lo) >>> 0, out);
}

const toBigInt = (x: U64): bigint => (BigInt(x.hi) << 32n) | BigInt(x.lo);

/**
 * [SN-PLACE-1] The rendezvous score of the normalised user name `name` on the supernode whose placement
 * key is `placementKey` (32 bytes; other lengths are ApiMisuse). The caller normalises `name`. `suite`
 * only supplies SHA-256; every suite gives the same score.
 */
export function rendezvousScore(name: string, placementKey: Uint8Array, suite: CryptoSuite = nobleCrypto): bigint {
  const out = { hi: 0, lo: 0 };
  scoreWords(nameHash(name, suite), placementWord(placementKey), out);
  return toBigInt(out);
}

/** Key ids compared as unsigned bytes, lexicographically. */
export function compareKeyIds(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** One supernode of a name's order: its index in the list given, and its score. */
export interface RankedSupernode {
  readonly index: number;
  readonly score: bigint;
}

interface Scored {
  readonly index: number;
  readonly hi: number;
  readonly lo: number;
}

/** [SN-PLACE-2] Higher score first; on equal scores, the smaller placement key first. */
function before(keys: readonly Uint8Array[], a: Scored, b: Scored): number {
  if (a.hi !== b.hi) return a.hi > b.hi ? -1 : 1;
  if (a.lo !== b.lo) return a.lo > b.lo ? -1 : 1;
  return compareKeyIds(keys[a.index]!, keys[b.index]!);
}

/**
 * [SN-PLACE-2] [SN-PLACE-3] The first `m` of the rendezvous order of the normalised name `name` over
 * `placementKeys`, as indices into it with their scores: one SHA-256 for the name, then one pass over the
 * list keeping the best m (selected, not sorted). `m` is an integer >= 0, else ApiMisuse.
 */
export function rendezvousTop(
  name: string,
  placementKeys: readonly Uint8Array[],
  m: number,
  suite: CryptoSuite = nobleCrypto,
): RankedSupernode[] {
  if (!Number.isSafeInteger(m) || m < 0) throw new ApiMisuse('the replication factor must be an integer >= 0');
  const h = nameHash(name, suite);
  const out = { hi: 0, lo: 0 };
  const best: Scored[] = [];
  for (let index = 0; index < placementKeys.length; index++) {
    scoreWords(h, placementWord(placementKeys[index]!), out);
    if (m === 0) continue;
    const s: Scored = { index, hi: out.hi, lo: out.lo };
    if (best.length === m && before(placementKeys, s, best[m - 1]!) >= 0) continue;
    let i = best.length === m ? m - 1 : best.length;
    if (best.length === m) best.pop();
    while (i > 0 && before(placementKeys, s, best[i - 1]!) < 0) i--;
    best.splice(i, 0, s);
  }
  return best.map((s) => ({ index: s.index, score: toBigInt(s) }));
}

/**
 * [SN-PLACE-2] The rendezvous order of the normalised name `name` over `placementKeys` (those of the
 * list's entries): by score descending, ties by placement key bytes ascending. Returns the same
 * `Uint8Array` objects, reordered (the input is not changed); map them back to their entries.
 */
export function rendezvousOrder(
  name: string,
  placementKeys: readonly Uint8Array[],
  suite: CryptoSuite = nobleCrypto,
): Uint8Array[] {
  return rendezvousTop(name, placementKeys, placementKeys.length, suite).map((r) => placementKeys[r.index]!);
}

/**
 * [SN-PLACE-3] The responsible set of the normalised name `name`: the first `k` placement keys of its
 * rendezvous order over `placementKeys` (all of them, in order, when there are `k` or fewer). `k` is the
 * policy's replication factor; an integer >= 0, else ApiMisuse.
 */
export function responsibleSupernodes(
  name: string,
  placementKeys: readonly Uint8Array[],
  k: number,
  suite: CryptoSuite = nobleCrypto,
): Uint8Array[] {
  return rendezvousTop(name, placementKeys, k, suite).map((r) => placementKeys[r.index]!);
}
