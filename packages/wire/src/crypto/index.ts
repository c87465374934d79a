/**
 * The crypto barrel: the `CryptoSuite` and `Random` interfaces, both implementations of the Parley
 * v1 suite, randomness, and the choice of a default. Normative text: spec/04-crypto.md.
 *
 * Both suites are exported statically. `nodeCrypto` reaches node:crypto only through
 * `process.getBuiltinModule` at run time (see node.ts), so importing this barrel never makes a
 * browser bundler resolve `node:crypto`.
 */
import { nobleCrypto } from './noble.js';
import { nodeCrypto, nodeCryptoAvailable } from './node.js';
import type { CryptoSuite } from './suite.js';

export { nobleCrypto } from './noble.js';
export { nodeCrypto, nodeCryptoAvailable } from './node.js';
export { seededRandom, systemRandom } from './random.js';
export type { CryptoSuite, Random } from './suite.js';

/**
 * The suite to use when the caller does not choose: `nodeCrypto` on Node (OpenSSL, 10-30x faster),
 * `nobleCrypto` everywhere else. Both give identical bytes ([CRYPTO-SUITE-2]), so the choice
 * changes speed only, never behaviour.
 */
export function defaultCryptoSuite(): CryptoSuite {
  return nodeCryptoAvailable() ? nodeCrypto : nobleCrypto;
}
