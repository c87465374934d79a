/**
 * The datagram channel (spec/03-channels.md §7-9, CHAN-DGRAM-*, CHAN-REPLAY-*): keys from the
 * completed handshake, the packet layout and nonce, the size limit, replay and tamper rejection,
 * counter exhaustion, and that no rejection ends the session.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nobleCrypto, nodeCrypto, seededRandom } from '../../src/crypto/index.js';
import {
  DATAGRAM_HEADER_LENGTH,
  DATAGRAM_TYPE_DATA,
  DatagramChannel,
  MAX_DATAGRAM_LENGTH,
  MAX_DATAGRAM_PLAINTEXT,
  readReceiverIndex,
} from '../../src/datagram/channel.js';
import { DATAGRAM_KEY_LABEL, deriveDatagramKeys } from '../../src/datagram/keys.js';
import { ApiMisuse, ErrorCode, ParleyError } from '../../src/errors.js';
import { type ChannelAction, handleMessage, startInitiator, startResponder } from '../../src/noise/channel.js';
import { keyPairFromPrivateKey } from '../../src/noise/handshake-state.js';
import { XXHandshake } from '../../src/noise/xx.js';
import { config, openCodec } from '../noise/pki.js';

const suite = nodeCrypto;
const code = (c: ErrorCode) => expect.objectContaining({ code: c });
const bytes = (n: number, fill = 0x5a) => new Uint8Array(n).fill(fill);

function sendOf(actions: readonly ChannelAction<string>[]): Uint8Array {
  const a = actions.find((x) => x.kind === 'Send');
  if (a?.kind !== 'Send') throw new Error('nothing sent');
  return a.message;
}

/** Datagram channels for both ends of a completed handshake (initiator index 7, responder index 0xfedcba98). */
function pair(seed = 'dgram', s = suite, initialSendCounter?: bigint) {
  const i0 = startInitiator(config(s, seededRandom(`${seed} i`), openCodec()));
  const r0 = startResponder(config(s, seededRandom(`${seed} r`), openCodec()));
  const r1 = handleMessage(r0.state, sendOf(i0.actions));
  const i1 = handleMessage(i0.state, sendOf(r1.actions));
  const r2 = handleMessage(r1.state, sendOf(i1.actions));
  if (i1.state.kind !== 'Established' || r2.state.kind !== 'Established') throw new Error('handshake failed');
  const ci = i1.state.channel;
  const cr = r2.state.channel;
  const a = new DatagramChannel(s, { ...ci.datagram, localIndex: 7, remoteIndex: 0xfedcba98, initialSendCounter });
  const b = new DatagramChannel(s, { ...cr.datagram, localIndex: 0xfedcba98, remoteIndex: 7 });
  return { a, b, ci, cr };
}

describe('datagram keys', () => {
  it('[CHAN-DGRAM-1] both ends derive matching keys, one per direction', () => {
    const { ci, cr } = pair();
    expect(ci.datagram.sendKey).toEqual(cr.datagram.receiveKey);
    expect(ci.datagram.receiveKey).toEqual(cr.datagram.sendKey);
    expect(ci.datagram.sendKey).not.toEqual(ci.datagram.receiveKey);
  });

  it('[CHAN-DGRAM-1] keys = HKDF(ikm = ck, salt = h, info = label), distinct from the Split() keys, same on both suites', () => {
    const v = (
      JSON.parse(
        readFileSync(path.resolve(import.meta.dirname, '../../../../../shared/vectors/noise/cacophony.json'), 'utf8'),
      ) as { vectors: Record<string, string>[] }
    ).vectors.find((x) => x.protocol_name === 'Noise_XX_25519_ChaChaPoly_SHA256')!;
    const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
    const results = [nodeCrypto, nobleCrypto].map((s) => {
      const kp = (k: string) => keyPairFromPrivateKey(s, hex(k));
      const i = XXHandshake.initiator(s, hex(v.init_prologue!), kp(v.init_static!), kp(v.init_ephemeral!));
      const r = XXHandshake.responder(s, hex(v.resp_prologue!), kp(v.resp_static!), kp(v.resp_ephemeral!));
      r.readMessage1(i.writeMessage1(new Uint8Array(0)));
      i.readMessage2(r.writeMessage2(new Uint8Array(0)));
      r.readMessage3(i.writeMessage3(new Uint8Array(0)));
      const ck = i.symmetricState.chainingKey;
      const h = i.getHandshakeHash();
      const keys = deriveDatagramKeys(s, ck, h);
      const expected = s.hkdfSha256(ck, h, new TextEncoder().encode(DATAGRAM_KEY_LABEL), 64);
      expect(keys.initiatorToResponder).toEqual(expected.subarray(0, 32));
      expect(keys.responderToInitiator).toEqual(expected.subarray(32));
      const splitKeys = s.hkdfSha256(new Uint8Array(0), ck, new Uint8Array(0), 64);
      for (const k of [keys.initiatorToResponder, keys.responderToInitiator]) {
        expect(k).not.toEqual(splitKeys.subarray(0, 32));
        expect(k).not.toEqual(splitKeys.subarray(32));
      }
      return keys;
    });
    expect(results[0]).toEqual(results[1]);
  });
});

