/**
 * The stream channel driver with fake streams and clocks (test/channel/memory.ts): a peer that never
 * reads, the handshake timer, timers cancelled on close, exactly one onClosed, attach before and after
 * connect, API misuse; and [CHAN-FRAME-4] as a property: however the byte stream is split into reads,
 * the same packets are delivered.
 */
import {
  ApiMisuse,
  ErrorCode,
  encodeFrame,
  encodePacket,
  isParleyError,
  type Packet,
  startInitiator,
  startResponder,
} from '@parley/wire';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_WRITE_BUFFER_BYTES, StreamChannel } from '../src/index.js';
import { concat, FakeClock, FakeStream, parties, Recorder } from './fixtures.js';
import { memoryPair } from './memory.js';

const getPolicy = { case: 'getPolicy', value: { knownVersion: 0 } } as const;

function responder(o: { handshakeTimeoutMs?: number; closeLingerMs?: number } = {}) {
  const clock = new FakeClock();
  const stream = new FakeStream();
  const rec = new Recorder(clock);
  const channel = new StreamChannel({
    clock,
    start: startResponder(parties().bobConfig()),
    role: 'responder',
    events: rec.events,
    stream,
    ...o,
  });
  return { clock, stream, rec, channel };
}

describe('stream channel: write buffer, timers, lifecycle', () => {
  it('a peer that never reads: RESOURCE_LIMIT once the write buffer exceeds maxWriteBufferBytes, reset, nothing more', () => {
    const m = memoryPair();
    m.pump();
    expect(m.bob.established).toBeDefined();
    // Bob answers each request with ~40 KB; alice keeps asking and never reads.
    const blob = new Uint8Array(40_000);
    m.bobRec.onPacket = (p) =>
      m.bob.send({ requestId: p.requestId, body: { case: 'contactBlobReply', value: { version: 1, blob } } });
    m.bobStream.draining = false;
    for (let i = 1; i <= 40; i++) m.alice.send({ requestId: i, body: { case: 'getContactBlob', value: {} } });
    m.pump({ toAlice: false });
    expect(m.bobRec.closed).toEqual([expect.objectContaining({ code: ErrorCode.RESOURCE_LIMIT, local: true })]);
    // The bound: the write that crossed it is the last; 27 x 40 KB > 1 MiB.
    expect(m.bobRec.packets).toHaveLength(27);
    expect(m.bobStream.writes).toHaveLength(1 + 27); // message 2, then the replies: no Close
    expect(m.bobStream.wasReset).toBe(true);
    expect(DEFAULT_MAX_WRITE_BUFFER_BYTES).toBe(1024 * 1024);
    expect(m.bob.send({ requestId: 0, body: getPolicy })).toBe(false);
  });

  it('[CHAN-HS-8] the handshake timer: TIMEOUT at exactly handshakeTimeoutMs, stream reset, nothing written', () => {
    const r = responder({ handshakeTimeoutMs: 10_000 });
    r.clock.advance(9_999);
    expect(r.channel.closed).toBe(false);
    r.clock.advance(1);
    expect(r.rec.closed).toEqual([expect.objectContaining({ code: ErrorCode.TIMEOUT, local: true })]);
    expect(r.rec.closedAt).toEqual([10_000]);
    expect(r.stream.wasReset).toBe(true);
    expect(r.stream.writes).toEqual([]);
    expect(r.clock.live).toBe(0);
  });

  it('every timer is cancelled on close (the linger timer when the stream closes); exactly one onClosed', async () => {
    const m = memoryPair({ alice: { idleTimeoutMs: 60_000 } });
    m.pump();
    const r = m.alice.request(getPolicy).catch((e: unknown) => e);
    expect(m.aliceClock.live).toBe(2); // idle + request (the handshake timer was cancelled)
    m.alice.close();
    expect(m.aliceClock.live).toBe(1); // the linger timer, until the stream closes
    expect(await r).toMatchObject({ name: 'ChannelClosedError' });
    // Everything that could report a second close.
    m.alice.close(ErrorCode.BUSY);
    m.pump();
    m.alice.handlers.onData(Uint8Array.of(0, 5, 1));
    m.alice.handlers.onEnd?.();
    m.alice.handlers.onClose(undefined);
    expect(m.aliceClock.live).toBe(0);
    expect(m.aliceRec.closed).toEqual([{ code: 0, local: true, detail: '' }]);
    expect(m.bobRec.closed).toEqual([{ code: 0, local: false, detail: '' }]);
  });

  it('linger: a peer that never finishes closing has its stream reset after closeLingerMs', () => {
    const m = memoryPair({ bob: { closeLingerMs: 3_000 } });
    m.pump();
    m.bob.close();
    expect(m.bobStream.ended).toBe(true);
    m.advance(2_999);
    expect(m.bobStream.wasReset).toBe(false);
    m.advance(1);
    expect(m.bobStream.wasReset).toBe(true);
    expect(m.bobClock.live).toBe(0);
  });

  it('the initiator sends message 1 on onConnect, or at attach when the stream connected before', () => {
    const p = parties();
    const clock = new FakeClock();
    const stream = new FakeStream();
    const a = new StreamChannel({
      clock,
      start: startInitiator(p.aliceConfig()),
      role: 'initiator',
      events: new Recorder().events,
    });
    a.attach(stream);
    expect(stream.writes).toEqual([]);
    a.handlers.onConnect?.();
    expect(stream.writes.map((w) => w.length)).toEqual([34]);
    expect(() => a.attach(stream)).toThrow(ApiMisuse);

    const b = new StreamChannel({
      clock,
      start: startInitiator(p.aliceConfig()),
      role: 'initiator',
      events: new Recorder().events,
    });
    b.handlers.onConnect?.();
    const s2 = new FakeStream();
    b.attach(s2);
    expect(s2.writes.map((w) => w.length)).toEqual([34]);
  });

  it('close() during the handshake sends nothing; closed before attach, the stream is ended at attach', () => {
    const r = responder();
    r.channel.close();
    expect(r.rec.closed).toEqual([{ code: 0, local: true, detail: '' }]);
    expect(r.stream.ended).toBe(true);
    expect(r.stream.writes).toEqual([]);

    const rec = new Recorder();
    const a = new StreamChannel({
      clock: new FakeClock(),
      start: startInitiator(parties().aliceConfig()),
      role: 'initiator',
      events: rec.events,
    });
    a.close();
    const stream = new FakeStream();
    a.attach(stream);
    a.handlers.onConnect?.();
    expect(stream.ended).toBe(true);
    expect(stream.writes).toEqual([]);
    expect(rec.closed).toHaveLength(1);
  });

  it('API misuse: a start step of the other role, a code that may not be sent, too many requests', async () => {
    const p = parties();
    expect(
      () =>
        new StreamChannel({
          clock: new FakeClock(),
          start: startResponder(p.bobConfig()),
          role: 'initiator',
          events: new Recorder().events,
        }),
    ).toThrow(ApiMisuse);
    const m = memoryPair({ alice: { maxOutstandingRequests: 2 } });
    m.pump();
    // GEN-ERR-5: local codes are never sent; the channel stays open.
    expect(() => m.alice.close(ErrorCode.API_MISUSE)).toThrow(ApiMisuse);
    expect(m.alice.closed).toBe(false);
    const held = [m.alice.request(getPolicy), m.alice.request(getPolicy)];
    for (const h of held) h.catch(() => {});
    const third = await m.alice.request(getPolicy).catch((e: unknown) => e);
    expect(isParleyError(third, ErrorCode.RESOURCE_LIMIT)).toBe(true);
    expect(m.alice.outstandingRequests).toBe(2);
  });

  it('[CHAN-TRANSPORT-5] NONCE_EXHAUSTED: the channel closes and nothing more is written (not even Close)', () => {
    const last = 2n ** 64n - 2n; // one message left in each direction
    const m = memoryPair({ transport: { initialSendNonce: last, initialReceiveNonce: last } });
    m.pump();
    expect(m.alice.send({ requestId: 0, body: getPolicy })).toBe(true);
    const before = m.aliceStream.writes.length;
    expect(m.alice.send({ requestId: 0, body: getPolicy })).toBe(false);
    expect(m.aliceRec.closed).toEqual([expect.objectContaining({ code: ErrorCode.NONCE_EXHAUSTED, local: true })]);
    expect(m.aliceStream.writes.length).toBe(before);
    expect(m.aliceStream.ended).toBe(true);
    m.pump();
    expect(m.bobRec.packets).toEqual([{ requestId: 0, body: getPolicy }]);
    expect(m.bobRec.closed).toEqual([{ local: false }]);
  });
});

