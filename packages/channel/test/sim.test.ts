/**
 * The stream channel driver over the deterministic simulator (packages/net/src/sim): certified
 * handshakes, requests and responses, Ping, Close, rejected packets and frames, handshake failures and
 * timeouts, write-buffer and rate limits — in simulated time, seeded. Requirement ids from
 * spec/03-channels.md (CHAN-*), spec/01-packets.md (WIRE-*) and spec/00-conventions.md §4.4.
 */
import { type NetError, type SimHost, Simulator, type Stream } from '@parley/net';
import {
  type ChannelConfig,
  type ChannelState,
  ErrorCode,
  encodeFrame,
  encodePacket,
  FrameDecoder,
  handleMessage,
  isParleyError,
  type Packet,
  type PeerIdentity,
  REQUEST_TIMEOUT_MS,
  startInitiator,
  startResponder,
} from '@parley/wire';
import { describe, expect, it } from 'vitest';
import { ChannelClosedError, HANDSHAKE_TIMEOUT_MS, StreamChannel } from '../src/index.js';
import { channelConfig, concat, createNetwork, issueUser, parties, Recorder, simPair, simServer } from './fixtures.js';

const getPolicy = { case: 'getPolicy', value: { knownVersion: 0 } } as const;
const policyReply = (requestId: number): Packet => ({
  requestId,
  body: {
    case: 'policyReply',
    value: { unchanged: true, policy: new Uint8Array(0), loginCertificate: new Uint8Array(0) },
  },
});
const ping = (sequence: number, data = new Uint8Array([1, 2, 3])) =>
  ({ case: 'ping', value: { sequence, data } }) as const;

/** Settles on its own: lets a test run the simulator synchronously and look at the outcome after. */
function track<T>(p: Promise<T>): { done: boolean; value?: T; error?: unknown } {
  const o: { done: boolean; value?: T; error?: unknown } = { done: false };
  p.then(
    (v) => {
      o.done = true;
      o.value = v;
    },
    (e) => {
      o.done = true;
      o.error = e;
    },
  );
  return o;
}
const microtasks = () => new Promise<void>((r) => setImmediate(r));

/** Writes one transport message with the channel's own keys, bypassing its checks (a broken peer). */
function rawSend(channel: StreamChannel<PeerIdentity>, stream: Stream, plaintext: Uint8Array): void {
  stream.write(encodeFrame(channel.established!.transport.encrypt(plaintext)));
}

function established() {
  const t = simPair();
  t.sim.run({ until: 1_000 });
  expect(t.alice.established).toBeDefined();
  const bob = t.accepted[0]!;
  expect(bob.channel.established).toBeDefined();
  return { ...t, bob };
}

function isHandshaking<P>(s: ChannelState<P>): boolean {
  return s.kind !== 'Established' && s.kind !== 'Closed';
}

/** A hand-driven party on a raw stream: it runs the handshake itself and may tamper with what it sends. */
function rawParty(
  role: 'initiator' | 'responder',
  config: ChannelConfig<PeerIdentity>,
  o: { tamper?: (message: Uint8Array) => Uint8Array; silent?: boolean } = {},
) {
  const log: { chunks: Uint8Array[]; closedWith?: NetError | 'clean'; sent: Uint8Array[] } = { chunks: [], sent: [] };
  const start = role === 'initiator' ? startInitiator(config) : startResponder(config);
  let state = start.state;
  let stream: Stream | undefined;
  const decoder = new FrameDecoder();
  const write = (m: Uint8Array) => {
    const out = o.tamper ? o.tamper(m) : m;
    log.sent.push(out);
    stream!.write(encodeFrame(out));
  };
  const handlers = {
    onConnect: () => {
      if (!o.silent) for (const a of start.actions) if (a.kind === 'Send') write(a.message);
    },
    onData: (chunk: Uint8Array) => {
      log.chunks.push(chunk.slice());
      if (o.silent) return;
      for (const frame of decoder.push(chunk)) {
        if (!isHandshaking(state)) continue;
        const step = handleMessage(state, frame);
        state = step.state;
        for (const a of step.actions) if (a.kind === 'Send') write(a.message);
      }
    },
    onClose: (e?: NetError) => {
      log.closedWith = e ?? 'clean';
    },
  };
  return {
    log,
    handlers,
    setStream: (s: Stream) => {
      stream = s;
    },
    get stream() {
      return stream!;
    },
  };
}

