/**
 * A NAT box as a pure model: RFC 4787 (NAT behavioural requirements for unicast UDP) and RFC 5382 (the same
 * for TCP). Described, with the requirements it meets, in spec/05-network.md §5 (NET-NAT-*).
 *
 * - Mapping behaviour (RFC 4787 §4.1): endpoint-independent (EIM), address-dependent (ADM) or
 *   address-and-port-dependent (APDM, "symmetric"). A mapping binds an inside endpoint (and, for ADM/APDM,
 *   a destination host or host:port) to one external port of the box's single public address.
 * - Port assignment (§4.2): 'preserve' (the inside port when it is free, else a port of the same parity,
 *   REQ-4), 'random', or 'sequential'; never port overloading (REQ-3): a live external port belongs to
 *   exactly one mapping.
 * - Refresh (§4.3): every outbound packet refreshes its mapping (REQ-6); inbound packets refresh it only
 *   when configured (REQ-6a). Timeouts per protocol; defaults are the floors of RFC 4787 REQ-5 (UDP, 2 min)
 *   and RFC 5382 REQ-5 (TCP established, 2 h 4 min). Shorter values are allowed, to model boxes that break
 *   those rules.
 * - Filtering (§5): endpoint-independent (EIF), address-dependent (ADF) or address-and-port-dependent
 *   (APDF). Permissions are per mapping and per remote, each with its own idle timer.
 * - Hairpinning (§6): optional; hairpinned packets carry the sender's external address (REQ-9a) and go
 *   through the target mapping's filter.
 *
 * [NET-NAT-14] Deterministic: the result of every call is a function of the configuration, the calls so far and
 * the random stream given at construction (drawn only to allocate ports).
 *
 * Cost: no timers, no clock. State is created lazily (a box that never sent a packet holds no Map), lookups
 * are O(1), and expired state is collected lazily: on lookup, and by amortised sweeps when a table has
 * doubled since the last one — so tens of thousands of boxes stay cheap.
 */
import type { NetAddress } from '../transport.js';
import {
  DEFAULT_TCP_TIMEOUT_MS,
  DEFAULT_UDP_TIMEOUT_MS,
  type FloatSource,
  type Middlebox,
  type Protocol,
} from './middlebox.js';

/** RFC 4787 §4.1 (mapping) and §5 (filtering) behaviours. */
export type NatBehaviour = 'endpoint-independent' | 'address-dependent' | 'address-and-port-dependent';

/** RFC 4787 §4.2: how the box picks the external port of a new mapping. */
export type PortAllocation = 'preserve' | 'random' | 'sequential';

export interface NatConfig {
  /** The box's single public (external) address. */
  readonly publicHost: string;
  /** Default 'endpoint-independent' (RFC 4787 REQ-1). */
  readonly mapping?: NatBehaviour;
  /** Default 'address-and-port-dependent' (what Linux MASQUERADE does). */
  readonly filtering?: NatBehaviour;
  /** Default 'preserve'. */
  readonly portAllocation?: PortAllocation;
  /** Inclusive range of external ports; default [1024, 65535]. */
  readonly portRange?: readonly [number, number];
  /** Idle timeouts in ms; defaults: UDP 120,000 (RFC 4787 REQ-5), TCP 7,440,000 (RFC 5382 REQ-5). */
  readonly timeoutMs?: { readonly udp?: number; readonly tcp?: number };
  /** Whether inbound packets refresh mappings (RFC 4787 REQ-6a, MAY). Default false. Outbound always does (REQ-6). */
  readonly refreshOnInbound?: boolean;
  /** RFC 4787 §6. Default false (many deployed boxes, and plain Linux MASQUERADE, do not hairpin). */
  readonly hairpinning?: boolean;
  /** Live mappings per protocol; a packet that needs one more is dropped. Default: the size of the port range. */
  readonly maxMappings?: number;
}

