/**
 * Published Noise test vectors (shared/vectors/noise: cacophony.json and snow.json from
 * github.com/mcginty/snow tests/vectors, commit 8ac60f5, Apache-2.0), every vector whose suite is
 * 25519_ChaChaPoly_SHA256, run through the generic HandshakeState and, for XX, through the
 * message-by-message XXHandshake that Parley's channel uses ([CHAN-NOISE-1]). Each vector is run on
 * both CryptoSuites, which must give identical bytes.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { nobleCrypto, nodeCrypto } from '../../src/crypto/index.js';
import type { CryptoSuite } from '../../src/crypto/suite.js';
import type { CipherState } from '../../src/noise/cipher-state.js';
import { HandshakeState, keyPairFromPrivateKey } from '../../src/noise/handshake-state.js';
import { XXHandshake } from '../../src/noise/xx.js';

interface Vector {
  protocol_name: string;
  init_prologue: string;
  init_psks?: string[];
  init_static?: string;
  init_ephemeral: string;
  init_remote_static?: string;
  resp_prologue: string;
  resp_psks?: string[];
  resp_static?: string;
  resp_ephemeral?: string;
  resp_remote_static?: string;
  handshake_hash?: string;
  messages: { payload: string; ciphertext: string }[];
}

const repoRoot = path.resolve(import.meta.dirname, '../../../..');
const SUITE_SUFFIX = '_25519_ChaChaPoly_SHA256';

function load(file: string): Vector[] {
  const text = readFileSync(path.resolve(repoRoot, '../shared/vectors/noise', file), 'utf8');
  return (JSON.parse(text) as { vectors: Vector[] }).vectors.filter((v) => v.protocol_name.endsWith(SUITE_SUFFIX));
}

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const opt = (s: string | undefined): Uint8Array | undefined => (s === undefined ? undefined : hex(s));

const suites: CryptoSuite[] = [nodeCrypto, nobleCrypto];

/** Runs one vector; returns every produced ciphertext and the handshake hash (hex). */
function runVector(suite: CryptoSuite, v: Vector): { ciphertexts: string[]; handshakeHash: string } {
  const kp = (s: string | undefined) => (s === undefined ? undefined : keyPairFromPrivateKey(suite, hex(s)));
  const init = new HandshakeState(suite, {
    protocolName: v.protocol_name,
    initiator: true,
    prologue: hex(v.init_prologue),
    s: kp(v.init_static),
    e: kp(v.init_ephemeral),
    rs: opt(v.init_remote_static),
    psks: (v.init_psks ?? []).map(hex),
  });
  const resp = new HandshakeState(suite, {
    protocolName: v.protocol_name,
    initiator: false,
    prologue: hex(v.resp_prologue),
    s: kp(v.resp_static),
    e: kp(v.resp_ephemeral),
    rs: opt(v.resp_remote_static),
    psks: (v.resp_psks ?? []).map(hex),
  });
  const ciphertexts: string[] = [];
  const handshakeLength = init.pattern.messages.length;
  let i = 0;
  for (; i < handshakeLength && i < v.messages.length; i++) {
    const [writer, reader] = i % 2 === 0 ? [init, resp] : [resp, init];
    const m = v.messages[i]!;
    const message = writer.writeMessage(hex(m.payload));
    ciphertexts.push(toHex(message));
    expect(toHex(reader.readMessage(message))).toBe(m.payload);
  }
  expect(init.isComplete && resp.isComplete).toBe(true);
  expect(toHex(init.getHandshakeHash())).toBe(toHex(resp.getHandshakeHash()));
  const a = init.split();
  const b = resp.split();
  // Cacophony's convention: after the handshake, one-way patterns keep sending initiator to responder;
  // interactive ones keep alternating from where the handshake left off.
  for (; i < v.messages.length; i++) {
    const fromInitiator = init.pattern.oneWay || i % 2 === 0;
    const [send, recv]: [CipherState, CipherState] = fromInitiator
      ? [a.initiatorToResponder, b.initiatorToResponder]
      : [b.responderToInitiator, a.responderToInitiator];
    const m = v.messages[i]!;
    const ct = send.encryptWithAd(new Uint8Array(0), hex(m.payload));
    ciphertexts.push(toHex(ct));
    expect(toHex(recv.decryptWithAd(new Uint8Array(0), ct))).toBe(m.payload);
  }
  return { ciphertexts, handshakeHash: toHex(init.getHandshakeHash()) };
}

