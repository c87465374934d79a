/**
 * The offline store (spec/07-supernode.md §7-8): the OfflineStore interface, MemoryOfflineStore and
 * SqliteOfflineStore, and openOfflineStore for a configured 'memory' or 'sqlite:PATH'.
 */
export * from './memory.js';
export { checkOfflineMigrations, OFFLINE_SQLITE_MIGRATIONS, type OfflineMigration } from './migrations.js';
export * from './open.js';
export * from './sqlite.js';
export * from './store.js';
