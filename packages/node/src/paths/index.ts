export * from './address.js';
export * from './channel.js';
export * from './establish.js';
export * from './path.js';
export * from './probe.js';
export * from './udp-mux.js';