/** [NET-NAT-15] Named configurations (all but `publicHost`), in the classic STUN (RFC 3489) vocabulary. */
export const NAT_PRESETS = {
  /** EIM + EIF: anyone may send to a mapped port. */
  fullCone: {
    mapping: 'endpoint-independent',
    filtering: 'endpoint-independent',
    portAllocation: 'preserve',
  },
  /** EIM + ADF: a host the inside has sent to may send from any port. */
  restrictedCone: {
    mapping: 'endpoint-independent',
    filtering: 'address-dependent',
    portAllocation: 'preserve',
  },
  /** EIM + APDF, port preservation: what Linux MASQUERADE does (TOOLCHAIN.md), and the commonest home NAT. */
  portRestrictedCone: {
    mapping: 'endpoint-independent',
    filtering: 'address-and-port-dependent',
    portAllocation: 'preserve',
  },
  /** APDM + APDF with random ports: a new, unpredictable port per destination. */
  symmetric: {
    mapping: 'address-and-port-dependent',
    filtering: 'address-and-port-dependent',
    portAllocation: 'random',
  },
} as const satisfies Record<string, Omit<NatConfig, 'publicHost'>>;

export type NatPresetName = keyof typeof NAT_PRESETS;

const EI = 0;
const AD = 1;
const APD = 2;
type Kind = typeof EI | typeof AD | typeof APD;

function kindOf(b: NatBehaviour | undefined, fallback: Kind): Kind {
  if (b === undefined) return fallback;
  if (b === 'endpoint-independent') return EI;
  if (b === 'address-dependent') return AD;
  if (b === 'address-and-port-dependent') return APD;
  throw new RangeError(`unknown NAT behaviour: ${String(b)}`);
}

/** Draws for a free random port before falling back to a scan. */
const RANDOM_TRIES = 32;
/** A table or permission set is swept of expired entries when it reaches this size, then twice its live size. */
const MIN_SWEEP_AT = 64;

/** The resolved, immutable behaviour of a box; shared by every box with the same configuration. */
interface Profile {
  readonly mapping: Kind;
  readonly filtering: Kind;
  readonly allocation: PortAllocation;
  readonly portMin: number;
  readonly portMax: number;
  readonly udpTimeout: number;
  readonly tcpTimeout: number;
  readonly refreshOnInbound: boolean;
  readonly hairpinning: boolean;
  /** Limit on live mappings per protocol (at most the size of the port range). */
  readonly maxMappings: number;
}

/** Interned profiles: a simulation has many boxes and few configurations. */
const profiles = new Map<string, Profile>();

function profileOf(config: NatConfig): Profile {
  const id = `${config.mapping},${config.filtering},${config.portAllocation},${config.portRange?.[0]},${config.portRange?.[1]},${config.timeoutMs?.udp},${config.timeoutMs?.tcp},${config.refreshOnInbound},${config.hairpinning},${config.maxMappings}`;
  const known = profiles.get(id);
  if (known !== undefined) return known;
  const allocation = config.portAllocation ?? 'preserve';
  if (allocation !== 'preserve' && allocation !== 'random' && allocation !== 'sequential')
    throw new RangeError(`unknown port allocation: ${String(allocation)}`);
  const lo = config.portRange?.[0] ?? 1024;
  const hi = config.portRange?.[1] ?? 65535;
  if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 1 || hi > 65535 || lo > hi)
    throw new RangeError(`bad port range: [${lo}, ${hi}]`);
  const udpTimeout = config.timeoutMs?.udp ?? DEFAULT_UDP_TIMEOUT_MS;
  const tcpTimeout = config.timeoutMs?.tcp ?? DEFAULT_TCP_TIMEOUT_MS;
  if (!(udpTimeout > 0) || !(tcpTimeout > 0)) throw new RangeError('NAT timeouts must be positive');
  const maxMappings = Math.min(config.maxMappings ?? Number.POSITIVE_INFINITY, hi - lo + 1);
  if (!(maxMappings >= 0)) throw new RangeError('maxMappings must be >= 0');
  const profile: Profile = {
    mapping: kindOf(config.mapping, EI),
    filtering: kindOf(config.filtering, APD),
    allocation,
    portMin: lo,
    portMax: hi,
    udpTimeout,
    tcpTimeout,
    refreshOnInbound: config.refreshOnInbound ?? false,
    hairpinning: config.hairpinning ?? false,
    maxMappings,
  };
  if (profiles.size < 4096) profiles.set(id, profile);
  return profile;
}

