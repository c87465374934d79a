/** Conversions between @parley/net's NetAddress (an IP literal and a port) and the wire's 4/16-byte form. */
import type { NetAddress } from '@parley/net';
import { addressBytes, netAddress } from '@parley/supernode';
import type { WireAddress } from '@parley/wire';

export { netAddress };

/** The wire form of a NetAddress (an IPv4-mapped IPv6 address gives its 4 IPv4 bytes). */
export function wireAddress(a: NetAddress): WireAddress {
  return { address: addressBytes(a.host), port: a.port };
}
