/**
 * @parley/supernode — spec/07-supernode.md (and, for NAT services and the relay, 08-connectivity.md).
 *
 *   offline    the offline store: OfflineStore, memory and SQLite                    07 §7-8
 *   directory  the directory of signed presence records                              07 §5-6
 *   overlay    placement (rendezvous hashing over the signed list), handoff          07 §4, §9
 *   core       request handling for nodes and supernodes (SupernodeCore)             07 §3-9
 *   runner     the supernode on a @parley/net Transport; cli: `parley-supernode`
 */

export * from './connectivity/index.js';
export * from './core/index.js';
export * from './directory/index.js';
export * from './offline/index.js';
export * from './overlay/index.js';
export * from './runner/index.js';
