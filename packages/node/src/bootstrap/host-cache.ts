/**
 * Bootstrap (spec/09-node.md §8, NODE-BOOT-*): the host cache of the signed supernode list and the order
 * in which a node tries supernodes for its home. Sans-I/O: the list and statistics come from a NodeStore,
 * time and probe answers are parameters.
 *
 * The order spreads nodes: after the previous home (NODE-BOOT-3), candidates go by load band, then by a
 * rendezvous score of (device id, key id) — each device has its own order, so a thousand nodes with the
 * same cache do not all pick the same supernode, and a device keeps picking the same one (its records
 * stay where they were).
 */
import {
  bytesEqual,
  type CryptoSuite,
  isParleyError,
  type LoginSignedPolicy,
  type SupernodeListEntry,
  verifySupernodeListPage,
} from '@parley/wire';
import type { HostStat, NodeStore, StoredList } from '../store/store.js';

/** [NODE-BOOT-3] A supernode that failed within this long is tried after every other candidate. */
export const FAILURE_PENALTY_MS = 5 * 60_000;
/** [NODE-BOOT-3] Load is compared in bands this wide: within a band the rendezvous order decides. */
export const LOAD_BAND_PERCENT = 25;
/** [NODE-BOOT-4] How many candidates a node probes over UDP before it attaches. */
export const PROBE_CANDIDATES = 3;
/** [NODE-BOOT-4] An answering candidate whose RTT is above this multiple of the fastest one's goes last. */
export const SLOW_RTT_FACTOR = 4;

export interface VerifiedHostList {
  readonly epoch: number;
  readonly expiresAtMs: number;
  readonly entries: readonly SupernodeListEntry[];
}

/**
 * [NODE-BOOT-1] The stored list, every page verified again (login signature, chain to a trust anchor at
 * `policy.nowMs`), all of one epoch and numbered 0..n-1; undefined when anything fails (the node then
 * fetches the list from the login server).
 */
export function verifyStoredList(
  suite: CryptoSuite,
  stored: StoredList | undefined,
  policy: LoginSignedPolicy,
): VerifiedHostList | undefined {
  if (stored === undefined) return undefined;
  const entries: SupernodeListEntry[] = [];
  let expiresAtMs = 0;
  try {
    for (let i = 0; i < stored.pages.length; i++) {
      const p = verifySupernodeListPage(suite, stored.pages[i]!, stored.loginCertificates[i]!, policy);
      if (p.version !== stored.epoch || p.page !== i || p.pageCount !== stored.pages.length) return undefined;
      expiresAtMs = p.expiresAtMs;
      entries.push(...p.entries);
    }
  } catch (e) {
    if (isParleyError(e)) return undefined;
    throw e;
  }
  return { epoch: stored.epoch, expiresAtMs, entries };
}

export interface Candidate {
  readonly entry: SupernodeListEntry;
  /** The entry's first UDP endpoint (its probe endpoint, 08 §4), when it lists one. */
  readonly udp?: { host: string; port: number } | undefined;
  readonly tcp?: { host: string; port: number } | undefined;
}

function endpointOf(e: SupernodeListEntry, protocol: number): { host: string; port: number } | undefined {
  const x = e.endpoints.find((p) => p.protocol === protocol && p.address.length === 4);
  return x && { host: Array.from(x.address).join('.'), port: x.port };
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/**
 * [NODE-BOOT-3] The candidates for a home, in the order a node tries them: the previous home first (unless
 * it failed since its last success); then entries not failed within FAILURE_PENALTY_MS before those that
 * did; within each, by load band (LOAD_BAND_PERCENT) then by rendezvous score SHA-256(device id || key id),
 * lowest first. Entries whose `notAfterMs` has passed, without a TCP endpoint, or in `exclude` are left out.
 */
export function orderCandidates(
  suite: CryptoSuite,
  o: {
    entries: readonly SupernodeListEntry[];
    stats: readonly HostStat[];
    deviceId: Uint8Array;
    nowMs: number;
    previousHome?: Uint8Array | undefined;
    exclude?: readonly Uint8Array[];
  },
): Candidate[] {
  const stats = new Map(o.stats.map((s) => [hex(s.keyId), s]));
  const scored = o.entries
    .filter((e) => e.notAfterMs > o.nowMs && endpointOf(e, 2) !== undefined)
    .filter((e) => !(o.exclude ?? []).some((x) => bytesEqual(x, e.keyId)))
    .map((e) => {
      const s = stats.get(hex(e.keyId));
      const failedRecently =
        s !== undefined &&
        s.lastFailureAt !== undefined &&
        o.nowMs - s.lastFailureAt < FAILURE_PENALTY_MS &&
        (s.lastSuccessAt === undefined || s.lastFailureAt > s.lastSuccessAt);
      const previous = o.previousHome !== undefined && bytesEqual(o.previousHome, e.keyId) && !failedRecently;
      const score = suite.sha256(Uint8Array.from([...o.deviceId, ...e.keyId]));
      return { e, previous, failedRecently, band: Math.floor(e.loadPercent / LOAD_BAND_PERCENT), score };
    });
  scored.sort(
    (a, b) =>
      Number(b.previous) - Number(a.previous) ||
      Number(a.failedRecently) - Number(b.failedRecently) ||
      a.band - b.band ||
      compareBytes(a.score, b.score),
  );
  return scored.map(({ e }) => ({ entry: e, udp: endpointOf(e, 1), tcp: endpointOf(e, 2) }));
}

/**
 * [NODE-BOOT-4] Reorders probed candidates: those that answered the UDP probe first (within
 * SLOW_RTT_FACTOR of the fastest, in their order; slower ones after), then the rest in their order.
 * `udpBlocked` is true when some candidate was probed and none answered (08 NAT-OBS-6): the node then
 * attaches over TCP and uses TCP relaying.
 */
export function preferAnswering(
  candidates: readonly Candidate[],
  rtts: ReadonlyMap<string, number | undefined>,
): { order: Candidate[]; udpBlocked: boolean } {
  const probed = candidates.filter((c) => rtts.has(hex(c.entry.keyId)));
  const answered = probed.filter((c) => rtts.get(hex(c.entry.keyId)) !== undefined);
  if (answered.length === 0) return { order: [...candidates], udpBlocked: probed.length > 0 };
  const fastest = Math.min(...answered.map((c) => rtts.get(hex(c.entry.keyId))!));
  const quick = answered.filter((c) => rtts.get(hex(c.entry.keyId))! <= Math.max(1, fastest) * SLOW_RTT_FACTOR);
  const rest = candidates.filter((c) => !quick.includes(c));
  return { order: [...quick, ...rest], udpBlocked: false };
}

/** [NODE-BOOT-2] Records the outcome of an attempt at `keyId` in the host cache. */
export function recordAttempt(store: NodeStore, keyId: Uint8Array, ok: boolean, nowMs: number): void {
  const held = store.hostStats().find((s) => bytesEqual(s.keyId, keyId));
  store.putHostStat(
    ok
      ? { keyId, lastSuccessAt: nowMs, lastFailureAt: held?.lastFailureAt, failures: 0 }
      : { keyId, lastSuccessAt: held?.lastSuccessAt, lastFailureAt: nowMs, failures: (held?.failures ?? 0) + 1 },
  );
}
