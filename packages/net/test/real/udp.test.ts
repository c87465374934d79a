/**
 * The real UDP socket's per-datagram fast paths (src/real/udp.ts, src/real/address.ts): the destination
 * check remembered from one send to the next, the destination answered without dns.lookup, the handler
 * run without a deferral from the event loop, and the sources' NetAddress objects reused. Each must keep
 * the behaviour of the slow path it replaces. Loopback only.
 */
import { networkInterfaces } from 'node:os';
import { describe, expect, it } from 'vitest';
import { AddressCache } from '../../src/real/address.js';
import { createRealTransport, type RealTransport } from '../../src/real/index.js';
import type { NetAddress, NetError, UdpSocket } from '../../src/transport.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function until(done: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() >= deadline) throw new Error('timed out');
    await sleep(2);
  }
}

interface End {
  socket: UdpSocket;
  local: NetAddress | undefined;
  got: { data: string; from: NetAddress }[];
  errors: NetError[];
}

async function bind(t: RealTransport, address: string): Promise<End> {
  const end: End = { socket: undefined as unknown as UdpSocket, local: undefined, got: [], errors: [] };
  end.socket = t.bindUdp(
    { address },
    {
      onMessage: (d, from) => end.got.push({ data: Buffer.from(d).toString(), from }),
      onReady: (l) => {
        end.local = l;
      },
      onError: (e) => end.errors.push(e),
    },
  );
  await until(() => end.local !== undefined);
  return end;
}

const text = (s: string) => new TextEncoder().encode(s);

const hasIpv6Loopback = Object.values(networkInterfaces()).some((list) =>
  (list ?? []).some((i) => i.family === 'IPv6' && i.address === '::1'),
);

