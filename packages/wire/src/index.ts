/**
 * @parley/wire — Parley's shared contract, pure (no I/O). Each module opens with the spec section it
 * implements; spec/README.md is the index.
 *
 *   errors, codec   spec/00-conventions.md, spec/01-packets.md   error codes, checked decoding
 *   packet          spec/01-packets.md                          the top-level Packet and its limits
 *   identity        spec/02-identity.md                         keys, signed objects, certificates, chains
 *   noise, framing  spec/03-channels.md §2-7                    the Noise stream channel
 *   datagram        spec/03-channels.md §8-9                    the datagram channel and replay window
 *   crypto          spec/04-crypto.md                           CryptoSuite on node:crypto and @noble
 *   login           spec/06-login-server.md                     login.proto rules, objects a login server signs
 *   supernode       spec/07-supernode.md                        supernode.proto rules, placement, records, messages
 *   connectivity    spec/08-connectivity.md                     connectivity.proto rules, probe/relay/punch datagrams
 */
export * from './codec/bytes.js';
export * from './codec/index.js';
export * from './connectivity/index.js';
export * from './crypto/index.js';
export * from './datagram/index.js';
export * from './e2e/index.js';
export * from './errors.js';
export * from './framing/stream.js';
export { parley } from './gen/parley.js';
export * from './identity/index.js';
export * from './login/index.js';
export * from './noise/index.js';
export * from './packet/index.js';
export * from './supernode/index.js';
