/**
 * Fuzz targets of spec/06-login-server.md: the login packet bodies (100-131) through decodePacket, and
 * the bodies of the signed objects a login server publishes, decoded after their signature has verified
 * (a valid signature says nothing about the body's sanity: a compromised or buggy server must not crash
 * a receiver either). Valid inputs come from the rules themselves (test/login/rules.ts), then mutated.
 */

import { NETWORK_POLICY_RULES, REVOCATION_LIST_PAGE_RULES, SUPERNODE_LIST_PAGE_RULES } from '../src/login/messages.js';
import {
  decodeNetworkPolicy,
  decodeRevocationListPage,
  decodeSupernodeListPage,
  effectivePolicy,
} from '../src/login/objects.js';
import { encodePacket } from '../src/packet/packet.js';
import { loginPacketArbitrary, messageArbitrary, protoType } from '../test/login/rules.js';
import { decoderTarget, type FuzzTarget } from './target.js';

const bodies = (name: string, rules: Parameters<typeof messageArbitrary>[0]) =>
  messageArbitrary(rules).map((m) => protoType(name).encode(m).finish());

export function loginTargets(reencode: (bytes: Uint8Array) => unknown): FuzzTarget<unknown>[] {
  return [
    decoderTarget({
      name: 'login-packet',
      description: 'decodePacket on bodies 100-131 (spec/06-login-server.md), with a re-encoding check',
      valid: loginPacketArbitrary().map((p) => encodePacket(p)),
      decode: reencode,
    }),
    decoderTarget({
      name: 'network-policy',
      description: 'decodeNetworkPolicy + effectivePolicy (POLICY-GEN-1..4)',
      valid: bodies('NetworkPolicy', NETWORK_POLICY_RULES),
      decode: (bytes) => effectivePolicy(decodeNetworkPolicy(bytes)),
    }),
    decoderTarget({
      name: 'supernode-list-page',
      description: 'decodeSupernodeListPage (LOGIN-LIST-1..4)',
      valid: bodies('SupernodeListPage', SUPERNODE_LIST_PAGE_RULES),
      decode: decodeSupernodeListPage,
    }),
    decoderTarget({
      name: 'revocation-list-page',
      description: 'decodeRevocationListPage (LOGIN-REVOKE-2)',
      valid: bodies('RevocationListPage', REVOCATION_LIST_PAGE_RULES),
      decode: decodeRevocationListPage,
    }),
  ];
}