interface Mapping {
  readonly key: string;
  readonly internal: NetAddress;
  readonly external: NetAddress;
  /** Passes traffic while now < expires. */
  expires: number;
  /**
   * Filtering permissions (ADF: remote host; APDF: remote host|port), each with its own expiry. The first
   * one is held inline (a symmetric NAT's mapping, or a cone mapping used with one peer, never needs more);
   * further ones in `permits`. Unused under EIF.
   */
  permitKey: string | undefined;
  permitExpires: number;
  permits: Map<string, number> | undefined;
  permitsSweepAt: number;
}

interface Table {
  /** Mappings by key (string) and by external port (number): one Map for both, to halve the per-box cost. */
  readonly map: Map<string | number, Mapping>;
  /** Mappings in `map` (live or expired but not yet collected). */
  count: number;
  /** Sequential allocation: the next port to try. */
  next: number;
  sweepAt: number;
  /** A lower bound on every mapping's expiry: a sweep before it would collect nothing. */
  earliest: number;
}

export class NatBox implements Middlebox {
  readonly publicHost: string;
  private readonly p: Profile;
  private readonly random: FloatSource;
  private udp: Table | undefined = undefined;
  private tcp: Table | undefined = undefined;

  constructor(config: NatConfig, random: FloatSource) {
    this.publicHost = config.publicHost;
    this.p = profileOf(config);
    this.random = random;
  }

  /** A NAT box from a named preset and overrides. */
  static preset(name: NatPresetName, publicHost: string, random: FloatSource, overrides?: Partial<NatConfig>): NatBox {
    return new NatBox({ ...NAT_PRESETS[name], ...overrides, publicHost }, random);
  }

  outbound(proto: Protocol, from: NetAddress, to: NetAddress, now: number): NetAddress | undefined {
    const table = this.table(proto, true);
    const expires = now + (proto === 'udp' ? this.p.udpTimeout : this.p.tcpTimeout);
    const key = this.mappingKey(from, to);
    let m = table.map.get(key);
    let avoid = -1;
    if (m !== undefined && m.expires <= now) {
      // [NET-NAT-9] An expired mapping passes nothing; a new one is made (and, for random allocation, not
      // on the port just given up).
      if (this.p.allocation === 'random') avoid = m.external.port;
      this.remove(table, m);
      m = undefined;
    }
    if (m === undefined) {
      // [NET-NAT-13] For TCP this is the SYN (the first outbound segment of a connection).
      m = this.create(table, from, key, now, expires, avoid);
      if (m === undefined) return undefined; // [NET-NAT-12] exhausted
    }
    // [NET-NAT-10] RFC 4787 REQ-6: outbound traffic always refreshes the mapping and the permission for `to`.
    m.expires = expires;
    if (this.p.filtering !== EI) this.permit(m, this.filterKey(to), expires, now);
    return m.external;
  }

  inbound(proto: Protocol, to: NetAddress, from: NetAddress, now: number): NetAddress | undefined {
    if (to.host !== this.publicHost) return undefined;
    const table = proto === 'udp' ? this.udp : this.tcp;
    if (table === undefined) return undefined; // [NET-NAT-13] no mapping: an inbound SYN is dropped
    const m = table.map.get(to.port);
    if (m === undefined) return undefined;
    // [NET-NAT-9] Expired: drop. (Collected later, by the next outbound packet of its flow — which then avoids
    // its port under random allocation — by port allocation, or by a sweep.)
    if (m.expires <= now) return undefined;
    const refresh = this.p.refreshOnInbound;
    const expires = now + (proto === 'udp' ? this.p.udpTimeout : this.p.tcpTimeout);
    if (this.p.filtering !== EI) {
      // [NET-NAT-7] [NET-NAT-8] RFC 4787 §5: only remotes the inside endpoint has sent to through this mapping,
      // within the permission's own timeout.
      const fk = this.filterKey(from);
      if (m.permitKey === fk) {
        if (m.permitExpires <= now) return undefined;
        if (refresh) m.permitExpires = expires;
      } else {
        const expiry = m.permits?.get(fk);
        if (expiry === undefined || expiry <= now) return undefined;
        if (refresh) m.permits!.set(fk, expires);
      }
    }
    // [NET-NAT-6] EIF: anyone may reach a live mapping.
    // [NET-NAT-10] RFC 4787 REQ-6a: inbound refresh only when configured.
    if (refresh) m.expires = expires;
    return m.internal;
  }

