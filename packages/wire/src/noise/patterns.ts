/**
 * Noise handshake patterns (The Noise Protocol Framework, revision 34): the one-way patterns (§7.4),
 * the fundamental interactive patterns (§7.5), the deferred patterns (§18) and the `pskN` modifier
 * (§9). Parley itself uses only XX ([CHAN-NOISE-1]); the others exist so that the generic
 * `HandshakeState` can be checked against every published vector of the same cipher suite.
 */
import { ApiMisuse } from '../errors.js';

export type Token = 'e' | 's' | 'ee' | 'es' | 'se' | 'ss' | 'psk';

export interface HandshakePattern {
  readonly name: string;
  /** Pre-message tokens of the initiator (`-> s` before `...`). */
  readonly initiatorPreMessage: readonly Token[];
  /** Pre-message tokens of the responder (`<- s` before `...`). */
  readonly responderPreMessage: readonly Token[];
  /** Message patterns; even indexes are sent by the initiator, odd ones by the responder. */
  readonly messages: readonly (readonly Token[])[];
  /** One-way patterns (§7.4): every transport message goes from initiator to responder. */
  readonly oneWay: boolean;
}

/** Compact table: pre-messages, then messages, each as a comma-separated token list. */
const TABLE: Record<string, { pre?: [string, string]; msgs: string[] }> = {
  // §7.4 one-way patterns
  N: { pre: ['', 's'], msgs: ['e, es'] },
  K: { pre: ['s', 's'], msgs: ['e, es, ss'] },
  X: { pre: ['', 's'], msgs: ['e, es, s, ss'] },
  // §7.5 interactive fundamental patterns
  NN: { msgs: ['e', 'e, ee'] },
  NK: { pre: ['', 's'], msgs: ['e, es', 'e, ee'] },
  NX: { msgs: ['e', 'e, ee, s, es'] },
  XN: { msgs: ['e', 'e, ee', 's, se'] },
  XK: { pre: ['', 's'], msgs: ['e, es', 'e, ee', 's, se'] },
  XX: { msgs: ['e', 'e, ee, s, es', 's, se'] },
  KN: { pre: ['s', ''], msgs: ['e', 'e, ee, se'] },
  KK: { pre: ['s', 's'], msgs: ['e, es, ss', 'e, ee, se'] },
  KX: { pre: ['s', ''], msgs: ['e', 'e, ee, se, s, es'] },
  IN: { msgs: ['e, s', 'e, ee, se'] },
  IK: { pre: ['', 's'], msgs: ['e, es, s, ss', 'e, ee, se'] },
  IX: { msgs: ['e, s', 'e, ee, se, s, es'] },
  // §18 deferred patterns
  NK1: { pre: ['', 's'], msgs: ['e', 'e, ee, es'] },
  NX1: { msgs: ['e', 'e, ee, s', 'es'] },
  X1N: { msgs: ['e', 'e, ee', 's', 'se'] },
  X1K: { pre: ['', 's'], msgs: ['e, es', 'e, ee', 's', 'se'] },
  XK1: { pre: ['', 's'], msgs: ['e', 'e, ee, es', 's, se'] },
  X1K1: { pre: ['', 's'], msgs: ['e', 'e, ee, es', 's', 'se'] },
  X1X: { msgs: ['e', 'e, ee, s, es', 's', 'se'] },
  XX1: { msgs: ['e', 'e, ee, s', 'es, s, se'] },
  X1X1: { msgs: ['e', 'e, ee, s', 'es, s', 'se'] },
  K1N: { pre: ['s', ''], msgs: ['e', 'e, ee', 'se'] },
  K1K: { pre: ['s', 's'], msgs: ['e, es', 'e, ee', 'se'] },
  KK1: { pre: ['s', 's'], msgs: ['e', 'e, ee, se, es'] },
  K1K1: { pre: ['s', 's'], msgs: ['e', 'e, ee, es', 'se'] },
  K1X: { pre: ['s', ''], msgs: ['e', 'e, ee, s, es', 'se'] },
  KX1: { pre: ['s', ''], msgs: ['e', 'e, ee, se, s', 'es'] },
  K1X1: { pre: ['s', ''], msgs: ['e', 'e, ee, s', 'se, es'] },
  I1N: { msgs: ['e, s', 'e, ee', 'se'] },
  I1K: { pre: ['', 's'], msgs: ['e, es, s', 'e, ee', 'se'] },
  IK1: { pre: ['', 's'], msgs: ['e, s', 'e, ee, se, es'] },
  I1K1: { pre: ['', 's'], msgs: ['e, s', 'e, ee, es', 'se'] },
  I1X: { msgs: ['e, s', 'e, ee, s, es', 'se'] },
  IX1: { msgs: ['e, s', 'e, ee, se, s', 'es'] },
  I1X1: { msgs: ['e, s', 'e, ee, s', 'se, es'] },
};

function tokens(list: string): Token[] {
  return list === '' ? [] : (list.split(', ') as Token[]);
}

/**
 * The pattern named `name`, e.g. `XX`, `NK1` or `XXpsk0+psk3` (modifiers per §9.2: `psk0` puts a
 * `psk` token at the start of the first message, `pskN` at the end of message N).
 */
export function handshakePattern(name: string): HandshakePattern {
  const m = /^([NKXI]1?[NKX]?1?)((?:psk\d)(?:\+psk\d)*)?$/.exec(name);
  const base = m?.[1] ? TABLE[m[1]] : undefined;
  if (!m || !base) throw new ApiMisuse(`unsupported Noise pattern ${name}`);
  const messages = base.msgs.map(tokens);
  for (const modifier of m[2] ? m[2].split('+') : []) {
    const n = Number(modifier.slice(3));
    if (n === 0) messages[0]!.unshift('psk');
    else if (n <= messages.length) messages[n - 1]!.push('psk');
    else throw new ApiMisuse(`bad modifier ${modifier} for ${name}`);
  }
  return {
    name,
    initiatorPreMessage: tokens(base.pre?.[0] ?? ''),
    responderPreMessage: tokens(base.pre?.[1] ?? ''),
    messages,
    oneWay: m[1]!.length === 1,
  };
}

/** The parts of a protocol name `Noise_<pattern>_<dh>_<cipher>_<hash>` (§8). */
export function parseProtocolName(protocolName: string): { pattern: string; dh: string; cipher: string; hash: string } {
  const parts = protocolName.split('_');
  if (parts.length !== 5 || parts[0] !== 'Noise') throw new ApiMisuse(`bad protocol name ${protocolName}`);
  return { pattern: parts[1]!, dh: parts[2]!, cipher: parts[3]!, hash: parts[4]! };
}
