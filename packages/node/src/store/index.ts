export * from './sqlite.js';
export * from './store.js';
