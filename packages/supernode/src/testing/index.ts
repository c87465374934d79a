/**
 * `@parley/supernode/testing`: the simulated world the supernode's tests run in, for the tests of the
 * packages built on it (the node, the conformance harness): a network (root and login keys), certificates
 * issued straight by the login key, supernodes on simulator hosts sharing one verified list, NAT and
 * firewall hosts, and SupernodeClients. Not for production use.
 */
export * from './world.js';
