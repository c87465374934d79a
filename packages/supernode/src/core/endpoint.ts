/**
 * Endpoints as the wire carries them (login.proto `Endpoint`: protocol, 4 or 16 address bytes, port) from
 * and to the `NetAddress` text form of @parley/net: the observed endpoint of `Attached` (07 SN-ATTACH-4)
 * and the endpoints a supernode registers (06 LOGIN-SN-1).
 */
import type { NetAddress } from '@parley/net';
import { ApiMisuse } from '@parley/wire';

export const TRANSPORT_PROTOCOL_UDP = 1;
export const TRANSPORT_PROTOCOL_TCP = 2;

export interface WireEndpoint {
  readonly protocol: number;
  readonly address: Uint8Array;
  readonly port: number;
}

function ipv4(text: string): number[] | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^[0-9]{1,3}$/.test(p) || Number(p) > 255) return undefined;
    out.push(Number(p));
  }
  return out;
}

function ipv6(text: string): number[] | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (part: string): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    const items = part.split(':');
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      if (i === items.length - 1 && item.includes('.')) {
        const v4 = ipv4(item);
        if (v4 === undefined) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(item)) {
        out.push(Number.parseInt(item, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const head = groups(halves[0]!);
  if (head === undefined) return undefined;
  if (halves.length === 1) return head.length === 8 ? head : undefined;
  const tail = groups(halves[1]!);
  if (tail === undefined || head.length + tail.length > 7) return undefined;
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

/** The 4 or 16 bytes of an IP literal; an IPv4-mapped IPv6 address gives its 4 IPv4 bytes. ApiMisuse otherwise. */
export function addressBytes(host: string): Uint8Array {
  let text = host.trim();
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1);
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  if (!text.includes(':')) {
    const v4 = ipv4(text);
    if (v4 === undefined) throw new ApiMisuse(`not an IP address: ${JSON.stringify(host)}`);
    return Uint8Array.from(v4);
  }
  const g = ipv6(text);
  if (g === undefined) throw new ApiMisuse(`not an IP address: ${JSON.stringify(host)}`);
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) {
    return Uint8Array.from([g[6]! >> 8, g[6]! & 0xff, g[7]! >> 8, g[7]! & 0xff]);
  }
  const out = new Uint8Array(16);
  g.forEach((x, i) => {
    out[2 * i] = x >> 8;
    out[2 * i + 1] = x & 0xff;
  });
  return out;
}

/** The wire endpoint of `address` over `protocol` (TCP unless given). */
export function wireEndpoint(address: NetAddress, protocol = TRANSPORT_PROTOCOL_TCP): WireEndpoint {
  return { protocol, address: addressBytes(address.host), port: address.port };
}

/** The NetAddress of a wire endpoint (4 or 16 address bytes). */
export function netAddress(e: { readonly address: Uint8Array; readonly port: number }): NetAddress {
  if (e.address.length === 4) return { host: Array.from(e.address).join('.'), port: e.port };
  if (e.address.length !== 16) throw new ApiMisuse(`an endpoint address of ${e.address.length} bytes`);
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((e.address[i]! << 8) | e.address[i + 1]!).toString(16));
  return { host: groups.join(':'), port: e.port };
}
