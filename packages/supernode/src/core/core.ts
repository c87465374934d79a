/**
 * The supernode's protocol logic: one request in, one response (or a close) out. Normative text:
 * spec/07-supernode.md (SN-*, DIR-*, STORE-*); this module enforces SN-ATTACH-*, SN-BUSY-*, SN-OVER-*,
 * DIR-PUB-* and STORE-REPL-*, and hands records and messages to the directory (../directory) and the
 * offline store (../offline). Sockets, the clock and the channels to other supernodes come in through
 * `CoreDeps`; the runner (../runner) decodes packets, performs the returned action, and maps a thrown
 * ParleyError to its channel effect (ErrorReply, or Close).
 *
 *   request             from                  handling
 *   Attach              node                  attachment table (active/standby), capacity, Redirect
 *   PublishPresence     node (attached)       verify, store if responsible, write to the other responsible
 *                       supernode             verify, store when responsible (else NOT_RESPONSIBLE)
 *   LookupPresence      node (attached)       own holdings if responsible, else forwarded; answers merged
 *                       supernode             own holdings (never forwarded)
 *   StoreMessage        node (attached)       verify, store if responsible, write to the other responsible
 *                       supernode             verify, store when responsible
 *   FetchMessages       node (attached)       its own messages from every responsible one, merged
 *                       supernode             `recipient`'s messages held here
 *   AckMessages         node (attached)       acknowledged at every responsible one
 *                       supernode             `recipient`'s messages acknowledged here
 *   ReplicatePresence   supernode             each record verified, kept when responsible
 *   ReplicateMessages   supernode             each message verified, kept when responsible
 */
import { ChannelClosedError } from '@parley/channel';
import { errorFromReply } from '@parley/login-server/client';
import type { Clock, Timer } from '@parley/net';
import {
  bytesEqual,
  type CryptoSuite,
  DecodeError,
  decodeOfflineEnvelope,
  decodeOfflineMessage,
  decodePresenceEnvelope,
  decodeSigned,
  ErrorCode,
  isNormalisedUsername,
  isParleyError,
  MAX_FETCH_MESSAGES,
  MAX_PRESENCE_DEVICES,
  MAX_REPLICATE_BATCH,
  MAX_STREAM_PACKET_SIZE,
  MESSAGE_ID_BYTES,
  type Packet,
  type PacketBodies,
  type PacketBody,
  ProtocolViolation,
  RequestRefused,
  ResourceError,
  type SupernodeListEntry,
  type SupernodeObjectTrust,
  VerifiedCertificateCache,
  type VerifiedOfflineMessage,
  type VerifiedPresence,
  verifyOfflineEnvelope,
  verifyPresenceEnvelope,
} from '@parley/wire';
import { DEFAULT_SWEEP_BUDGET, DirectoryTable } from '../directory/table.js';
import { MemoryOfflineStore } from '../offline/memory.js';
import type { OfflineStore, StoredOfflineMessage } from '../offline/store.js';
import { planHandoff, planRecovery } from '../overlay/handoff.js';
import { PeerHealth } from '../overlay/health.js';
import { keyHex } from '../overlay/key-id.js';
import { SupernodeView } from '../overlay/view.js';
import { type AttachMode, AttachmentTable } from './attachments.js';
import { wireEndpoint } from './endpoint.js';
import { type SupernodeLimits, supernodeLimits } from './limits.js';
import type { NetworkState } from './network-state.js';
import type { Session } from './session.js';

/** [SN-BUSY-3] The retry hint of BUSY when no other supernode can be named in a Redirect. */
export const BUSY_RETRY_AFTER_MS = 30_000;
export const BUSY_RETRY_JITTER_MS = 30_000;
/** Bytes of envelopes one reply or replication batch carries at most (a packet holds MAX_STREAM_PACKET_SIZE). */
export const REPLY_BUDGET_BYTES = MAX_STREAM_PACKET_SIZE - 4_096;
/** How often expired records are swept, and expired messages and tombstones pruned. */
export const SWEEP_INTERVAL_MS = 1_000;
export const PRUNE_INTERVAL_MS = 60_000;

export type CoreAction = { kind: 'reply'; packet: Packet } | { kind: 'close'; code: ErrorCode; detail: string };

/** Sends a request to another supernode of the list (the runner's PeerPool). */
export interface PeerRequester {
  request(keyId: Uint8Array, body: PacketBody, timeoutMs?: number): Promise<Packet>;
}

export interface CoreDeps {
  /** Unix milliseconds (certificates, records and messages carry wall-clock times). */
  readonly clock: Clock;
  readonly suite: CryptoSuite;
  /** The network's pinned root public keys. */
  readonly trustAnchors: readonly Uint8Array[];
  /** What the login server last published, verified. */
  readonly state: NetworkState;
  /** This supernode's key id (the subject key of its ROLE_SUPERNODE certificate). */
  readonly selfKeyId: Uint8Array;
  /** Channels to the other supernodes. */
  readonly peers: PeerRequester;
  /** The presence records held; a new table unless given. */
  readonly directory?: DirectoryTable;
  /** The offline messages held; a new MemoryOfflineStore unless given. */
  readonly offline?: OfflineStore;
  readonly limits?: Partial<SupernodeLimits>;
  /** Structured log events. */
  readonly log?: (event: string, fields: Record<string, unknown>) => void;
}

