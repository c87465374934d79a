export * from './messages.js';
export * from './objects.js';