  hairpin(proto: Protocol, from: NetAddress, to: NetAddress, now: number): NetAddress | undefined {
    return this.hairpinRoute(proto, from, to, now)?.destination;
  }

  /**
   * [NET-NAT-11] Hairpinning (RFC 4787 §6) with the source the receiver sees: the sender's external address
   * and port (REQ-9a), translated as any outbound packet is (creating or refreshing the sender's mapping
   * towards `to`); the packet then passes the target mapping's filter like one from outside. Undefined when
   * hairpinning is off, `to` is not this box's public address, or the packet is dropped.
   */
  hairpinRoute(
    proto: Protocol,
    from: NetAddress,
    to: NetAddress,
    now: number,
  ): { source: NetAddress; destination: NetAddress } | undefined {
    if (!this.p.hairpinning || to.host !== this.publicHost) return undefined;
    const source = this.outbound(proto, from, to, now);
    if (source === undefined) return undefined;
    const destination = this.inbound(proto, to, source, now);
    return destination === undefined ? undefined : { source, destination };
  }

  /** The number of live mappings of a protocol at `now` (O(mappings); for statistics and tests). */
  liveMappings(proto: Protocol, now: number): number {
    const table = proto === 'udp' ? this.udp : this.tcp;
    if (table === undefined) return 0;
    this.sweep(table, now);
    return table.count;
  }

  /** Drops every expired mapping and permission now (optional: state is also collected lazily). */
  collect(now: number): void {
    for (const t of [this.udp, this.tcp]) {
      if (t === undefined) continue;
      this.sweep(t, now);
      for (const [k, m] of t.map) if (typeof k === 'number' && m.permits !== undefined) this.sweepPermits(m, now);
    }
  }

  // --- internals ------------------------------------------------------------------------------------

  private table(proto: Protocol, create: true): Table;
  private table(proto: Protocol, create: false): Table | undefined;
  private table(proto: Protocol, create: boolean): Table | undefined {
    let t = proto === 'udp' ? this.udp : this.tcp;
    if (t === undefined && create) {
      // [NET-NAT-13] UDP and TCP have separate port spaces and separate timers.
      t = { map: new Map(), count: 0, next: this.p.portMin, sweepAt: MIN_SWEEP_AT, earliest: 0 };
      if (proto === 'udp') this.udp = t;
      else this.tcp = t;
    }
    return t;
  }

  /** [NET-NAT-1] [NET-NAT-2] [NET-NAT-3] RFC 4787 §4.1: what a mapping is keyed by. */
  private mappingKey(from: NetAddress, to: NetAddress): string {
    switch (this.p.mapping) {
      case EI:
        return `${from.host}|${from.port}`;
      case AD:
        return `${from.host}|${from.port}|${to.host}`;
      default:
        return `${from.host}|${from.port}|${to.host}|${to.port}`;
    }
  }

  private filterKey(remote: NetAddress): string {
    return this.p.filtering === AD ? remote.host : `${remote.host}|${remote.port}`;
  }

  private create(
    table: Table,
    from: NetAddress,
    key: string,
    now: number,
    expires: number,
    avoid: number,
  ): Mapping | undefined {
    if ((table.count >= table.sweepAt || table.count >= this.p.maxMappings) && now >= table.earliest)
      this.sweep(table, now);
    // [NET-NAT-12] Exhaustion: no new mapping beyond the limit; live mappings are unaffected.
    if (table.count >= this.p.maxMappings) return undefined;
    const port = this.allocate(table, from.port, now, avoid);
    if (port === undefined) return undefined;
    const m: Mapping = {
      key,
      internal: { host: from.host, port: from.port },
      external: { host: this.publicHost, port },
      expires,
      permitKey: undefined,
      permitExpires: 0,
      permits: undefined,
      permitsSweepAt: MIN_SWEEP_AT,
    };
    table.map.set(key, m);
    table.map.set(port, m);
    table.count++;
    if (expires < table.earliest) table.earliest = expires;
    return m;
  }

