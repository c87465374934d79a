/**
 * The node's attachments (spec/09-node.md §4, NODE-ATTACH-*): a home supernode and one standby
 * (07 SN-ATTACH-6), over TCP channels (07 §3). On the loss of the home the standby is promoted at once (a
 * second Attach on its channel) and a new standby opened; with no standby the node reconnects after the
 * backoff of NODE-ATTACH-1. A Redirect is followed only to key ids of the node's verified list
 * (SN-BUSY-2); a newer list epoch in Attached is reported; `reattach` opens new channels with a renewed
 * certificate before SN-ATTACH-9 closes the old ones.
 *
 * This is a runner (it owns channels and timers on a @parley/net Transport); the decisions it takes come
 * from the sans-I/O pieces: orderCandidates/preferAnswering (bootstrap) and ReconnectSchedule.
 */
import { isRetryable } from '@parley/login-server/client';
import type { Timer, Transport } from '@parley/net';
import { SupernodeClient, type SupernodeClientOptions } from '@parley/supernode';
import {
  bytesEqual,
  type CryptoSuite,
  isParleyError,
  type LocalIdentity,
  type PacketBodies,
  type SupernodeListEntry,
} from '@parley/wire';
import {
  type Candidate,
  orderCandidates,
  PROBE_CANDIDATES,
  preferAnswering,
  recordAttempt,
} from '../bootstrap/host-cache.js';
import type { NodeStore } from '../store/store.js';
import { ReconnectSchedule, type RetryHint } from './reconnect.js';

export type Attached = NonNullable<PacketBodies['attachReply']['attached']>;

/** [NODE-ATTACH-2] At most this many candidates per round of attempts (redirects included). */
export const MAX_ATTEMPTS_PER_ROUND = 8;

export interface AttachmentOptions {
  readonly transport: Transport;
  readonly suite: CryptoSuite;
  readonly trustAnchors: Uint8Array[];
  /** The device's current ROLE_USER chain (a renewal replaces it, then call `reattach`). */
  readonly identity: () => LocalIdentity;
  readonly deviceId: Uint8Array;
  readonly store: NodeStore;
  /** The verified supernode list the node holds. */
  readonly list: () => { readonly epoch: number; readonly entries: readonly SupernodeListEntry[] };
  /** Jitter source; default the transport's. */
  readonly random?: { float(): number };
  /** The UDP probe of a candidate: its RTT in ms, or undefined when unanswered (NODE-BOOT-4). */
  readonly probe?: (c: Candidate) => Promise<number | undefined>;
  readonly onPacket?: SupernodeClientOptions['onPacket'];
  /** A new home is attached (fetch offline messages, publish presence: 07 SN-ATTACH-3). */
  readonly onHome?: (client: SupernodeClient, attached: Attached) => void;
  /** [NODE-ATTACH-5] An Attached named a newer list epoch than the one held. */
  readonly onNewerList?: (epoch: number) => void;
  /** Keep no standby (tests; a node on a metered link). */
  readonly noStandby?: boolean;
  /** Reconnection attempts, for tests of the spread (time of each first connect attempt). */
  readonly onAttempt?: (keyId: Uint8Array) => void;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

export class Attachment {
  readonly #o: AttachmentOptions;
  readonly #schedule: ReconnectSchedule;
  #home: { client: SupernodeClient; keyId: Uint8Array } | undefined;
  #standby: { client: SupernodeClient; keyId: Uint8Array } | undefined;
  #udpBlocked = false;
  #stopped = false;
  #timer: Timer | undefined;
  #standbyTimer: Timer | undefined;
  #connecting = false;
  /** The key id of the last home, tried first next time (NODE-BOOT-3). */
  #previousHome: Uint8Array | undefined;
  /** Channels being replaced on purpose (NODE-ATTACH-4): their close is no loss. */
  readonly #replaced = new WeakSet<SupernodeClient>();
  /** Promotions of a standby (tests). */
  promotions = 0;

  constructor(o: AttachmentOptions) {
    this.#o = o;
    this.#schedule = new ReconnectSchedule(o.random ?? o.transport.random);
  }

  get home(): SupernodeClient | undefined {
    return this.#home?.client;
  }
  get homeKeyId(): Uint8Array | undefined {
    return this.#home?.keyId;
  }
  get standby(): SupernodeClient | undefined {
    return this.#standby?.client;
  }
  /** True when the last probes got no UDP answer (08 NAT-OBS-6): relay over TCP. */
  get udpBlocked(): boolean {
    return this.#udpBlocked;
  }