describe('Noise vectors (25519_ChaChaPoly_SHA256)', () => {
  const cacophony = load('cacophony.json');
  const snow = load('snow.json');

  it('[CHAN-NOISE-1] the vector files hold the expected number of vectors for this suite', () => {
    expect(cacophony.length).toBe(59);
    expect(snow.length).toBe(51);
  });

  for (const [file, vectors] of [
    ['cacophony', cacophony],
    ['snow', snow],
  ] as const) {
    for (const v of vectors) {
      it(`[CHAN-NOISE-1] ${file} ${v.protocol_name} reproduces every message on both suites`, () => {
        const results = suites.map((suite) => runVector(suite, v));
        for (const r of results) {
          expect(r.ciphertexts).toEqual(v.messages.map((m) => m.ciphertext));
          if (v.handshake_hash) expect(r.handshakeHash).toBe(v.handshake_hash);
        }
        expect(results[0]).toEqual(results[1]);
      });
    }
  }

  for (const [file, vectors] of [
    ['cacophony', cacophony],
    ['snow', snow],
  ] as const) {
    const v = vectors.find((x) => x.protocol_name === 'Noise_XX_25519_ChaChaPoly_SHA256')!;
    it(`[CHAN-NOISE-1] [CHAN-NOISE-3] ${file} Noise_XX vector through XXHandshake, byte for byte, on both suites`, () => {
      for (const suite of suites) {
        const kp = (s: string) => keyPairFromPrivateKey(suite, hex(s));
        const init = XXHandshake.initiator(suite, hex(v.init_prologue), kp(v.init_static!), kp(v.init_ephemeral));
        const resp = XXHandshake.responder(suite, hex(v.resp_prologue), kp(v.resp_static!), kp(v.resp_ephemeral!));
        const [m1, m2, m3] = v.messages;
        const msg1 = init.writeMessage1(hex(m1!.payload));
        expect(toHex(msg1)).toBe(m1!.ciphertext);
        expect(toHex(resp.readMessage1(msg1))).toBe(m1!.payload);
        const msg2 = resp.writeMessage2(hex(m2!.payload));
        expect(toHex(msg2)).toBe(m2!.ciphertext);
        expect(toHex(init.readMessage2(msg2))).toBe(m2!.payload);
        const msg3 = init.writeMessage3(hex(m3!.payload));
        expect(toHex(msg3)).toBe(m3!.ciphertext);
        expect(toHex(resp.readMessage3(msg3))).toBe(m3!.payload);
        if (v.handshake_hash) expect(toHex(init.getHandshakeHash())).toBe(v.handshake_hash);
        expect(toHex(resp.getHandshakeHash())).toBe(toHex(init.getHandshakeHash()));
        expect(resp.remoteStaticKey).toEqual(suite.x25519PublicKey(hex(v.init_static!)));
        expect(init.remoteStaticKey).toEqual(suite.x25519PublicKey(hex(v.resp_static!)));
        const a = init.split();
        const b = resp.split();
        for (let i = 3; i < v.messages.length; i++) {
          const [send, recv] =
            i % 2 === 0
              ? [a.initiatorToResponder, b.initiatorToResponder]
              : [b.responderToInitiator, a.responderToInitiator];
          const ct = send.encryptWithAd(new Uint8Array(0), hex(v.messages[i]!.payload));
          expect(toHex(ct)).toBe(v.messages[i]!.ciphertext);
          expect(toHex(recv.decryptWithAd(new Uint8Array(0), ct))).toBe(v.messages[i]!.payload);
        }
      }
    });
  }
});
