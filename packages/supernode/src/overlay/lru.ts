/**
 * A bounded least-recently-used map: the placement cache of `SupernodeView` (07 §4). A JavaScript Map
 * keeps insertion order, so deleting and re-inserting on a hit moves the entry to the young end and the
 * first key is always the oldest. O(1) per operation, no allocation on a hit.
 */
export class LruCache<K, V> {
  readonly capacity: number;
  readonly #map = new Map<K, V>();
  hits = 0;
  misses = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`LRU capacity ${capacity}`);
    this.capacity = capacity;
  }

  get(key: K): V | undefined {
    const v = this.#map.get(key);
    if (v === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.#map.delete(key);
    this.#map.set(key, v);
    return v;
  }

  /** The value without counting a use or changing the order (another cache reading this one). */
  peek(key: K): V | undefined {
    return this.#map.get(key);
  }

  set(key: K, value: V): void {
    if (this.#map.has(key)) this.#map.delete(key);
    else if (this.#map.size >= this.capacity) {
      const oldest = this.#map.keys().next();
      if (!oldest.done) this.#map.delete(oldest.value);
    }
    this.#map.set(key, value);
  }

  get size(): number {
    return this.#map.size;
  }
}