  /** Attaches (probing first when a probe is given); resolves once a home is attached or a retry is scheduled. */
  start(): Promise<void> {
    this.#stopped = false;
    return this.#connectHome();
  }

  /** Closes both channels and stops reconnecting. */
  stop(): void {
    this.#stopped = true;
    this.#timer?.cancel();
    this.#standbyTimer?.cancel();
    const h = this.#home;
    const s = this.#standby;
    this.#home = undefined;
    this.#standby = undefined;
    h?.client.close();
    s?.client.close();
  }

  /**
   * [NODE-ATTACH-4] After a certificate renewal: new channels with the new certificate to the same home and
   * standby, replacing the old attachments (07 SN-ATTACH-5 closes the old channels with CONFLICT).
   */
  async reattach(): Promise<void> {
    const h = this.#home;
    if (h !== undefined) {
      // the supernode closes the old channel (CONFLICT) as soon as the new one attaches, maybe before the reply
      this.#replaced.add(h.client);
      try {
        const r = await this.#open(h.keyId, false);
        if (r.kind === 'attached') {
          this.#home = { client: r.client, keyId: h.keyId };
          h.client.close();
          this.#attached(r.client, r.attached);
        }
      } catch (e) {
        if (!isParleyError(e) && !(e instanceof Error)) throw e;
      }
    }
    const s = this.#standby;
    if (s !== undefined) {
      this.#standby = undefined;
      s.client.close();
      void this.#connectStandby();
    }
  }

  #entry(keyId: Uint8Array): SupernodeListEntry | undefined {
    return this.#o.list().entries.find((e) => bytesEqual(e.keyId, keyId));
  }

