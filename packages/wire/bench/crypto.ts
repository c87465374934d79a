/**
 * Figures for the two implementations of the Parley v1 cipher suite (spec/04-crypto.md): the
 * operations the Noise handshake and transport spend their time in. Like noble's benchmarks, it
 * first checks that both suites give the same bytes, then times them. For `pnpm bench` to merge.
 */
import { nobleCrypto, nodeCrypto } from '../src/crypto/index.js';
import type { CryptoSuite } from '../src/crypto/suite.js';
import { rawChaChaPolyThroughput } from './ceiling.js';
import { type Figure, type MeasureOptions, opsPerSecond } from './measure.js';

const FRAME = 65_536 - 16; // a 64 KiB frame: plaintext plus the 16-byte tag

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The figures `crypto.<suite>.<op>`, and the AEAD throughput against raw node:crypto. */
export function cryptoFigures(machine: string, opts: MeasureOptions = {}): Figure[] {
  const priv = new Uint8Array(32).fill(0x11);
  const peer = nodeCrypto.x25519PublicKey(new Uint8Array(32).fill(0x22));
  const seed = new Uint8Array(32).fill(0x33);
  const msg = new Uint8Array(200).fill(0x44);
  const key = new Uint8Array(32).fill(0x55);
  const nonce = new Uint8Array(12);
  const frame = new Uint8Array(FRAME).fill(0xa5);
  const ad = new Uint8Array(0);
  const sig = nodeCrypto.ed25519Sign(seed, msg);
  const pub = nodeCrypto.ed25519PublicKey(seed);
  for (const [a, b] of [
    [nodeCrypto.x25519(priv, peer), nobleCrypto.x25519(priv, peer)],
    [sig, nobleCrypto.ed25519Sign(seed, msg)],
    [nodeCrypto.aeadSeal(key, nonce, ad, frame), nobleCrypto.aeadSeal(key, nonce, ad, frame)],
  ] as const) {
    if (!sameBytes(a, b)) throw new Error('nodeCrypto and nobleCrypto disagree: [CRYPTO-SUITE-2] is broken');
  }

  const figures: Figure[] = [];
  const ops = (suite: CryptoSuite, op: string, fn: () => void) =>
    figures.push({
      id: `crypto.${suite.name}.${op}`,
      value: Math.round(opsPerSecond(fn, opts)),
      unit: 'ops/s',
      higherIsBetter: true,
      machine,
    });
  for (const suite of [nodeCrypto, nobleCrypto]) {
    // Fresh key arrays per call, as for an ephemeral key or a key just decoded from a peer: nodeCrypto
    // remembers imported keys per array, and a figure over one array would time only the memo.
    ops(suite, 'x25519', () => suite.x25519(priv.slice(), peer.slice()));
    ops(suite, 'x25519PublicKey', () => suite.x25519PublicKey(priv.slice()));
    ops(suite, 'ed25519Verify', () => suite.ed25519Verify(pub.slice(), msg, sig));
    // One long-lived signing key (a login server's), where the memo is the steady state.
    ops(suite, 'ed25519Sign', () => suite.ed25519Sign(seed, msg));
    const sealOpen = opsPerSecond(() => suite.aeadOpen(key, nonce, ad, suite.aeadSeal(key, nonce, ad, frame)), opts);
    const mbps = Math.round((sealOpen * FRAME) / 1e6);
    figures.push({ id: `crypto.${suite.name}.aead64k`, value: mbps, unit: 'MB/s', higherIsBetter: true, machine });
  }
  // Seal + open of 64 KiB frames against the same work on raw node:crypto, measured in this run.
  const raw = Math.round(rawChaChaPolyThroughput(FRAME, 256 * 2 ** 20) / 1e6);
  const node = figures.find((f) => f.id === 'crypto.node.aead64k')!;
  node.peer = { name: 'raw node:crypto ChaCha20-Poly1305', value: raw };
  node.target = { value: Math.round(raw / 2), note: '>= 50% of raw node:crypto (seal + open, 64 KiB frames)' };
  return figures;
}
