/**
 * Figures for end-to-end encryption (spec/10-e2e.md), on both crypto suites, in the format of DESIGN.md §12:
 *
 *   - e2e.ratchet.encrypt.<suite>: messages of 100 bytes encrypted per second on one sending chain, as a
 *     device sends them (E2eSessions.encryptFor, then the E2eMessage encoded);
 *   - e2e.ratchet.decrypt.<suite>: the same messages decoded and decrypted per second, in order
 *     (E2eSessions.decrypt: a chain step, the message key, the AEAD open);
 *   - e2e.ratchet.pingpong.<suite>: messages per second when every message changes direction, so that each
 *     decryption takes a DH-ratchet step (two X25519 and a fresh key) — the worst case of a chat;
 *   - e2e.x3dh.<suite>: sessions per second: a verified bundle, X3DH on both sides and the first message.
 *
 * The ceiling shown beside the encrypt and decrypt figures is raw node:crypto ChaCha20-Poly1305 (seal and
 * open) of the same size, measured in the same run: what is left above it is the ratchet's own cost.
 *
 *   node dist/bench/e2e.js [--quick] [--json]    writes bench/results/wire-e2e.json at the repository root
 *
 * `e2eFigures` is exported for bench/run.ts to include.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { nobleCrypto, nodeCrypto, seededRandom } from '../src/crypto/index.js';
import type { CryptoSuite, Random } from '../src/crypto/suite.js';
import {
  bundleKeys,
  createPrekeys,
  decodeE2eMessage,
  E2eSessions,
  encodeE2eMessage,
  generateX25519,
  type LocalDevice,
  MemoryPrekeyStore,
} from '../src/e2e/index.js';
import { type Certificate, decodeCertificate, issueCertificate, Role } from '../src/identity/certificate.js';
import { createRootKey, generateSigningKey } from '../src/identity/keys.js';
import { decodeSigned } from '../src/identity/signed.js';
import { rawChaChaPolyThroughput } from './ceiling.js';
import { type Figure, type MeasureOptions, opsPerSecond } from './measure.js';

const SIZE = 100;
const NOW = 1_800_000_000_000;

interface Device {
  certificate: Certificate;
  local: LocalDevice;
  prekeys: MemoryPrekeyStore;
  signedPrekey: Uint8Array;
  random: Random;
  peer: { username: string; deviceId: Uint8Array };
}

/** Two certified devices with identity DH keys and a signed prekey each (no one-time prekeys: reusable). */
function devices(suite: CryptoSuite): [Device, Device] {
  const random = seededRandom(`bench e2e ${suite.name}`);
  const root = createRootKey(suite, random);
  const device = (username: string, serial: number): Device => {
    const key = generateSigningKey(suite, random);
    const deviceId = random.randomBytes(16);
    const signed = issueCertificate(suite, root, {
      subject: username,
      subjectKey: key.publicKey,
      deviceId,
      role: Role.ROLE_USER,
      serial,
      notBefore: NOW - 3_600_000,
      notAfter: NOW + 3_600_000,
    });
    const certificate = decodeCertificate(decodeSigned(signed).body);
    const identityDh = generateX25519(suite, random);
    const created = createPrekeys(suite, random, {
      seed: key.seed,
      deviceId,
      identityDhKey: identityDh.publicKey,
      signedPrekeyId: 1,
      firstOneTimeId: 1,
      count: 0,
      nowMs: NOW,
    });
    const prekeys = new MemoryPrekeyStore();
    prekeys.signed.set(1, created.signed.keyPair.privateKey);
    const local = { username, deviceId, identityDh, signedPrekey: created.upload.signedPrekey };
    return {
      certificate,
      local,
      prekeys,
      signedPrekey: created.upload.signedPrekey,
      random: seededRandom(`bench e2e ${suite.name} ${username}`),
      peer: { username, deviceId },
    };
  };
  return [device('alice', 1), device('bob', 2)];
}

/** A confirmed session between the two (one message each way), as two stores. */
function session(suite: CryptoSuite): { a: Device; b: Device; alice: E2eSessions; bob: E2eSessions } {
  const [a, b] = devices(suite);
  const alice = new E2eSessions(suite, a.random, a.local, a.prekeys);
  const bob = new E2eSessions(suite, b.random, b.local, b.prekeys);
  alice.initiate(bundleKeys(suite, b.certificate, b.signedPrekey), NOW);
  const payload = new Uint8Array(SIZE);
  bob.decrypt(a.certificate, alice.encryptFor([b.peer], payload)[0]!.message, NOW);
  alice.decrypt(b.certificate, bob.encryptFor([a.peer], payload)[0]!.message, NOW);
  return { a, b, alice, bob };
}

/**
 * Messages per second of `run` over a batch `prepare(count)` made untimed beforehand (best of the rounds):
 * for operations that consume their input, such as decrypting a chain in order.
 */
