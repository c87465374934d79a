/**
 * Transport messages over the established channel (spec/03-channels.md §5-6, CHAN-TRANSPORT-*,
 * CHAN-REKEY-*): round trips, tampering, replay and reordering, the rekey schedule at its boundary,
 * and the hard stop before nonce 2^64-1.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nobleCrypto, nodeCrypto, seededRandom } from '../../src/crypto/index.js';
import type { CryptoSuite } from '../../src/crypto/suite.js';
import { ApiMisuse, ErrorCode } from '../../src/errors.js';
import {
  type ChannelAction,
  type EstablishedChannel,
  handleMessage,
  startInitiator,
  startResponder,
} from '../../src/noise/channel.js';
import { CipherState } from '../../src/noise/cipher-state.js';
import {
  MAX_MESSAGE_LENGTH,
  MAX_PLAINTEXT_LENGTH,
  REKEY_AFTER_BYTES,
  REKEY_AFTER_MESSAGES,
  Transport,
  type TransportOptions,
} from '../../src/noise/transport.js';
import { config, openCodec } from './pki.js';

const MAX_NONCE = 0xffff_ffff_ffff_ffffn;

function sendOf(actions: readonly ChannelAction<string>[]): Uint8Array {
  const a = actions.find((x) => x.kind === 'Send');
  if (a?.kind !== 'Send') throw new Error('nothing sent');
  return a.message;
}

/** A completed channel pair (initiator a, responder b) with an accept-anything payload codec. */
function pair(
  o: { a?: TransportOptions; b?: TransportOptions; suite?: CryptoSuite; seed?: string } = {},
): [EstablishedChannel<string>, EstablishedChannel<string>] {
  const suite = o.suite ?? nodeCrypto;
  const seed = o.seed ?? 'transport';
  const i0 = startInitiator(config(suite, seededRandom(`${seed} i`), openCodec(), { transport: o.a }));
  const r0 = startResponder(config(suite, seededRandom(`${seed} r`), openCodec(), { transport: o.b }));
  const r1 = handleMessage(r0.state, sendOf(i0.actions));
  const i1 = handleMessage(i0.state, sendOf(r1.actions));
  const r2 = handleMessage(r1.state, sendOf(i1.actions));
  if (i1.state.kind !== 'Established' || r2.state.kind !== 'Established') throw new Error('handshake failed');
  return [i1.state.channel, r2.state.channel];
}

const bytes = (n: number, fill = 0xab) => new Uint8Array(n).fill(fill);

