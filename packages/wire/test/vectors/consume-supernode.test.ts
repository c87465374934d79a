/**
 * Consumes spec/vectors/supernode.json as an implementer in another language would. The rendezvous inputs
 * and scores, the order and the responsible sets are recomputed from the text of SN-PLACE-1 .. SN-PLACE-3
 * on node:crypto; the record and message bodies, their `Signed` envelopes and the object envelopes by a
 * canonical protobuf encoder written from supernode.proto below; signatures with node:crypto's Ed25519.
 * Then the reference implementation, on both crypto suites, must accept what the file says is valid and
 * refuse the rest with the code it names, and encode and decode the packets exactly.
 */
import { describe, expect, it } from 'vitest';
import { decodePacket, encodePacket, type Packet } from '../../src/packet/index.js';
import {
  rendezvousOrder,
  rendezvousScore,
  responsibleSupernodes,
  verifyOfflineEnvelope,
  verifyPresenceEnvelope,
} from '../../src/supernode/index.js';
import { outcome, suites } from './implementation.js';
import {
  concat,
  ed25519Public,
  ed25519Sign,
  ed25519Verify,
  loadVector,
  sha256,
  tohex,
  unhex,
  utf8,
} from './independent.js';
import { encoder, json, type Schema } from './proto-encoder.js';

// biome-ignore lint/suspicious/noExplicitAny: untyped JSON
type J = any;

const v = loadVector('supernode');

// ---- A canonical protobuf encoder, written from supernode.proto and identity.proto ----------------------------

const SCHEMA: Schema = {
  Signed: [
    [1, 'body', 'bytes'],
    [2, 'signature', 'bytes'],
    [3, 'signerKeyId', 'bytes'],
    [4, 'context', 'enum'],
  ],
  PresenceRecord: [
    [1, 'version', 'uint32'],
    [2, 'username', 'string'],
    [3, 'deviceId', 'bytes'],
    [4, 'sequence', 'uint64'],
    [5, 'issuedAt', 'uint64'],
    [6, 'expiresAt', 'uint64'],
    [7, 'status', 'enum'],
    [8, 'homeSupernode', 'bytes'],
    [9, 'sealedEndpoints', 'bytes'],
  ],
  OfflineMessage: [
    [1, 'version', 'uint32'],
    [2, 'messageId', 'bytes'],
    [3, 'sender', 'string'],
    [4, 'senderDeviceId', 'bytes'],
    [5, 'recipient', 'string'],
    [6, 'createdAt', 'uint64'],
    [7, 'expiresAt', 'uint64'],
    [8, 'ciphertext', 'bytes'],
  ],
  PresenceEnvelope: [
    [1, 'certificate', 'bytes'],
    [2, 'record', 'bytes'],
  ],
  OfflineEnvelope: [
    [1, 'certificate', 'bytes'],
    [2, 'message', 'bytes'],
  ],
};
const encode = encoder(SCHEMA);

const MASK = (1n << 64n) - 1n;
/** SplitMix64's finaliser, from the text of SN-PLACE-1. */
function mix64(x: bigint): bigint {
  let z = x;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK;
  return z ^ (z >> 31n);
}

describe('supernode.json: placement [SN-PLACE-1] [SN-PLACE-2] [SN-PLACE-3] [LOGIN-LIST-8]', () => {
  it("[LOGIN-LIST-8] placement keys recomputed: SHA-256 of the login key's Ed25519 signature over the key id", () => {
    const login = unhex(v.network.login.publicKey);
    for (const s of v.placement.supernodes) {
      const message = concat(utf8('parley/v1 placement'), Uint8Array.of(0), unhex(s.keyId));
      expect(ed25519Verify(login, message, unhex(s.placementSignature))).toBe(true);
      // Ed25519 is deterministic: every process holding the login key derives the same placement key
      expect(tohex(ed25519Sign(unhex(v.network.login.seed), message))).toBe(s.placementSignature);
      expect(tohex(sha256(unhex(s.placementSignature)))).toBe(s.placementKey);
    }
  });

  it('[SN-PLACE-1] inputs, name hashes and scores recomputed from the text of the rule', () => {
    for (const n of v.placement.names) {
      const input = concat(utf8('parley/v1 rendezvous'), Uint8Array.of(0), utf8(n.name));
      expect(tohex(input)).toBe(n.input);
      const h = Buffer.from(sha256(input)).readBigUInt64BE(0);
      expect(h.toString(16).padStart(16, '0')).toBe(n.nameHash);
      v.placement.supernodes.forEach((s: J, i: number) => {
        const score = mix64(h ^ Buffer.from(unhex(s.placementKey)).readBigUInt64BE(0));
        expect(score.toString()).toBe(n.scores[i]);
        for (const [, suite] of suites) expect(rendezvousScore(n.name, unhex(s.placementKey), suite)).toBe(score);
      });
    }
  });

  it('[SN-PLACE-2] [SN-PLACE-3] order and responsible set recomputed, and the implementation agrees', () => {
    const keys: string[] = v.placement.supernodes.map((s: J) => s.placementKey);
    for (const n of v.placement.names) {
      const scored = keys.map((key, i) => ({ key, score: BigInt(n.scores[i]) }));
      scored.sort((a: J, b: J) => (a.score === b.score ? (a.key < b.key ? -1 : 1) : a.score > b.score ? -1 : 1));
      const order = scored.map((s: J) => s.key);
      expect(order).toEqual(n.order);
      expect(order.slice(0, v.placement.k)).toEqual(n.responsible);
      const ids = keys.map(unhex);
      expect(rendezvousOrder(n.name, ids).map(tohex)).toEqual(n.order);
      expect(responsibleSupernodes(n.name, ids, v.placement.k).map(tohex)).toEqual(n.responsible);
    }
  });
});