  /** Free: unused, or held by an expired mapping (which is collected here). */
  private isFree(table: Table, port: number, now: number): boolean {
    const m = table.map.get(port);
    if (m === undefined) return true;
    if (m.expires <= now) {
      this.remove(table, m);
      return true;
    }
    return false;
  }

  /** [NET-NAT-4] [NET-NAT-5] RFC 4787 §4.2: a free external port; never one held by a live mapping (REQ-3). */
  private allocate(table: Table, insidePort: number, now: number, avoid: number): number | undefined {
    const lo = this.p.portMin;
    const hi = this.p.portMax;
    const size = hi - lo + 1;
    const allocation = this.p.allocation;
    if (allocation === 'sequential') {
      for (let i = 0; i < size; i++) {
        const p = lo + ((table.next - lo + i) % size);
        if (this.isFree(table, p, now)) {
          table.next = p === hi ? lo : p + 1;
          return p;
        }
      }
      return undefined;
    }
    if (allocation === 'preserve') {
      if (insidePort >= lo && insidePort <= hi && this.isFree(table, insidePort, now)) return insidePort;
      // REQ-4 (port parity preservation, RECOMMENDED): fall back to a random port of the same parity.
      for (let i = 0; i < RANDOM_TRIES; i++) {
        let p = lo + Math.floor(this.random.float() * size);
        if ((p & 1) !== (insidePort & 1)) p = p < hi ? p + 1 : p - 1;
        if (p >= lo && p <= hi && this.isFree(table, p, now)) return p;
      }
    } else {
      for (let i = 0; i < RANDOM_TRIES; i++) {
        const p = lo + Math.floor(this.random.float() * size);
        if (p !== avoid && this.isFree(table, p, now)) return p;
      }
    }
    // Nearly full: scan from a random start (for 'preserve', ports of the inside port's parity first); the
    // avoided port only as a last resort.
    const start = Math.floor(this.random.float() * size);
    for (let pass = allocation === 'preserve' ? 0 : 1; pass < 2; pass++) {
      for (let i = 0; i < size; i++) {
        const p = lo + ((start + i) % size);
        if (pass === 0 && (p & 1) !== (insidePort & 1)) continue;
        if (p !== avoid && this.isFree(table, p, now)) return p;
      }
    }
    return avoid >= lo && this.isFree(table, avoid, now) ? avoid : undefined;
  }

  private permit(m: Mapping, fk: string, expires: number, now: number): void {
    if (m.permitKey === undefined || m.permitKey === fk || m.permitExpires <= now) {
      if (m.permitKey !== fk) m.permits?.delete(fk); // the inline slot takes over from a stale one
      m.permitKey = fk;
      m.permitExpires = expires;
      return;
    }
    if (m.permits === undefined) m.permits = new Map();
    else if (m.permits.size >= m.permitsSweepAt && !m.permits.has(fk)) this.sweepPermits(m, now);
    m.permits.set(fk, expires);
  }

  private sweepPermits(m: Mapping, now: number): void {
    const permits = m.permits!;
    for (const [k, expiry] of permits) if (expiry <= now) permits.delete(k);
    m.permitsSweepAt = Math.max(MIN_SWEEP_AT, 2 * permits.size);
  }

  private sweep(table: Table, now: number): void {
    let earliest = Number.POSITIVE_INFINITY;
    for (const [k, m] of table.map) {
      if (typeof k !== 'number') continue;
      if (m.expires <= now) this.remove(table, m);
      else if (m.expires < earliest) earliest = m.expires;
    }
    table.sweepAt = Math.max(MIN_SWEEP_AT, 2 * table.count);
    table.earliest = earliest;
  }

  private remove(table: Table, m: Mapping): void {
    const port = m.external.port;
    if (table.map.get(port) === m) {
      table.map.delete(port);
      table.count--;
    }
    if (table.map.get(m.key) === m) table.map.delete(m.key);
  }
}
