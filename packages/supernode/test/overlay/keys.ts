/** Deterministic supernode key ids for overlay tests: SHA-256 of a label and an index. */
import { createHash } from 'node:crypto';
import { rendezvousOrder, responsibleSupernodes } from '@parley/wire';

export function keyId(label: string, i: number): Uint8Array {
  return new Uint8Array(createHash('sha256').update(`${label}/${i}`).digest());
}

export function keyIds(label: string, n: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => keyId(label, i));
}

export const hex = (k: Uint8Array): string => Buffer.from(k).toString('hex');

/**
 * A test placement key for a key id (a login server derives it from its key, 06 LOGIN-LIST-8; any 32
 * bytes the test fixes will do for placement).
 */
export function placementKeyOf(keyId: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update('placement/').update(keyId).digest());
}

/** Key ids with their placement keys, as a SupernodeView takes them. */
export function placed(ids: readonly Uint8Array[]): { keyIds: Uint8Array[]; placementKeys: Uint8Array[] } {
  return { keyIds: [...ids], placementKeys: ids.map(placementKeyOf) };
}

/** A list entry as SupernodeView.fromList/next read it. */
export const placedEntry = (keyId: Uint8Array): { keyId: Uint8Array; placementKey: Uint8Array } => ({
  keyId,
  placementKey: placementKeyOf(keyId),
});

/** @parley/wire's rendezvous order over the placement keys of `ids`, mapped back to the key ids. */
export function orderOf(name: string, ids: readonly Uint8Array[]): Uint8Array[] {
  const byKey = new Map(ids.map((id) => [hex(placementKeyOf(id)), id]));
  return rendezvousOrder(name, ids.map(placementKeyOf)).map((p) => byKey.get(hex(p))!);
}

/** @parley/wire's responsible set over the placement keys of `ids`, as key ids. */
export function responsibleOf(name: string, ids: readonly Uint8Array[], k: number): Uint8Array[] {
  const byKey = new Map(ids.map((id) => [hex(placementKeyOf(id)), id]));
  return responsibleSupernodes(name, ids.map(placementKeyOf), k).map((p) => byKey.get(hex(p))!);
}
