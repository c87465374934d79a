/**
 * The login server's store (spec/06-login-server.md §13, LOGIN-STORE-*): the Store interface, its
 * SQLite and PostgreSQL implementations, their versioned migrations, and openStore for a URL.
 */
export * from './migrations.js';
export * from './open.js';
export { PostgresStore, type PostgresStoreOptions } from './postgres.js';
export { SqliteStore, type SqliteStoreOptions } from './sqlite.js';
export * from './store.js';