function listenRaw(host: SimHost, party: ReturnType<typeof rawParty>): void {
  host.listenTcp(
    { port: 443 },
    {
      onConnection: (s) => {
        party.setStream(s);
        return party.handlers;
      },
    },
  );
}

function frames(bytes: Uint8Array): Uint8Array[] {
  return new FrameDecoder().push(bytes);
}

describe('stream channel over the simulator: the handshake', () => {
  it('[CHAN-HS-2] [CHAN-HS-3] [CHAN-HS-4] [CHAN-HS-5] certified identities complete the handshake on both sides', () => {
    const t = simPair();
    t.sim.run({ until: 1_000 });
    const bob = t.accepted[0]!;
    expect(t.aliceRec.established).toHaveLength(1);
    expect(bob.rec.established).toHaveLength(1);
    const a = t.alice.established!;
    const b = bob.channel.established!;
    expect(a.role).toBe('initiator');
    expect(b.role).toBe('responder');
    expect(a.peer.certificate.subject).toBe('bob');
    expect(b.peer.certificate.subject).toBe('alice');
    expect(a.protocolVersion).toBe(1);
    expect(Buffer.from(a.handshakeHash).equals(Buffer.from(b.handshakeHash))).toBe(true);
    expect(t.aliceRec.closed).toEqual([]);
    expect(bob.rec.closed).toEqual([]);
    // 20 ms one way: SYN, SYN-ACK (40 ms), message 1, message 2 (alice done at 80 ms), message 3 (bob at 100).
    expect(t.aliceRec.establishedAt).toEqual([80]);
    expect(bob.rec.establishedAt).toEqual([100]);
  });

  it('[CHAN-HS-5] nothing may be sent before the handshake completed', async () => {
    const t = simPair();
    expect(() => t.alice.send({ requestId: 0, body: getPolicy })).toThrow(/handshake not complete/);
    await expect(t.alice.request(getPolicy)).rejects.toMatchObject({ code: ErrorCode.API_MISUSE });
  });

  it('[CHAN-HS-6] a tampered message 2: the initiator aborts and sends nothing more (the peer got message 1 only)', () => {
    const p = parties();
    const sim = new Simulator({ seed: 'tamper-2' });
    const server = sim.addHost();
    const client = sim.addHost();
    const raw = rawParty('responder', p.bobConfig(), {
      tamper: (m) => {
        const out = m.slice();
        out[out.length - 1]! ^= 1; // the payload's tag
        return out;
      },
    });
    listenRaw(server, raw);
    const rec = new Recorder(client.clock);
    const alice = StreamChannel.connect(
      client,
      { host: server.address, port: 443 },
      { start: startInitiator(p.aliceConfig()), events: rec.events },
    );
    sim.run();
    expect(rec.closed).toHaveLength(1);
    expect(rec.closed[0]).toMatchObject({ code: ErrorCode.DECRYPT_FAILED, local: true });
    expect(alice.established).toBeUndefined();
    // What the peer received: exactly message 1 (one frame of 32 bytes), then a reset.
    const got = frames(concat(raw.log.chunks));
    expect(got.map((f) => f.length)).toEqual([32]);
    expect(concat(raw.log.chunks).length).toBe(34);
    expect((raw.log.closedWith as NetError).code).toBe('ECONNRESET');
  });

  it('[CHAN-HS-6] a tampered message 3: the responder aborts and sends nothing after message 2', () => {
    const t = simServer();
    const raw = rawParty('initiator', parties().aliceConfig('mallory'), {
      tamper: (m) => {
        if (m.length === 32) return m; // message 1
        const out = m.slice();
        out[10]! ^= 0x40; // inside the encrypted static key
        return out;
      },
    });
    raw.setStream(t.client.connectTcp({ host: t.server.address, port: 443 }, raw.handlers));
    t.sim.run();
    const bob = t.accepted[0]!;
    expect(bob.rec.closed).toEqual([expect.objectContaining({ code: ErrorCode.DECRYPT_FAILED, local: true })]);
    expect(bob.channel.established).toBeUndefined();
    const got = frames(concat(raw.log.chunks));
    expect(got).toHaveLength(1); // message 2, nothing after it
    expect(got[0]!.length).toBeGreaterThan(96);
    expect((raw.log.closedWith as NetError).code).toBe('ECONNRESET');
  });

  it('[CHAN-HS-4] [CHAN-HS-6] a certificate of another network: rejected, connection reset, nothing sent', () => {
    const t = simServer();
    const other = createNetwork('another network');
    const mallory = issueUser(other, 'mallory');
    // Mallory trusts bob's network, so that it is bob who judges mallory's certificate.
    const raw = rawParty('initiator', channelConfig(parties().net, mallory, 'mallory'));
    raw.setStream(t.client.connectTcp({ host: t.server.address, port: 443 }, raw.handlers));
    t.sim.run();
    const bob = t.accepted[0]!;
    const reason = bob.rec.closed[0]!;
    expect(reason.local).toBe(true);
    expect(reason.code).toBe(ErrorCode.NETWORK_MISMATCH);
    expect(bob.rec.closedAt[0]! - bob.at).toBeLessThan(200); // at message 3, not by the timeout
    expect(frames(concat(raw.log.chunks))).toHaveLength(1); // message 2 only
    expect((raw.log.closedWith as NetError).code).toBe('ECONNRESET');
  });

  it('[CHAN-HS-8] a peer that never completes the handshake: TIMEOUT after 10 s of simulated time, nothing sent', () => {
    const t = simServer();
    const raw = rawParty('initiator', parties().aliceConfig(), { silent: true });
    raw.setStream(t.client.connectTcp({ host: t.server.address, port: 443 }, raw.handlers));
    t.sim.run();
    const bob = t.accepted[0]!;
    expect(bob.rec.closed).toEqual([expect.objectContaining({ code: ErrorCode.TIMEOUT, local: true })]);
    expect(bob.rec.closedAt[0]! - bob.at).toBe(HANDSHAKE_TIMEOUT_MS);
    expect(raw.log.chunks).toEqual([]); // the responder speaks only after message 1
    expect((raw.log.closedWith as NetError).code).toBe('ECONNRESET');
  });

  it('[CHAN-HS-8] an initiator whose responder never answers: TIMEOUT after handshakeTimeoutMs', () => {
    const sim = new Simulator({ seed: 'silent' });
    const server = sim.addHost();
    const client = sim.addHost();
    const raw = rawParty('responder', parties().bobConfig(), { silent: true });
    listenRaw(server, raw);
    const rec = new Recorder(client.clock);
    StreamChannel.connect(
      client,
      { host: server.address, port: 443 },
      { start: startInitiator(parties().aliceConfig()), events: rec.events, handshakeTimeoutMs: 2_500 },
    );
    sim.run();
    expect(rec.closed).toEqual([expect.objectContaining({ code: ErrorCode.TIMEOUT, local: true })]);
    expect(rec.closedAt[0]).toBe(2_500);
    expect(frames(concat(raw.log.chunks)).map((f) => f.length)).toEqual([32]);
  });

  it('[CHAN-HS-8] the peer ends the stream mid-handshake: HANDSHAKE_INCOMPLETE', () => {
    const t = simServer();
    const raw = rawParty('initiator', parties().aliceConfig());
    const stream = t.client.connectTcp(
      { host: t.server.address, port: 443 },
      {
        ...raw.handlers,
        onConnect: () => {
          raw.handlers.onConnect();
          stream.end(); // message 1, then FIN
        },
      },
    );
    raw.setStream(stream);
    t.sim.run();
    const bob = t.accepted[0]!;
    expect(bob.rec.closed).toEqual([expect.objectContaining({ code: ErrorCode.HANDSHAKE_INCOMPLETE, local: false })]);
    expect(frames(concat(raw.log.chunks))).toHaveLength(1); // message 2 had been sent
    expect(raw.log.closedWith).toBe('clean');
  });

  it('[CHAN-HS-8] the peer resets mid-handshake: HANDSHAKE_INCOMPLETE with the NetError', () => {
    const sim = new Simulator({ seed: 'reset' });
    const server = sim.addHost();
    const client = sim.addHost();
    server.listenTcp(
      { port: 443 },
      {
        onConnection: (s) => ({
          onData: () => s.reset(), // message 1 arrives: reset
          onClose: () => {},
        }),
      },
    );
    const rec = new Recorder(client.clock);
    StreamChannel.connect(
      client,
      { host: server.address, port: 443 },
      { start: startInitiator(parties().aliceConfig()), events: rec.events },
    );
    sim.run();
    expect(rec.closed).toHaveLength(1);
    expect(rec.closed[0]).toMatchObject({ code: ErrorCode.HANDSHAKE_INCOMPLETE, local: false });
    expect((rec.closed[0]!.error as NetError).code).toBe('ECONNRESET');
  });

  it('[CHAN-HS-8] a connection that cannot be made: HANDSHAKE_INCOMPLETE with ECONNREFUSED', () => {
    const sim = new Simulator({ seed: 'refused' });
    const server = sim.addHost();
    const client = sim.addHost();
    const rec = new Recorder(client.clock);
    StreamChannel.connect(
      client,
      { host: server.address, port: 443 },
      { start: startInitiator(parties().aliceConfig()), events: rec.events },
    );
    sim.run();
    expect(rec.closed).toHaveLength(1);
    expect(rec.closed[0]).toMatchObject({ code: ErrorCode.HANDSHAKE_INCOMPLETE, local: false });
    expect((rec.closed[0]!.error as NetError).code).toBe('ECONNREFUSED');
  });
});

