/** Request handling for nodes and supernodes (spec/07-supernode.md §3-9): SupernodeCore and its state. */
export * from './attachments.js';
export * from './core.js';
export * from './endpoint.js';
export * from './limits.js';
export * from './network-state.js';
export * from './session.js';
