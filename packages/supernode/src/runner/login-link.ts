/**
 * A supernode's link to its login server (spec/07-supernode.md §4, SN-LOGIN-*; the server's side is
 * 06 §9, LOGIN-SN-*): a LoginClient on a channel certified with this supernode's ROLE_SUPERNODE
 * certificate, which
 *   1. registers the supernode's endpoints and capacity (SupernodeRegister) [SN-LOGIN-1];
 *   2. fetches and verifies the policy, the supernode list and the revocation list, and again whenever
 *      a heartbeat reply names a newer version of one of them [SN-LOGIN-3];
 *   3. reports its load (attachments held) at the interval the server gives [SN-LOGIN-2];
 *   4. when the channel fails or a request fails, reconnects after a backoff of 1 s doubling to 5 min,
 *      with full jitter (a uniform draw below the bound), on the injected clock and randomness
 *      [SN-LOGIN-4]; a successful registration resets the backoff.
 * What it learns goes into the NetworkState, which the supernode reads.
 */

import { LoginClient, type StateVersions, type VerifiedList } from '@parley/login-server/client';
import type { Clock, NetAddress, Random, Timer, Transport } from '@parley/net';
import { type CryptoSuite, isParleyError, type LocalIdentity, type SupernodeListEntry } from '@parley/wire';
import type { WireEndpoint } from '../core/endpoint.js';
import type { NetworkState } from '../core/network-state.js';

/** [SN-LOGIN-4] The first reconnection delay bound, and the largest. */
export const LOGIN_BACKOFF_BASE_MS = 1_000;
export const LOGIN_BACKOFF_MAX_MS = 5 * 60_000;

/** [SN-LOGIN-4] The bound of the `attempt`-th consecutive backoff (attempt 0 first): 1 s doubling to 5 min. */
export function backoffBoundMs(attempt: number): number {
  return Math.min(LOGIN_BACKOFF_MAX_MS, LOGIN_BACKOFF_BASE_MS * 2 ** Math.min(attempt, 30));
}

export interface LoginLinkOptions {
  readonly transport: Transport;
  readonly suite: CryptoSuite;
  readonly server: NetAddress;
  readonly trustAnchors: Uint8Array[];
  /** This supernode's ROLE_SUPERNODE chain and seed. */
  readonly identity: LocalIdentity;
  readonly state: NetworkState;
  /** The endpoints registered (1 to 8). */
  readonly endpoints: () => readonly WireEndpoint[];
  readonly capacity: number;
  /** The load reported in each heartbeat (attachments held). */
  readonly load: () => number;
  readonly software?: string;
  /** Randomness of the jitter; default the transport's. */
  readonly random?: Random;
  readonly log?: (event: string, fields: Record<string, unknown>) => void;
}

export type LoginLinkStatus = 'connecting' | 'registered' | 'backoff' | 'closed';

export class LoginLink {
  readonly #o: LoginLinkOptions;
  readonly #clock: Clock;
  readonly #random: Random;
  #client: LoginClient | undefined;
  #timer: Timer | undefined;
  #attempt = 0;
  #status: LoginLinkStatus = 'connecting';
  #heartbeatMs = 0;
  #closed = false;
  /** Heartbeats answered, registrations made, reconnections scheduled (tests, status). */
  readonly stats = { registrations: 0, heartbeats: 0, failures: 0, lastBackoffMs: 0 };
  #registered: Array<() => void> = [];

  constructor(options: LoginLinkOptions) {
    this.#o = options;
    this.#clock = options.transport.clock;
    this.#random = options.random ?? options.transport.random;
  }

  get status(): LoginLinkStatus {
    return this.#status;
  }
  /** The heartbeat interval the server gave, 0 before the first registration. */
  get heartbeatIntervalMs(): number {
    return this.#heartbeatMs;
  }

