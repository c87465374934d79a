/**
 * @parley/node — the ordinary node: spec/09-node.md, 10-e2e.md, 11-files-calls.md.
 *
 *   bootstrap  the host cache: the verified list kept on disk, the order of candidate supernodes     09 §8
 *   store      NodeStore: memory and SQLite (list, host stats, sequences, contacts, secrets, ids)   09 §10
 *   attach     attachment with a standby and failover; reconnection with backoff and full jitter    09 §4
 *   contacts   the contact list, its encrypted blob on the login server, and the merge               09 §7
 *   messaging  NodeMessage (the E2E plaintext) and end-to-end messaging through the offline store   09 §3, 10
 *   sessions   peer sessions over a path: the Noise handshake in 0x08 datagrams, the datagram channel 09 §5
 *   presence   endpoints sealed for contacts; what a node trusts of a lookup answer                  09 §6
 *   paths      the node's UDP socket (UdpMux), probes, and datagram paths to a peer device: punched
 *              (direct) or through a relay, over UDP or the node's TCP channel      08 §4, §6-7
 */

export * from './attach/index.js';
export * from './bootstrap/index.js';
export * from './contacts/index.js';
export * from './messaging/index.js';
export * from './paths/index.js';
export * from './presence/index.js';
export * from './sessions/index.js';
export * from './store/index.js';
