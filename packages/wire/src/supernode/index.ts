/**
 * Supernodes (spec/07-supernode.md): the rules and limits of supernode.proto, placement of user names by
 * rendezvous hashing, and the signed presence records and offline messages supernodes hold.
 */
export * from './messages.js';
export * from './objects.js';
export * from './placement.js';
