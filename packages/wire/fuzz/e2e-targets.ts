/**
 * Fuzz targets of spec/10-e2e.md: the E2eBundle a recipient decodes from an offline message or a peer
 * session (E2E-BUNDLE-1, E2E-MSG-1), and the RatchetHeader a receiver decodes before decrypting
 * (E2E-RATCHET-6). Each must return a value or throw a ParleyError.
 */
import { encodeMessage } from '../src/codec/proto.js';
import { decodeE2eBundle, decodeRatchetHeader, E2E_BUNDLE_RULES, RATCHET_HEADER_RULES } from '../src/e2e/messages.js';
import { parley } from '../src/gen/parley.js';
import { messageArbitrary } from '../test/login/rules.js';
import { decoderTarget, type FuzzTarget } from './target.js';

export const e2eTargets: readonly FuzzTarget<unknown>[] = [
  decoderTarget({
    name: 'e2e-bundle',
    description: 'decodeE2eBundle (E2E-BUNDLE-1, E2E-MSG-1): device messages, prekey and ratchet messages',
    valid: messageArbitrary(E2E_BUNDLE_RULES).map((v) => encodeMessage(parley.v1.E2eBundle, v as never)),
    decode: decodeE2eBundle,
  }),
  decoderTarget({
    name: 'e2e-header',
    description: 'decodeRatchetHeader (E2E-RATCHET-6)',
    valid: messageArbitrary(RATCHET_HEADER_RULES).map((v) => encodeMessage(parley.v1.RatchetHeader, v as never)),
    decode: decodeRatchetHeader,
  }),
];
