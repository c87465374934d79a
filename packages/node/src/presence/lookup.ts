/**
 * What a node makes of a lookup answer (spec/09-node.md §6, 07 DIR-LOOK-*): every record verified by 07
 * DIR-REC-4 (a holder can hide a device but never forge or alter one), records of another user and records
 * older than one already seen for the device dropped (a holder cannot bring back a stale record), and the
 * endpoints opened only for a user whose presence key this node holds (an accepted contact).
 */
import {
  type CryptoSuite,
  isParleyError,
  type PresenceStatus,
  type SupernodeObjectTrust,
  verifyPresenceEnvelope,
} from '@parley/wire';
import { openEndpoints, type PresenceKey, sealedEndpointsOf, sealedKeyId, type WireEndpoint } from './sealed.js';

/** The highest sequence seen per (user, device): persisted by the node's store (a Map by default). */
export interface SequenceFloors {
  get(username: string, deviceId: Uint8Array): number | undefined;
  set(username: string, deviceId: Uint8Array, sequence: number): void;
}

export class MemorySequenceFloors implements SequenceFloors {
  readonly #m = new Map<string, number>();
  #k(u: string, d: Uint8Array) {
    return `${u}\u0000${Buffer.from(d).toString('hex')}`;
  }
  get(u: string, d: Uint8Array) {
    return this.#m.get(this.#k(u, d));
  }
  set(u: string, d: Uint8Array, s: number) {
    this.#m.set(this.#k(u, d), s);
  }
}

export interface DevicePresence {
  readonly username: string;
  readonly deviceId: Uint8Array;
  readonly status: PresenceStatus;
  readonly sequence: number;
  readonly expiresAt: number;
  readonly homeSupernode: Uint8Array;
  /** The device's direct endpoints: only for a contact whose presence key this node holds. */
  readonly endpoints?: WireEndpoint[];
}

export interface LookupOptions {
  readonly suite: CryptoSuite;
  readonly username: string;
  readonly trust: SupernodeObjectTrust;
  readonly floors: SequenceFloors;
  /** The presence key of `username` with `keyId`, when this node is its accepted contact. */
  readonly presenceKey?: (username: string, keyId: number) => PresenceKey | undefined;
}

/** [NODE-LOOK-1] [NODE-LOOK-2] [NODE-LOOK-3] [NODE-SEAL-2] The devices of a lookup answer a node may trust. */
export function readLookup(
  records: readonly { certificate: Uint8Array; record: Uint8Array }[],
  o: LookupOptions,
): DevicePresence[] {
  const out: DevicePresence[] = [];
  const seen = new Set<string>();
  for (const r of records) {
    let v: ReturnType<typeof verifyPresenceEnvelope>;
    try {
      v = verifyPresenceEnvelope(o.suite, r, o.trust);
    } catch (e) {
      if (isParleyError(e)) continue; // [NODE-LOOK-1] a record that fails DIR-REC-4 is dropped
      throw e;
    }
    if (v.username !== o.username) continue; // [NODE-LOOK-2]
    const device = Buffer.from(v.deviceId).toString('hex');
    if (seen.has(device)) continue; // one record per device in an answer (DIR-LOOK-1)
    const floor = o.floors.get(v.username, v.deviceId);
    if (floor !== undefined && v.sequence < floor) continue; // [NODE-LOOK-3] older than one seen
    seen.add(device);
    if (floor === undefined || v.sequence > floor) o.floors.set(v.username, v.deviceId, v.sequence);
    let endpoints: WireEndpoint[] | undefined;
    const sealed = sealedEndpointsOf(v.envelope);
    const keyId = sealedKeyId(sealed);
    const key = keyId === undefined ? undefined : o.presenceKey?.(v.username, keyId);
    if (key !== undefined) {
      try {
        endpoints = openEndpoints(o.suite, key, v, sealed);
      } catch (e) {
        if (!isParleyError(e)) throw e; // [NODE-SEAL-2] not opened: the route through the home supernode only
      }
    }
    out.push({
      username: v.username,
      deviceId: v.deviceId,
      status: v.status,
      sequence: v.sequence,
      expiresAt: v.expiresAt,
      homeSupernode: v.homeSupernode,
      ...(endpoints !== undefined ? { endpoints } : {}),
    });
  }
  return out;
}