/** Counters (tests, status). */
export interface CoreStats {
  forwarded: number;
  forwardFailures: number;
  handoffs: number;
  handedOffRecords: number;
  handedOffMessages: number;
}

const reply = (requestId: number, body: PacketBody): CoreAction => ({ kind: 'reply', packet: { requestId, body } });

const compareBytes = (a: Uint8Array, b: Uint8Array): number => {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
};

const refusedWith = (code: ErrorCode, detail: string) => new RequestRefused(code, detail);

/**
 * The normalised form of a user name as typed (06 §4, LOGIN-NAME-2/3): ASCII letters folded to lower
 * case, then the grammar; USERNAME_INVALID when there is none.
 */
export function normaliseLookupName(input: string): string {
  // A name already normalised (what clients send) is its own normal form: one test, no copy.
  if (isNormalisedUsername(input)) return input;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ASCII is the whole range accepted
  if (input.length > 64 || !/^[\x00-\x7f]*$/.test(input))
    throw refusedWith(ErrorCode.USERNAME_INVALID, 'not a user name');
  const name = input.replace(/[A-Z]/g, (c) => c.toLowerCase());
  if (!isNormalisedUsername(name)) throw refusedWith(ErrorCode.USERNAME_INVALID, 'not a user name');
  return name;
}

/** A failure that says the peer could not be reached (rather than that it refused). */
function unreachable(e: unknown): boolean {
  if (e instanceof ChannelClosedError) return true;
  if (!isParleyError(e)) return true;
  return e.code === ErrorCode.TIMEOUT || (e instanceof ResourceError && e.code === ErrorCode.RESOURCE_LIMIT);
}

/**
 * The two fields of a stored envelope (field 1 then field 2, both bytes), as views into `bytes`: the
 * stored bytes were checked when they were verified and are never modified, so a lookup answers without
 * copying them. Undefined for any other layout (the caller then decodes with the wire's decoder).
 */
function splitEnvelope(bytes: Uint8Array): [Uint8Array, Uint8Array] | undefined {
  let first: Uint8Array | undefined;
  let pos = 0;
  for (let tag = 0x0a; tag <= 0x12; tag += 8) {
    if (bytes[pos] !== tag) return undefined;
    pos++;
    let len = 0;
    for (let shift = 0; ; shift += 7) {
      const b = bytes[pos++];
      if (b === undefined || shift > 21) return undefined;
      len |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) break;
    }
    if (pos + len > bytes.length) return undefined;
    if (first === undefined) first = bytes.subarray(pos, pos + len);
    else return pos + len === bytes.length ? [first, bytes.subarray(pos, pos + len)] : undefined;
    pos += len;
  }
  return undefined;
}

const presenceParts = (e: Uint8Array): { certificate: Uint8Array; record: Uint8Array } => {
  const p = splitEnvelope(e);
  return p === undefined ? decodePresenceEnvelope(e) : { certificate: p[0], record: p[1] };
};

const messageParts = (e: Uint8Array): { certificate: Uint8Array; message: Uint8Array } => {
  const p = splitEnvelope(e);
  return p === undefined ? decodeOfflineEnvelope(e) : { certificate: p[0], message: p[1] };
};

/** The key of an envelope for merging answers: identical bytes are one message or record. */
const bytesKey = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');

interface Fanout<T> {
  readonly results: { readonly keyId: Uint8Array; readonly value: T }[];
  readonly errors: unknown[];
}

export class SupernodeCore {
  readonly limits: SupernodeLimits;
  readonly attachments: AttachmentTable<Session>;
  readonly directory: DirectoryTable;
  readonly offline: OfflineStore;
  readonly health = new PeerHealth();
  readonly stats: CoreStats = {
    forwarded: 0,
    forwardFailures: 0,
    handoffs: 0,
    handedOffRecords: 0,
    handedOffMessages: 0,
  };
  readonly #clock: Clock;
  readonly #suite: CryptoSuite;
  readonly #anchors: Uint8Array[];
  readonly #state: NetworkState;
  readonly #self: Uint8Array;
  readonly #peers: PeerRequester;
  readonly #log: CoreDeps['log'];
  readonly #cache = new VerifiedCertificateCache();
  #view: SupernodeView;
  /** The list changes' handoffs, one after another. */
  #handoff: Promise<void> = Promise.resolve();
  #sweepTimer: Timer | undefined;
  #lastPrune = 0;
  #closed = false;
  readonly #unsubscribe: () => void;

