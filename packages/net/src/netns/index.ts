/**
 * Real NAT on one Linux machine: network-namespace test hosts, nftables/iptables NATs and real node
 * processes inside them (lab.ts; test/netns/README.md). Node-only and test-oriented, so the package's
 * main index does not re-export it; import it from this module.
 */
export {
  cleanupStaleLabs,
  createNetnsLab,
  destroyAllLabsSync,
  type LabEvent,
  type LabHost,
  type LabNat,
  LabProcess,
  listNamespaces,
  type NatKind,
  type NatOptions,
  NetnsLab,
  type NetnsLabOptions,
  netnsAvailable,
} from './lab.js';
export { CommandError, type CommandResult } from './run.js';
