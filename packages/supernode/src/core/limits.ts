/**
 * The supernode's local limits (spec/07-supernode.md §3, §10: SN-ATTACH-*, SN-KEEP-*, SN-BUSY-*, SN-RES-*).
 * Every resource a peer can make a supernode hold is bounded by one of these; the defaults are the
 * values of the limits table.
 */
import { ApiMisuse } from '@parley/wire';

export interface SupernodeLimits {
  /** [SN-KEEP-1] The keep-alive interval told to nodes in `Attached`; 5,000..300,000 ms. */
  readonly keepaliveIntervalMs: number;
  /** [SN-KEEP-2] A channel silent for this many keep-alive intervals is closed with TIMEOUT. */
  readonly missedKeepalives: number;
  /** [SN-BUSY-1] Attachments (active and standby) held at once; beyond it Attach is redirected. */
  readonly capacity: number;
  /** [SN-BUSY-2] Key ids in a Redirect: 1..8. */
  readonly redirectCount: number;
  /** [SN-RES-1] Channels at once, all peers together (nodes and supernodes). */
  readonly maxConnections: number;
  /** [SN-RES-2] Channels at once from one IP address. */
  readonly maxConnectionsPerAddress: number;
  /** [SN-RES-3] Requests of one channel being handled at once; beyond it RESOURCE_LIMIT. */
  readonly maxPendingPerChannel: number;
  /** [SN-RES-4] The write buffer a channel may hold before it is closed with RESOURCE_LIMIT. */
  readonly maxWriteBufferBytes: number;
  /** [SN-RES-5] Requests and notices accepted per second on one channel (beyond: RATE_LIMITED). */
  readonly maxPacketsPerSecond: number;
  /** [SN-OVER-3] How long a request forwarded to another supernode may take. */
  readonly forwardTimeoutMs: number;
}

export const KEEPALIVE_MIN_MS = 5_000;
export const KEEPALIVE_MAX_MS = 300_000;
export const MAX_REDIRECT_KEY_IDS = 8;

export const DEFAULT_SUPERNODE_LIMITS: SupernodeLimits = Object.freeze({
  keepaliveIntervalMs: 25_000,
  missedKeepalives: 3,
  capacity: 10_000,
  redirectCount: MAX_REDIRECT_KEY_IDS,
  maxConnections: 12_000,
  maxConnectionsPerAddress: 64,
  maxPendingPerChannel: 16,
  maxWriteBufferBytes: 256 * 1024,
  maxPacketsPerSecond: 200,
  forwardTimeoutMs: 10_000,
});

/** The defaults with `overrides` applied, checked (ApiMisuse for a value outside its range). */
export function supernodeLimits(overrides: Partial<SupernodeLimits> = {}): SupernodeLimits {
  const l: SupernodeLimits = { ...DEFAULT_SUPERNODE_LIMITS, ...overrides };
  const int = (name: keyof SupernodeLimits, min: number, max = Number.MAX_SAFE_INTEGER) => {
    const v = l[name];
    if (!Number.isSafeInteger(v) || v < min || v > max)
      throw new ApiMisuse(`${name} must be an integer in ${min}..${max}`);
  };
  int('keepaliveIntervalMs', KEEPALIVE_MIN_MS, KEEPALIVE_MAX_MS);
  int('missedKeepalives', 1, 10);
  int('capacity', 1);
  int('redirectCount', 1, MAX_REDIRECT_KEY_IDS);
  int('maxConnections', 1);
  int('maxConnectionsPerAddress', 1);
  int('maxPendingPerChannel', 1);
  int('maxWriteBufferBytes', 16 * 1024);
  int('maxPacketsPerSecond', 1);
  int('forwardTimeoutMs', 1);
  return Object.freeze(l);
}