for (const [what, object, verify] of [
  ['presence', 'PresenceRecord', verifyPresenceEnvelope],
  ['offline', 'OfflineMessage', verifyOfflineEnvelope],
] as const) {
  describe(`supernode.json: ${what} [DIR-REC-1] [DIR-REC-2] [STORE-MSG-1] [STORE-MSG-2]`, () => {
    const o = v[what];
    const context = what === 'presence' ? 'parley/v1 presence-record' : 'parley/v1 offline-message';

    it('[DIR-REC-2] [STORE-MSG-2] body, signed message, signature, Signed and envelope recomputed independently', () => {
      expect(tohex(encode(object, o.fields))).toBe(o.body);
      expect(o.signedMessage).toBe(tohex(concat(utf8(context), Uint8Array.of(0), unhex(o.body))));
      expect(tohex(ed25519Public(unhex(v.network.user.seed)))).toBe(v.network.user.publicKey);
      expect(ed25519Verify(unhex(v.network.user.publicKey), unhex(o.signedMessage), unhex(o.signature))).toBe(true);
      expect(o.signerKeyId).toBe(tohex(sha256(unhex(v.network.user.publicKey))));
      expect(tohex(encode('Signed', o))).toBe(o.signed);
      const field = what === 'presence' ? 'record' : 'message';
      const envelope = encode(`${object === 'PresenceRecord' ? 'Presence' : 'Offline'}Envelope`, {
        certificate: v.network.userCertificate,
        [field]: o.signed,
      });
      expect(tohex(envelope)).toBe(o.envelope);
    });

    it('[DIR-REC-4] [STORE-MSG-4] every verification gives the expected result on both suites', () => {
      expect(o.verifications.filter((c: J) => !('error' in c.expected)).length).toBeGreaterThan(0);
      expect(o.verifications.filter((c: J) => 'error' in c.expected).length).toBeGreaterThan(5);
      for (const c of o.verifications) {
        for (const [name, suite] of suites) {
          const r = outcome(() =>
            verify(suite, unhex(c.envelope), {
              trustAnchors: v.verifier.trustAnchors.map(unhex),
              loginCertificates: v.verifier.loginCertificates.map(unhex),
              nowMs: c.nowMs,
              skewMs: v.verifier.skewMs,
              isRevoked: (serial: number) => c.revoked.includes(serial),
            }),
          );
          expect('error' in r ? r : json(r.ok), `${c.name} on ${name}`).toStrictEqual(c.expected);
          if (!('error' in r)) expect((r.ok as J).envelope, c.name).toStrictEqual(unhex(c.envelope));
        }
      }
    });
  });
}

describe('supernode.json: packets [SN-LIMIT-1] [WIRE-ENC-1]', () => {
  it('[SN-LIMIT-1] each encoding decodes to its packet and encodes back exactly', () => {
    for (const p of v.packets) {
      const decoded = decodePacket(unhex(p.encoding));
      expect({ requestId: decoded.requestId, body: decoded.body.case, value: json(decoded.body.value) }).toStrictEqual(
        p.packet,
      );
      expect(tohex(encodePacket(decoded as Packet))).toBe(p.encoding);
    }
  });
});