  /** Starts connecting; resolves once registered for the first time. */
  start(): Promise<void> {
    const registered = new Promise<void>((resolve) => this.#registered.push(resolve));
    void this.#connect();
    return registered;
  }

  /** Resolves the next time the supernode is registered (now, if it is). */
  whenRegistered(): Promise<void> {
    if (this.#status === 'registered') return Promise.resolve();
    return new Promise((resolve) => this.#registered.push(resolve));
  }

  async #connect(): Promise<void> {
    if (this.#closed) return;
    this.#status = 'connecting';
    const o = this.#o;
    let client: LoginClient | undefined;
    try {
      client = await LoginClient.connect({
        transport: o.transport,
        server: o.server,
        suite: o.suite,
        trustAnchors: o.trustAnchors,
        identity: o.identity,
        ...(o.software !== undefined ? { software: o.software } : {}),
        onClosed: (reason) => {
          if (this.#client === client && !this.#closed) {
            o.log?.('login-channel-closed', { code: reason.code, local: reason.local });
            this.#fail(new Error(`login channel closed (${reason.code ?? 'no code'})`));
          }
        },
      });
      if (this.#closed) {
        client.close();
        return;
      }
      this.#client = client;
      // [SN-LOGIN-1]
      const r = await client.supernodeRegister(o.endpoints(), o.capacity);
      this.#heartbeatMs = r.heartbeatIntervalMs;
      await this.#refresh(client, r.versions);
      if (this.#client !== client) return;
      this.#status = 'registered';
      this.#attempt = 0;
      this.stats.registrations++;
      o.log?.('registered', { heartbeatIntervalMs: r.heartbeatIntervalMs, epoch: o.state.epoch });
      for (const w of this.#registered.splice(0)) w();
      this.#scheduleHeartbeat(client);
    } catch (error) {
      if (client === undefined || this.#client === client) this.#fail(error);
      else client.close();
    }
  }

  #scheduleHeartbeat(client: LoginClient): void {
    if (this.#closed) return;
    this.#timer = this.#clock.setTimer(this.#heartbeatMs, () => {
      void this.#heartbeat(client);
    });
  }

  async #heartbeat(client: LoginClient): Promise<void> {
    if (this.#client !== client || this.#closed) return;
    try {
      // [SN-LOGIN-2]
      const versions = await client.supernodeHeartbeat(this.#o.load());
      this.stats.heartbeats++;
      await this.#refresh(client, versions);
      if (this.#client === client) this.#scheduleHeartbeat(client);
    } catch (error) {
      if (this.#client === client) this.#fail(error);
    }
  }

  /** [SN-LOGIN-3] Fetches each object the server holds a newer version of than the state does. */
  async #refresh(client: LoginClient, v: StateVersions): Promise<void> {
    const { state } = this.#o;
    if (state.policy === undefined || v.policyVersion > state.policy.version) {
      const p = await client.getPolicy(state.policy?.version ?? 0);
      if (p !== 'unchanged') state.setPolicy(p);
    }
    if (v.revocationListNumber > state.revocationNumber) {
      const r = await client.getRevocationList(state.revocationNumber);
      if (r !== 'unchanged') state.setRevocations(r.version, r.entries, r.loginCertificates);
    }
    if (v.supernodeListEpoch > state.epoch) {
      const l: VerifiedList<SupernodeListEntry> | 'unchanged' = await client.getSupernodeList(state.epoch);
      if (l !== 'unchanged') {
        state.setLoginCertificates([...l.loginCertificates, ...state.loginCertificates]);
        state.setList({ epoch: l.version, issuedAtMs: l.issuedAtMs, expiresAtMs: l.expiresAtMs, entries: l.entries });
      }
    }
  }

  /** [SN-LOGIN-4] Drops the channel and tries again after the backoff. */
  #fail(error: unknown): void {
    if (this.#closed) return;
    const client = this.#client;
    this.#client = undefined;
    this.#timer?.cancel();
    client?.close();
    this.stats.failures++;
    const bound = backoffBoundMs(this.#attempt++);
    const delay = Math.floor(this.#random.float() * bound);
    this.stats.lastBackoffMs = delay;
    this.#status = 'backoff';
    this.#o.log?.('login-failed', {
      error: isParleyError(error) ? `${error.name} ${error.code}` : String(error),
      retryInMs: delay,
      attempt: this.#attempt,
    });
    this.#timer = this.#clock.setTimer(delay, () => {
      void this.#connect();
    });
  }

  close(): void {
    this.#closed = true;
    this.#status = 'closed';
    this.#timer?.cancel();
    const client = this.#client;
    this.#client = undefined;
    client?.close();
  }
}
