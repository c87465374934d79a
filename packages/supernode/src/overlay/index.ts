/**
 * The overlay between supernodes: placement over the signed list, liveness, handoff (07 §4, §9).
 */
export * from './handoff.js';
export * from './health.js';
export * from './key-id.js';
export * from './lru.js';
export * from './view.js';
