/**
 * Fixtures for the core/runner tests: a network (root, login key and certificate), certificates for
 * supernodes and users issued straight by the login key, supernodes (the runner) on hosts of the
 * deterministic simulator with one verified list set on every supernode's NetworkState (no login server
 * needed; the login-link tests run a real one), and nodes (SupernodeClient) on other hosts.
 *
 * Time. The simulator starts at 0; certificates need unix time, so every host's Transport is given a
 * clock shifted to T0 (`epochTransport`). Driving: `settle` alternates a macrotask turn (pending promise
 * chains finish) with one simulator event, so simulated time passes only while nothing is in progress.
 */

import { epochTransport as epochAt, settle } from '@parley/login-server/testing';
import type {
  FirewallConfig,
  MiddleboxHandle,
  NatBehaviour,
  NetAddress,
  PortAllocation,
  SimHost,
  Transport,
} from '@parley/net';
import { Simulator } from '@parley/net';
import {
  createNetworkKeys,
  decodeCertificate,
  decodeSigned,
  derivePlacementKey,
  generateSigningKey,
  issueCertificate,
  keyId,
  type LocalIdentity,
  nodeCrypto,
  PresenceStatus,
  type Random,
  Role,
  type RootKey,
  type SigningKey,
  type SupernodeListEntry,
  seededRandom,
  signOfflineMessage,
  signPresenceRecord,
  type VerifiedPresence,
  verifyPresenceEnvelope,
} from '@parley/wire';
import type { SupernodeLimits } from '../core/limits.js';
import { NetworkState } from '../core/network-state.js';
import { SupernodeClient, type SupernodeClientOptions } from '../runner/node-client.js';
import { Supernode, type SupernodeOptions } from '../runner/supernode.js';

export const suite = nodeCrypto;
export const T0 = Date.UTC(2026, 10, 22, 12, 0, 0);
export const HOUR = 3_600_000;
export const SN_PORT = 7500;

export interface TestNetwork {
  root: RootKey;
  login: SigningKey;
  loginCertificate: Uint8Array;
  random: Random;
}

export function testNetwork(seed = 'supernode tests'): TestNetwork {
  const random = seededRandom(seed);
  const { root, login, loginCertificate } = createNetworkKeys(suite, random, {
    subject: 'login.test',
    notBefore: T0 - 30 * 24 * HOUR,
    notAfter: T0 + 365 * 24 * HOUR,
  });
  return { root, login, loginCertificate, random };
}

let serial = 1000;

/** A certificate chain [leaf, login] for `role`, with a fresh key; `serial` is returned for revocation tests. */
export function certified(
  net: TestNetwork,
  role: Role,
  subject: string,
  deviceByte: number,
  o: { notBefore?: number; notAfter?: number } = {},
): LocalIdentity & { keyId: Uint8Array; serial: number; deviceId: Uint8Array } {
  const key = generateSigningKey(suite, net.random);
  const deviceId = new Uint8Array(16).fill(deviceByte);
  const s = ++serial;
  const cert = issueCertificate(suite, net.login, {
    subject,
    subjectKey: key.publicKey,
    deviceId,
    role,
    serial: s,
    notBefore: o.notBefore ?? T0 - HOUR,
    notAfter: o.notAfter ?? T0 + 20 * HOUR,
  });
  return {
    chain: [cert, net.loginCertificate],
    seed: key.seed,
    keyId: keyId(suite, key.publicKey),
    serial: s,
    deviceId,
  };
}

/** `t` with its clock reading unix milliseconds: `epoch` at the clock's `origin` (the simulator's 0). */
export function epochTransport(t: Transport, epoch = T0, origin = 0): Transport {
  return epochAt(t, epoch, origin);
}

export { settle };

/** Runs the simulator for `ms` of simulated time (promise chains settle between events). */
export function advance(sim: Simulator, ms: number): Promise<void> {
  return settle(sim, new Promise<void>((resolve) => sim.schedule(ms, resolve)), ms + 1);
}

export interface SimSupernode {
  supernode: Supernode;
  host: SimHost;
  transport: Transport;
  identity: ReturnType<typeof certified>;
  address: NetAddress;
  log: { event: string; fields: Record<string, unknown> }[];
}

