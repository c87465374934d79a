/**
 * The overlay as one supernode sees it (spec/07-supernode.md §4 and §9; SN-PLACE-*, DIR-HAND-*): the
 * supernodes of the current verified supernode list, this supernode's key id, and the replication
 * factor k of the policy. Placement is rendezvous hashing over the list's placement keys (`rendezvousTop`
 * of @parley/wire, SN-PLACE-*): the responsible set of a name is the first k supernodes of its order.
 *
 * Placing a name costs one SHA-256 and a pass over the list (thousands of entries, a few integer
 * operations each), so each view keeps the head of each name's order, with the scores, in a bounded LRU
 * cache: a name placed again costs one Map access. The head is 2k long: the k responsible supernodes,
 * then the k that stand in for them while some are down (the fallback range, DIR-HAND-5). A view is
 * immutable: a new list makes a new view (`next`), with a new cache that it fills from the previous
 * view's cache when it can: a name whose head is known under the previous list needs only the
 * supernodes that joined scored (DIR-HAND-1's planning costs one hash and |joined| scores per name).
 *
 *   responsibleFor / isResponsible / role     placement                      SN-PLACE-*, DIR-HAND-4
 *   forwardTargets                            liveness and the fallback      DIR-HAND-5
 *   next                                      the view of a newer list       DIR-HAND-1..3
 */
import {
  type CryptoSuite,
  compareKeyIds,
  DEFAULT_REPLICATION_FACTOR,
  defaultCryptoSuite,
  nameHash,
  placementWord,
  rendezvousTop,
  scoreWords,
} from '@parley/wire';
import type { PeerHealth } from './health.js';
import { keyHex } from './key-id.js';
import { LruCache } from './lru.js';

/** Names whose placement a view remembers (about 400 bytes each). */
export const DEFAULT_PLACEMENT_CACHE = 65_536;

/** Where this supernode stands for a name: among the first k, among the next k, or further. */
export type PlacementRole = 'responsible' | 'fallback' | 'none';

/**
 * The head of one name's rendezvous order: indices into the view's key ids, best first, with their
 * scores. Exact as far as it goes; at least min(k, n) long, and min(2k, n) when `complete`.
 */
interface Placement {
  readonly head: Int32Array;
  readonly scores: readonly bigint[];
  /** This supernode's position in `head`, or -1. */
  readonly selfRank: number;
  readonly complete: boolean;
}

/** What a view needs of a list entry (SupernodeListEntry). */
export interface PlacedEntry {
  readonly keyId: Uint8Array;
  readonly placementKey: Uint8Array;
}

export interface SupernodeViewInit {
  /** The list's epoch. */
  readonly epoch: number;
  /** The key ids of the list's entries (SupernodeListEntry.keyId), 32 bytes each. */
  readonly keyIds: readonly Uint8Array[];
  /** Their placement keys (SupernodeListEntry.placementKey, 06 LOGIN-LIST-8), aligned with keyIds. */
  readonly placementKeys: readonly Uint8Array[];
  /** This supernode's key id; undefined for a view held by an ordinary node. */
  readonly self?: Uint8Array | undefined;
  /** k, 1 or more. */
  readonly replicationFactor: number;
  readonly cacheSize?: number;
  /** Supplies SHA-256 for placement; every suite places alike (default: the fastest available). */
  readonly suite?: CryptoSuite;
}

/** How a view derives placements from the previous view's cache. */
interface Parent {
  readonly view: SupernodeView;
  /** For each key index of the parent, its index here, or -1 when it left the list. */
  readonly oldToNew: Int32Array;
  /** Indices here of the key ids that joined. */
  readonly joined: Int32Array;
}

export interface PlacementCacheStats {
  size: number;
  hits: number;
  misses: number;
  /** Misses answered from the previous view's cache by hashing only the joined key ids. */
  derived: number;
}

export class SupernodeView {
  readonly epoch: number;
  /** The replication factor k. */
  readonly k: number;
  readonly keyIds: readonly Uint8Array[];
  /** The placement key of each key id, aligned with keyIds: what rendezvous hashing scores (SN-PLACE-1). */
  readonly placementKeys: readonly Uint8Array[];
  /** keyHex of each key id, aligned with keyIds. */
  readonly keyHexes: readonly string[];
  /** This supernode's key id as hex, or undefined. */
  readonly self: string | undefined;
  readonly #selfKeyId: Uint8Array | undefined;
  readonly #index: ReadonlyMap<string, number>;
  readonly #selfIndex: number;
  readonly #cache: LruCache<string, Placement>;
  readonly #suite: CryptoSuite;
  #parent: Parent | undefined;
  #derived = 0;

