/**
 * Accounts (spec/06-login-server.md §4-§5): user names (LOGIN-NAME-*), client-side password rules and
 * OPAQUE registration, login and password change (LOGIN-OPAQUE-*). Sans-I/O: the request handlers keep
 * the per-channel state and call the store; these modules only compute.
 */
export * from './opaque.js';
export * from './password.js';
export * from './username.js';
