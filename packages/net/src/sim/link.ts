/**
 * Access links of simulated hosts (DESIGN.md §9; spec/05-network.md): every host (and every NAT box's
 * inside network shares nothing: each host has its own) has one access link to the rest of the network.
 * A packet from A to B crosses A's link, then B's: the one-way delay is the sum of both latencies, each
 * with its own jitter draw, each link may lose it, and each link serialises it at its bandwidth.
 */

export interface LinkConfig {
  /** One-way propagation delay of this access link, ms. */
  readonly latencyMs: number;
  /** Extra delay drawn uniformly from [0, jitterMs) per packet per link. Datagrams may be reordered by it; streams are not. */
  readonly jitterMs: number;
  /** Probability that this link loses a datagram, [0, 1]. Streams are not subject to it (TCP retransmits; the delay is not modelled). */
  readonly loss: number;
  /** Bytes per second, each direction; `Infinity`: no serialisation delay. */
  readonly bandwidth: number;
  /** Largest IP packet in bytes; a datagram whose payload + 28 header bytes (IPv4 + UDP) exceeds it is dropped. */
  readonly mtu: number;
}

/** 10 ms each way per link (20 ms one-way between two hosts), lossless, unlimited, Ethernet MTU. */
export const DEFAULT_LINK: LinkConfig = Object.freeze({
  latencyMs: 10,
  jitterMs: 0,
  loss: 0,
  bandwidth: Number.POSITIVE_INFINITY,
  mtu: 1500,
});

/** IPv4 (20) + UDP (8) header bytes, counted against the MTU and the bandwidth. */
export const UDP_OVERHEAD = 28;
/** IPv4 (20) + TCP (20) header bytes, counted against the bandwidth. */
export const TCP_OVERHEAD = 40;

export function resolveLink(base: LinkConfig, overrides: Partial<LinkConfig> | undefined): LinkConfig {
  if (overrides === undefined) return base;
  const link: LinkConfig = { ...base, ...overrides };
  if (!(link.latencyMs >= 0) || !(link.jitterMs >= 0)) throw new RangeError('link latency and jitter must be >= 0');
  if (!(link.loss >= 0 && link.loss <= 1)) throw new RangeError('link loss must be in [0, 1]');
  if (!(link.bandwidth > 0)) throw new RangeError('link bandwidth must be > 0');
  if (!(link.mtu >= UDP_OVERHEAD + 1)) throw new RangeError('link MTU too small');
  return Object.freeze(link);
}
