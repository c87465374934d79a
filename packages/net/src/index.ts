/**
 * @parley/net — one Transport interface (transport.ts) over real sockets and over a deterministic
 * simulator with RFC 4787 NAT models. Knows nothing of Parley packets. Normative/informative text:
 * spec/05-network.md.
 */

export * from './real/index.js';
export * from './sim/index.js';
export * from './transport.js';
