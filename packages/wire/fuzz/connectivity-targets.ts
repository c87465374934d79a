/**
 * Fuzz targets of spec/08-connectivity.md: the connectivity packet bodies (240-281) through decodePacket,
 * the UDP datagrams of types 0x02-0x07 (NAT-DGRAM-2: anyone can send one to a supernode's socket), and the
 * Attestation body a verifier decodes (ATTEST-VERIFY-1). Each must return a value or throw a ParleyError.
 */
import fc from 'fast-check';
import { encodeMessage } from '../src/codec/proto.js';
import { decodeAttestation } from '../src/connectivity/attestation.js';
import {
  DATAGRAM_TYPE_RELAY_BIND,
  DATAGRAM_TYPE_RELAY_BIND_ACK,
  decodeConnectivityDatagram,
  encodeProbe,
  encodeProbeReply,
  encodePunch,
  encodeRelayBind,
  encodeRelayData,
} from '../src/connectivity/datagrams.js';
import { CONNECTIVITY_BODIES } from '../src/connectivity/messages.js';
import { nodeCrypto } from '../src/crypto/index.js';
import { parley } from '../src/gen/parley.js';
import { encodePacket, type Packet } from '../src/packet/packet.js';
import { bodyProperty, messageArbitrary } from '../test/login/rules.js';
import { decoderTarget, type FuzzTarget } from './target.js';

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });

/** Every valid connectivity packet (bodies 240-281). */
function connectivityPacketArbitrary(): fc.Arbitrary<Packet> {
  return fc
    .tuple(
      fc.nat({ max: 0xffff_ffff }),
      fc.oneof(
        ...CONNECTIVITY_BODIES.map((b) =>
          messageArbitrary(b.rules).map((value) => ({ case: bodyProperty(b.number), value })),
        ),
      ),
    )
    .map(([requestId, body]) => ({ requestId, body }) as unknown as Packet);
}

/** Valid datagrams of every type of 08 §3. */
function datagramArbitrary(): fc.Arbitrary<Uint8Array> {
  const suite = nodeCrypto;
  const address = fc.oneof(bytes(4), bytes(16));
  const port = fc.integer({ min: 1, max: 65_535 });
  const channelDatagram = fc
    .uint8Array({ minLength: 28, maxLength: 1_199 })
    .map((rest) => Uint8Array.of(0x01, ...rest));
  return fc.oneof(
    fc.tuple(bytes(12), fc.integer({ min: 64, max: 1_200 })).map(([t, n]) => encodeProbe(t, n)),
    fc
      .tuple(bytes(12), address, port, bytes(8), fc.integer({ min: 64, max: 1_200 }))
      .map(([t, a, p, tok, n]) => encodeProbeReply(t, { address: a, port: p }, tok, n)),
    fc
      .tuple(
        fc.constantFrom(DATAGRAM_TYPE_RELAY_BIND, DATAGRAM_TYPE_RELAY_BIND_ACK),
        bytes(32),
        bytes(8),
        fc.bigInt({ min: 0n, max: 0xffff_ffff_ffff_ffffn }),
        bytes(16),
      )
      .map(([type, key, id, counter, cookie]) => encodeRelayBind(suite, type, key, id, counter, cookie)),
    fc.tuple(bytes(8), channelDatagram).map(([id, inner]) => encodeRelayData(id, inner)),
    fc.tuple(bytes(32), bytes(12), fc.integer({ min: 0, max: 3 })).map(([k, id, f]) => encodePunch(suite, k, id, f)),
  );
}

/** Valid Attestation bodies. */
function attestationBodyArbitrary(): fc.Arbitrary<Uint8Array> {
  return fc
    .record({
      subjectKeyId: bytes(32),
      deviceId: bytes(16),
      address: fc.oneof(bytes(4), bytes(16)),
      tcpPort: fc.integer({ min: 1, max: 65_535 }),
      tcpReachable: fc.boolean(),
      udpPort: fc.integer({ min: 1, max: 65_535 }),
      udpReachable: fc.boolean(),
      nonce: fc.uint8Array({ minLength: 16, maxLength: 32 }),
      issuedAt: fc.integer({ min: 1_700_000_000_000, max: 1_900_000_000_000 }),
      lifetime: fc.integer({ min: 1, max: 3_600_000 }),
    })
    .map(({ lifetime, ...a }) =>
      encodeMessage(
        parley.v1.Attestation as never,
        {
          version: 1,
          username: 'alice',
          ...a,
          expiresAt: a.issuedAt + lifetime,
        } as never,
      ),
    );
}

function encodeOrEmpty(p: Packet): Uint8Array {
  try {
    return encodePacket(p);
  } catch {
    return new Uint8Array(0);
  }
}

export function connectivityTargets(reencode: (bytes: Uint8Array) => unknown): FuzzTarget<unknown>[] {
  return [
    decoderTarget({
      name: 'connectivity-packet',
      description: 'decodePacket on bodies 240-281 (spec/08-connectivity.md), with a re-encoding check',
      valid: connectivityPacketArbitrary().map(encodeOrEmpty),
      decode: reencode,
    }),
    decoderTarget({
      name: 'connectivity-datagram',
      description: 'decodeConnectivityDatagram (NAT-DGRAM-2): probes, replies, binds, relay data, punches',
      valid: datagramArbitrary(),
      decode: decodeConnectivityDatagram,
    }),
    decoderTarget({
      name: 'attestation',
      description: 'decodeAttestation (ATTEST-VERIFY-1): the body of a Signed Attestation',
      valid: attestationBodyArbitrary(),
      decode: decodeAttestation,
    }),
  ];
}