  constructor(init: SupernodeViewInit) {
    if (!Number.isInteger(init.replicationFactor) || init.replicationFactor < 1) {
      throw new RangeError(`replication factor ${init.replicationFactor}`);
    }
    this.epoch = init.epoch;
    this.k = init.replicationFactor;
    if (init.placementKeys.length !== init.keyIds.length) {
      throw new RangeError(`${init.keyIds.length} key ids but ${init.placementKeys.length} placement keys`);
    }
    const index = new Map<string, number>();
    const keyIds: Uint8Array[] = [];
    const placementKeys: Uint8Array[] = [];
    const hexes: string[] = [];
    // A key id listed twice counts once (a login server never lists one twice, LOGIN-LIST-4).
    init.keyIds.forEach((id, i) => {
      const h = keyHex(id);
      if (index.has(h)) return;
      index.set(h, keyIds.length);
      keyIds.push(id);
      placementKeys.push(init.placementKeys[i]!);
      hexes.push(h);
    });
    this.keyIds = keyIds;
    this.placementKeys = placementKeys;
    this.keyHexes = hexes;
    this.#index = index;
    this.#suite = init.suite ?? defaultCryptoSuite();
    this.#selfKeyId = init.self;
    this.self = init.self === undefined ? undefined : keyHex(init.self);
    this.#selfIndex = this.self === undefined ? -1 : (index.get(this.self) ?? -1);
    this.#cache = new LruCache(init.cacheSize ?? DEFAULT_PLACEMENT_CACHE);
  }

  /** A view of a verified list (LoginClient.getSupernodeList, 06 LOGIN-LIST-6). */
  static fromList(
    list: { readonly version: number; readonly entries: readonly PlacedEntry[] },
    self: Uint8Array | undefined,
    replicationFactor: number = DEFAULT_REPLICATION_FACTOR,
    cacheSize?: number,
  ): SupernodeView {
    return new SupernodeView({
      epoch: list.version,
      keyIds: list.entries.map((e) => e.keyId),
      placementKeys: list.entries.map((e) => e.placementKey),
      self,
      replicationFactor,
      ...(cacheSize === undefined ? {} : { cacheSize }),
    });
  }

