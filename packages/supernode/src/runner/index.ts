/** The supernode on a @parley/net Transport (spec/07-supernode.md §3-4, §9-10): Supernode, LoginLink, PeerPool. */
export * from './login-link.js';
export * from './node-client.js';
export * from './peers.js';
export * from './supernode.js';
