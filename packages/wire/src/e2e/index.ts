export * from './messages.js';
export * from './ratchet.js';
export * from './store.js';
export * from './x3dh.js';
