/**
 * The real-socket implementation of the Transport (src/transport.ts; DESIGN.md §9): node:dgram, node:net,
 * performance.now() and Web Crypto randomness.
 */
export { RealClock } from './clock.js';
export { SystemRandom, systemRandom } from './random.js';
export {
  createRealTransport,
  type RealTransport,
  type RealTransportOptions,
  type RealTransportStats,
} from './transport.js';