describe('stream channel over the simulator: packets', () => {
  it('[WIRE-PKT-2] [WIRE-PKT-3] request/response round trip: request_ids are fresh and responses settle them', async () => {
    const t = established();
    const seen: number[] = [];
    t.bob.rec.onPacket = (p) => {
      seen.push(p.requestId);
      t.bob.channel.send(policyReply(p.requestId));
    };
    const r1 = track(t.alice.request(getPolicy));
    const r2 = track(t.alice.request(getPolicy));
    expect(t.alice.outstandingRequests).toBe(2);
    t.sim.run({ until: t.sim.now + 1_000 });
    await microtasks();
    expect(seen).toEqual([1, 2]);
    expect(r1.value).toMatchObject({ requestId: 1, body: { case: 'policyReply' } });
    expect(r2.value).toMatchObject({ requestId: 2, body: { case: 'policyReply' } });
    expect(t.alice.outstandingRequests).toBe(0);
    // Responses go to request(), never to onPacket.
    expect(t.aliceRec.packets).toEqual([]);
  });

  it('[WIRE-PKT-3] [WIRE-ERRREPLY-1] an ErrorReply settles the request too; the caller decides', async () => {
    const t = established();
    t.bob.rec.onPacket = (p) =>
      t.bob.channel.send({
        requestId: p.requestId,
        body: { case: 'error', value: { code: ErrorCode.NOT_FOUND, detail: '' } },
      });
    const r = track(t.alice.request(getPolicy));
    t.sim.run({ until: t.sim.now + 1_000 });
    await microtasks();
    expect(r.value).toMatchObject({ requestId: 1, body: { case: 'error', value: { code: ErrorCode.NOT_FOUND } } });
  });

  it('[WIRE-PKT-2] [WIRE-PKT-3] request timeout: TIMEOUT after request-timeout; the late response is discarded', async () => {
    const t = established();
    const held: Packet[] = [];
    t.bob.rec.onPacket = (p) => held.push(p);
    const start = t.sim.now;
    const r = track(t.alice.request(getPolicy));
    const short = track(t.alice.request(getPolicy, 500));
    t.sim.run({ until: start + 499 });
    await microtasks();
    expect(short.done).toBe(false);
    t.sim.run({ until: start + 500 });
    await microtasks();
    expect(isParleyError(short.error, ErrorCode.TIMEOUT)).toBe(true);
    t.sim.run({ until: start + REQUEST_TIMEOUT_MS - 1 });
    await microtasks();
    expect(r.done).toBe(false);
    t.sim.run({ until: start + REQUEST_TIMEOUT_MS });
    await microtasks();
    expect(isParleyError(r.error, ErrorCode.TIMEOUT)).toBe(true);
    // Bob answers late: alice discards both answers and the channel stays open.
    for (const p of held) t.bob.channel.send(policyReply(p.requestId));
    t.sim.run({ until: t.sim.now + 1_000 });
    expect(t.alice.stats.responsesDiscarded).toBe(2);
    expect(t.alice.closed).toBe(false);
    expect(t.aliceRec.packets).toEqual([]);
  });

  it('[WIRE-PKT-2] a request of the peer with the request_id of one of ours is a request, not our response', async () => {
    const t = established();
    let bobsRequest: Packet | undefined;
    t.aliceRec.onPacket = (p) => {
      bobsRequest = p;
    };
    t.bob.rec.onPacket = (p) => t.bob.channel.send(policyReply(p.requestId));
    const r = track(t.alice.request(getPolicy)); // alice's request 1
    const b = track(t.bob.channel.request(getPolicy)); // bob's request 1, in the other direction
    t.sim.run({ until: t.sim.now + 1_000 });
    await microtasks();
    expect(bobsRequest).toMatchObject({ requestId: 1, body: { case: 'getPolicy' } });
    expect(r.value).toMatchObject({ requestId: 1, body: { case: 'policyReply' } });
    expect(b.done).toBe(false); // alice did not answer it
  });

  it('[WIRE-PING-1] a Ping is answered with a Pong carrying its request_id, sequence and data', async () => {
    const t = established();
    const data = new Uint8Array([9, 8, 7, 6]);
    const r = track(t.alice.request(ping(42, data)));
    t.sim.run({ until: t.sim.now + 1_000 });
    await microtasks();
    expect(r.value).toEqual({ requestId: 1, body: { case: 'pong', value: { sequence: 42, data } } });
    expect(t.bob.channel.stats.pongsSent).toBe(1);
    expect(t.bob.rec.packets).toEqual([]); // Ping is the driver's, not the application's
  });

  it('[WIRE-PING-2] at most ping-rate (10) Pings answered per second; the others are discarded', async () => {
    const t = established();
    const rs = Array.from({ length: 15 }, (_, i) => track(t.alice.request(ping(i), 2_000)));
    t.sim.run({ until: t.sim.now + 3_000 });
    await microtasks();
    expect(rs.filter((r) => r.value?.body.case === 'pong')).toHaveLength(10);
    expect(rs.filter((r) => isParleyError(r.error, ErrorCode.TIMEOUT))).toHaveLength(5);
    expect(t.bob.channel.stats.pingsDropped).toBe(5);
    // A second later the rate allows Pings again.
    const again = track(t.alice.request(ping(99)));
    t.sim.run({ until: t.sim.now + 1_000 });
    await microtasks();
    expect(again.value?.body.case).toBe('pong');
  });

  it('[WIRE-PKT-6] [WIRE-RECV-3] an unknown body with a request_id: ErrorReply(UNKNOWN_BODY), the channel stays open', () => {
    const t = simPair({ client: { isResponse: () => false } }); // alice sees every packet in onPacket
    t.sim.run({ until: 1_000 });
    const bob = t.accepted[0]!;
    // request_id 7, body field 99 (in the body range, unknown), empty.
    rawSend(t.alice, t.aliceStream, Uint8Array.of(0x08, 0x07, 0x9a, 0x06, 0x00));
    // The same with request_id 0: discarded, no answer.
    rawSend(t.alice, t.aliceStream, Uint8Array.of(0x9a, 0x06, 0x00));
    t.sim.run({ until: t.sim.now + 1_000 });
    expect(t.aliceRec.packets).toEqual([
      { requestId: 7, body: { case: 'error', value: { code: ErrorCode.UNKNOWN_BODY, detail: '' } } },
    ]);
    expect(bob.channel.closed).toBe(false);
    t.alice.send({ requestId: 0, body: getPolicy });
    t.sim.run({ until: t.sim.now + 1_000 });
    expect(bob.rec.packets).toEqual([{ requestId: 0, body: getPolicy }]);
  });

  it('[WIRE-RECV-3] more than maxPacketsPerSecond: requests refused with ErrorReply(RATE_LIMITED), channel open', async () => {
    const t = simPair({ server: { maxPacketsPerSecond: 3 } });
    t.sim.run({ until: 1_000 });
    const bob = t.accepted[0]!;
    bob.rec.onPacket = (p) => bob.channel.send(policyReply(p.requestId));
    const rs = Array.from({ length: 5 }, () => track(t.alice.request(getPolicy)));
    t.sim.run({ until: t.sim.now + 500 });
    await microtasks();
    expect(rs.map((r) => r.value?.body.case)).toEqual(['policyReply', 'policyReply', 'policyReply', 'error', 'error']);
    expect(rs[3]!.value).toMatchObject({ body: { value: { code: ErrorCode.RATE_LIMITED } } });
    expect(bob.channel.stats.rateLimited).toBe(2);
    expect(bob.channel.closed).toBe(false);
    // The bucket refills: a second later requests are served again.
    t.sim.run({ until: t.sim.now + 1_000 });
    const later = track(t.alice.request(getPolicy));
    t.sim.run({ until: t.sim.now + 500 });
    await microtasks();
    expect(later.value?.body.case).toBe('policyReply');
  });
});

