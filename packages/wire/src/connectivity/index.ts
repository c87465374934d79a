/**
 * Connectivity (spec/08-connectivity.md): the rules and limits of connectivity.proto and the UDP
 * datagrams of types 0x02-0x07 (probes, relay binds and data, punches).
 */
export * from './attestation.js';
export * from './datagrams.js';
export * from './messages.js';
export * from './nat.js';
export * from './punch.js';
export * from './relay-side.js';
