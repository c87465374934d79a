/**
 * The contract between the simulator's routing and the boxes that sit between a host and the rest of the
 * network: NATs (nat.ts, RFC 4787 for UDP, RFC 5382 for TCP) and firewalls (firewall.ts). Informative
 * description and the requirements the simulator's models meet: spec/05-network.md §4-6 (NET-NAT-*,
 * NET-FW-*).
 *
 * A middlebox is a pure model: it keeps no timers and reads no clock (time comes in as `now`, in the
 * simulator's milliseconds) and draws randomness only from the generator it was given, so a run stays a
 * function of its seed. It sees packets, not bytes: for TCP the simulator calls it for the segments of a
 * connection (the SYN creates the state, later segments refresh it).
 */
import type { NetAddress } from '../transport.js';

/** The transport protocol of a packet; NATs keep a separate port space and separate timers per protocol. */
export type Protocol = 'udp' | 'tcp';

/** Randomness a middlebox may draw on (port allocation): structurally a subset of transport.ts `Random`. */
export interface FloatSource {
  /** A float in [0, 1). */
  float(): number;
}

/** Idle timeouts per protocol, in milliseconds. */
export interface ProtocolTimeouts {
  readonly udp: number;
  readonly tcp: number;
}

export interface Middlebox {
  /** The public address of the box. */
  readonly publicHost: string;
  /** An inside host sends from `from` to outside `to`: the translated source (creating/refreshing a mapping), or undefined to drop. */
  outbound(proto: Protocol, from: NetAddress, to: NetAddress, now: number): NetAddress | undefined;
  /** A packet arrives at the box's public side for `to` from outside `from`: the inside destination, or undefined to drop. */
  inbound(proto: Protocol, to: NetAddress, from: NetAddress, now: number): NetAddress | undefined;
  /** Hairpinning: an inside host sends to the box's own public address; the inside destination, or undefined when hairpinning is off. */
  hairpin?(proto: Protocol, from: NetAddress, to: NetAddress, now: number): NetAddress | undefined;
}

/** RFC 4787 REQ-5: a UDP mapping MUST NOT expire in less than two minutes; 120 s is that floor. */
export const DEFAULT_UDP_TIMEOUT_MS = 120_000;
/** RFC 5382 REQ-5: an established TCP mapping MUST NOT expire in less than 2 hours 4 minutes. */
export const DEFAULT_TCP_TIMEOUT_MS = 7_440_000;
