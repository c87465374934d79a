export * from './attachment.js';
export * from './reconnect.js';