describe('stream channel: [CHAN-FRAME-4] the split of the byte stream does not matter', () => {
  // One recorded run: alice's bytes to bob (handshake messages 1 and 3, then packets), replayed into a
  // fresh bob with the same seed (so the same keys) in arbitrary chunks.
  const packets: Packet[] = [
    { requestId: 0, body: getPolicy },
    {
      requestId: 1,
      body: { case: 'putContactBlob', value: { expectedVersion: 3, blob: new Uint8Array(48_000).fill(5) } },
    },
    { requestId: 2, body: { case: 'ping', value: { sequence: 1, data: new Uint8Array(200).fill(1) } } },
    { requestId: 3, body: { case: 'getSupernodeList', value: { knownEpoch: 7, page: 2 } } },
    { requestId: 0, body: getPolicy },
    { requestId: 4, body: { case: 'putContactBlob', value: { expectedVersion: 0, blob: new Uint8Array(1).fill(9) } } },
  ];
  const recorded = memoryPair({ seed: 'chunks' });
  recorded.pump();
  for (const p of packets) recorded.alice.send(p);
  recorded.pump();
  const expected = recorded.bobRec.packets;
  const bytes = concat(recorded.aliceToBob);

  /** Packets as their canonical encodings (deep equality over 48 KB arrays is slow). */
  const encoded = (ps: readonly Packet[]) => ps.map((p) => Buffer.from(encodePacket(p)).toString('base64'));
  const want = encoded(expected);

  function replay(stream: Uint8Array, cuts: number[]) {
    const clock = new FakeClock();
    const out = new FakeStream();
    out.draining = true;
    const rec = new Recorder(clock);
    const bob = new StreamChannel({
      clock,
      start: startResponder(parties().bobConfig('bob-chunks')),
      role: 'responder',
      events: rec.events,
      stream: out,
    });
    const points = [...new Set(cuts.map((c) => c % stream.length))].sort((a, b) => a - b);
    let at = 0;
    for (const p of [...points, stream.length]) {
      if (p > at) bob.handlers.onData(stream.slice(at, p));
      at = p;
    }
    return { bob, rec, out };
  }

  it('the recording delivers every packet but the Ping (answered by the driver)', () => {
    expect(expected).toHaveLength(packets.length - 1);
    expect(recorded.bob.stats.pongsSent).toBe(1);
    expect(replay(bytes, []).rec.packets).toEqual(expected);
  });

  it('any split into reads delivers the same packets', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 40 }), fc.boolean(), (cuts, byteByByteHeader) => {
        // Also: a read boundary right inside the first frame header.
        const r = replay(bytes, byteByByteHeader ? [1, ...cuts] : cuts);
        expect(encoded(r.rec.packets)).toEqual(want);
        expect(r.bob.established?.peer.certificate.subject).toBe('alice');
        expect(r.rec.closed).toEqual([]);
        expect(r.bob.stats.pongsSent).toBe(1);
      }),
      { numRuns: 100 },
    );
  });

  it('[CHAN-FRAME-3] with a zero-length frame: the frames before it, and only those, then Close(MALFORMED)', () => {
    const extra = encodeFrame(new Uint8Array(40));
    const broken = concat([bytes, Uint8Array.of(0, 0), extra]);
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 40 }), (cuts) => {
        const r = replay(broken, cuts);
        expect(encoded(r.rec.packets)).toEqual(want);
        expect(r.rec.closed).toEqual([expect.objectContaining({ code: ErrorCode.MALFORMED, local: true })]);
        expect(r.out.ended).toBe(true);
      }),
      { numRuns: 100 },
    );
  });
});
