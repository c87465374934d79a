/**
 * Endpoints sealed for contacts (spec/09-node.md §6): a presence record names its device's home supernode
 * in the clear and its direct endpoints only inside `sealed_endpoints` (07 DIR-REC-9), encrypted under the
 * user's **presence key**, a random 32-byte key the user shares with its accepted contacts (in the contact
 * accept message, and in its encrypted contact list so all its devices hold it). Strangers and supernodes
 * learn only the route through the home supernode (DESIGN §6: no harvesting of addresses by lookups).
 *
 *   sealed_endpoints = key id (4, BE) || nonce (12) || ChaCha20-Poly1305(presence key, nonce,
 *       ad = "parley/1 sealed endpoints" || len || username || device id (16) || sequence (8, BE),
 *       PeerEndpoints)
 *
 * The associated data binds the sealed bytes to the one record they were made for: they cannot be moved
 * into another device's record or an older one.
 */
import {
  ApiMisuse,
  type CryptoSuite,
  checkEncoding,
  concatBytes,
  DecodeError,
  decodeMessage,
  decodeSigned,
  defineMessage,
  ENDPOINT_RULES,
  ErrorCode,
  encodeMessage,
  parley,
  type Random,
} from '@parley/wire';

/** [NODE-SEAL-1] Endpoints in one record, at most. */
export const MAX_SEALED_ENDPOINTS = 8;
/** [NODE-SEAL-1] 07 DIR-REC-9: sealed endpoints are at most 512 bytes. */
export const MAX_SEALED_BYTES = 512;
const HEADER = 16;
const TAG = 16;
const LABEL = new TextEncoder().encode('parley/1 sealed endpoints');

export const PEER_ENDPOINTS_RULES = defineMessage({
  name: 'PeerEndpoints',
  fields: [
    {
      number: 1,
      name: 'endpoints',
      kind: 'message',
      message: ENDPOINT_RULES,
      repeated: true,
      maxCount: MAX_SEALED_ENDPOINTS,
    },
  ],
});

export interface WireEndpoint {
  readonly protocol: number;
  readonly address: Uint8Array;
  readonly port: number;
}

/** A user's presence key: an id (rotated on removal or block) and 32 random bytes. */
export interface PresenceKey {
  readonly keyId: number;
  readonly key: Uint8Array;
}

export function newPresenceKey(random: Random, keyId: number): PresenceKey {
  if (!Number.isInteger(keyId) || keyId < 1 || keyId > 0xffff_ffff) throw new ApiMisuse('presence key id');
  return { keyId, key: random.randomBytes(32) };
}

/** The record a sealed value belongs to. */
export interface SealContext {
  readonly username: string;
  readonly deviceId: Uint8Array;
  readonly sequence: number;
}

function ad(c: SealContext): Uint8Array {
  const name = new TextEncoder().encode(c.username);
  const seq = new Uint8Array(8);
  new DataView(seq.buffer).setBigUint64(0, BigInt(c.sequence));
  return concatBytes([LABEL, Uint8Array.of(name.length), name, c.deviceId, seq]);
}

/** [NODE-SEAL-1] Seals the device's endpoints for its contacts. */
export function sealEndpoints(
  suite: CryptoSuite,
  random: Random,
  key: PresenceKey,
  context: SealContext,
  endpoints: readonly WireEndpoint[],
): Uint8Array {
  if (endpoints.length > MAX_SEALED_ENDPOINTS) throw new ApiMisuse(`${endpoints.length} endpoints to seal`);
  const plaintext = encodeMessage(
    parley.v1.PeerEndpoints,
    parley.v1.PeerEndpoints.create({ endpoints: endpoints.map((e) => ({ ...e })) }),
  );
  const nonce = random.randomBytes(12);
  const head = new Uint8Array(HEADER);
  new DataView(head.buffer).setUint32(0, key.keyId);
  head.set(nonce, 4);
  const out = concatBytes([head, suite.aeadSeal(key.key, nonce, ad(context), plaintext)]);
  if (out.length > MAX_SEALED_BYTES) throw new ApiMisuse(`sealed endpoints of ${out.length} bytes`);
  return out;
}

/** The key id a sealed value names (to pick the key), or undefined when it is empty or too short. */
export function sealedKeyId(sealed: Uint8Array): number | undefined {
  if (sealed.length < HEADER + TAG) return undefined;
  return new DataView(sealed.buffer, sealed.byteOffset, sealed.byteLength).getUint32(0);
}

/**
 * [NODE-SEAL-2] Opens sealed endpoints with the contact's presence key: DECRYPT_FAILED when they were not
 * sealed under that key for that record, DecodeError when the plaintext breaks the rules.
 */
export function openEndpoints(
  suite: CryptoSuite,
  key: PresenceKey,
  context: SealContext,
  sealed: Uint8Array,
): WireEndpoint[] {
  if (sealedKeyId(sealed) !== key.keyId) throw new DecodeError(ErrorCode.DECRYPT_FAILED, 'another presence key');
  const nonce = sealed.subarray(4, HEADER);
  const plaintext = suite.aeadOpen(key.key, nonce, ad(context), sealed.subarray(HEADER));
  checkEncoding(plaintext, PEER_ENDPOINTS_RULES);
  const p = decodeMessage<parley.v1.PeerEndpoints>(parley.v1.PeerEndpoints as never, plaintext, 'PeerEndpoints');
  return (p.endpoints as parley.v1.Endpoint[]).map((e) => {
    if ((e.address.length !== 4 && e.address.length !== 16) || e.port < 1 || e.port > 65_535) {
      throw new DecodeError(ErrorCode.MALFORMED, 'PeerEndpoints.endpoints');
    }
    return { protocol: e.protocol, address: Uint8Array.from(e.address), port: e.port };
  });
}

/** The sealed endpoints of a verified PresenceEnvelope (its record was verified: 07 DIR-REC-4). */
export function sealedEndpointsOf(envelope: Uint8Array): Uint8Array {
  const env = parley.v1.PresenceEnvelope.decode(envelope);
  return parley.v1.PresenceRecord.decode(decodeSigned(env.record).body).sealedEndpoints;
}
