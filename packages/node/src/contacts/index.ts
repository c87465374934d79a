export * from './contact-list.js';