describe('Noise transport', () => {
  it('[CHAN-TRANSPORT-1] [CHAN-TRANSPORT-2] packets of 0, 1 and 65,519 bytes round-trip; a message is plaintext + 16', () => {
    const [a, b] = pair();
    expect(MAX_PLAINTEXT_LENGTH).toBe(65_519);
    for (const n of [0, 1, 1000, MAX_PLAINTEXT_LENGTH]) {
      const m = a.transport.encrypt(bytes(n));
      expect(m.length).toBe(n + 16);
      expect(b.transport.decrypt(m)).toEqual(bytes(n));
    }
    expect(a.transport.encrypt(bytes(MAX_PLAINTEXT_LENGTH)).length).toBe(MAX_MESSAGE_LENGTH);
  });

  it('[CHAN-TRANSPORT-2] a packet over 65,519 bytes is refused locally without closing the transport', () => {
    const [a, b] = pair();
    expect(() => a.transport.encrypt(bytes(MAX_PLAINTEXT_LENGTH + 1))).toThrow(ApiMisuse);
    expect(a.transport.closed).toBe(false);
    expect(b.transport.decrypt(a.transport.encrypt(bytes(3)))).toEqual(bytes(3));
  });

  it('[CHAN-TRANSPORT-2] [CHAN-TRANSPORT-4] a transport message shorter than 16 bytes is MALFORMED and closes', () => {
    const [, b] = pair();
    expect(() => b.transport.decrypt(bytes(15))).toThrow(expect.objectContaining({ code: ErrorCode.MALFORMED }));
    expect(b.transport.closed).toBe(true);
  });

  it('[CHAN-TRANSPORT-1] a transport message over 65,535 bytes is FRAME_TOO_LARGE', () => {
    const [, b] = pair();
    expect(() => b.transport.decrypt(bytes(65_536))).toThrow(
      expect.objectContaining({ code: ErrorCode.FRAME_TOO_LARGE }),
    );
  });

  it('[CHAN-TRANSPORT-4] a tampered message is DECRYPT_FAILED; the transport stays closed with that error', () => {
    const [a, b] = pair();
    const m = a.transport.encrypt(bytes(40));
    for (const i of [0, 20, m.length - 1]) {
      const [x, y] = pair({ seed: `t${i}` });
      const t = x.transport.encrypt(bytes(40));
      t[i]! ^= 0x80;
      expect(() => y.transport.decrypt(t)).toThrow(expect.objectContaining({ code: ErrorCode.DECRYPT_FAILED }));
      expect(y.transport.closed).toBe(true);
      // Even the genuine message is refused afterwards: the channel is gone.
      expect(() => y.transport.decrypt(x.transport.encrypt(bytes(1)))).toThrow(
        expect.objectContaining({ code: ErrorCode.DECRYPT_FAILED }),
      );
    }
    expect(b.transport.decrypt(m)).toEqual(bytes(40));
  });

  it('[CHAN-TRANSPORT-4] a replayed message is DECRYPT_FAILED (the nonce has moved on)', () => {
    const [a, b] = pair();
    const m = a.transport.encrypt(bytes(10));
    b.transport.decrypt(m);
    expect(() => b.transport.decrypt(m)).toThrow(expect.objectContaining({ code: ErrorCode.DECRYPT_FAILED }));
  });

  it('[CHAN-TRANSPORT-4] reordered messages are DECRYPT_FAILED', () => {
    const [a, b] = pair();
    a.transport.encrypt(bytes(10, 1));
    const second = a.transport.encrypt(bytes(10, 2));
    expect(() => b.transport.decrypt(second)).toThrow(expect.objectContaining({ code: ErrorCode.DECRYPT_FAILED }));
  });

  it('[CHAN-TRANSPORT-3] a message cannot be reflected back to its sender', () => {
    const [a] = pair();
    const m = a.transport.encrypt(bytes(10));
    expect(() => a.transport.decrypt(m)).toThrow(expect.objectContaining({ code: ErrorCode.DECRYPT_FAILED }));
  });

  it('[CHAN-TRANSPORT-1] both CryptoSuites give identical transport bytes', () => {
    const out = [nodeCrypto, nobleCrypto].map((suite) => {
      const [a, b] = pair({ suite, seed: 'same' });
      return [a.transport.encrypt(bytes(100)), b.transport.encrypt(bytes(7))];
    });
    expect(out[0]).toEqual(out[1]);
  });

  describe('rekey', () => {
    it('[CHAN-REKEY-1] the defaults are 2^20 messages and 1 GiB', () => {
      expect(REKEY_AFTER_MESSAGES).toBe(1_048_576);
      expect(REKEY_AFTER_BYTES).toBe(1_073_741_824);
    });

    it('[CHAN-REKEY-1] [CHAN-REKEY-2] rekeying after N messages interoperates and changes the key exactly at the boundary', () => {
      const opts = { rekeyAfterMessages: 4 };
      const [a, b] = pair({ a: opts, b: opts, seed: 'rk' });
      const [c] = pair({ seed: 'rk' }); // same keys, never rekeys
      for (let i = 0; i < 13; i++) {
        const m = a.transport.encrypt(bytes(i, i));
        const plain = c.transport.encrypt(bytes(i, i));
        // Messages 0..3 use the original key; from message 4 on, the rekeyed one.
        if (i < 4) expect(m).toEqual(plain);
        else expect(m).not.toEqual(plain);
        expect(b.transport.decrypt(m)).toEqual(bytes(i, i));
        // And the other direction, interleaved.
        expect(a.transport.decrypt(b.transport.encrypt(bytes(3, i)))).toEqual(bytes(3, i));
      }
      // [CHAN-REKEY-2] Rekey() leaves the nonce counting.
      expect(a.transport.sendNonce).toBe(13n);
      expect(b.transport.receiveNonce).toBe(13n);
      // A receiver that did not rekey fails on the first message after the boundary.
      const [e, f] = pair({ a: opts, seed: 'rk2' });
      for (let i = 0; i < 4; i++) f.transport.decrypt(e.transport.encrypt(bytes(1)));
      expect(() => f.transport.decrypt(e.transport.encrypt(bytes(1)))).toThrow(
        expect.objectContaining({ code: ErrorCode.DECRYPT_FAILED }),
      );
    });

    it('[CHAN-REKEY-1] [CHAN-REKEY-2] rekeying on ciphertext bytes interoperates and happens once the count is reached', () => {
      const opts = { rekeyAfterBytes: 200 };
      const [a, b] = pair({ a: opts, b: opts, seed: 'rb' });
      const [c] = pair({ seed: 'rb' });
      // 84 ciphertext bytes each: after the 3rd message (252 >= 200) the key changes.
      for (let i = 0; i < 8; i++) {
        const m = a.transport.encrypt(bytes(68, i));
        const plain = c.transport.encrypt(bytes(68, i));
        if (i < 3) expect(m).toEqual(plain);
        else expect(m).not.toEqual(plain);
        expect(b.transport.decrypt(m)).toEqual(bytes(68, i));
      }
    });

    it('[CHAN-REKEY-1] Rekey() is ENCRYPT(k, 2^64-1, empty, zeros) truncated to 32 bytes on both suites', () => {
      for (const suite of [nodeCrypto, nobleCrypto]) {
        const key = bytes(32, 7);
        const cs = new CipherState(suite, key);
        cs.rekey();
        const maxNonce = new Uint8Array(12).fill(0xff, 4);
        const expected = suite.aeadSeal(key, maxNonce, new Uint8Array(0), new Uint8Array(32)).subarray(0, 32);
        const check = new CipherState(suite, expected);
        expect(cs.encryptWithAd(new Uint8Array(0), bytes(5))).toEqual(check.encryptWithAd(new Uint8Array(0), bytes(5)));
      }
    });
  });

  it('[CHAN-REKEY-1] [CHAN-REKEY-2] property: any interleaving of sizes and directions with small rekey limits round-trips', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 17, max: 400 }),
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 300 })), { maxLength: 60 }),
        (rekeyAfterMessages, rekeyAfterBytes, sends) => {
          const opts = { rekeyAfterMessages, rekeyAfterBytes };
          const [a, b] = pair({ a: opts, b: opts, seed: 'prop' });
          for (const [fromA, n] of sends) {
            const [x, y] = fromA ? [a, b] : [b, a];
            expect(y.transport.decrypt(x.transport.encrypt(bytes(n, n & 0xff)))).toEqual(bytes(n, n & 0xff));
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  describe('nonce exhaustion', () => {
    it('[CHAN-TRANSPORT-5] the sender stops before nonce 2^64-1: NONCE_EXHAUSTED, closed', () => {
      const [a, b] = pair({ a: { initialSendNonce: MAX_NONCE - 2n }, b: { initialReceiveNonce: MAX_NONCE - 2n } });
      expect(b.transport.decrypt(a.transport.encrypt(bytes(1, 1)))).toEqual(bytes(1, 1)); // nonce 2^64-3
      expect(b.transport.decrypt(a.transport.encrypt(bytes(1, 2)))).toEqual(bytes(1, 2)); // nonce 2^64-2
      expect(a.transport.sendNonce).toBe(MAX_NONCE);
      let error: unknown;
      try {
        a.transport.encrypt(bytes(1, 3));
      } catch (e) {
        error = e;
      }
      expect(error).toMatchObject({ code: ErrorCode.NONCE_EXHAUSTED, kind: 'protocol' });
      expect(a.transport.closed).toBe(true);
      expect(() => a.transport.encrypt(bytes(1))).toThrow(expect.objectContaining({ code: ErrorCode.NONCE_EXHAUSTED }));
      // The other direction is closed too: the whole channel ends.
      expect(() => a.transport.decrypt(b.transport.encrypt(bytes(1)))).toThrow(
        expect.objectContaining({ code: ErrorCode.NONCE_EXHAUSTED }),
      );
    });

    it('[CHAN-TRANSPORT-5] the receiver refuses to decrypt at nonce 2^64-1: NONCE_EXHAUSTED, closed', () => {
      const [a, b] = pair({ b: { initialReceiveNonce: MAX_NONCE } });
      expect(() => b.transport.decrypt(a.transport.encrypt(bytes(1)))).toThrow(
        expect.objectContaining({ code: ErrorCode.NONCE_EXHAUSTED }),
      );
      expect(b.transport.closed).toBe(true);
    });

    it('[CHAN-TRANSPORT-5] the nonce carries across 32 bits correctly', () => {
      const [a, b] = pair({ a: { initialSendNonce: 0xffff_fffen }, b: { initialReceiveNonce: 0xffff_fffen } });
      for (let i = 0; i < 4; i++) expect(b.transport.decrypt(a.transport.encrypt(bytes(2, i)))).toEqual(bytes(2, i));
      expect(a.transport.sendNonce).toBe(0x1_0000_0002n);
    });
  });

  it('[CHAN-TRANSPORT-4] close() wipes the keys and later calls fail', () => {
    const [a] = pair();
    a.transport.close();
    expect(() => a.transport.encrypt(bytes(1))).toThrow(ApiMisuse);
  });
});

