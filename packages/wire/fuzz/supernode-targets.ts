/**
 * Fuzz targets of spec/07-supernode.md: the supernode packet bodies (200-223) through decodePacket, and the
 * two envelopes supernodes verify for others (presence records, DIR-REC-4; offline messages,
 * STORE-MSG-4) through their whole verification, from valid signed envelopes mutated. A verifier must
 * return a verified value or throw a ParleyError for any input: the envelopes arrive from nodes and from
 * other supernodes, which are untrusted peers.
 */
import fc from 'fast-check';
import { nodeCrypto } from '../src/crypto/index.js';
import { seededRandom } from '../src/crypto/random.js';
import { issueCertificate, Role } from '../src/identity/certificate.js';
import { createRootKey, generateSigningKey } from '../src/identity/keys.js';
import { encodePacket, type Packet } from '../src/packet/packet.js';
import { SUPERNODE_BODIES } from '../src/supernode/messages.js';
import {
  encodeOfflineEnvelope,
  encodePresenceEnvelope,
  type PresenceStatus,
  type SupernodeObjectTrust,
  signOfflineMessage,
  signPresenceRecord,
  verifyOfflineEnvelope,
  verifyPresenceEnvelope,
} from '../src/supernode/objects.js';
import { bodyProperty, messageArbitrary } from '../test/login/rules.js';
import { decoderTarget, type FuzzTarget } from './target.js';

const NOW = 1_800_000_000_000;
const MINUTE = 60_000;

/** A fixed network and device: a root, a login key and certificate, a user certificate. */
function fixture() {
  const suite = nodeCrypto;
  const random = seededRandom('parley fuzz supernode objects');
  const root = createRootKey(suite, random);
  const login = generateSigningKey(suite, random);
  const user = generateSigningKey(suite, random);
  const deviceId = random.randomBytes(16);
  const loginCert = issueCertificate(suite, root, {
    subject: 'login.example',
    subjectKey: login.publicKey,
    deviceId: random.randomBytes(16),
    role: Role.ROLE_LOGIN,
    serial: 1,
    notBefore: NOW - 30 * 24 * 60 * MINUTE,
    notAfter: NOW + 300 * 24 * 60 * MINUTE,
  });
  const userCert = issueCertificate(suite, login, {
    subject: 'alice',
    subjectKey: user.publicKey,
    deviceId,
    role: Role.ROLE_USER,
    serial: 1000,
    notBefore: NOW - 60 * MINUTE,
    notAfter: NOW + 23 * 60 * MINUTE,
  });
  const trust: SupernodeObjectTrust = { trustAnchors: [root.publicKey], loginCertificates: [loginCert], nowMs: NOW };
  return { suite, user, deviceId, userCert, trust };
}

/** Every valid supernode packet (bodies 200-223), at most one member of AttachReply's oneof. */
function supernodePacketArbitrary(): fc.Arbitrary<Packet> {
  return fc
    .tuple(
      fc.nat({ max: 0xffff_ffff }),
      fc.oneof(
        ...SUPERNODE_BODIES.map((b) =>
          messageArbitrary(b.rules).map((value) => {
            if (b.number === 201 && value.attached !== undefined) value.redirect = undefined;
            return { case: bodyProperty(b.number), value };
          }),
        ),
      ),
    )
    .map(([requestId, body]) => ({ requestId, body }) as unknown as Packet);
}

/** Encodes a packet; one too large for a stream packet (many maximum-size envelopes) becomes an empty packet. */
function encodeOrEmpty(p: Packet): Uint8Array {
  try {
    return encodePacket(p);
  } catch {
    return new Uint8Array(0);
  }
}

export function supernodeTargets(reencode: (bytes: Uint8Array) => unknown): FuzzTarget<unknown>[] {
  const f = fixture();
  const presence = fc
    .record({
      sequence: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
      issuedAt: fc.integer({ min: NOW - 10 * MINUTE, max: NOW + MINUTE }),
      status: fc.integer({ min: 1, max: 4 }),
      homeSupernode: fc.uint8Array({ minLength: 32, maxLength: 32 }),
      sealedEndpoints: fc.uint8Array({ maxLength: 512 }),
    })
    .map((r) =>
      encodePresenceEnvelope(
        f.userCert,
        signPresenceRecord(f.suite, f.user, {
          ...r,
          username: 'alice',
          deviceId: f.deviceId,
          expiresAt: r.issuedAt + 10 * MINUTE,
          status: r.status as PresenceStatus,
        }),
      ),
    );
  const offline = fc
    .record({
      messageId: fc.uint8Array({ minLength: 16, maxLength: 16 }),
      recipient: fc.constantFrom('bob', 'carol.x', 'd-9'),
      createdAt: fc.integer({ min: NOW - 10 * MINUTE, max: NOW + MINUTE }),
      ciphertext: fc.uint8Array({ minLength: 1, maxLength: 300 }),
    })
    .map((m) =>
      encodeOfflineEnvelope(
        f.userCert,
        signOfflineMessage(f.suite, f.user, {
          ...m,
          sender: 'alice',
          senderDeviceId: f.deviceId,
          expiresAt: m.createdAt + 60 * MINUTE,
        }),
      ),
    );
  return [
    decoderTarget({
      name: 'supernode-packet',
      description: 'decodePacket on bodies 200-223 (spec/07-supernode.md), with a re-encoding check',
      valid: supernodePacketArbitrary().map(encodeOrEmpty),
      decode: reencode,
    }),
    decoderTarget({
      name: 'presence-envelope',
      description: 'verifyPresenceEnvelope (DIR-REC-4): envelope, certificate chain, signed record, fields',
      valid: presence,
      decode: (bytes) => verifyPresenceEnvelope(f.suite, bytes, f.trust),
    }),
    decoderTarget({
      name: 'offline-envelope',
      description: 'verifyOfflineEnvelope (STORE-MSG-4): envelope, certificate chain, signed message, fields',
      valid: offline,
      decode: (bytes) => verifyOfflineEnvelope(f.suite, bytes, f.trust),
    }),
  ];
}
