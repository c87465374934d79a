/**
 * The stream channel driver over real TCP on loopback (createRealTransport): the same code as in the
 * simulator, with the system clock and real sockets. The happy path — certified handshake, request and
 * response, Ping and Pong, orderly close — and a handshake failure that sends nothing.
 */
import { once } from 'node:events';
import { connect } from 'node:net';
import { createRealTransport, type NetAddress, type RealTransport } from '@parley/net';
import { ErrorCode, FrameDecoder, type Packet, type PeerIdentity, startInitiator, startResponder } from '@parley/wire';
import { afterEach, describe, expect, it } from 'vitest';
import { type CloseReason, StreamChannel } from '../src/index.js';
import { parties, Recorder } from './fixtures.js';

const transports: RealTransport[] = [];
afterEach(() => {
  for (const t of transports.splice(0)) t.close();
});

/** Resolves when `rec` reports `what`; polls the recorder, so that it works with any event order. */
async function until(check: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Bob listening on 127.0.0.1 with a responder per connection; answers GetPolicy with PolicyReply. */
async function server(t: RealTransport) {
  const accepted: { channel: StreamChannel<PeerIdentity>; rec: Recorder }[] = [];
  let n = 0;
  const ready = new Promise<NetAddress>((resolve, reject) => {
    t.listenTcp(
      { address: '127.0.0.1', port: 0 },
      {
        onReady: resolve,
        onError: reject,
        onConnection: (stream) => {
          const rec = new Recorder(t.clock);
          const channel = new StreamChannel({
            clock: t.clock,
            start: startResponder(parties().bobConfig(`real-bob-${n++}`)),
            role: 'responder',
            events: rec.events,
            stream,
          });
          rec.onPacket = (p: Packet) => {
            if (p.body.case === 'getPolicy') {
              channel.send({
                requestId: p.requestId,
                body: {
                  case: 'policyReply',
                  value: { unchanged: true, policy: new Uint8Array(0), loginCertificate: new Uint8Array(0) },
                },
              });
            }
          };
          accepted.push({ channel, rec });
          return channel.handlers;
        },
      },
    );
  });
  return { address: await ready, accepted };
}

describe('stream channel over real TCP (loopback)', () => {
  it('[CHAN-HS-4] [WIRE-PKT-3] [WIRE-PING-1] [WIRE-CLOSE-1] handshake, request/response, Ping/Pong, orderly close', async () => {
    const t = createRealTransport();
    transports.push(t);
    const { address, accepted } = await server(t);
    const rec = new Recorder(t.clock);
    const alice = StreamChannel.connect(t, address, {
      start: startInitiator(parties().aliceConfig()),
      events: rec.events,
    });
    await until(() => alice.established !== undefined && accepted[0]?.channel.established !== undefined);
    const bob = accepted[0]!;
    expect(alice.established!.peer.certificate.subject).toBe('bob');
    expect(bob.channel.established!.peer.certificate.subject).toBe('alice');
    expect(Buffer.compare(alice.established!.handshakeHash, bob.channel.established!.handshakeHash)).toBe(0);

    const reply = await alice.request({ case: 'getPolicy', value: { knownVersion: 0 } });
    expect(reply).toMatchObject({ requestId: 1, body: { case: 'policyReply', value: { unchanged: true } } });
    const data = new TextEncoder().encode('over real sockets');
    const pong = await alice.request({ case: 'ping', value: { sequence: 5, data } });
    expect(pong).toEqual({ requestId: 2, body: { case: 'pong', value: { sequence: 5, data } } });
    // Many requests in flight at once, answered in order.
    const many = await Promise.all(
      Array.from({ length: 50 }, () => alice.request({ case: 'getPolicy', value: { knownVersion: 1 } })),
    );
    expect(many.map((p) => p.requestId)).toEqual(Array.from({ length: 50 }, (_, i) => i + 3));

    alice.close();
    await until(() => bob.rec.closed.length > 0 && rec.closed.length > 0);
    expect(rec.closed).toEqual([{ code: 0, local: true, detail: '' }]);
    expect(bob.rec.closed).toEqual([{ code: 0, local: false, detail: '' }]);
    expect(bob.rec.packets).toHaveLength(51);
  });

  it('[CHAN-HS-6] a garbage message 1 from a raw socket: the responder aborts and sends nothing', async () => {
    const t = createRealTransport();
    transports.push(t);
    const { address, accepted } = await server(t);
    const socket = connect(address.port, address.host);
    await once(socket, 'connect');
    const received: Buffer[] = [];
    socket.on('data', (d: Buffer) => received.push(d));
    const closed = new Promise<string>((resolve) => {
      socket.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
      socket.on('close', () => resolve('close'));
    });
    socket.write(Uint8Array.of(0, 5, 1, 2, 3, 4, 5)); // a 5-byte "message 1" (CHAN-HS-7: must be 32)
    const how = await closed;
    expect(['ECONNRESET', 'close']).toContain(how);
    expect(Buffer.concat(received).length).toBe(0);
    await until(() => accepted[0]?.rec.closed.length === 1);
    const reason: CloseReason = accepted[0]!.rec.closed[0]!;
    expect(reason).toMatchObject({ code: ErrorCode.UNEXPECTED_MESSAGE, local: true });
    expect(new FrameDecoder().push(Buffer.concat(received))).toEqual([]);
  });
});