export interface WorldOptions {
  seed?: string;
  supernodes?: number;
  limits?: Partial<SupernodeLimits>;
  /** Replication factor of the policy; default 3. */
  k?: number;
  options?: Partial<SupernodeOptions>;
}

export class World {
  readonly sim: Simulator;
  readonly net: TestNetwork;
  readonly supernodes: SimSupernode[] = [];
  epoch = 0;
  readonly #o: WorldOptions;

  constructor(o: WorldOptions = {}) {
    this.#o = o;
    this.sim = new Simulator({ seed: o.seed ?? 'supernode world' });
    this.net = testNetwork(`${o.seed ?? 'supernode world'} keys`);
  }

  run<T>(p: Promise<T>, timeoutMs?: number): Promise<T> {
    return settle(this.sim, p, timeoutMs);
  }

  /**
   * Adds a supernode (listening on port 7500 of a new host); call `publishList` after adding them. The
   * host's public address is the simulator's next (30.0.0.x: every supernode in one /24) unless `address`
   * is given (08 classification needs supernodes in distinct /24s, e.g. 30.0.1.1, 30.0.2.1, …).
   */
  async addSupernode(
    o: { limits?: Partial<SupernodeLimits>; name?: string; address?: string } = {},
  ): Promise<SimSupernode> {
    const host = this.sim.addHost(o.address !== undefined ? { address: o.address } : {});
    const transport = epochTransport(host);
    const n = this.supernodes.length + 1;
    const identity = certified(this.net, Role.ROLE_SUPERNODE, o.name ?? `sn${n}.test`, 0x80 + n);
    const log: SimSupernode['log'] = [];
    const supernode = new Supernode({
      transport,
      suite,
      identity,
      trustAnchors: [this.net.root.publicKey],
      listen: { address: '0.0.0.0', port: SN_PORT },
      limits: { ...this.#o.limits, ...o.limits },
      log: (event, fields) => log.push({ event, fields }),
      ...this.#o.options,
    });
    await this.run(supernode.start());
    const s: SimSupernode = {
      supernode,
      host,
      transport,
      identity,
      address: { host: host.address, port: SN_PORT },
      log,
    };
    this.supernodes.push(s);
    return s;
  }

  /** The list entries of `members` (default every supernode), with the given load percents. */
  entries(
    members: SimSupernode[] = this.supernodes,
    load: (s: SimSupernode) => number = () => 0,
  ): SupernodeListEntry[] {
    return members.map((s) => ({
      keyId: s.identity.keyId,
      placementKey: derivePlacementKey(suite, this.net.login, s.identity.keyId),
      // TCP (2) and UDP (1, probes and the relay, spec/08) on the same port.
      endpoints: [2, 1].map((protocol) => ({
        protocol,
        address: Uint8Array.from(s.host.address.split('.').map(Number)),
        port: SN_PORT,
      })),
      software: 'parley-ref-supernode/0.1.0',
      loadPercent: load(s),
      hosted: true,
      notAfterMs: T0 + 24 * HOUR,
    }));
  }

  /** Sets one new epoch of the list on every supernode's state (as if each fetched it from the login server). */
  publishList(
    members: SimSupernode[] = this.supernodes,
    load?: (s: SimSupernode) => number,
    to = this.supernodes,
  ): void {
    this.epoch++;
    const entries = this.entries(members, load);
    for (const s of to) {
      s.supernode.state.setList({ epoch: this.epoch, issuedAtMs: T0, expiresAtMs: T0 + HOUR, entries });
    }
  }

  /** A new node host (a Transport on the T0 clock). */
  host(): Transport {
    return epochTransport(this.sim.addHost());
  }

  /**
   * A node host behind a new NAT box of the given RFC 4787 mapping and filtering behaviours (spec/08
   * classification and punching; port preservation unless `portAllocation` says otherwise). `nat.publicHost`
   * is the box's public address: the reflexive address supernodes observe.
   */
  natHost(o: {
    mapping: NatBehaviour;
    filtering: NatBehaviour;
    portAllocation?: PortAllocation;
    publicHost?: string;
    hairpinning?: boolean;
  }): { transport: Transport; host: SimHost; nat: MiddleboxHandle } {
    const nat = this.sim.addNat(o);
    const host = this.sim.addHost({ behind: nat.id });
    return { transport: epochTransport(host), host, nat };
  }

  /** A node host behind a host firewall (e.g. `{ blockUdp: true }`: TCP only); its address is public. */
  firewalledHost(o: Partial<FirewallConfig>): { transport: Transport; host: SimHost; firewall: MiddleboxHandle } {
    const firewall = this.sim.addFirewall(o);
    const host = this.sim.addHost({ behind: firewall.id });
    return { transport: epochTransport(host), host, firewall };
  }

  /** A user's device: a ROLE_USER chain. */
  user(name: string, device = 1): ReturnType<typeof certified> {
    return certified(this.net, Role.ROLE_USER, name, device);
  }

  /** A SupernodeClient from a new host (unless `transport` is given) to `to`. */
  connect(
    to: { readonly address: NetAddress },
    identity: LocalIdentity,
    o: Partial<SupernodeClientOptions> = {},
  ): Promise<SupernodeClient> {
    return this.run(
      SupernodeClient.connect({
        transport: o.transport ?? this.host(),
        suite,
        supernode: to.address,
        trustAnchors: [this.net.root.publicKey],
        identity,
        ...o,
      }),
    );
  }
}

export { NetworkState };

// ---- Records and messages a node signs ------------------------------------------------------------------

export type TestDevice = ReturnType<typeof certified>;

/** A presence envelope of `device` naming `home` as its home supernode. */
export function presenceOf(
  device: TestDevice,
  home: Uint8Array,
  o: { sequence?: number; issuedAt: number; lifetimeMs?: number; status?: number; sealed?: Uint8Array },
): { certificate: Uint8Array; record: Uint8Array } {
  const record = signPresenceRecord(suite, device.seed, {
    username: decodeCertificate(decodeSigned(device.chain[0]!).body).subject,
    deviceId: device.deviceId,
    sequence: o.sequence ?? 1,
    issuedAt: o.issuedAt,
    expiresAt: o.issuedAt + (o.lifetimeMs ?? 10 * 60_000),
    status: o.status ?? PresenceStatus.PRESENCE_STATUS_ONLINE,
    homeSupernode: home,
    sealedEndpoints: o.sealed ?? new Uint8Array(0),
  });
  return { certificate: device.chain[0]!, record };
}

let messageCounter = 0;

/** An offline envelope from `sender` to `recipient`. */
export function messageOf(
  sender: TestDevice,
  recipient: string,
  o: { createdAt: number; lifetimeMs?: number; text?: string; id?: Uint8Array },
): { certificate: Uint8Array; message: Uint8Array; messageId: Uint8Array } {
  const messageId = o.id ?? new Uint8Array(16);
  if (o.id === undefined) new DataView(messageId.buffer).setUint32(12, ++messageCounter);
  const message = signOfflineMessage(suite, sender.seed, {
    messageId,
    sender: decodeCertificate(decodeSigned(sender.chain[0]!).body).subject,
    senderDeviceId: sender.deviceId,
    recipient,
    createdAt: o.createdAt,
    expiresAt: o.createdAt + (o.lifetimeMs ?? 24 * HOUR),
    ciphertext: new TextEncoder().encode(o.text ?? 'hello'),
  });
  return { certificate: sender.chain[0]!, message, messageId };
}

/**
 * A node's verification of a lookup answer ([DIR-LOOK-*] from the client's side): every envelope must
 * verify under the network's root and login certificate and name the user asked for.
 */
export function verifyLookup(
  net: TestNetwork,
  username: string,
  records: readonly { certificate: Uint8Array; record: Uint8Array }[],
  nowMs: number,
): VerifiedPresence[] {
  return records.map((r) => {
    const v = verifyPresenceEnvelope(suite, r, {
      trustAnchors: [net.root.publicKey],
      loginCertificates: [net.loginCertificate],
      nowMs,
    });
    if (v.username !== username) throw new Error(`a record of ${v.username} in the answer for ${username}`);
    return v;
  });
}
