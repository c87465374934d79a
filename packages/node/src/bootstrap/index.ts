export * from './host-cache.js';
