/**
 * `pnpm bench` for @parley/wire (DESIGN.md §12, issue "Foundation"): figures measured side by side with
 * their named peers in the same run, written to bench/results/wire.json at the repository root.
 *
 *   - wire.handshake.rate: complete, mutually authenticated Parley handshakes per second (certificate
 *     chains and static-key bindings verified both ways), both ends in this process, node:crypto,
 *     against @chainsafe/libp2p-noise doing the same (target: >= 3x the peer);
 *   - wire.transport.throughput.{1k,64k}: plaintext bytes per second through an established channel,
 *     sealed, framed, deframed and opened, against raw node:crypto ChaCha20-Poly1305 seal+open of the
 *     same sizes (target at 64 KiB: >= 50% of the ceiling); the peer's figure is shown beside it;
 *   - wire.packet.decode: decodes per second of a ~300-byte packet (target: >= 1,000,000/s).
 *
 * Options: --quick (shorter rounds, for smoke runs), --json (print the figures as JSON).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nobleCrypto, nodeCrypto, systemRandom } from '../src/crypto/index.js';
import type { CryptoSuite } from '../src/crypto/suite.js';
import { encodeFrame, FrameDecoder } from '../src/framing/stream.js';
import { issueCertificate, Role } from '../src/identity/certificate.js';
import { VerifiedCertificateCache } from '../src/identity/certificate-cache.js';
import type { LocalIdentity, VerifyPolicy } from '../src/identity/handshake-payload.js';
import { createRootKey, generateSigningKey } from '../src/identity/keys.js';
import {
  type ChannelConfig,
  type EstablishedChannel,
  handleMessage,
  startInitiator,
  startResponder,
} from '../src/noise/channel.js';
import { generateKeyPair } from '../src/noise/handshake-state.js';
import { certifiedPayloadCodec } from '../src/noise/identity-payload.js';
import { MAX_PLAINTEXT_LENGTH } from '../src/noise/transport.js';
import { decodePacket, encodePacket } from '../src/packet/index.js';
import { rawChaChaPolyThroughput } from './ceiling.js';
import { cryptoFigures } from './crypto.js';
import { type Figure, type MeasureOptions, opsPerSecond } from './measure.js';
import { libp2pNoise } from './peer-libp2p-noise.js';

const argv = process.argv.slice(2);
if (argv.includes('--help')) {
  console.log(
    'usage: node dist/bench/run.js [--quick] [--json]\n\nexamples:\n  pnpm bench            # from the repository root\n  node packages/wire/dist/bench/run.js --quick',
  );
  process.exit(0);
}
const quick = argv.includes('--quick');
const opts: MeasureOptions = quick
  ? { minMs: 300, rounds: 1, warmupMs: 50 }
  : { minMs: 1500, rounds: 3, warmupMs: 300 };
const machine = `${cpus().length} vCPU (${cpus()[0]?.model.trim() ?? 'unknown'}), Node ${process.version}`;
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const progress = (s: string) => process.stderr.write(`  ${s}\n`);

/** A network and two certified users in it, as a login server would issue them. */
function network(suite: CryptoSuite) {
  const now = Date.now();
  const root = createRootKey(suite, systemRandom);
  const login = generateSigningKey(suite, systemRandom);
  const loginCert = issueCertificate(suite, root, {
    subject: 'login.bench',
    subjectKey: login.publicKey,
    deviceId: new Uint8Array(16),
    role: Role.ROLE_LOGIN,
    serial: 1,
    notBefore: now - 3_600_000,
    notAfter: now + 30 * 86_400_000,
  });
  let serial = 10;
  const user = (name: string): LocalIdentity => {
    const key = generateSigningKey(suite, systemRandom);
    const cert = issueCertificate(suite, login, {
      subject: name,
      subjectKey: key.publicKey,
      deviceId: systemRandom.randomBytes(16),
      role: Role.ROLE_USER,
      serial: serial++,
      notBefore: now - 3_600_000,
      notAfter: now + 23 * 3_600_000,
    });
    return { chain: [cert, loginCert], seed: key.seed };
  };
  // As a running node does: one Noise static key per process (its binding signature made once), and a
  // memo of verified certificates so the login server's certificate is not re-verified per handshake.
  const config = (identity: LocalIdentity): ChannelConfig<unknown> => {
    const cache = new VerifiedCertificateCache();
    const policy = (): VerifyPolicy => ({
      trustAnchors: [root.publicKey],
      nowMs: Date.now(),
      acceptedRoles: [Role.ROLE_USER],
      cache,
    });
    return {
      suite,
      random: systemRandom,
      protocolVersions: [1],
      staticKey: generateKeyPair(suite, systemRandom),
      payload: certifiedPayloadCodec(suite, { identity, policy, software: 'parley-bench/1' }),
    };
  };
  return { alice: config(user('alice')), bob: config(user('bob')) };
}

/** One complete handshake, driven in memory: msg1, msg2, msg3. */
function handshake(
  a: ChannelConfig<unknown>,
  b: ChannelConfig<unknown>,
): [EstablishedChannel<unknown>, EstablishedChannel<unknown>] {
  const i0 = startInitiator(a);
  const r0 = startResponder(b);
  const msg = (actions: readonly { kind: string; message?: Uint8Array }[]) => {
    const m = actions.find((x) => x.kind === 'Send')?.message;
    if (!m) throw new Error(`handshake failed: ${JSON.stringify(actions.map((x) => x.kind))}`);
    return m;
  };
  const r1 = handleMessage(r0.state, msg(i0.actions));
  const i1 = handleMessage(i0.state, msg(r1.actions));
  const r2 = handleMessage(r1.state, msg(i1.actions));
  const established = (s: typeof i1.actions) => {
    const e = s.find((x) => x.kind === 'Established');
    if (e?.kind !== 'Established') throw new Error('handshake did not complete');
    return e.channel;
  };
  return [established(i1.actions), established(r2.actions)];
}

