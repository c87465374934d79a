export * from './lookup.js';
export * from './publisher.js';
export * from './sealed.js';
