// Internal helpers shared by the signed objects of login.proto and supernode.proto (src/login/objects.ts,
// src/supernode/objects.ts): decoding an object's body under its rules, and turning what a receiver would
// refuse into the sender's ApiMisuse.
import { ApiMisuse, ParleyError } from '../errors.js';
import { checkEncoding } from './check.js';
import { decodeMessage } from './proto.js';
import type { MessageRules } from './rules.js';

/** An object's body: its encoding rules (limits, WIRE-ENC-*), then the generated decoder. */
export function decodeBody<T>(type: { decode(r: Uint8Array): T }, rules: MessageRules, body: Uint8Array): T {
  checkEncoding(body, rules);
  return decodeMessage<T>(type as never, body, rules.name);
}

/** Sender side: what a receiver would refuse is the caller's mistake (WIRE-LIMIT-1, ID-SIG-5). */
export function asMisuse<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof ParleyError && !(e instanceof ApiMisuse)) {
      throw new ApiMisuse(`${what} a receiver would refuse: ${e.message}`);
    }
    throw e;
  }
}
