/**
 * The deterministic network simulator (DESIGN.md §9; spec/05-network.md): public API.
 */
export { EventQueue, SimEvent } from './event-queue.js';
export { Firewall, type FirewallConfig } from './firewall.js';
export { DEFAULT_LINK, type LinkConfig, TCP_OVERHEAD, UDP_OVERHEAD } from './link.js';
export * from './middlebox.js';
export * from './nat.js';
export { hashSeed, SeededRandom, StreamKind } from './random.js';
export {
  type HostOptions,
  type MiddleboxHandle,
  SimAddress,
  SimHost,
  SimUdpSocket,
  Simulator,
  type SimulatorOptions,
} from './simulator.js';
export { SimListener, SimStream, type StreamState, type StreamTiming } from './stream.js';
export {
  type DropReason,
  PacketTrace,
  type PacketTraceOptions,
  type SegmentKind,
  type TraceEventKind,
  type TraceRecord,
} from './trace.js';