describe('datagram channel', () => {
  it('[CHAN-DGRAM-3] [CHAN-DGRAM-6] layout: type, receiver index, counter (BE), AEAD over the header with nonce 0^4 || counter LE', () => {
    const { a, b, ci } = pair('layout', suite, 0x0102030405060708n);
    const d = a.seal(bytes(10));
    expect(d.length).toBe(DATAGRAM_HEADER_LENGTH + 10 + 16);
    expect(d[0]).toBe(DATAGRAM_TYPE_DATA);
    expect([...d.subarray(1, 5)]).toEqual([0xfe, 0xdc, 0xba, 0x98]);
    expect([...d.subarray(5, 13)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const nonce = Uint8Array.of(0, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1);
    expect(d.subarray(13)).toEqual(suite.aeadSeal(ci.datagram.sendKey, nonce, d.subarray(0, 13), bytes(10)));
    expect(b.open(d)).toEqual(bytes(10));
    expect(a.sendCounter).toBe(0x0102030405060709n);
  });

  it('[CHAN-DGRAM-3] both suites produce identical datagrams', () => {
    const out = [nodeCrypto, nobleCrypto].map((s) => pair('same', s).a.seal(bytes(100)));
    expect(out[0]).toEqual(out[1]);
  });

  it('[CHAN-DGRAM-4] the receiver index demultiplexes before decryption; another index is DECRYPT_FAILED', () => {
    const { a, b } = pair();
    const d = a.seal(bytes(4));
    expect(readReceiverIndex(d)).toBe(0xfedcba98);
    const other = new DatagramChannel(suite, {
      sendKey: bytes(32),
      receiveKey: bytes(32),
      localIndex: 1,
      remoteIndex: 2,
    });
    expect(() => other.open(d)).toThrow(code(ErrorCode.DECRYPT_FAILED));
    expect(b.open(d)).toEqual(bytes(4));
  });

  it('[CHAN-DGRAM-3] another type byte is MALFORMED; a datagram shorter than header + tag is TRUNCATED', () => {
    const { a, b } = pair();
    const d = a.seal(bytes(4));
    const t = d.slice();
    t[0] = 0x02;
    expect(() => b.open(t)).toThrow(code(ErrorCode.MALFORMED));
    expect(() => b.open(d.subarray(0, 28))).toThrow(code(ErrorCode.TRUNCATED));
    const smallest = a.seal(new Uint8Array(0));
    expect(smallest.length).toBe(29);
    expect(b.open(smallest)).toEqual(new Uint8Array(0));
  });

  it('[CHAN-DGRAM-5] 1,171 plaintext bytes make a 1,200-byte datagram; more is refused on both ends', () => {
    const { a, b } = pair();
    expect(MAX_DATAGRAM_PLAINTEXT).toBe(1171);
    const d = a.seal(bytes(MAX_DATAGRAM_PLAINTEXT));
    expect(d.length).toBe(MAX_DATAGRAM_LENGTH);
    expect(b.open(d)).toEqual(bytes(MAX_DATAGRAM_PLAINTEXT));
    expect(() => a.seal(bytes(MAX_DATAGRAM_PLAINTEXT + 1))).toThrow(ApiMisuse);
    const oversized = new Uint8Array(MAX_DATAGRAM_LENGTH + 1);
    oversized.set(a.seal(bytes(10)));
    expect(() => b.open(oversized)).toThrow(code(ErrorCode.DATAGRAM_TOO_LARGE));
  });

  it('[CHAN-REPLAY-2] a replayed datagram is REPLAYED', () => {
    const { a, b } = pair();
    const d = a.seal(bytes(8));
    b.open(d);
    expect(() => b.open(d)).toThrow(code(ErrorCode.REPLAYED));
  });

  it('[CHAN-REPLAY-2] a datagram 2,048 counters behind the newest is TOO_OLD; 2,047 behind is accepted', () => {
    const { a, b } = pair();
    const sent = Array.from({ length: 2050 }, (_, i) => a.seal(bytes(1, i & 0xff)));
    b.open(sent[2049]!);
    expect(() => b.open(sent[1]!)).toThrow(code(ErrorCode.TOO_OLD));
    expect(b.open(sent[2]!)).toEqual(bytes(1, 2));
    expect(() => b.open(sent[0]!)).toThrow(code(ErrorCode.TOO_OLD));
  });

  it('[CHAN-REPLAY-2] datagrams reordered within the window are all accepted once', () => {
    const { a, b } = pair();
    const sent = Array.from({ length: 50 }, (_, i) => a.seal(bytes(2, i)));
    const order = [...sent.keys()].reverse();
    for (const i of order) expect(b.open(sent[i]!)).toEqual(bytes(2, i));
    for (const i of order) expect(() => b.open(sent[i]!)).toThrow(code(ErrorCode.REPLAYED));
  });

  it('[CHAN-REPLAY-3] [CHAN-DGRAM-8] a tampered datagram is DECRYPT_FAILED, moves nothing, and the session continues', () => {
    const { a, b } = pair();
    const d = a.seal(bytes(16));
    for (let i = 0; i < d.length; i++) {
      const t = d.slice();
      t[i]! ^= 0x04;
      expect(() => b.open(t), `byte ${i}`).toThrow(
        expect.objectContaining({ kind: expect.stringMatching(/decrypt|decode/) }),
      );
    }
    // A forged far-ahead counter must not have moved the window:
    const forged = d.slice();
    forged[5] = 0x7f;
    expect(() => b.open(forged)).toThrow(code(ErrorCode.DECRYPT_FAILED));
    expect(b.highestReceived).toBe(-1n);
    expect(b.open(d)).toEqual(bytes(16));
    expect(b.open(a.seal(bytes(3)))).toEqual(bytes(3));
  });

  it('[CHAN-DGRAM-7] the sender stops before counter 2^64-1: NONCE_EXHAUSTED', () => {
    const { a, b } = pair('exhaust', suite, 0xffff_ffff_ffff_fffdn);
    expect(b.open(a.seal(bytes(1)))).toEqual(bytes(1)); // 2^64-3
    expect(b.open(a.seal(bytes(1)))).toEqual(bytes(1)); // 2^64-2
    expect(() => a.seal(bytes(1))).toThrow(code(ErrorCode.NONCE_EXHAUSTED));
    expect(() => a.seal(bytes(1))).toThrow(code(ErrorCode.NONCE_EXHAUSTED));
  });

  it('[CHAN-DGRAM-7] a datagram carrying counter 2^64-1 is MALFORMED', () => {
    const { a, b } = pair();
    const d = a.seal(bytes(1));
    d.fill(0xff, 5, 13);
    expect(() => b.open(d)).toThrow(code(ErrorCode.MALFORMED));
  });

  it('[CHAN-DGRAM-8] property: random datagrams are rejected with a typed error and never disturb the session', () => {
    const { a, b } = pair('fuzz');
    const header = a.seal(bytes(0)).subarray(0, DATAGRAM_HEADER_LENGTH);
    fc.assert(
      fc.property(fc.boolean(), fc.uint8Array({ maxLength: 1300 }), (withHeader, junk) => {
        const d = withHeader ? Uint8Array.from([...header, ...junk]) : junk;
        let error: unknown;
        try {
          b.open(d);
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(ParleyError);
      }),
      { numRuns: 300 },
    );
    expect(b.open(a.seal(bytes(9)))).toEqual(bytes(9));
  });

  it('[CHAN-DGRAM-8] no rejection ends the session', () => {
    const { a, b } = pair();
    const good = a.seal(bytes(5, 1));
    b.open(good);
    expect(() => b.open(good)).toThrow();
    expect(() => b.open(new Uint8Array(3))).toThrow();
    expect(() => b.open(new Uint8Array(2000))).toThrow();
    expect(b.open(a.seal(bytes(5, 2)))).toEqual(bytes(5, 2));
  });

  it('[CHAN-DGRAM-1] datagram keys never equal the stream keys: a datagram and a transport message of the same plaintext differ', () => {
    const { a, ci } = pair();
    const stream = ci.transport.encrypt(bytes(20));
    const dgram = a.seal(bytes(20));
    expect(dgram.subarray(DATAGRAM_HEADER_LENGTH, DATAGRAM_HEADER_LENGTH + 20)).not.toEqual(stream.subarray(0, 20));
  });
});

describe('the order of datagram checks', () => {
  it('[CHAN-DGRAM-3] a datagram that is both short and of another type is TRUNCATED (length is checked first)', () => {
    const short = new Uint8Array(DATAGRAM_HEADER_LENGTH + 2).fill(0x7f);
    expect(() => readReceiverIndex(short)).toThrow(expect.objectContaining({ code: ErrorCode.TRUNCATED }));
    const long = new Uint8Array(MAX_DATAGRAM_LENGTH + 1).fill(0x7f);
    const ch = new DatagramChannel(nodeCrypto, {
      sendKey: new Uint8Array(32),
      receiveKey: new Uint8Array(32),
      localIndex: 1,
      remoteIndex: 2,
    });
    expect(() => ch.open(long)).toThrow(expect.objectContaining({ code: ErrorCode.DATAGRAM_TOO_LARGE }));
    const wrongType = new Uint8Array(40).fill(0x7f);
    expect(() => ch.open(wrongType)).toThrow(expect.objectContaining({ code: ErrorCode.MALFORMED }));
  });
});
