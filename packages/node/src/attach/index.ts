export * from './reconnect.js';