  #now(): number {
    return this.#o.transport.clock.now();
  }

  async #order(exclude: Uint8Array[]): Promise<Candidate[]> {
    const cands = orderCandidates(this.#o.suite, {
      entries: this.#o.list().entries,
      stats: this.#o.store.hostStats(),
      deviceId: this.#o.deviceId,
      nowMs: this.#now(),
      previousHome: this.#previousHome,
      exclude,
    });
    const probe = this.#o.probe;
    if (probe === undefined) return cands;
    // [NODE-BOOT-4] probe the first candidates over UDP: prefer those that answer, learn whether UDP works
    const probed = cands.slice(0, PROBE_CANDIDATES);
    const rtts = new Map<string, number | undefined>();
    await Promise.all(probed.map(async (c) => rtts.set(hex(c.entry.keyId), c.udp ? await probe(c) : undefined)));
    const { order, udpBlocked } = preferAnswering(cands, rtts);
    this.#udpBlocked = udpBlocked;
    return order;
  }

  /** Opens a channel to `keyId` (SN-ATTACH-8: it must prove that key) and attaches. */
  async #open(
    keyId: Uint8Array,
    standby: boolean,
  ): Promise<
    { kind: 'attached'; client: SupernodeClient; attached: Attached } | { kind: 'redirect'; to: Uint8Array[] }
  > {
    const entry = this.#entry(keyId);
    const tcp = entry?.endpoints.find((e) => e.protocol === 2 && e.address.length === 4);
    if (entry === undefined || tcp === undefined) throw new Error('not in the verified list');
    this.#o.onAttempt?.(keyId);
    let client: SupernodeClient | undefined;
    client = await SupernodeClient.connect({
      transport: this.#o.transport,
      suite: this.#o.suite,
      supernode: { host: Array.from(tcp.address).join('.'), port: tcp.port },
      trustAnchors: this.#o.trustAnchors,
      identity: this.#o.identity(),
      expectKeyId: keyId,
      ...(this.#o.onPacket ? { onPacket: this.#o.onPacket } : {}),
      onClosed: () => {
        if (client !== undefined) this.#closed(client);
      },
    });
    try {
      const r = await client.attach({ standby, listEpoch: this.#o.list().epoch });
      if (r.kind === 'redirect') {
        client.close();
        return { kind: 'redirect', to: [...(r.value.supernodeKeyIds ?? [])] };
      }
      return { kind: 'attached', client, attached: r.value };
    } catch (e) {
      client.close();
      throw e;
    }
  }

  /** [NODE-ATTACH-2] One round over the candidates; a backoff (NODE-ATTACH-1) when none attached. */
  async #connectHome(): Promise<void> {
    if (this.#stopped || this.#connecting || this.#home !== undefined) return;
    this.#connecting = true;
    let hint: RetryHint | undefined;
    try {
      const exclude = this.#standby ? [this.#standby.keyId] : [];
      const queue = (await this.#order(exclude)).map((c) => c.entry.keyId);
      const tried = new Set<string>();
      while (queue.length > 0 && tried.size < MAX_ATTEMPTS_PER_ROUND && !this.#stopped) {
        const keyId = queue.shift()!;
        if (tried.has(hex(keyId))) continue;
        tried.add(hex(keyId));
        try {
          const r = await this.#open(keyId, false);
          if (r.kind === 'redirect') {
            // [NODE-ATTACH-3] only key ids of the node's own verified list, and never one already tried
            const known = r.to.filter((k) => this.#entry(k) !== undefined && !tried.has(hex(k)));
            queue.unshift(...known);
            continue;
          }
          if (this.#stopped) {
            r.client.close();
            return;
          }
          recordAttempt(this.#o.store, keyId, true, this.#now());
          this.#home = { client: r.client, keyId };
          this.#attached(r.client, r.attached);
          void this.#connectStandby();
          return;
        } catch (e) {
          recordAttempt(this.#o.store, keyId, false, this.#now());
          // [NODE-ATTACH-1] a refusal's retry hint is honoured (06 LOGIN-RATE-18)
          if (isRetryable(e)) hint = { retryAfterMs: e.retryAfterMs, retryJitterMs: e.retryJitterMs };
        }
      }
    } finally {
      this.#connecting = false;
    }
    if (!this.#stopped && this.#home === undefined) this.#retryLater(this.#schedule.failed(hint));
  }

  #retryLater(delay: number): void {
    this.#timer?.cancel();
    this.#timer = this.#o.transport.clock.setTimer(delay, () => void this.#connectHome());
  }

  #attached(client: SupernodeClient, attached: Attached): void {
    this.#previousHome = this.#home?.keyId;
    this.#schedule.attached(this.#now());
    // [NODE-ATTACH-5] a newer list than the one held: fetch it from the login server
    if (Number(attached.listEpoch ?? 0) > this.#o.list().epoch) this.#o.onNewerList?.(Number(attached.listEpoch));
    this.#o.onHome?.(client, attached);
  }

  async #connectStandby(): Promise<void> {
    if (this.#o.noStandby || this.#stopped || this.#standby !== undefined || this.#home === undefined) return;
    const home = this.#home.keyId;
    const cands = orderCandidates(this.#o.suite, {
      entries: this.#o.list().entries,
      stats: this.#o.store.hostStats(),
      deviceId: this.#o.deviceId,
      nowMs: this.#now(),
      exclude: [home],
    });
    for (const c of cands.slice(0, 3)) {
      if (this.#stopped || this.#standby !== undefined || this.#home === undefined) return;
      try {
        const r = await this.#open(c.entry.keyId, true);
        if (r.kind === 'redirect') continue;
        if (this.#stopped || this.#standby !== undefined) {
          r.client.close();
          return;
        }
        this.#standby = { client: r.client, keyId: c.entry.keyId };
        return;
      } catch {
        recordAttempt(this.#o.store, c.entry.keyId, false, this.#now());
      }
    }
    // none took us as a standby: try again after a while (a standby is an optimisation)
    this.#standbyTimer?.cancel();
    this.#standbyTimer = this.#o.transport.clock.setTimer(
      30_000 + (this.#o.random ?? this.#o.transport.random).float() * 30_000,
      () => void this.#connectStandby(),
    );
  }

  #closed(client: SupernodeClient): void {
    if (this.#stopped || this.#replaced.has(client)) return;
    if (this.#standby?.client === client) {
      this.#standby = undefined;
      if (this.#home !== undefined) void this.#connectStandby();
      return;
    }
    if (this.#home?.client !== client) return; // an old channel replaced on purpose
    recordAttempt(this.#o.store, this.#home.keyId, false, this.#now());
    this.#previousHome = this.#home.keyId;
    this.#home = undefined;
    const standby = this.#standby;
    if (standby !== undefined) {
      // [NODE-ATTACH-2] promote the standby at once: a second Attach on its channel (07 SN-ATTACH-6)
      this.#standby = undefined;
      void this.#promote(standby);
      return;
    }
    this.#retryLater(this.#schedule.lost(this.#now()));
  }

  async #promote(s: { client: SupernodeClient; keyId: Uint8Array }): Promise<void> {
    try {
      const r = await s.client.attach({ standby: false, listEpoch: this.#o.list().epoch });
      if (r.kind === 'attached' && !this.#stopped) {
        this.promotions++;
        this.#home = s;
        recordAttempt(this.#o.store, s.keyId, true, this.#now());
        this.#attached(s.client, r.value);
        void this.#connectStandby();
        return;
      }
      s.client.close();
    } catch {
      s.client.close();
    }
    if (!this.#stopped) this.#retryLater(this.#schedule.lost(this.#now()));
  }
}
