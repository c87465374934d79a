export * from './lookup.js';
export * from './sealed.js';
