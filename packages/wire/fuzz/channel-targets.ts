/**
 * Fuzz targets for every other decoder and state-machine input of @parley/wire (spec/02-identity.md
 * ID-HS-10, spec/03-channels.md CHAN-HS-6, CHAN-FRAME-*, CHAN-DGRAM-8; spec/01-packets.md WIRE-LIMIT-5):
 * signed envelopes, certificates, certificate chains, handshake payloads, the stream framer, the
 * datagram channel, and the channel handshake state machine. Each sees random bytes and mutations of
 * valid inputs made by a fixed network (fixed seeds, so a failure replays from its seed alone).
 */
import fc from 'fast-check';
import { concatBytes } from '../src/codec/bytes.js';
import { nodeCrypto } from '../src/crypto/index.js';
import { seededRandom } from '../src/crypto/random.js';
import { DatagramChannel } from '../src/datagram/channel.js';
import { isParleyError } from '../src/errors.js';
import { encodeFrame, FrameDecoder } from '../src/framing/stream.js';
import {
  type Certificate,
  decodeCertificate,
  encodeCertificate,
  issueCertificate,
  Role,
} from '../src/identity/certificate.js';
import { verifyChain } from '../src/identity/chain.js';
import {
  buildHandshakePayload,
  type LocalIdentity,
  verifyHandshakePayload,
} from '../src/identity/handshake-payload.js';
import { signingKeyFromSeed } from '../src/identity/keys.js';
import { decodeSigned } from '../src/identity/signed.js';
import { handleMessage, startInitiator, startResponder } from '../src/noise/channel.js';
import { certifiedPayloadCodec } from '../src/noise/identity-payload.js';
import { fuzzInputArbitrary, hex } from './arbitraries.js';
import { decoderTarget, type FuzzTarget } from './target.js';

const suite = nodeCrypto;
const NOW = Date.UTC(2026, 10, 21, 12);
const HOUR = 3_600_000;
const seed = (n: number) => new Uint8Array(32).fill(n);
const root = signingKeyFromSeed(suite, seed(1));
const login = signingKeyFromSeed(suite, seed(2));
const loginCert = issueCertificate(suite, root, {
  subject: 'login.fuzz',
  subjectKey: login.publicKey,
  deviceId: new Uint8Array(16),
  role: Role.ROLE_LOGIN,
  serial: 1,
  notBefore: NOW - 24 * HOUR,
  notAfter: NOW + 24 * HOUR,
});
const policy = { trustAnchors: [root.publicKey], nowMs: NOW, acceptedRoles: [Role.ROLE_USER, Role.ROLE_SUPERNODE] };

/** Valid certificate fields: any subject the rules allow, any role a leaf may have, any validity. */
const fieldsArbitrary = fc.record({
  subject: fc.string({ minLength: 1, maxLength: 20, unit: 'grapheme-ascii' }).filter((s) => /^[ -~]+$/.test(s)),
  key: fc.integer({ min: 3, max: 250 }),
  deviceId: fc.uint8Array({ minLength: 16, maxLength: 16 }),
  role: fc.constantFrom(Role.ROLE_USER, Role.ROLE_SUPERNODE),
  serial: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  start: fc.integer({ min: -20, max: 2 }),
  hours: fc.integer({ min: 1, max: 23 }),
});
const leafArbitrary = fieldsArbitrary.map((f) =>
  issueCertificate(suite, login, {
    subject: f.subject,
    subjectKey: signingKeyFromSeed(suite, seed(f.key)).publicKey,
    deviceId: f.deviceId,
    role: f.role,
    serial: f.serial,
    notBefore: NOW + f.start * HOUR,
    notAfter: NOW + (f.start + f.hours) * HOUR,
  }),
);

const alice: LocalIdentity = {
  chain: [
    issueCertificate(suite, login, {
      subject: 'alice',
      subjectKey: signingKeyFromSeed(suite, seed(7)).publicKey,
      deviceId: new Uint8Array(16).fill(7),
      role: Role.ROLE_USER,
      serial: 7,
      notBefore: NOW - HOUR,
      notAfter: NOW + 23 * HOUR,
    }),
    loginCert,
  ],
  seed: seed(7),
};
const channelConfig = (name: string) => ({
  suite,
  random: seededRandom(`fuzz ${name}`),
  protocolVersions: [1],
  payload: certifiedPayloadCodec(suite, { identity: alice, policy, software: 'fuzz' }),
});

