/**
 * A host firewall as a pure model (spec/05-network.md §6, NET-FW-*): it never rewrites addresses (its
 * `publicHost` is the protected host's own address) and only decides what passes.
 *
 * - `blockUdp`: every UDP packet is dropped, both ways (networks that allow only TCP, or only the web).
 * - `blockInbound`: stateful, like a connection-tracking firewall: a packet from outside passes only when it
 *   belongs to a flow the inside opened (same protocol, same local address and port, same remote address
 *   and port) within the flow's idle timeout; outbound packets open and refresh flows. A TCP connection
 *   attempt from outside is dropped (the simulator turns that into ETIMEDOUT for the connector).
 *
 * Like nat.ts: no timers, no clock, state created lazily, expired flows collected lazily.
 */
import type { NetAddress } from '../transport.js';
import { DEFAULT_TCP_TIMEOUT_MS, DEFAULT_UDP_TIMEOUT_MS, type Middlebox, type Protocol } from './middlebox.js';

export interface FirewallConfig {
  /** The protected host's address. */
  readonly host: string;
  /** Drop all UDP, both directions. */
  readonly blockUdp?: boolean;
  /** Drop unsolicited inbound packets; pass replies to flows the inside opened. */
  readonly blockInbound?: boolean;
  /** Flow idle timeouts in ms (blockInbound); defaults as for NATs: UDP 120,000, TCP 7,440,000. */
  readonly timeoutMs?: { readonly udp?: number; readonly tcp?: number };
  /** Whether replies refresh a flow; default true (connection tracking refreshes on both directions). */
  readonly refreshOnInbound?: boolean;
}

/** A packet filter that may be placed between a host and the network. */
export class Firewall implements Middlebox {
  readonly publicHost: string;
  private readonly blockUdp: boolean;
  private readonly blockInbound: boolean;
  private readonly udpTimeout: number;
  private readonly tcpTimeout: number;
  private readonly refreshOnInbound: boolean;
  /** Flow key -> expiry; created on the first outbound packet. */
  private flows: Map<string, number> | undefined;
  private sweepAt = 64;

  constructor(config: FirewallConfig) {
    this.publicHost = config.host;
    this.blockUdp = config.blockUdp ?? false;
    this.blockInbound = config.blockInbound ?? false;
    this.udpTimeout = config.timeoutMs?.udp ?? DEFAULT_UDP_TIMEOUT_MS;
    this.tcpTimeout = config.timeoutMs?.tcp ?? DEFAULT_TCP_TIMEOUT_MS;
    if (!(this.udpTimeout > 0) || !(this.tcpTimeout > 0)) throw new RangeError('firewall timeouts must be positive');
    this.refreshOnInbound = config.refreshOnInbound ?? true;
  }

  outbound(proto: Protocol, from: NetAddress, to: NetAddress, now: number): NetAddress | undefined {
    if (this.blockUdp && proto === 'udp') return undefined; // [NET-FW-1]
    if (this.blockInbound) {
      // [NET-FW-2] Outbound packets open (or refresh) the flow that replies may use.
      const key = flowKey(proto, from, to);
      let flows = this.flows;
      if (flows === undefined) flows = this.flows = new Map();
      else if (flows.size >= this.sweepAt && !flows.has(key)) this.sweep(now);
      flows.set(key, now + this.timeout(proto));
    }
    return from;
  }

  inbound(proto: Protocol, to: NetAddress, from: NetAddress, now: number): NetAddress | undefined {
    if (this.blockUdp && proto === 'udp') return undefined; // [NET-FW-1]
    if (to.host !== this.publicHost) return undefined;
    if (this.blockInbound) {
      // [NET-FW-2] [NET-FW-3] Only replies within a live flow the inside opened.
      const key = flowKey(proto, to, from);
      const expiry = this.flows?.get(key);
      if (expiry === undefined) return undefined;
      if (expiry <= now) {
        this.flows!.delete(key);
        return undefined;
      }
      if (this.refreshOnInbound) this.flows!.set(key, now + this.timeout(proto));
    }
    return to;
  }

  private timeout(proto: Protocol): number {
    return proto === 'udp' ? this.udpTimeout : this.tcpTimeout;
  }

  private sweep(now: number): void {
    const flows = this.flows!;
    for (const [k, expiry] of flows) if (expiry <= now) flows.delete(k);
    this.sweepAt = Math.max(64, 2 * flows.size);
  }
}

function flowKey(proto: Protocol, local: NetAddress, remote: NetAddress): string {
  return `${proto}|${local.host}|${local.port}|${remote.host}|${remote.port}`;
}
