/**
 * Stream framing (spec/03-channels.md §6, CHAN-FRAME-*): 2-byte big-endian length then one Noise
 * message; the decoder gives the same frames however the bytes are split or coalesced, and never
 * buffers more than one maximum frame plus its header.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concatBytes } from '../../src/codec/bytes.js';
import { nodeCrypto, seededRandom } from '../../src/crypto/index.js';
import { ApiMisuse, ErrorCode } from '../../src/errors.js';
import {
  encodeFrame,
  encodeFrameHeader,
  FRAME_HEADER_LENGTH,
  FrameDecoder,
  FramingError,
  MAX_FRAME_LENGTH,
} from '../../src/framing/stream.js';
import {
  type ChannelState,
  handleMessage,
  type Step,
  startInitiator,
  startResponder,
} from '../../src/noise/channel.js';
import { config, openCodec } from '../noise/pki.js';

const hex = (frames: Uint8Array[]) => frames.map((f) => Buffer.from(f).toString('hex')).join('|');

function decodeChunks(chunks: Uint8Array[]): Uint8Array[] {
  const d = new FrameDecoder();
  const frames = chunks.flatMap((c) => d.push(c).map((f) => f.slice()));
  d.end();
  return frames;
}

const frame = (n: number, fill: number) => new Uint8Array(n).fill(fill);

describe('stream framing', () => {
  it('[CHAN-FRAME-1] a frame is a 2-byte big-endian length then the message', () => {
    expect(encodeFrame(Uint8Array.of(9, 8, 7))).toEqual(Uint8Array.of(0, 3, 9, 8, 7));
    expect([...encodeFrame(frame(0x1234, 1)).subarray(0, 2)]).toEqual([0x12, 0x34]);
    expect(encodeFrameHeader(MAX_FRAME_LENGTH)).toEqual(Uint8Array.of(0xff, 0xff));
    expect(FRAME_HEADER_LENGTH).toBe(2);
  });

  it('[CHAN-FRAME-2] [CHAN-FRAME-3] frames of 65,535 bytes are the maximum; empty or larger ones cannot be encoded', () => {
    expect(encodeFrame(frame(MAX_FRAME_LENGTH, 2)).length).toBe(65_537);
    expect(() => encodeFrame(frame(MAX_FRAME_LENGTH + 1, 2))).toThrow(ApiMisuse);
    expect(() => encodeFrame(new Uint8Array(0))).toThrow(ApiMisuse);
    expect(() => encodeFrameHeader(0)).toThrow(ApiMisuse);
  });

  it('[CHAN-FRAME-3] a zero-length frame is MALFORMED and the decoder is unusable afterwards', () => {
    const d = new FrameDecoder();
    expect(() => d.push(Uint8Array.of(0, 1, 5, 0, 0))).toThrow(expect.objectContaining({ code: ErrorCode.MALFORMED }));
    expect(() => d.push(Uint8Array.of(0, 1, 5))).toThrow(ApiMisuse);
  });

  it('[CHAN-FRAME-4] frames split at every byte boundary decode identically to the whole stream', () => {
    const frames = [frame(1, 1), frame(300, 2), frame(2, 3), frame(256, 4), frame(255, 5)];
    const stream = concatBytes(frames.map(encodeFrame));
    const want = hex(frames);
    expect(decodeChunks([stream])).toEqual(frames);
    let mismatches = 0;
    for (let cut = 0; cut <= stream.length; cut++) {
      if (hex(decodeChunks([stream.subarray(0, cut), stream.subarray(cut)])) !== want) mismatches++;
    }
    for (let cut = 0; cut <= stream.length; cut += 7) {
      for (let cut2 = cut; cut2 <= stream.length; cut2 += 11) {
        const chunks = [stream.subarray(0, cut), stream.subarray(cut, cut2), stream.subarray(cut2)];
        if (hex(decodeChunks(chunks)) !== want) mismatches++;
      }
    }
    expect(mismatches).toBe(0);
    expect(decodeChunks([...stream].map((b) => Uint8Array.of(b)))).toEqual(frames);
  });

  it('[CHAN-FRAME-4] property: any frames, any chunking, same frames out', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 700 }), { maxLength: 12 }),
        fc.array(fc.integer({ min: 0, max: 10_000 }), { maxLength: 20 }),
        (frames, cuts) => {
          const stream = concatBytes(frames.map(encodeFrame));
          const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((x, y) => x - y);
          const chunks: Uint8Array[] = [];
          let prev = 0;
          for (const p of [...points, stream.length]) {
            chunks.push(stream.subarray(prev, p));
            prev = p;
          }
          expect(decodeChunks(chunks)).toEqual(frames);
        },
      ),
    );
  });

  it('[CHAN-FRAME-4] a maximum frame fed one byte at a time never holds more than 65,537 bytes', () => {
    const big = encodeFrame(frame(MAX_FRAME_LENGTH, 9));
    const d = new FrameDecoder();
    let max = 0;
    let out: Uint8Array[] = [];
    let early = 0;
    for (let i = 0; i < big.length; i++) {
      out = d.push(big.subarray(i, i + 1));
      max = Math.max(max, d.buffered);
      if (i < big.length - 1) early += out.length;
    }
    expect(early).toBe(0);
    expect(max).toBeLessThanOrEqual(MAX_FRAME_LENGTH + FRAME_HEADER_LENGTH);
    expect(out).toHaveLength(1);
    expect(out[0]).toEqual(frame(MAX_FRAME_LENGTH, 9));
    expect(d.buffered).toBe(0);
  });

  it('[CHAN-FRAME-5] a stream that ends inside a frame is TRUNCATED', () => {
    for (const partial of [Uint8Array.of(0), Uint8Array.of(0, 5, 1, 2)]) {
      const d = new FrameDecoder();
      d.push(partial);
      expect(() => d.end()).toThrow(expect.objectContaining({ code: ErrorCode.TRUNCATED }));
    }
    const clean = new FrameDecoder();
    clean.push(encodeFrame(frame(3, 3)));
    expect(() => clean.end()).not.toThrow();
  });

  it('[CHAN-FRAME-1] [CHAN-TRANSPORT-2] a whole channel (handshake then transport) over a byte-at-a-time stream; a short transport frame is MALFORMED', () => {
    // In-memory driver: each side frames what its state machine sends; the peer decodes byte by byte.
    const suite = nodeCrypto;
    let i: Step<string> = startInitiator(config(suite, seededRandom('fi'), openCodec()));
    let r: Step<string> = startResponder(config(suite, seededRandom('fr'), openCodec()));
    const toR = new FrameDecoder();
    const toI = new FrameDecoder();
    const wire = (actions: Step<string>['actions']) =>
      concatBytes(actions.flatMap((a) => (a.kind === 'Send' ? [encodeFrame(a.message)] : [])));
    const feed = (d: FrameDecoder, bytes: Uint8Array) => [...bytes].flatMap((b) => d.push(Uint8Array.of(b)));
    const live = (s: ChannelState<string>) => s.kind !== 'Established' && s.kind !== 'Closed';
    let pendingToR: Uint8Array = wire(i.actions);
    let pendingToI: Uint8Array = new Uint8Array(0);
    while (pendingToR.length + pendingToI.length > 0) {
      const framesR = feed(toR, pendingToR);
      pendingToR = new Uint8Array(0);
      for (const f of framesR) {
        if (!live(r.state)) break;
        r = handleMessage(r.state, f);
        pendingToI = concatBytes([pendingToI, wire(r.actions)]);
      }
      const framesI = feed(toI, pendingToI);
      pendingToI = new Uint8Array(0);
      for (const f of framesI) {
        if (!live(i.state)) break;
        i = handleMessage(i.state, f);
        pendingToR = concatBytes([pendingToR, wire(i.actions)]);
      }
    }
    if (i.state.kind !== 'Established' || r.state.kind !== 'Established') throw new Error('not established');
    const a = i.state.channel.transport;
    const b = r.state.channel.transport;
    const packets = [frame(1, 1), frame(70_000 - 4481, 2), frame(0, 0)];
    const stream = concatBytes(packets.map((p) => encodeFrame(a.encrypt(p))));
    expect(feed(toR, stream).map((f) => b.decrypt(f))).toEqual(packets);
    const [short] = feed(toR, encodeFrame(frame(15, 0)));
    expect(() => b.decrypt(short!)).toThrow(expect.objectContaining({ code: ErrorCode.MALFORMED }));
  });
});

describe('a malformed frame under any chunking', () => {
  /** Every frame a driver delivers: those `push` returned, then those a FramingError carries. */
  function delivered(bytes: Uint8Array, cuts: number[]): { frames: string[]; code: number | undefined } {
    const d = new FrameDecoder();
    const frames: string[] = [];
    const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((x, y) => x - y);
    let at = 0;
    try {
      for (const p of [...points, bytes.length]) {
        for (const f of d.push(bytes.subarray(at, p))) frames.push(Buffer.from(f).toString('hex'));
        at = p;
      }
      return { frames, code: undefined };
    } catch (e) {
      if (!(e instanceof FramingError)) throw e;
      for (const f of e.frames) frames.push(Buffer.from(f).toString('hex'));
      return { frames, code: e.code };
    }
  }
  it('[CHAN-FRAME-4] [CHAN-FRAME-3] delivers exactly the frames before it, however the reads are split', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 40 }), { maxLength: 5 }),
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 40 }), { maxLength: 3 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (before, after, cuts) => {
          const stream = Buffer.concat([...before.map(encodeFrame), Uint8Array.of(0, 0), ...after.map(encodeFrame)]);
          const got = delivered(stream, cuts);
          expect(got.code).toBe(ErrorCode.MALFORMED);
          expect(got.frames).toEqual(before.map((b) => Buffer.from(b).toString('hex')));
        },
      ),
    );
  });
});