  /**
   * The view of a newer list for the same supernode, with the same cache size and suite. While it is
   * in use, a name it has not placed but this view has is derived from this view's head by hashing the
   * joined key ids only. A changed k places everything afresh.
   */
  next(
    list: { readonly version: number; readonly entries: readonly PlacedEntry[] },
    replicationFactor: number = this.k,
  ): SupernodeView {
    const view = new SupernodeView({
      epoch: list.version,
      keyIds: list.entries.map((e) => e.keyId),
      placementKeys: list.entries.map((e) => e.placementKey),
      self: this.#selfKeyId,
      replicationFactor,
      cacheSize: this.#cache.capacity,
      suite: this.#suite,
    });
    if (replicationFactor === this.k) {
      const oldToNew = Int32Array.from(this.keyHexes, (h) => view.#index.get(h) ?? -1);
      const joined: number[] = [];
      for (let i = 0; i < view.keyHexes.length; i++) if (!this.#index.has(view.keyHexes[i]!)) joined.push(i);
      view.#parent = { view: this, oldToNew, joined: Int32Array.from(joined) };
    }
    // One generation back at most: older views are not kept alive through this one.
    this.#parent = undefined;
    return view;
  }

  /** Supernodes in the list. */
  get size(): number {
    return this.keyIds.length;
  }

  /** True when this view's list names `keyId` (bytes or hex). */
  has(keyId: Uint8Array | string): boolean {
    return this.#index.has(typeof keyId === 'string' ? keyId : keyHex(keyId));
  }

  /** The placement cache's counters. */
  cacheStats(): PlacementCacheStats {
    return { size: this.#cache.size, hits: this.#cache.hits, misses: this.#cache.misses, derived: this.#derived };
  }

  /** [SN-PLACE] The responsible set of `name` (normalised): the first min(k, n) of its rendezvous order. */
  responsibleFor(name: string): Uint8Array[] {
    const head = this.#placement(name, false).head;
    const n = Math.min(this.k, head.length);
    const out = new Array<Uint8Array>(n);
    for (let i = 0; i < n; i++) out[i] = this.keyIds[head[i]!]!;
    return out;
  }

  /** The first min(2k, n) of the order: the responsible set, then the fallback range (DIR-HAND-5). */
  candidates(name: string): Uint8Array[] {
    const head = this.#placement(name, true).head;
    return Array.from(head, (i) => this.keyIds[i]!);
  }

  /** True when `keyId` (default: this supernode) is among the responsible set of `name`. */
  isResponsible(name: string, keyId?: Uint8Array | string): boolean {
    const p = this.#placement(name, false);
    if (keyId === undefined) return p.selfRank >= 0 && p.selfRank < this.k;
    const idx = this.#index.get(typeof keyId === 'string' ? keyId : keyHex(keyId));
    if (idx === undefined) return false;
    const rank = p.head.indexOf(idx);
    return rank >= 0 && rank < this.k;
  }

  /**
   * [DIR-HAND-4] [DIR-HAND-5] This supernode's role for `name`: 'responsible' among the first k,
   * 'fallback' among the next k (it stores what is forwarded to it while responsible ones are down),
   * 'none' otherwise or when the list does not name it.
   */
  role(name: string): PlacementRole {
    if (this.#selfIndex < 0) return 'none';
    let p = this.#placement(name, false);
    if (p.selfRank >= 0 && p.selfRank < this.k) return 'responsible';
    if (!p.complete) p = this.#placement(name, true);
    return p.selfRank >= this.k ? 'fallback' : 'none';
  }

  /**
   * [DIR-HAND-5] Where a record of `name` goes, in rendezvous order: the first k supernodes of the order
   * that `health` does not know to be down, looking no further than the fallback range (position 2k).
   * With every responsible supernode up these are exactly the responsible set; each one known down is
   * replaced by the next up supernode after position k. This supernode is included when it is one.
   */
  forwardTargets(name: string, health: PeerHealth): Uint8Array[] {
    let p = this.#placement(name, false);
    const out: Uint8Array[] = [];
    for (let i = 0; i < 2 * this.k && out.length < this.k; i++) {
      if (i === p.head.length) {
        if (p.complete) break;
        p = this.#placement(name, true);
        if (i === p.head.length) break;
      }
      const idx = p.head[i]!;
      if (idx === this.#selfIndex || health.isUp(this.keyHexes[idx]!)) out.push(this.keyIds[idx]!);
    }
    return out;
  }

  /** The head of `name`'s order: from the cache, derived from the previous view's, or computed. */
  #placement(name: string, complete: boolean): Placement {
    const cached = this.#cache.get(name);
    if (cached !== undefined && (cached.complete || !complete)) return cached;
    if (cached === undefined && this.#parent !== undefined) {
      const old = this.#parent.view.#cache.peek(name);
      const derived = old === undefined ? undefined : this.#derive(name, old, this.#parent);
      if (derived !== undefined && (derived.complete || !complete)) {
        this.#derived++;
        this.#cache.set(name, derived);
        return derived;
      }
    }
    const placement = this.#compute(name);
    this.#cache.set(name, placement);
    return placement;
  }

  /** [SN-PLACE] The first min(2k, n) of the order: selected in one pass over the list, never sorted. */
  #compute(name: string): Placement {
    const m = Math.min(2 * this.k, this.keyIds.length);
    const top = rendezvousTop(name, this.placementKeys, m, this.#suite);
    const head = Int32Array.from(top, (r) => r.index);
    const scores = top.map((r) => r.score);
    return this.#make(head, scores, true);
  }

  #make(head: Int32Array, scores: bigint[], complete: boolean): Placement {
    return { head, scores, selfRank: this.#selfIndex < 0 ? -1 : head.indexOf(this.#selfIndex), complete };
  }

  /**
   * The head under this list from the head under the previous one: the old head without the key ids
   * that left, merged with the joined key ids (scored now). Every old key id outside the old head orders
   * after the old head's last entry, so the merge is exact up to that entry, and fully exact when the old
   * head covered the whole old list. Undefined when the exact part is shorter than min(k, n).
   */
  #derive(name: string, old: Placement, parent: Parent): Placement | undefined {
    const oldView = parent.view;
    const entries: { index: number; score: bigint }[] = [];
    for (let i = 0; i < old.head.length; i++) {
      const index = parent.oldToNew[old.head[i]!]!;
      if (index >= 0) entries.push({ index, score: old.scores[i]! });
    }
    if (parent.joined.length > 0) {
      const h = nameHash(name, this.#suite);
      const out = { hi: 0, lo: 0 };
      for (const index of parent.joined) {
        scoreWords(h, placementWord(this.placementKeys[index]!), out);
        entries.push({ index, score: (BigInt(out.hi) << 32n) | BigInt(out.lo) });
      }
    }
    entries.sort((a, b) => this.#compare(a.score, this.placementKeys[a.index]!, b.score, this.placementKeys[b.index]!));
    let exact = entries.length;
    if (old.head.length < oldView.keyIds.length) {
      // The bound: the old head's last entry (whether or not it is still listed).
      const last = old.head.length - 1;
      const boundScore = old.scores[last]!;
      const boundKey = oldView.placementKeys[old.head[last]!]!;
      exact = 0;
      while (exact < entries.length) {
        const e = entries[exact]!;
        if (this.#compare(e.score, this.placementKeys[e.index]!, boundScore, boundKey) > 0) break;
        exact++;
      }
    }
    const full = Math.min(2 * this.k, this.keyIds.length);
    const length = Math.min(exact, full);
    if (length < Math.min(this.k, this.keyIds.length)) return undefined;
    const head = new Int32Array(length);
    const scores = new Array<bigint>(length);
    for (let i = 0; i < length; i++) {
      head[i] = entries[i]!.index;
      scores[i] = entries[i]!.score;
    }
    return this.#make(head, scores, length === full);
  }

  /** [SN-PLACE-2] Score descending, ties by placement key bytes ascending; negative when (sa, a) comes first. */
  #compare(sa: bigint, a: Uint8Array, sb: bigint, b: Uint8Array): number {
    if (sa !== sb) return sa > sb ? -1 : 1;
    return compareKeyIds(a, b);
  }
}
