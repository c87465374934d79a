export * from './attest.js';
export * from './probe.js';
export * from './punch.js';
export * from './relay.js';
export * from './service.js';
