/**
 * The registry of fuzz targets behind `pnpm fuzz` (spec/01-packets.md §6 and §9: WIRE-LIMIT-5, a decoder
 * returns a value or a ParleyError for any input, never anything else, never hangs; GEN-ERR-1).
 *
 * A target is a name, a fast-check arbitrary of inputs, the function under test, and the errors it may
 * throw (ParleyError only). To add a decoder, append one `decoderTarget({...})` to `targets` (or to
 * `channelTargets` in channel-targets.ts for identity and channel inputs):
 *
 *   decoderTarget({
 *     name: 'certificate',
 *     valid: fc.array(...).map(encodeCertificate),   // valid encodings, to be mutated
 *     decode: (bytes) => decodeCertificate(bytes),
 *   }),
 */
import { isWireCode } from '../src/errors.js';
import { decodePacket, encodePacket, type Packet } from '../src/packet/packet.js';
import { hex, packetArbitrary } from './arbitraries.js';
import { channelTargets } from './channel-targets.js';
import { connectivityTargets } from './connectivity-targets.js';
import { e2eTargets } from './e2e-targets.js';
import { loginTargets } from './login-targets.js';
import { supernodeTargets } from './supernode-targets.js';
import { decoderTarget, type FuzzTarget } from './target.js';

export { type DecoderTargetOptions, decoderTarget, type FuzzTarget } from './target.js';

/** Decodes, then checks that a decoded packet re-encodes to something that decodes to the same packet. */
function decodePacketAndReencode(bytes: Uint8Array): Packet {
  const packet = decodePacket(bytes);
  let again: Uint8Array;
  try {
    again = encodePacket(packet);
  } catch (e) {
    // A decoded packet may hold a code a sender must not send (GEN-ERR-5): refusing it is right. Any
    // other refusal means the decoder accepted what a sender may not produce: a bug.
    const { body } = packet;
    const code = body.case === 'close' || body.case === 'error' ? body.value.code : 0;
    if (code !== 0 && !isWireCode(code)) return packet;
    throw new Error(`packet: decoded but cannot be re-encoded: ${e instanceof Error ? e.message : String(e)}`);
  }
  const second = decodePacket(again);
  if (hex(encodePacket(second)) !== hex(again)) throw new Error('packet: re-encoding is not stable');
  return packet;
}

/** Every registered target. */
export const targets: readonly FuzzTarget<unknown>[] = [
  decoderTarget({
    name: 'packet',
    description: 'decodePacket (spec/01-packets.md), with a re-encoding check on success',
    valid: packetArbitrary().map((p) => encodePacket(p)),
    decode: decodePacketAndReencode,
  }),
  ...channelTargets,
  ...loginTargets(decodePacketAndReencode),
  ...supernodeTargets(decodePacketAndReencode),
  ...connectivityTargets(decodePacketAndReencode),
  ...e2eTargets,
];

/** A glob of `*` and `?` as a matcher of target names. */
export function matchTargets(glob: string | undefined): readonly FuzzTarget<unknown>[] {
  if (glob === undefined || glob === '') return targets;
  const re = new RegExp(
    `^${glob
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
  return targets.filter((t) => re.test(t.name));
}
