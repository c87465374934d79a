/**
 * Publishing this device's presence (spec/09-node.md §9, NODE-PRES-*): the user's status mapped onto the
 * record's (07 DIR-REC-8), a sequence that never goes back across restarts (07 DIR-REC-6, kept by the
 * NodeStore), endpoints sealed for contacts only when the device is visible (NODE-SEAL-1), and the time
 * at which the record must be refreshed. Sans-I/O: the caller publishes what `next` returns through its
 * home supernode (SupernodeClient.publish) and calls again at `refreshAt` or on any change.
 */
import { ApiMisuse, type CryptoSuite, PresenceStatus, type Random, signPresenceRecord } from '@parley/wire';
import type { NodeStore } from '../store/store.js';
import { type PresenceKey, sealEndpoints, type WireEndpoint } from './sealed.js';

/** What the user chooses (invisible: seen as offline, still attached and receiving). */
export type UserStatus = 'online' | 'away' | 'busy' | 'invisible' | 'offline';

/** [NODE-PRES-1] The record status of a user status. */
export function recordStatus(s: UserStatus): PresenceStatus {
  switch (s) {
    case 'online':
      return PresenceStatus.PRESENCE_STATUS_ONLINE;
    case 'away':
      return PresenceStatus.PRESENCE_STATUS_AWAY;
    case 'busy':
      return PresenceStatus.PRESENCE_STATUS_DO_NOT_DISTURB;
    case 'invisible':
    case 'offline':
      return PresenceStatus.PRESENCE_STATUS_OFFLINE;
  }
}

export interface PublisherOptions {
  readonly suite: CryptoSuite;
  readonly random: Random;
  readonly store: NodeStore;
  readonly username: string;
  readonly deviceId: Uint8Array;
  /** The device's signing seed and its ROLE_USER certificate (encoded Signed). */
  readonly seed: () => Uint8Array;
  readonly certificate: () => Uint8Array;
}

export interface PublishedRecord {
  readonly certificate: Uint8Array;
  readonly record: Uint8Array;
  readonly sequence: number;
  readonly expiresAt: number;
  /** [NODE-PRES-3] When to publish again, unchanged (half the lifetime). */
  readonly refreshAt: number;
}

export class PresencePublisher {
  readonly #o: PublisherOptions;

  constructor(o: PublisherOptions) {
    this.#o = o;
  }

  /**
   * The next record: `status` at `nowMs`, naming `home`, lasting `lifetimeMs` (the policy's presence
   * lifetime); endpoints sealed under `key` only for a visible status.
   */
  next(o: {
    nowMs: number;
    status: UserStatus;
    home: Uint8Array;
    lifetimeMs: number;
    key?: PresenceKey | undefined;
    endpoints?: readonly WireEndpoint[];
  }): PublishedRecord {
    if (!(o.lifetimeMs > 0)) throw new ApiMisuse('presence lifetime');
    // [NODE-PRES-2] unix ms at signing, raised above every sequence this device signed before (DIR-REC-6)
    const sequence = this.#o.store.nextPresenceSequence(this.#o.deviceId, Math.floor(o.nowMs));
    const visible = o.status !== 'invisible' && o.status !== 'offline';
    const ctx = { username: this.#o.username, deviceId: this.#o.deviceId, sequence };
    // [NODE-PRES-4] an invisible or offline device names no endpoints, sealed or not
    const sealed =
      visible && o.key !== undefined && (o.endpoints?.length ?? 0) > 0
        ? sealEndpoints(this.#o.suite, this.#o.random, o.key, ctx, o.endpoints!)
        : new Uint8Array(0);
    const expiresAt = o.nowMs + o.lifetimeMs;
    const record = signPresenceRecord(this.#o.suite, this.#o.seed(), {
      username: this.#o.username,
      deviceId: this.#o.deviceId,
      sequence,
      issuedAt: o.nowMs,
      expiresAt,
      status: recordStatus(o.status),
      homeSupernode: o.home,
      sealedEndpoints: sealed,
    });
    return {
      certificate: this.#o.certificate(),
      record,
      sequence,
      expiresAt,
      refreshAt: o.nowMs + Math.floor(o.lifetimeMs / 2),
    };
  }
}
