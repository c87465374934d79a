/**
 * Address checks and normalisation for the real transport (src/transport.ts `NetAddress`: an IP literal and
 * a port). Only literals are accepted, so no call ever waits on DNS; IPv4-mapped IPv6 addresses
 * (`::ffff:a.b.c.d`, what a dual-stack socket reports for an IPv4 peer) are reported as plain IPv4 so
 * that one peer has one address.
 */
import { isIP, isIPv4 } from 'node:net';
import type { NetAddress } from '../transport.js';

export function isPort(port: number): boolean {
  return Number.isInteger(port) && port >= 0 && port <= 65_535;
}

/** A host this transport can use: an IPv4 or IPv6 literal. */
export function isIpLiteral(host: string): boolean {
  return isIP(host) !== 0;
}

export function normalizeHost(host: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
  return mapped && isIPv4(mapped[1]!) ? mapped[1]! : host;
}

/** A NetAddress from what Node reports; undefined when Node has none (socket not bound, or gone). */
export function netAddress(host: string | undefined, port: number | undefined): NetAddress | undefined {
  return host === undefined || port === undefined ? undefined : { host: normalizeHost(host), port };
}

/** Slots of an `AddressCache` (a power of two). */
const CACHE_SLOTS = 1024;

/**
 * The NetAddress of a datagram's source, for the receive path: one frozen object per host and port, kept in
 * a small direct-mapped table by port, so a peer that keeps sending costs no normalisation and no allocation
 * per datagram. Handlers may keep the object: it is immutable, and equal to a fresh one.
 */
export class AddressCache {
  /** Node's host string for each slot (before normalisation), to compare the next one with. */
  private readonly raw: (string | undefined)[] = new Array(CACHE_SLOTS).fill(undefined);
  private readonly addresses: (NetAddress | undefined)[] = new Array(CACHE_SLOTS).fill(undefined);

  get(host: string, port: number): NetAddress {
    const slot = port & (CACHE_SLOTS - 1);
    const cached = this.addresses[slot];
    if (cached !== undefined && cached.port === port && this.raw[slot] === host) return cached;
    const address: NetAddress = Object.freeze({ host: normalizeHost(host), port });
    this.raw[slot] = host;
    this.addresses[slot] = address;
    return address;
  }
}