describe('CipherState', () => {
  it('[CHAN-NOISE-1] without a key, EncryptWithAd and DecryptWithAd return their input (Noise §5.1)', () => {
    const cs = new CipherState(nodeCrypto);
    expect(cs.hasKey()).toBe(false);
    expect(cs.encryptWithAd(bytes(1), bytes(4))).toEqual(bytes(4));
    expect(cs.decryptWithAd(bytes(1), bytes(4))).toEqual(bytes(4));
  });

  it('[CHAN-NOISE-1] a failed DecryptWithAd does not advance the nonce (Noise §5.1)', () => {
    const a = new CipherState(nodeCrypto, bytes(32, 1));
    const b = new CipherState(nodeCrypto, bytes(32, 1));
    const m = a.encryptWithAd(new Uint8Array(0), bytes(3));
    const bad = m.slice();
    bad[0]! ^= 1;
    expect(() => b.decryptWithAd(new Uint8Array(0), bad)).toThrow(
      expect.objectContaining({ code: ErrorCode.DECRYPT_FAILED }),
    );
    expect(b.nonce).toBe(0n);
    expect(b.decryptWithAd(new Uint8Array(0), m)).toEqual(bytes(3));
    expect(b.nonce).toBe(1n);
  });

  it('[CHAN-TRANSPORT-3] a Transport needs keyed CipherStates', () => {
    expect(() => new Transport(new CipherState(nodeCrypto), new CipherState(nodeCrypto))).toThrow(ApiMisuse);
  });
});
