/**
 * @parley/login-server — the root of trust of a Parley network in operation: spec/06-login-server.md.
 *
 *   accounts   user names and OPAQUE (RFC 9807) registration and login       §4
 *   limits     per-account backoff, per-address buckets, admission control   §6
 *   store      the Store interface, SQLite and PostgreSQL                    §9
 *   (the stream channel driver is @parley/channel)
 *   server     the request handling (LoginServerCore)                        §3-§11
 */
export * from './accounts/index.js';
export * from './client/index.js';
export * from './limits/index.js';
export * from './server/core.js';
export * from './server/errors.js';
export * from './server/gate.js';
export * from './server/pacer.js';
export * from './server/runner.js';
export * from './store/index.js';
