/**
 * Handoff of held records when the supernode list changes, and re-replication when a peer recovers
 * (spec/07-supernode.md §9, DIR-HAND-1..3 and DIR-HAND-6). Pure planning: the caller (the core's list
 * refresh) sends each target the records of its names in ReplicatePresence batches of at most 32, then
 * drops the names of `drop` from its directory.
 *
 * For each name held, under the old view O and the new view N (the same supernode, S):
 *   - S was responsible under O: the supernodes of N's responsible set that were not in O's are new
 *     holders and get the records (the others hold them already) [DIR-HAND-1];
 *   - S was not responsible under O (it held the name as a fallback, DIR-HAND-5): every supernode of N's
 *     responsible set but S gets them, since S cannot know which of them missed the record [DIR-HAND-2];
 *   - S is not responsible under N: it drops the name once its sends are done [DIR-HAND-3].
 * Every holder sends, so a name survives while one of its old holders stays in the list; receivers answer
 * a record they hold already with 'duplicate' (DIR-HOLD-3), which makes the repetition cheap.
 */
import { MAX_REPLICATE_BATCH, MAX_STREAM_PACKET_SIZE } from '@parley/wire';
import { keyHex } from './key-id.js';
import type { SupernodeView } from './view.js';

export interface HandoffTarget {
  readonly keyId: Uint8Array;
  /** The names whose records this supernode must send to the target. */
  readonly names: string[];
}

export interface HandoffPlan {
  /** Per target supernode (key id hex). */
  readonly sends: ReadonlyMap<string, HandoffTarget>;
  /** Names to drop once their sends completed. */
  readonly drop: string[];
  /** Names this supernode keeps (it is responsible for them under the new view). */
  readonly keep: string[];
}

/**
 * [DIR-HAND-1..3] Plans the handoff of `names` (held here) from `oldView` to `newView`, both this
 * supernode's. `oldView` undefined: nothing was placed before (every held name goes to all of its new
 * responsible set). Make `newView` with `oldView.next(list)`: a name placed under the old view then costs
 * one hash per joined supernode instead of one per listed supernode. The work is linear in `names`; a
 * caller with many names plans them in slices, one slice per event-loop turn.
 */
export function planHandoff(
  oldView: SupernodeView | undefined,
  newView: SupernodeView,
  names: Iterable<string>,
): HandoffPlan {
  const self = newView.self;
  const sends = new Map<string, { keyId: Uint8Array; names: string[] }>();
  const drop: string[] = [];
  const keep: string[] = [];
  for (const name of names) {
    const wasResponsible = oldView?.isResponsible(name) ?? false;
    for (const keyId of newView.responsibleFor(name)) {
      const hex = keyHex(keyId);
      if (hex === self) continue;
      // [DIR-HAND-1] only the new holders, when S held the name as a responsible supernode.
      if (wasResponsible && oldView!.isResponsible(name, hex)) continue;
      let target = sends.get(hex);
      if (target === undefined) {
        target = { keyId, names: [] };
        sends.set(hex, target);
      }
      target.names.push(name);
    }
    // [DIR-HAND-3] a supernode holds only the names it is responsible for after a list change.
    if (newView.isResponsible(name)) keep.push(name);
    else drop.push(name);
  }
  return { sends, drop, keep };
}

/**
 * [DIR-HAND-6] The names (held here) whose records go to `peer` after it recovered (it was known down
 * and answered again, PeerHealth.markUp): those it is responsible for under `view`. A supernode that
 * restarted holds nothing; this refills it without waiting for the devices' next refresh.
 */
export function planRecovery(view: SupernodeView, peer: Uint8Array | string, names: Iterable<string>): string[] {
  const hex = typeof peer === 'string' ? peer : keyHex(peer);
  const out: string[] = [];
  if (hex === view.self) return out;
  for (const name of names) if (view.isResponsible(name, hex)) out.push(name);
  return out;
}

/**
 * Bytes a batch's envelopes may take: a stream packet less the room of the Packet around the
 * ReplicatePresence body (its header and the body's own field header).
 */
export const MAX_REPLICATE_BATCH_BYTES = MAX_STREAM_PACKET_SIZE - 1024;

/** An envelope's cost inside a repeated field: the bytes, a tag and a length of up to 3 bytes. */
function framed(envelope: Uint8Array): number {
  return envelope.byteLength + 4;
}

/**
 * [DIR-HAND-1] Splits envelopes into ReplicatePresence batches in order: at most 32 per batch
 * (MAX_REPLICATE_BATCH) and at most `maxBytes` of framed envelopes, so that every batch fits one stream
 * packet. An envelope alone above `maxBytes` cannot exist (DIR-REC limits); it would get a batch of its own.
 */
export function replicationBatches(
  envelopes: readonly Uint8Array[],
  maxBytes: number = MAX_REPLICATE_BATCH_BYTES,
): Uint8Array[][] {
  const batches: Uint8Array[][] = [];
  let batch: Uint8Array[] = [];
  let bytes = 0;
  for (const e of envelopes) {
    const cost = framed(e);
    if (batch.length > 0 && (batch.length === MAX_REPLICATE_BATCH || bytes + cost > maxBytes)) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(e);
    bytes += cost;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}
