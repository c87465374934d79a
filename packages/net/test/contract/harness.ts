/**
 * The Transport contract harness (DESIGN.md §9; STYLE.md, js-libp2p "interface compliance tests"): what an
 * implementation of `Transport` (src/transport.ts) provides so that the one shared suite (suite.ts) can run
 * against it. The real-socket environment (test/real/) and the simulator's environment (test/sim/) both
 * implement `ContractEnv`; the rules the suite checks carry `[NET-…]` ids, written down in
 * spec/05-network.md ("Transport contract").
 */
import type { NetAddress, Transport } from '../../src/transport.js';

export interface ContractEnv {
  /** Two hosts that can reach each other directly (no NAT, no loss). */
  readonly a: Transport;
  readonly b: Transport;
  /** An address of each host, reachable from the other (e.g. '127.0.0.1' for both on loopback, or the simulator's addresses). */
  readonly aHost: string;
  readonly bHost: string;
  /**
   * Optional: an endpoint reachable from `a` that never answers a connection attempt (its SYNs vanish), for
   * the connect-timeout rule [NET-TCP-9]. Absent: that test is skipped, with the reason printed. (Addition to
   * the agreed interface; optional, so environments written without it still compile.)
   */
  readonly silentEndpoint?: NetAddress;
  /** Let the network run until done() is true or timeoutMs (default 5,000) of the env's time has passed; resolves to done(). */
  until(done: () => boolean, timeoutMs?: number): Promise<boolean>;
  /** Let timeMs of the env's time pass (real: wall clock; simulator: virtual). */
  wait(timeMs: number): Promise<void>;
  /** Close everything the env made. */
  close(): Promise<void>;
}

export type ContractEnvFactory = () => Promise<ContractEnv>;

/** Registers the whole suite in a describe() block named `Transport contract: ${name}`. */
export { transportContract } from './suite.js';