  constructor(deps: CoreDeps) {
    this.limits = supernodeLimits(deps.limits);
    this.attachments = new AttachmentTable<Session>(this.limits.capacity);
    this.directory = deps.directory ?? new DirectoryTable();
    this.offline = deps.offline ?? new MemoryOfflineStore();
    this.#clock = deps.clock;
    this.#suite = deps.suite;
    this.#anchors = [...deps.trustAnchors];
    this.#state = deps.state;
    this.#self = deps.selfKeyId;
    this.#peers = deps.peers;
    this.#log = deps.log;
    this.#view = this.#makeView();
    this.#unsubscribe = deps.state.onChange((what) => this.#onStateChange(what));
  }

  get clock(): Clock {
    return this.#clock;
  }
  get selfKeyId(): Uint8Array {
    return this.#self;
  }
  /** The placement this supernode uses now (the list held and the policy's k). */
  get view(): SupernodeView {
    return this.#view;
  }
  /** Resolves once the handoffs of every list change so far are done (tests, shutdown). */
  get handoffDone(): Promise<void> {
    return this.#handoff;
  }

  /** The load reported in heartbeats ([SN-LOGIN-2]): attachments held. */
  get load(): number {
    return this.attachments.size;
  }

  /** Starts the expiry sweep ([DIR-HOLD-7], [STORE-EXP-2]) on the clock. */
  start(): void {
    const tick = () => {
      if (this.#closed) return;
      void this.sweep().finally(() => {
        if (!this.#closed) this.#sweepTimer = this.#clock.setTimer(SWEEP_INTERVAL_MS, tick);
      });
    };
    this.#sweepTimer = this.#clock.setTimer(SWEEP_INTERVAL_MS, tick);
  }

  /** Removes what expired: records at every call, messages and tombstones every PRUNE_INTERVAL_MS. */
  async sweep(): Promise<void> {
    const now = this.#clock.now();
    // [DIR-HOLD-7] bounded work per tick: at most 16 budgets; what is left goes at the next tick.
    for (let pass = 0; pass < 16; pass++) {
      if (this.directory.sweep(now, DEFAULT_SWEEP_BUDGET) < DEFAULT_SWEEP_BUDGET) break;
    }
    if (now - this.#lastPrune >= PRUNE_INTERVAL_MS) {
      this.#lastPrune = now;
      try {
        await this.offline.prune(now, 10_000);
      } catch (e) {
        this.#log?.('prune-failed', { error: String(e) });
      }
    }
  }

  close(): void {
    this.#closed = true;
    this.#sweepTimer?.cancel();
    this.#unsubscribe();
  }

  /** The channel of `session` closed: its attachment ends ([SN-KEEP-2]). */
  closed(session: Session): void {
    this.attachments.detach(session);
  }

  /** Handles one request of `session`; refusals are thrown as ParleyErrors (the runner maps them). */
  async handle(session: Session, packet: Packet): Promise<CoreAction> {
    const { body, requestId } = packet;
    if (body.case === 'attach') return this.#attach(session, requestId, body.value.standby ? 'standby' : 'active');
    const fromNode = session.kind === 'node';
    // [SN-ATTACH-7] a node's requests other than Attach need an active attachment on the channel.
    if (fromNode && session.attachment !== 'active') {
      throw refusedWith(ErrorCode.NOT_AUTHORIZED, 'attach first');
    }
    switch (body.case) {
      case 'publishPresence':
        return reply(requestId, {
          case: 'publishPresenceReply',
          value: await this.#publish(session, body.value),
        });
      case 'lookupPresence':
        return reply(requestId, { case: 'lookupPresenceReply', value: await this.#lookup(session, body.value) });
      case 'storeMessage':
        return reply(requestId, { case: 'storeMessageReply', value: await this.#store(session, body.value) });
      case 'fetchMessages':
        return reply(requestId, { case: 'fetchMessagesReply', value: await this.#fetch(session, body.value) });
      case 'ackMessages':
        return reply(requestId, { case: 'ackMessagesReply', value: await this.#ack(session, body.value) });
      case 'replicatePresence':
        // [SN-OVER-7] replication is between supernodes only.
        if (fromNode) throw refusedWith(ErrorCode.NOT_AUTHORIZED, 'ReplicatePresence on a node channel');
        return reply(requestId, {
          case: 'replicatePresenceReply',
          value: { accepted: this.#replicatePresence(body.value.records) },
        });
      case 'replicateMessages':
        if (fromNode) throw refusedWith(ErrorCode.NOT_AUTHORIZED, 'ReplicateMessages on a node channel');
        return reply(requestId, {
          case: 'replicateMessagesReply',
          value: { accepted: await this.#replicateMessages(body.value.messages) },
        });
      default:
        // [SN-OVER-7] a body this chapter does not accept from a peer (a response, a login-server body).
        throw refusedWith(ErrorCode.NOT_AUTHORIZED, `${body.case} is not a supernode request`);
    }
  }

  // ---- Attachment, 07 §3 ------------------------------------------------------------------------------

  #attach(session: Session, requestId: number, mode: AttachMode): CoreAction {
    // [SN-ATTACH-2] only nodes attach.
    if (session.kind !== 'node') throw refusedWith(ErrorCode.NOT_AUTHORIZED, 'Attach on a supernode channel');
    const outcome = this.attachments.attach(session, mode);
    if (outcome.kind === 'full') return this.#redirect(requestId);
    // [SN-ATTACH-5] one attachment per (user, device): the older channel is closed with CONFLICT.
    outcome.replaced?.close(ErrorCode.CONFLICT, 'replaced by a newer attachment of this device');
    // [SN-ATTACH-4]
    return reply(requestId, {
      case: 'attachReply',
      value: {
        attached: {
          keepaliveIntervalMs: this.limits.keepaliveIntervalMs,
          observed: wireEndpoint(session.observed),
          listEpoch: this.#state.epoch,
        },
      },
    });
  }

  /**
   * [SN-BUSY-1] [SN-BUSY-2] At capacity: a Redirect naming up to `redirectCount` other supernodes of the
   * current list, lowest load first; [SN-BUSY-3] BUSY with a retry hint when the list names no other.
   */
  #redirect(requestId: number): CoreAction {
    const others = this.redirectCandidates();
    if (others.length === 0) {
      return reply(requestId, {
        case: 'error',
        value: {
          code: ErrorCode.BUSY,
          detail: 'at capacity',
          retryAfterMs: BUSY_RETRY_AFTER_MS,
          retryJitterMs: BUSY_RETRY_JITTER_MS,
        },
      });
    }
    return reply(requestId, {
      case: 'attachReply',
      value: { redirect: { supernodeKeyIds: others.map((e) => e.keyId), listEpoch: this.#state.epoch } },
    });
  }

  /** The supernodes a Redirect names: others of the list, by load then key id, at most `redirectCount`. */
  redirectCandidates(): SupernodeListEntry[] {
    return this.#state.list.entries
      .filter((e) => !bytesEqual(e.keyId, this.#self))
      .sort((a, b) => a.loadPercent - b.loadPercent || compareBytes(a.keyId, b.keyId))
      .slice(0, this.limits.redirectCount);
  }

  // ---- Verification -------------------------------------------------------------------------------------

  #trust(nowMs: number): SupernodeObjectTrust {
    const policy = this.#state.policy;
    return {
      trustAnchors: this.#anchors,
      loginCertificates: this.#state.loginCertificates,
      nowMs,
      ...(policy !== undefined ? { skewMs: policy.certClockSkewMs } : {}),
      isRevoked: this.#state.isRevokedSerial,
      cache: this.#cache,
    };
  }

  #verifyPresence(envelope: PacketBodies['publishPresence']['presence']): VerifiedPresence {
    if (envelope === undefined) throw new DecodeError(ErrorCode.MISSING_FIELD, 'PublishPresence.presence');
    return verifyPresenceEnvelope(this.#suite, envelope, this.#trust(this.#clock.now()));
  }

  /**
   * [STORE-REPL-4] A message is verified with its certificate judged at the message's created_at (no later
   * than now): it was signed then, and a message is kept for longer than a user certificate is valid.
   */
  #verifyMessage(envelope: PacketBodies['storeMessage']['message'], at: 'now' | 'created'): VerifiedOfflineMessage {
    if (envelope === undefined) throw new DecodeError(ErrorCode.MISSING_FIELD, 'StoreMessage.message');
    const now = this.#clock.now();
    let nowMs = now;
    if (at === 'created') {
      const unverified = decodeOfflineMessage(decodeSigned(envelope.message).body, this.#offlineOptions());
      nowMs = Math.min(now, unverified.createdAt);
    }
    const m = verifyOfflineEnvelope(this.#suite, envelope, this.#trust(nowMs), this.#offlineOptions());
    // [STORE-EXP-1] judged at an earlier time, the message must still be unexpired now.
    if (m.expiresAt <= now) throw new ProtocolViolation(ErrorCode.TOO_OLD, 'OfflineMessage: expired');
    return m;
  }

  /** [STORE-MSG-7] The policy's offline lifetime bounds a message's (default 30 days). */
  #offlineOptions(): { maxLifetimeMs: number } | undefined {
    const maxLifetimeMs = this.#state.policy?.directory.offlineLifetimeMs;
    return maxLifetimeMs !== undefined ? { maxLifetimeMs } : undefined;
  }

  // ---- Placement and forwarding, 07 §4 and §9 ------------------------------------------------------------

  #makeView(): SupernodeView {
    return SupernodeView.fromList(
      { version: this.#state.epoch, entries: this.#state.list.entries },
      this.#self,
      this.#state.replicationFactor,
    );
  }

  /** True when this supernode holds `name`'s records or messages under the current list (responsible or fallback). */
  #holdsFor(name: string): boolean {
    const view = this.#view;
    if (view.size === 0) return true; // no list yet: this supernode is all there is
    return view.role(name) !== 'none';
  }

  /**
   * [SN-OVER-3] [DIR-HAND-5] Runs `local` here and `remote` at the other supernodes `name` is placed on,
   * in parallel: the first k of its rendezvous order not known to be down; a supernode that cannot be
   * reached is marked down and the next of the fallback range is tried in its place.
   */
  async #fanout<T>(
    name: string,
    local: () => Promise<T> | T,
    remote: (keyId: Uint8Array) => Promise<T>,
  ): Promise<Fanout<T>> {
    const view = this.#view;
    // No list yet: this supernode is all there is.
    if (view.size === 0) return this.#one(this.#self, local);
    const candidates = view.candidates(name).filter((id) => bytesEqual(id, this.#self) || this.health.isUp(id));
    const k = Math.min(view.k, candidates.length);
    let next = k;
    const results: Fanout<T>['results'][number][] = [];
    const errors: unknown[] = [];
    const attempt = async (keyId: Uint8Array): Promise<void> => {
      const isSelf = bytesEqual(keyId, this.#self);
      try {
        results.push({ keyId, value: isSelf ? await local() : await remote(keyId) });
      } catch (e) {
        if (!isSelf && unreachable(e)) {
          const alt = candidates[next++];
          if (alt !== undefined) return attempt(alt);
        }
        errors.push(e);
      }
    };
    await Promise.all(candidates.slice(0, k).map(attempt));
    return { results, errors };
  }

  async #one<T>(keyId: Uint8Array, f: () => Promise<T> | T): Promise<Fanout<T>> {
    try {
      return { results: [{ keyId, value: await f() }], errors: [] };
    } catch (e) {
      return { results: [], errors: [e] };
    }
  }

  /** Sends `body` to the supernode `keyId`; the reply's value, or the refusal / failure thrown. */
  async #forward<K extends keyof PacketBodies>(
    keyId: Uint8Array,
    body: PacketBody,
    expected: K,
  ): Promise<PacketBodies[K]> {
    this.stats.forwarded++;
    let p: Packet;
    try {
      p = await this.#peers.request(keyId, body, this.limits.forwardTimeoutMs);
    } catch (e) {
      this.stats.forwardFailures++;
      this.health.markDown(keyId, this.#clock.now());
      throw e;
    }
    if (this.health.markUp(keyId, this.#clock.now())) this.#recovered(keyId);
    if (p.body.case === 'error') throw errorFromReply(p.body.value);
    if (p.body.case !== expected) {
      throw new ProtocolViolation(ErrorCode.UNEXPECTED_MESSAGE, `expected ${expected}, got ${p.body.case}`);
    }
    return p.body.value as PacketBodies[K];
  }

  /** The first refusal among `errors` to pass on to a node, else BUSY (no responsible supernode answered). */
  #failure(errors: unknown[], what: string): never {
    const refusal = errors.find((e) => isParleyError(e) && e.code >= 800 && e.code < 900);
    if (refusal !== undefined) throw refusal;
    throw new ResourceError(ErrorCode.BUSY, `${what}: no responsible supernode could take it`);
  }

  // ---- Directory, 07 §5-6 --------------------------------------------------------------------------------

  async #publish(
    session: Session,
    value: PacketBodies['publishPresence'],
  ): Promise<PacketBodies['publishPresenceReply']> {
    // [DIR-PUB-3] verified before it is stored or forwarded (DIR-REC-4).
    const record = this.#verifyPresence(value.presence);
    const now = this.#clock.now();
    if (session.kind === 'supernode') {
      // [DIR-PUB-5] [SN-OVER-3] one hop: stored here or refused, never forwarded again.
      if (!this.#holdsFor(record.username)) throw refusedWith(ErrorCode.NOT_RESPONSIBLE, record.username);
      this.directory.offer(record, now);
      return { sequence: record.sequence, replicas: 1 };
    }
    // [DIR-PUB-1] a node publishes its own device's record only.
    if (record.username !== session.username || !bytesEqual(record.deviceId, session.deviceId)) {
      throw refusedWith(ErrorCode.NOT_AUTHORIZED, "not the record of this channel's device");
    }
    // [DIR-PUB-2] the record names this supernode as the device's home.
    if (!bytesEqual(record.homeSupernode, this.#self)) {
      throw refusedWith(ErrorCode.NOT_AUTHORIZED, 'home_supernode is not this supernode');
    }
    // [DIR-PUB-4] stored here when responsible, and written to the other responsible supernodes.
    const out = await this.#fanout(
      record.username,
      () => this.directory.offer(record, now) !== undefined,
      (keyId) =>
        this.#forward(
          keyId,
          { case: 'publishPresence', value: { presence: value.presence } },
          'publishPresenceReply',
        ).then(() => true),
    );
    if (out.results.length === 0) this.#failure(out.errors, 'PublishPresence');
    return { sequence: record.sequence, replicas: out.results.length };
  }

  async #lookup(session: Session, value: PacketBodies['lookupPresence']): Promise<PacketBodies['lookupPresenceReply']> {
    const name = normaliseLookupName(value.username);
    const now = this.#clock.now();
    const local = () => this.directory.lookup(name, now).map(presenceParts);
    // [DIR-LOOK-1] [SN-OVER-3] from a supernode: what is held here, never forwarded.
    if (session.kind === 'supernode') return { records: local() };
    // [SN-OVER-5] from a node: this supernode's holdings when it holds any, else the responsible
    // supernodes in rendezvous order, the first that holds records answering.
    const view = this.#view;
    if (view.size === 0 || view.role(name) !== 'none') {
      const held = local();
      if (held.length > 0) return { records: held };
    }
    for (const keyId of view.candidates(name)) {
      if (bytesEqual(keyId, this.#self) || !this.health.isUp(keyId)) continue;
      try {
        const r = await this.#forward(
          keyId,
          { case: 'lookupPresence', value: { username: name } },
          'lookupPresenceReply',
        );
        if (r.records.length > 0) return { records: r.records.slice(0, MAX_PRESENCE_DEVICES) };
      } catch (e) {
        this.#log?.('lookup-forward-failed', { peer: keyHex(keyId).slice(0, 16), error: String(e) });
      }
    }
    return { records: [] };
  }

  /** [DIR-PUB-6] Records handed over by another supernode: each verified, kept when placed here. */
  #replicatePresence(records: PacketBodies['replicatePresence']['records']): number {
    let accepted = 0;
    const now = this.#clock.now();
    for (const envelope of records.slice(0, MAX_REPLICATE_BATCH)) {
      try {
        const r = verifyPresenceEnvelope(this.#suite, envelope, this.#trust(now));
        if (!this.#holdsFor(r.username)) continue;
        this.directory.offer(r, now);
        accepted++;
      } catch (e) {
        // A record that fails verification, or is stale here, is not kept; the others are.
        if (!isParleyError(e)) throw e;
        if (e.code === ErrorCode.STALE) accepted++;
      }
    }
    return accepted;
  }

  // ---- Offline store, 07 §7-8 ----------------------------------------------------------------------------

  async #store(session: Session, value: PacketBodies['storeMessage']): Promise<PacketBodies['storeMessageReply']> {
    const m = this.#verifyMessage(value.message, 'now');
    const now = this.#clock.now();
    if (session.kind === 'supernode') {
      // [STORE-REPL-2] [SN-OVER-3] one hop.
      if (!this.#holdsFor(m.recipient)) throw refusedWith(ErrorCode.NOT_RESPONSIBLE, m.recipient);
      await this.offline.put(m, now);
      return { replicas: 1 };
    }
    // [SN-OVER-8] a node stores messages it sent, from the device of its channel.
    if (m.sender !== session.username || !bytesEqual(m.senderDeviceId, session.deviceId)) {
      throw refusedWith(ErrorCode.NOT_AUTHORIZED, "not a message of this channel's device");
    }
    // [STORE-REPL-1] stored at every responsible supernode.
    const out = await this.#fanout(
      m.recipient,
      () => this.offline.put(m, now).then(() => true),
      (keyId) =>
        this.#forward(keyId, { case: 'storeMessage', value: { message: value.message } }, 'storeMessageReply').then(
          () => true,
        ),
    );
    if (out.results.length === 0) this.#failure(out.errors, 'StoreMessage');
    return { replicas: out.results.length };
  }

  /** [SN-OVER-3] The recipient another supernode names: required, a normalised user name. */
  #recipientOf(recipient: string, field: string): string {
    if (recipient === '') throw new DecodeError(ErrorCode.MISSING_FIELD, field);
    if (!isNormalisedUsername(recipient)) throw refusedWith(ErrorCode.USERNAME_INVALID, field);
    return recipient;
  }

  /** [SN-OVER-6] max_messages 0 or above 64 is taken as 64. */
  #fetchMax(max: number): number {
    return max < 1 || max > MAX_FETCH_MESSAGES ? MAX_FETCH_MESSAGES : max;
  }

  async #fetch(session: Session, value: PacketBodies['fetchMessages']): Promise<PacketBodies['fetchMessagesReply']> {
    const max = this.#fetchMax(value.maxMessages);
    const now = this.#clock.now();
    const localFetch = async (recipient: string) => {
      const r = await this.offline.fetch(recipient, max, now, REPLY_BUDGET_BYTES);
      return { messages: r.messages.map((m) => messageParts(m.envelope)), more: r.more };
    };
    if (session.kind === 'supernode') {
      // [SN-OVER-3] another supernode's fetch: the named recipient's messages held here.
      return localFetch(this.#recipientOf(value.recipient, 'FetchMessages.recipient'));
    }
    // [SN-OVER-6] a node fetches its own messages from every responsible supernode; the answers are merged.
    const recipient = session.username;
    const out = await this.#fanout(
      recipient,
      () => localFetch(recipient),
      (keyId) =>
        this.#forward(keyId, { case: 'fetchMessages', value: { maxMessages: max, recipient } }, 'fetchMessagesReply'),
    );
    if (out.results.length === 0) this.#failure(out.errors, 'FetchMessages');
    const seen = new Set<string>();
    const merged: {
      envelope: PacketBodies['fetchMessagesReply']['messages'][number];
      createdAt: number;
      key: string;
      size: number;
    }[] = [];
    let more = false;
    for (const r of out.results) {
      more ||= r.value.more;
      for (const e of r.value.messages) {
        const key = `${bytesKey(e.certificate)}.${bytesKey(e.message)}`;
        if (seen.has(key)) continue;
        seen.add(key);
        let createdAt = Number.MAX_SAFE_INTEGER;
        try {
          createdAt = decodeOfflineMessage(decodeSigned(e.message).body, this.#offlineOptions()).createdAt;
        } catch {
          // An undecodable envelope from a peer is passed on last; the node's verification discards it.
        }
        merged.push({ envelope: e, createdAt, key, size: e.certificate.length + e.message.length + 16 });
      }
    }
    merged.sort((a, b) => a.createdAt - b.createdAt || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const messages: PacketBodies['fetchMessagesReply']['messages'][number][] = [];
    let bytes = 0;
    for (const m of merged) {
      if (messages.length >= max || (messages.length > 0 && bytes + m.size > REPLY_BUDGET_BYTES)) {
        more = true;
        break;
      }
      messages.push(m.envelope);
      bytes += m.size;
    }
    return { messages, more };
  }

  async #ack(session: Session, value: PacketBodies['ackMessages']): Promise<PacketBodies['ackMessagesReply']> {
    const now = this.#clock.now();
    // A reference that cannot name a message held (not a user name, not a 16-byte id) names none: ignored.
    const refs = value.messages
      .filter((r) => r.messageId.length === MESSAGE_ID_BYTES && isNormalisedUsername(r.sender))
      .map((r) => ({ sender: r.sender, messageId: r.messageId }));
    if (session.kind === 'supernode') {
      const recipient = this.#recipientOf(value.recipient, 'AckMessages.recipient');
      return { deleted: refs.length === 0 ? 0 : await this.offline.ack(recipient, refs, now) };
    }
    if (refs.length === 0) return { deleted: 0 };
    // [SN-OVER-6] acknowledged at every responsible supernode (each keeps a tombstone, STORE-ACK-3).
    const recipient = session.username;
    const out = await this.#fanout(
      recipient,
      () => this.offline.ack(recipient, refs, now).then((deleted) => ({ deleted })),
      (keyId) =>
        this.#forward(
          keyId,
          { case: 'ackMessages', value: { messages: value.messages, recipient } },
          'ackMessagesReply',
        ),
    );
    if (out.results.length === 0) this.#failure(out.errors, 'AckMessages');
    return { deleted: Math.max(0, ...out.results.map((r) => r.value.deleted)) };
  }

  /** [STORE-REPL-4] Messages handed over by another supernode: each verified, kept when placed here. */
  async #replicateMessages(messages: PacketBodies['replicateMessages']['messages']): Promise<number> {
    let accepted = 0;
    for (const envelope of messages.slice(0, MAX_REPLICATE_BATCH)) {
      let m: VerifiedOfflineMessage;
      try {
        m = this.#verifyMessage(envelope, 'created');
      } catch (e) {
        if (!isParleyError(e)) throw e;
        continue;
      }
      if (!this.#holdsFor(m.recipient)) continue;
      try {
        await this.offline.put(m, this.#clock.now());
        accepted++;
      } catch (e) {
        if (!isParleyError(e)) throw e;
      }
    }
    return accepted;
  }

  // ---- List changes: handoff and re-replication, 07 §9 -----------------------------------------------

  #onStateChange(what: 'list' | 'policy' | 'revocations'): void {
    if (what === 'revocations') {
      // [DIR-HOLD-8] records signed under a revoked certificate are dropped.
      this.directory.dropRevoked(this.#state.isRevokedSerial);
      return;
    }
    if (what === 'policy') this.#applyPolicyQuotas();
    const old = this.#view;
    const next = this.#makeView();
    if (old.epoch === next.epoch && old.k === next.k) return;
    this.#view = next;
    this.health.prune((hex) => next.has(hex));
    // [DIR-HAND-1..3] [STORE-REPL-3] hand records and messages to the newly responsible supernodes.
    this.#handoff = this.#handoff
      .then(() => this.#handOff(old, next))
      .catch((e) => {
        this.#log?.('handoff-failed', { error: String(e) });
      });
  }

  /** [STORE-QUOTA-5] The offline store takes the quotas of the policy held (06 §8.3 `directory`). */
  #applyPolicyQuotas(): void {
    const d = this.#state.policy?.directory;
    if (d === undefined) return;
    this.offline.setQuotas({
      maxMessagesPerRecipient: d.offlineMessagesPerRecipient,
      maxBytesPerRecipient: d.offlineBytesPerRecipient,
      maxMessagesPerSender: d.offlineMessagesPerSender,
    });
  }

  async #handOff(old: SupernodeView, next: SupernodeView): Promise<void> {
    if (this.#closed || next.size === 0) return;
    this.stats.handoffs++;
    const oldView = old.size === 0 ? undefined : old;
    // Records.
    const plan = planHandoff(oldView, next, this.directory.names());
    await Promise.all([...plan.sends.values()].map((t) => this.#sendRecords(t.keyId, t.names)));
    // [DIR-HAND-3] once the sends completed or failed: records expire within minutes and devices refresh.
    for (const name of plan.drop) this.directory.drop(name);
    // Messages. [STORE-REPL-3] dropped only once handed over: a message may be held for weeks.
    const now = this.#clock.now();
    const recipients: string[] = [];
    for (let after: string | undefined; ; ) {
      const page = await this.offline.recipients(after, 1_000, now);
      recipients.push(...page);
      if (page.length < 1_000) break;
      after = page[page.length - 1];
    }
    const mplan = planHandoff(oldView, next, recipients);
    const failedRecipients = new Set<string>();
    await Promise.all(
      [...mplan.sends.values()].map(async (t) => {
        for (const r of t.names) if (!(await this.#sendMessages(t.keyId, r))) failedRecipients.add(r);
      }),
    );
    for (const r of mplan.drop) if (!failedRecipients.has(r)) await this.offline.remove(r);
  }

  /** [DIR-HAND-6] [STORE-REPL-5] A peer known down answered again: it gets what it is responsible for. */
  #recovered(keyId: Uint8Array): void {
    const view = this.#view;
    this.#handoff = this.#handoff
      .then(async () => {
        await this.#sendRecords(keyId, planRecovery(view, keyId, this.directory.names()));
        const now = this.#clock.now();
        const recipients = await this.offline.recipients(undefined, 10_000, now);
        for (const r of planRecovery(view, keyId, recipients)) await this.#sendMessages(keyId, r);
      })
      .catch((e) => this.#log?.('recovery-failed', { error: String(e) }));
  }

  /** Sends the records of `names` to `keyId` in ReplicatePresence batches; false when a batch failed. */
  async #sendRecords(keyId: Uint8Array, names: readonly string[]): Promise<boolean> {
    const now = this.#clock.now();
    let batch: { certificate: Uint8Array; record: Uint8Array }[] = [];
    let bytes = 0;
    let ok = true;
    const flush = async () => {
      if (batch.length === 0) return;
      const records = batch;
      batch = [];
      bytes = 0;
      try {
        await this.#forward(keyId, { case: 'replicatePresence', value: { records } }, 'replicatePresenceReply');
        this.stats.handedOffRecords += records.length;
      } catch (e) {
        ok = false;
        this.#log?.('handoff-send-failed', { peer: keyHex(keyId).slice(0, 16), error: String(e) });
      }
    };
    for (const name of names) {
      for (const envelope of this.directory.lookup(name, now)) {
        if (batch.length >= MAX_REPLICATE_BATCH || bytes + envelope.length > REPLY_BUDGET_BYTES) await flush();
        batch.push(presenceParts(envelope));
        bytes += envelope.length + 8;
      }
    }
    await flush();
    return ok;
  }

  /** Sends `recipient`'s messages to `keyId` in ReplicateMessages batches; false when a batch failed. */
  async #sendMessages(keyId: Uint8Array, recipient: string): Promise<boolean> {
    let after: { sender: string; messageId: Uint8Array } | undefined;
    for (;;) {
      const now = this.#clock.now();
      const page: StoredOfflineMessage[] = await this.offline.scan(recipient, after, MAX_REPLICATE_BATCH, now);
      if (page.length === 0) return true;
      const messages: { certificate: Uint8Array; message: Uint8Array }[] = [];
      let bytes = 0;
      for (const m of page) {
        if (messages.length > 0 && bytes + m.size > REPLY_BUDGET_BYTES) break;
        messages.push(messageParts(m.envelope));
        bytes += m.size + 8;
        after = { sender: m.sender, messageId: m.messageId };
      }
      try {
        await this.#forward(keyId, { case: 'replicateMessages', value: { messages } }, 'replicateMessagesReply');
        this.stats.handedOffMessages += messages.length;
      } catch (e) {
        this.#log?.('handoff-send-failed', { peer: keyHex(keyId).slice(0, 16), error: String(e) });
        return false;
      }
      if (page.length < MAX_REPLICATE_BATCH && messages.length === page.length) return true;
    }
  }
}
