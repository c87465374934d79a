/**
 * Small output arrays carved from shared slabs, for the send path of a stream channel (an encoded packet,
 * a frame): one ArrayBuffer per slab instead of one per array. A fresh ArrayBuffer costs far more than
 * its bytes on V8 (backing-store allocation, external-memory accounting, a finalizer for the collector):
 * about 2.5 us for 600 bytes against a few tens of nanoseconds for a view of a slab. The same trade as
 * Node's Buffer pool (8 KiB slabs, arrays up to half a slab), without depending on Node's Buffer.
 *
 * Every array returned is a region of its slab handed out once and never reused, so it holds no bytes
 * of any other array; it may be written, kept and passed on like a fresh one. The slab lives as long as
 * any of its arrays does (at most SLAB_SIZE bytes held by one small array). Its `buffer` is shared:
 * callers that need an ArrayBuffer of their own (transfer, wipe of the whole buffer) must not use these.
 */

/** The size of one slab (Node's Buffer.poolSize). */
export const SLAB_SIZE = 8 * 1024;
/** The largest array carved from a slab; larger ones get their own ArrayBuffer. */
export const SLAB_MAX_ALLOCATION = SLAB_SIZE >>> 1;

let slab = new Uint8Array(SLAB_SIZE);
let used = 0;

/**
 * A zero-filled array of `length` bytes: a view of a shared slab when `length` is at most
 * SLAB_MAX_ALLOCATION, else a new array. The caller must write every byte it means to send (a fresh
 * slab region is all zeros).
 */
export function slabAllocate(length: number): Uint8Array {
  if (length > SLAB_MAX_ALLOCATION) return new Uint8Array(length);
  if (used + length > SLAB_SIZE) {
    slab = new Uint8Array(SLAB_SIZE);
    used = 0;
  }
  const out = slab.subarray(used, used + length);
  // Keep every region 8-byte aligned, as Node's pool does.
  used = (used + length + 7) & ~7;
  return out;
}
