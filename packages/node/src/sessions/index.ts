export * from './datagram-session.js';
