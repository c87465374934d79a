// The implementation side of the vector consumers (consume-login.test.ts, consume-supernode.test.ts): the
// crypto suites they run it under, and a call's outcome as the vectors write it. Everything the consumers
// compute independently lives in independent.ts and proto-encoder.ts, which import nothing from src/.
import { nobleCrypto, nodeCrypto } from '../../src/crypto/index.js';
import type { CryptoSuite } from '../../src/crypto/suite.js';
import { errorCodeName, ParleyError } from '../../src/errors.js';

export const suites: [string, CryptoSuite][] = [
  ['nodeCrypto', nodeCrypto],
  ['nobleCrypto', nobleCrypto],
];

/** `{ ok: result }`, or `{ error: code name }` for a ParleyError; anything else is a bug and is thrown. */
// biome-ignore lint/suspicious/noExplicitAny: untyped JSON
export function outcome(f: () => unknown): any {
  try {
    return { ok: f() };
  } catch (e) {
    if (e instanceof ParleyError) return { error: errorCodeName(e.code) };
    throw e;
  }
}
