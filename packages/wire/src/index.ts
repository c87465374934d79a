/**
 * @parley/wire — Parley's shared contract, pure (no I/O).
 * Each module opens with the spec section it implements; see spec/README.md for the index.
 */

export type { CryptoSuite, Random } from './crypto/suite.js';
export * from './errors.js';
export { parley } from './gen/parley.js';