describe('stream channel over the simulator: closing', () => {
  it('[WIRE-CLOSE-1] [WIRE-CLOSE-2] orderly close: Close(0), then both streams close; one onClosed each', () => {
    const t = established();
    t.alice.close();
    expect(t.alice.closed).toBe(true);
    expect(t.alice.send({ requestId: 0, body: getPolicy })).toBe(false);
    t.sim.run();
    expect(t.aliceRec.closed).toEqual([{ code: 0, local: true, detail: '' }]);
    expect(t.bob.rec.closed).toEqual([{ code: 0, local: false, detail: '' }]);
    expect(t.clientLog.closedWith).toBe('clean');
    t.alice.close(); // no-op
    expect(t.aliceRec.closed).toHaveLength(1);
  });

  it('[WIRE-CLOSE-2] nothing after a Close is acted on: a Ping behind it in the same read is not answered', () => {
    const t = established();
    const before = t.clientLog.chunks.length;
    const close = encodePacket({
      requestId: 0,
      body: { case: 'close', value: { code: 777 as ErrorCode, detail: 'bye' } },
    });
    const transport = t.alice.established!.transport;
    const pingBytes = encodePacket({ requestId: 5, body: ping(1) });
    t.aliceStream.write(concat([encodeFrame(transport.encrypt(close)), encodeFrame(transport.encrypt(pingBytes))]));
    t.sim.run();
    // An unknown code is accepted as it is (GEN-VER-4) and recorded, not acted on.
    expect(t.bob.rec.closed).toEqual([{ code: 777, local: false, detail: 'bye' }]);
    expect(t.bob.channel.stats.pongsSent).toBe(0);
    expect(t.clientLog.chunks.length).toBe(before); // no Pong, no Close back: just the FIN
    expect(t.aliceRec.closed).toEqual([{ local: false }]);
  });

  it('outstanding requests are rejected when the channel closes', async () => {
    const t = established();
    const rs = [track(t.alice.request(getPolicy)), track(t.alice.request(getPolicy))];
    t.sim.run({ until: t.sim.now + 100 });
    t.bob.channel.close(ErrorCode.BUSY, 'shutting down');
    t.sim.run();
    await microtasks();
    for (const r of rs) {
      expect(r.error).toBeInstanceOf(ChannelClosedError);
      expect((r.error as ChannelClosedError).reason).toEqual({
        code: ErrorCode.BUSY,
        local: false,
        detail: 'shutting down',
      });
    }
    await expect(t.alice.request(getPolicy)).rejects.toBeInstanceOf(ChannelClosedError);
  });

  it('[WIRE-RECV-1] [CHAN-TRANSPORT-4] a garbage frame: DECRYPT_FAILED, the stream closes, no Close (the keys are gone)', () => {
    const t = established();
    const before = concat(t.clientLog.chunks).length;
    t.aliceStream.write(encodeFrame(new Uint8Array(40).fill(0xa5)));
    t.sim.run();
    expect(t.bob.rec.closed).toHaveLength(1);
    expect(t.bob.rec.closed[0]).toMatchObject({ code: ErrorCode.DECRYPT_FAILED, local: true });
    // 00-conventions.md §4.4 'stream': after a transport failure nothing is sent, not even Close.
    expect(concat(t.clientLog.chunks).length).toBe(before);
    expect(t.clientLog.closedWith).toBe('clean');
    expect(t.aliceRec.closed).toEqual([{ local: false }]);
  });

  it('[WIRE-RECV-1] a packet that does not decode: Close(MALFORMED) is sent, then the stream closes', () => {
    const t = established();
    rawSend(t.alice, t.aliceStream, Uint8Array.of(0x00, 0x00)); // field number 0
    t.sim.run();
    expect(t.bob.rec.closed).toEqual([expect.objectContaining({ code: ErrorCode.MALFORMED, local: true })]);
    expect(t.aliceRec.closed).toEqual([{ code: ErrorCode.MALFORMED, local: false, detail: '' }]);
    expect(t.clientLog.closedWith).toBe('clean');
  });

  it('[CHAN-FRAME-3] [CHAN-FRAME-4] a zero-length frame: the frames before it are delivered, then Close(MALFORMED)', () => {
    const t = established();
    const transport = t.alice.established!.transport;
    const notice = encodeFrame(transport.encrypt(encodePacket({ requestId: 0, body: getPolicy })));
    t.aliceStream.write(concat([notice, Uint8Array.of(0, 0), notice]));
    t.sim.run();
    expect(t.bob.rec.packets).toEqual([{ requestId: 0, body: getPolicy }]);
    expect(t.bob.rec.closed).toEqual([expect.objectContaining({ code: ErrorCode.MALFORMED, local: true })]);
    expect(t.aliceRec.closed).toEqual([{ code: ErrorCode.MALFORMED, local: false, detail: '' }]);
  });

  it('[CHAN-FRAME-5] a stream that ends inside a frame: TRUNCATED, Close(TRUNCATED)', () => {
    const t = established();
    t.aliceStream.write(Uint8Array.of(0x00)); // half a header
    t.aliceStream.end();
    t.sim.run();
    expect(t.bob.rec.closed).toEqual([expect.objectContaining({ code: ErrorCode.TRUNCATED, local: true })]);
    expect(t.aliceRec.closed).toEqual([{ code: ErrorCode.TRUNCATED, local: false, detail: '' }]);
  });

  it('the peer ends the stream after the handshake without Close: closed, not local, no code', () => {
    const t = established();
    t.aliceStream.end();
    t.sim.run();
    expect(t.bob.rec.closed).toEqual([{ local: false }]);
    expect(t.clientLog.closedWith).toBe('clean');
  });

  it('idle timeout: Close(TIMEOUT) once nothing was received for idleTimeoutMs; traffic keeps it open', async () => {
    const t = simPair({ server: { idleTimeoutMs: 5_000 } });
    t.sim.run({ until: 1_000 });
    const bob = t.accepted[0]!;
    // Alice pings every 2 s for 20 s: bob stays open.
    for (let i = 0; i < 10; i++) {
      track(t.alice.request(ping(i)));
      t.sim.run({ until: t.sim.now + 2_000 });
    }
    expect(bob.channel.closed).toBe(false);
    const quietFrom = t.sim.now;
    t.sim.run();
    expect(bob.rec.closed).toEqual([expect.objectContaining({ code: ErrorCode.TIMEOUT, local: true })]);
    expect(t.aliceRec.closed).toEqual([{ code: ErrorCode.TIMEOUT, local: false, detail: '' }]);
    // The last Ping arrived 20 ms after it was sent, 2 s before quietFrom.
    expect(bob.rec.closedAt[0]! - (quietFrom - 2_000 + 20)).toBe(5_000);
    await microtasks();
  });

  it('a slow uplink: once the write buffer exceeds maxWriteBufferBytes, RESOURCE_LIMIT and a reset', () => {
    const t = simPair({ sim: { link: { bandwidth: 20_000 } }, server: { maxWriteBufferBytes: 32 * 1024 } });
    t.sim.run({ until: 5_000 });
    const bob = t.accepted[0]!;
    expect(bob.channel.established).toBeDefined();
    const blob = new Uint8Array(8_000);
    let sent = 0;
    while (!bob.channel.closed && sent < 100) {
      bob.channel.send({ requestId: 0, body: { case: 'contactBlobReply', value: { version: sent, blob } } });
      sent++;
    }
    expect(sent).toBe(5); // 5 x ~8 KB > 32 KiB
    expect(bob.rec.closed).toEqual([expect.objectContaining({ code: ErrorCode.RESOURCE_LIMIT, local: true })]);
    t.sim.run();
    expect(t.aliceRec.closed).toHaveLength(1);
    expect((t.aliceRec.closed[0]!.error as NetError).code).toBe('ECONNRESET');
  });

  it('the same seed gives the same run (the channel reads no wall clock)', () => {
    const run = () => {
      const t = simPair({ sim: { trace: true } });
      t.sim.run({ until: 1_000 });
      t.alice.close();
      t.sim.run();
      return t.sim.trace!.digest();
    };
    expect(run()).toBe(run());
  });
});