/** The responder's first state, and the initiator's state after sending msg1 (for msg2 inputs). */
const msg1 = startInitiator(channelConfig('i'));
const msg1Bytes = msg1.actions.find((a) => a.kind === 'Send')?.message ?? new Uint8Array();
const afterMsg1 = handleMessage(startResponder(channelConfig('r')).state, msg1Bytes);
const msg2Bytes = afterMsg1.actions.find((a) => a.kind === 'Send')?.message ?? new Uint8Array();

/** Feeds a handshake message; the state machine must answer with actions, never throw ([CHAN-HS-6]). */
function feed(which: 1 | 2, bytes: Uint8Array): unknown {
  const state = which === 1 ? startResponder(channelConfig('r')).state : startInitiator(channelConfig('i')).state;
  return handleMessage(state, bytes).actions;
}

const datagramKeys = { a: seed(0x51), b: seed(0x52) };
const sender = () =>
  new DatagramChannel(suite, { sendKey: datagramKeys.a, receiveKey: datagramKeys.b, localIndex: 9, remoteIndex: 5 });
const receiver = () =>
  new DatagramChannel(suite, { sendKey: datagramKeys.b, receiveKey: datagramKeys.a, localIndex: 5, remoteIndex: 9 });

export const channelTargets: readonly FuzzTarget<unknown>[] = [
  decoderTarget({
    name: 'signed',
    description: 'decodeSigned: the Signed envelope (spec/02-identity.md §3)',
    valid: leafArbitrary,
    decode: decodeSigned,
  }),
  decoderTarget({
    name: 'certificate',
    description: 'decodeCertificate: certificate bodies (spec/02-identity.md §5)',
    valid: fieldsArbitrary.map((f) =>
      encodeCertificate({
        version: 1,
        subject: f.subject,
        subjectKey: seed(f.key),
        deviceId: f.deviceId,
        role: f.role,
        serial: f.serial,
        notBefore: NOW,
        notAfter: NOW + f.hours * HOUR,
        issuerKeyId: seed(9),
      } as Certificate),
    ),
    decode: decodeCertificate,
  }),
  decoderTarget({
    name: 'certificate-chain',
    description: 'verifyChain: a mutated leaf under a valid login certificate (spec/02-identity.md §6)',
    valid: leafArbitrary,
    decode: (leaf) => verifyChain(suite, [leaf, loginCert], policy),
  }),
  decoderTarget({
    name: 'handshake-payload',
    description: 'verifyHandshakePayload (spec/02-identity.md §7, ID-HS-10)',
    valid: fc
      .uint8Array({ minLength: 32, maxLength: 32 })
      .map((key) => buildHandshakePayload(suite, alice, key, { protocolVersions: [1], software: 'fuzz' })),
    decode: (bytes) => verifyHandshakePayload(suite, bytes, new Uint8Array(32).fill(3), policy),
  }),
  decoderTarget({
    name: 'handshake-message-1',
    description: 'the responder handshake state machine fed message 1 (CHAN-HS-6, CHAN-HS-7)',
    valid: fc.constant(msg1Bytes),
    decode: (bytes) => feed(1, bytes),
  }),
  decoderTarget({
    name: 'handshake-message-2',
    description: 'the initiator handshake state machine fed message 2 (CHAN-HS-4, CHAN-HS-6)',
    valid: fc.constant(msg2Bytes),
    decode: (bytes) => feed(2, bytes),
  }),
  decoderTarget({
    name: 'datagram',
    description: 'DatagramChannel.open: header, counter, AEAD, replay window (CHAN-DGRAM-*, CHAN-REPLAY-*)',
    valid: fc.uint8Array({ maxLength: 64 }).map((pt) => sender().seal(pt)),
    decode: (bytes) => receiver().open(bytes),
  }),
  {
    name: 'stream-frames',
    description: 'FrameDecoder over arbitrary chunkings of framed and mutated bytes (CHAN-FRAME-*)',
    input: fc.tuple(
      fuzzInputArbitrary(
        fc
          .array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { maxLength: 4 })
          .map((ms) => concatBytes(ms.map(encodeFrame))),
      ),
      fc.array(fc.nat(), { maxLength: 8 }),
    ),
    run: ([bytes, cuts]: [Uint8Array, number[]]) => {
      const d = new FrameDecoder();
      let at = 0;
      for (const c of [...cuts.map((c) => c % (bytes.length + 1))].sort((x, y) => x - y)) {
        d.push(bytes.subarray(at, Math.max(at, c)));
        at = Math.max(at, c);
      }
      d.push(bytes.subarray(at));
      d.end();
    },
    allowed: (e: unknown) => isParleyError(e),
    format: ([bytes, cuts]: [Uint8Array, number[]]) => `${bytes.length} bytes cut at ${cuts.join(',')}: ${hex(bytes)}`,
  } as FuzzTarget<unknown>,
];
