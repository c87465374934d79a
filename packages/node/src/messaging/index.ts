export * from './messenger.js';
export * from './node-message.js';
