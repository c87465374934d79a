/**
 * The shared Transport contract (test/contract/suite.ts; spec/05-network.md "Transport contract") run against
 * the simulator (DESIGN.md §9). `until` and `wait` run virtual time, so the whole suite takes no wall time
 * waiting.
 */

import { Simulator } from '../../src/sim/index.js';
import { transportContract } from '../contract/harness.js';

let seed = 0;

transportContract('simulator', async () => {
  // A fresh simulator per test: tests cannot see each other's packets. Loopback-like MTU, so the suite's
  // large datagrams (up to 65,507 bytes) fit as on a real loopback interface.
  const sim = new Simulator({ seed: `contract-${seed++}`, link: { latencyMs: 1, mtu: 65_535 } });
  const a = sim.addHost();
  const b = sim.addHost();
  // A host whose firewall drops unsolicited inbound: SYNs to it vanish ([NET-TCP-9]).
  const fw = sim.addFirewall({ blockInbound: true });
  const silent = sim.addHost({ behind: fw.id });
  return {
    a,
    b,
    aHost: a.address,
    bHost: b.address,
    silentEndpoint: { host: silent.address, port: 4000 },
    until: async (done, timeoutMs = 5_000) => sim.runUntil(done, timeoutMs),
    wait: async (timeMs) => {
      sim.run({ until: sim.now + timeMs });
    },
    close: async () => {},
  };
});