describe('real UDP fast paths', () => {
  it('checks every destination, also when sends alternate between good and bad hosts', async () => {
    const t = createRealTransport();
    try {
      const a = await bind(t, '127.0.0.1');
      const r1 = await bind(t, '127.0.0.1');
      const r2 = await bind(t, '127.0.0.2');
      let errorsInsideSend = 0;
      const send = (data: string, to: NetAddress) => {
        const before = a.errors.length;
        a.socket.send(text(data), to);
        errorsInsideSend += a.errors.length - before;
      };
      // The same host as another string object, equal in value.
      const sameHost = ['127', '0', '0', '1'].join('.');
      send('1', r1.local!);
      send('bad name', { host: 'localhost', port: r1.local!.port });
      send('2', r2.local!);
      send('3', { host: sameHost, port: r1.local!.port });
      send('bad v6', { host: '::1', port: r1.local!.port });
      send('bad port', { host: '127.0.0.1', port: 0 });
      send('bad port again', { host: '127.0.0.1', port: 70_000 });
      send('4', r2.local!);
      send('bad name again', { host: 'localhost', port: r1.local!.port });
      await until(() => r1.got.length === 2 && r2.got.length === 2 && a.errors.length === 5);
      await sleep(20);
      expect(r1.got.map((g) => g.data)).toEqual(['1', '3']);
      expect(r2.got.map((g) => g.data)).toEqual(['2', '4']);
      expect(a.errors.map((e) => e.code)).toEqual(Array(5).fill('EHOSTUNREACH'));
      expect(a.errors[0]!.message).toContain('localhost');
      expect(a.errors[4]!.message).toContain('localhost');
      // Reported on the transport's schedule, never inside send.
      expect(errorsInsideSend).toBe(0);
      expect(r1.got[0]!.from).toEqual(a.local);
    } finally {
      t.close();
    }
  });

  it('sends many datagrams to several peers, in order per peer', async () => {
    const t = createRealTransport();
    try {
      const a = await bind(t, '127.0.0.1');
      const peers = [await bind(t, '127.0.0.1'), await bind(t, '127.0.0.2'), await bind(t, '127.0.0.1')];
      for (let i = 0; i < 60; i++) a.socket.send(text(String(i)), peers[i % 3]!.local!);
      await until(() => peers.every((p) => p.got.length === 20));
      for (const [k, p] of peers.entries()) {
        expect(p.got.map((g) => Number(g.data))).toEqual(Array.from({ length: 20 }, (_, j) => j * 3 + k));
      }
      expect(a.errors).toEqual([]);
    } finally {
      t.close();
    }
  });

  it('gives each source one immutable NetAddress, equal to the sender’s local address', async () => {
    const t = createRealTransport();
    try {
      const r = await bind(t, '127.0.0.1');
      const s1 = await bind(t, '127.0.0.1');
      const s2 = await bind(t, '127.0.0.2');
      for (let i = 0; i < 3; i++) {
        s1.socket.send(text('a'), r.local!);
        s2.socket.send(text('b'), r.local!);
      }
      await until(() => r.got.length === 6);
      for (const { data, from } of r.got) {
        expect(from).toEqual(data === 'a' ? s1.local : s2.local);
        expect(Object.isFrozen(from)).toBe(true);
      }
    } finally {
      t.close();
    }
  });

  it.skipIf(!hasIpv6Loopback)(
    'a dual-stack socket reaches IPv4 and IPv6 peers in turn and reports IPv4 sources as plain IPv4',
    async () => {
      const t = createRealTransport();
      try {
        const dual = await bind(t, '::');
        const v4 = await bind(t, '127.0.0.1');
        const v6 = await bind(t, '::1');
        for (let i = 0; i < 3; i++) {
          dual.socket.send(text(`4-${i}`), v4.local!);
          dual.socket.send(text(`6-${i}`), v6.local!);
        }
        await until(() => v4.got.length === 3 && v6.got.length === 3);
        expect(v4.got.map((g) => g.data)).toEqual(['4-0', '4-1', '4-2']);
        expect(v6.got.map((g) => g.data)).toEqual(['6-0', '6-1', '6-2']);
        v4.socket.send(text('back'), { host: '127.0.0.1', port: dual.local!.port });
        v6.socket.send(text('back6'), { host: '::1', port: dual.local!.port });
        await until(() => dual.got.length === 2);
        const byData = Object.fromEntries(dual.got.map((g) => [g.data, g.from]));
        expect(byData.back).toEqual(v4.local);
        expect(byData.back6).toEqual(v6.local);
        expect(dual.errors).toEqual([]);
      } finally {
        t.close();
      }
    },
  );
});

describe('AddressCache', () => {
  it('returns the same frozen object for the same host and port, and a fresh one otherwise', () => {
    const c = new AddressCache();
    const a = c.get('127.0.0.1', 5000);
    expect(a).toEqual({ host: '127.0.0.1', port: 5000 });
    expect(Object.isFrozen(a)).toBe(true);
    expect(c.get(['127', '0', '0', '1'].join('.'), 5000)).toBe(a);
    // Same slot (ports 1,024 apart), different port; same port, different host.
    expect(c.get('127.0.0.1', 5000 + 1024)).toEqual({ host: '127.0.0.1', port: 6024 });
    expect(c.get('127.0.0.1', 5000)).toEqual({ host: '127.0.0.1', port: 5000 });
    expect(c.get('10.0.0.1', 5000)).toEqual({ host: '10.0.0.1', port: 5000 });
    expect(c.get('127.0.0.1', 5000)).toEqual({ host: '127.0.0.1', port: 5000 });
  });

  it('normalises IPv4-mapped hosts, and keeps them apart from IPv6 hosts on the same port', () => {
    const c = new AddressCache();
    expect(c.get('::ffff:10.1.2.3', 9)).toEqual({ host: '10.1.2.3', port: 9 });
    expect(c.get('::FFFF:10.1.2.3', 9)).toEqual({ host: '10.1.2.3', port: 9 });
    expect(c.get('::1', 9)).toEqual({ host: '::1', port: 9 });
    expect(c.get('::ffff:10.1.2.3', 9)).toEqual({ host: '10.1.2.3', port: 9 });
  });
});
