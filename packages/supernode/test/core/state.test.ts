/**
 * NetworkState (spec/07-supernode.md §4.1, SN-LOGIN-3, SN-LOGIN-5) and the endpoint conversions of
 * Attached.observed (SN-ATTACH-4).
 */
import { keyId } from '@parley/wire';
import { describe, expect, it } from 'vitest';
import { addressBytes, netAddress, wireEndpoint } from '../../src/core/endpoint.js';
import { NetworkState } from '../../src/core/network-state.js';
import { suite, T0, testNetwork } from '../fixtures.js';

const net = testNetwork('state');

describe('NetworkState [SN-LOGIN]', () => {
  it('[SN-LOGIN-3] keeps the newest list only, and tells its listeners', () => {
    const s = new NetworkState(suite);
    const seen: string[] = [];
    s.onChange((w) => seen.push(w));
    const list = (epoch: number) => ({ epoch, issuedAtMs: T0, expiresAtMs: T0 + 1, entries: [] });
    expect(s.setList(list(3))).toBe(true);
    expect(s.setList(list(2))).toBe(false);
    expect(s.setList(list(3))).toBe(false);
    expect(s.setList(list(4))).toBe(true);
    expect(s.epoch).toBe(4);
    expect(seen).toEqual(['list', 'list']);
    expect(s.replicationFactor).toBe(3);
  });

  it('[SN-LOGIN-5] revokes serials under the login key of the list that names them, for chains and for records', () => {
    const s = new NetworkState(suite);
    s.setRevocations(2, [{ serial: 77, notAfterMs: T0 }], [net.loginCertificate]);
    const loginKeyId = keyId(suite, net.login.publicKey);
    expect(s.isRevoked(loginKeyId, 77)).toBe(true);
    expect(s.isRevoked(loginKeyId, 78)).toBe(false);
    expect(s.isRevoked(new Uint8Array(32), 77)).toBe(false);
    expect(s.isRevokedSerial(77)).toBe(true);
    // an older number changes nothing
    s.setRevocations(1, [], [net.loginCertificate]);
    expect(s.isRevokedSerial(77)).toBe(true);
    s.setRevocations(3, [], [net.loginCertificate]);
    expect(s.isRevokedSerial(77)).toBe(false);
  });
});

describe('endpoints [SN-ATTACH-4]', () => {
  it('[SN-ATTACH-4] converts IPv4, IPv6 and IPv4-mapped addresses to the wire form and back', () => {
    expect(wireEndpoint({ host: '192.0.2.7', port: 443 })).toEqual({
      protocol: 2,
      address: Uint8Array.of(192, 0, 2, 7),
      port: 443,
    });
    expect(addressBytes('::ffff:10.1.2.3')).toEqual(Uint8Array.of(10, 1, 2, 3));
    const v6 = addressBytes('2001:db8::1');
    expect(v6).toHaveLength(16);
    expect(netAddress({ address: v6, port: 9 })).toEqual({ host: '2001:db8:0:0:0:0:0:1', port: 9 });
    expect(netAddress({ address: Uint8Array.of(127, 0, 0, 1), port: 1 })).toEqual({ host: '127.0.0.1', port: 1 });
    expect(() => addressBytes('not an address')).toThrow();
    expect(() => addressBytes('1.2.3.256')).toThrow();
  });
});