/** Plaintext bytes per second from one end to the other: encrypt, frame, deframe, decrypt. */
function channelThroughput(
  a: EstablishedChannel<unknown>,
  b: EstablishedChannel<unknown>,
  size: number,
  total: number,
): number {
  const payload = new Uint8Array(size).fill(0xa5);
  const decoder = new FrameDecoder();
  const count = Math.max(1, Math.floor(total / size));
  const run = (n: number) => {
    let got = 0;
    for (let i = 0; i < n; i++) {
      for (const frame of decoder.push(encodeFrame(a.transport.encrypt(payload))))
        got += b.transport.decrypt(frame).length;
    }
    if (got !== n * size) throw new Error('channel lost bytes');
  };
  run(Math.min(count, 200));
  let best = 0;
  for (let r = 0; r < (opts.rounds ?? 3); r++) {
    const t0 = performance.now();
    run(count);
    best = Math.max(best, (count * size) / ((performance.now() - t0) / 1000));
  }
  return best;
}

async function main() {
  const figures: Figure[] = [];
  const MB = 1e6;

  progress('handshakes: Parley (node:crypto), Parley (@noble), @chainsafe/libp2p-noise …');
  const net = network(nodeCrypto);
  const parleyRate = opsPerSecond(() => handshake(net.alice, net.bob), opts);
  const nobleNet = network(nobleCrypto);
  const nobleRate = opsPerSecond(() => handshake(nobleNet.alice, nobleNet.bob), {
    ...opts,
    minMs: Math.min(opts.minMs ?? 1000, 800),
  });
  const peer = await libp2pNoise();
  const peerRate = await peer.handshakesPerSecond(opts);
  figures.push({
    id: 'wire.handshake.rate',
    value: parleyRate,
    unit: 'handshakes/s',
    higherIsBetter: true,
    target: { value: 3 * peerRate, note: '>= 3x libp2p-noise' },
    peer: { name: peer.name, value: peerRate },
    machine,
  });
  figures.push({
    id: 'wire.handshake.rate.noble',
    value: nobleRate,
    unit: 'handshakes/s',
    higherIsBetter: true,
    peer: { name: peer.name, value: peerRate },
    machine,
  });

  progress('transport throughput at 1 KiB and 64 KiB frames, raw ChaCha20-Poly1305 ceiling …');
  const [a, b] = handshake(net.alice, net.bob);
  for (const [label, size, total] of [
    ['1k', 1024, quick ? 8 * 1024 * 1024 : 32 * 1024 * 1024],
    ['64k', MAX_PLAINTEXT_LENGTH, quick ? 64 * 1024 * 1024 : 256 * 1024 * 1024],
  ] as const) {
    const ours = channelThroughput(a, b, size, total);
    const ceiling = rawChaChaPolyThroughput(size, total);
    const theirs = await peer.throughput(size, Math.min(total, quick ? 4 * 1024 * 1024 : 32 * 1024 * 1024));
    figures.push({
      id: `wire.transport.throughput.${label}`,
      value: ours / MB,
      unit: 'MB/s',
      higherIsBetter: true,
      ...(label === '64k'
        ? { target: { value: (0.5 * ceiling) / MB, note: '>= 50% of raw node:crypto ChaCha20-Poly1305' } }
        : {}),
      peer: { name: peer.name, value: theirs / MB },
      machine,
    });
    figures.push({
      id: `wire.transport.ceiling.${label}`,
      value: ceiling / MB,
      unit: 'MB/s',
      higherIsBetter: true,
      peer: { name: 'node:crypto chacha20-poly1305 (raw)', value: ceiling / MB },
      machine,
    });
  }

  progress('packet decode …');
  const packet = encodePacket({
    requestId: 4242,
    body: { case: 'ping', value: { sequence: 7, data: new Uint8Array(256).fill(0x5a) } },
  });
  const decodeRate = opsPerSecond(() => decodePacket(packet), opts);
  figures.push({
    id: 'wire.packet.decode',
    value: decodeRate,
    unit: `decodes/s (${packet.length}-byte packet)`,
    higherIsBetter: true,
    target: { value: 1_000_000, note: '>= 1,000,000/s' },
    machine,
  });

  progress('crypto primitives, node:crypto and @noble …');
  figures.push(...cryptoFigures(machine, opts));

  const out = join(root, 'bench/results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'wire.json'), `${JSON.stringify(figures, null, 2)}\n`);
  if (argv.includes('--json')) console.log(JSON.stringify(figures, null, 2));
  else {
    const fmt = (v: number) => (v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(1));
    console.log(`\n@parley/wire on ${machine}\n`);
    console.log('| figure | Parley | peer (same run) | target |\n|---|---|---|---|');
    for (const f of figures) {
      const met = f.target
        ? (f.higherIsBetter ? f.value >= f.target.value : f.value <= f.target.value)
          ? ' met'
          : ' MISSED'
        : '';
      console.log(
        `| ${f.id} | ${fmt(f.value)} ${f.unit} | ${f.peer ? `${fmt(f.peer.value)} (${f.peer.name})` : ''} | ${f.target ? `${fmt(f.target.value)} ${f.target.note}${met}` : ''} |`,
      );
    }
    console.log(`\nwrote ${join(out, 'wire.json')}`);
  }
}

await main();