function batchRate<T>(prepare: (count: number) => T, run: (batch: T) => void, opts: MeasureOptions): number {
  const { minMs = 1000, rounds = 3 } = opts;
  run(prepare(200)); // warm-up
  let count = 1000;
  let best = 0;
  for (let r = 0; r < rounds; r++) {
    // grow the batch until one takes at least a quarter of minMs, then keep that size
    for (;;) {
      const batch = prepare(count);
      const t0 = performance.now();
      run(batch);
      const t = performance.now() - t0;
      if (t >= minMs / 4) {
        best = Math.max(best, (count * 1000) / t);
        break;
      }
      count *= 2;
    }
  }
  return best;
}

export function e2eFigures(machine: string, opts: MeasureOptions = {}): Figure[] {
  const figures: Figure[] = [];
  const payload = new Uint8Array(SIZE).fill(0x5a);
  // Raw AEAD of the same size (seal + open), for scale.
  const ceiling = Math.round(rawChaChaPolyThroughput(SIZE, 8 * 2 ** 20) / SIZE);
  const peer = { name: `raw node:crypto ChaCha20-Poly1305 seal+open, ${SIZE} B`, value: ceiling };
  for (const suite of [nodeCrypto, nobleCrypto]) {
    const s = session(suite);
    const encrypt = opsPerSecond(() => encodeE2eMessage(s.alice.encryptFor([s.b.peer], payload)[0]!.message), opts);
    figures.push({
      id: `e2e.ratchet.encrypt.${suite.name}`,
      value: Math.round(encrypt),
      unit: `messages/s (${SIZE} B)`,
      higherIsBetter: true,
      peer,
      machine,
    });

    // a fresh pair: the encryptions above were never received, and bob would have to skip them all
    const d = session(suite);
    const decrypt = batchRate(
      (count) =>
        Array.from({ length: count }, () => encodeE2eMessage(d.alice.encryptFor([d.b.peer], payload)[0]!.message)),
      (wires) => {
        for (const w of wires) d.bob.decrypt(d.a.certificate, decodeE2eMessage(w), NOW);
      },
      opts,
    );
    figures.push({
      id: `e2e.ratchet.decrypt.${suite.name}`,
      value: Math.round(decrypt),
      unit: `messages/s (${SIZE} B)`,
      higherIsBetter: true,
      peer,
      machine,
    });

    const q = session(suite);
    let toBob = true;
    const pingpong = opsPerSecond(() => {
      const [from, to, fromDevice, toDevice] = toBob ? [q.alice, q.bob, q.a, q.b] : [q.bob, q.alice, q.b, q.a];
      const wire = encodeE2eMessage(from.encryptFor([toDevice.peer], payload)[0]!.message);
      to.decrypt(fromDevice.certificate, decodeE2eMessage(wire), NOW);
      toBob = !toBob;
    }, opts);
    figures.push({
      id: `e2e.ratchet.pingpong.${suite.name}`,
      value: Math.round(pingpong),
      unit: `messages/s (${SIZE} B, a DH-ratchet step each)`,
      higherIsBetter: true,
      machine,
    });

    const [a, b] = devices(suite);
    const x3dh = opsPerSecond(() => {
      const alice = new E2eSessions(suite, a.random, a.local, a.prekeys);
      const bob = new E2eSessions(suite, b.random, b.local, b.prekeys);
      alice.initiate(bundleKeys(suite, b.certificate, b.signedPrekey), NOW);
      bob.decrypt(a.certificate, alice.encryptFor([b.peer], payload)[0]!.message, NOW);
    }, opts);
    figures.push({
      id: `e2e.x3dh.${suite.name}`,
      value: Math.round(x3dh),
      unit: 'sessions/s (bundle verified, both sides, first message)',
      higherIsBetter: true,
      machine,
    });
  }
  return figures;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const argv = process.argv.slice(2);
  if (argv.includes('--help')) {
    console.log(
      'usage: node dist/bench/e2e.js [--quick] [--json]\n\nexample:\n  node packages/wire/dist/bench/e2e.js --quick',
    );
    process.exit(0);
  }
  const quick = argv.includes('--quick');
  const opts: MeasureOptions = quick
    ? { minMs: 300, rounds: 1, warmupMs: 50 }
    : { minMs: 1500, rounds: 3, warmupMs: 300 };
  const machine = `${cpus().length} vCPU (${cpus()[0]?.model.trim() ?? 'unknown'}), Node ${process.version}`;
  const figures = e2eFigures(machine, opts);
  const out = join(resolve(dirname(fileURLToPath(import.meta.url)), '../../../..'), 'bench/results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'wire-e2e.json'), `${JSON.stringify(figures, null, 2)}\n`);
  if (argv.includes('--json')) console.log(JSON.stringify(figures, null, 2));
  else {
    const fmt = (v: number) => Math.round(v).toLocaleString('en-US');
    console.log(`\n@parley/wire end-to-end encryption on ${machine}\n`);
    console.log('| figure | value | beside it (same run) |\n|---|---|---|');
    for (const f of figures) {
      console.log(
        `| ${f.id} | ${fmt(f.value)} ${f.unit} | ${f.peer ? `${fmt(f.peer.value)}/s (${f.peer.name})` : ''} |`,
      );
    }
    console.log(`\nwrote ${join(out, 'wire-e2e.json')}`);
  }
}
