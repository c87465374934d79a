/**
 * Opening a store from a URL, as the server's configuration names it (spec/06-login-server.md §13):
 * `sqlite:PATH` (`sqlite::memory:` for a throwaway database) or `postgres://...` / `postgresql://...`.
 * The store is migrated before it is returned ([LOGIN-STORE-9]); when that fails it is closed again.
 */
import { ApiMisuse } from '@parley/wire';
import { PostgresStore, type PostgresStoreOptions } from './postgres.js';
import { SqliteStore, type SqliteStoreOptions } from './sqlite.js';
import type { Store } from './store.js';

export interface OpenStoreOptions {
  /** Options for a `sqlite:` URL. */
  readonly sqlite?: SqliteStoreOptions;
  /** Options for a `postgres://` or `postgresql://` URL (the URL is the connection string). */
  readonly postgres?: Omit<PostgresStoreOptions, 'connectionString'>;
}

/** The URL forms openStore accepts, for messages and `--help` texts. */
export const STORE_URL_FORMS = 'sqlite:PATH, sqlite::memory:, postgres://... or postgresql://...';

/**
 * Opens and migrates the store that `url` names. Throws ApiMisuse for a URL of any other form (the
 * message names the accepted forms, and never repeats the URL, which may hold a password).
 */
export async function openStore(url: string, options: OpenStoreOptions = {}): Promise<Store> {
  const store = storeFor(url, options);
  try {
    await store.migrate();
  } catch (e) {
    await store.close().catch(() => {});
    throw e;
  }
  return store;
}

function storeFor(url: string, options: OpenStoreOptions): Store {
  if (typeof url !== 'string') throw new ApiMisuse(`the store URL must be a string: ${STORE_URL_FORMS}`);
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    return new PostgresStore({ ...options.postgres, connectionString: url });
  }
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length);
    if (path.startsWith('//')) {
      // `sqlite:///var/db` would silently mean the path `///var/db`; refuse it rather than guess.
      throw new ApiMisuse(`a SQLite store URL is sqlite:PATH without "//" (sqlite:/var/lib/parley/login.db)`);
    }
    if (path === '') throw new ApiMisuse(`the SQLite store URL has no path: ${STORE_URL_FORMS}`);
    return new SqliteStore(path, options.sqlite);
  }
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:/.exec(url)?.[0];
  throw new ApiMisuse(
    `unsupported store URL${scheme !== undefined ? ` (scheme ${scheme})` : ''}: expected ${STORE_URL_FORMS}`,
  );
}
