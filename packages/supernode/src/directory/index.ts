/**
 * The directory of signed presence records held by a responsible supernode (07 §6).
 */
export * from './table.js';
