/**
 * Opens the offline store a supernode's configuration names (spec/07 §8): `memory` (an elected supernode
 * MAY keep memory only, [STORE-PERSIST-2]) or `sqlite:PATH` (durable, what an operator-hosted supernode
 * MUST use, [STORE-PERSIST-1]; `sqlite::memory:` for tests). The SQLite store is migrated on open.
 */
import { ApiMisuse } from '@parley/wire';
import { MemoryOfflineStore } from './memory.js';
import { SqliteOfflineStore } from './sqlite.js';
import type { OfflineStore, OfflineStoreLimits } from './store.js';

/** The accepted forms, for error messages and --help texts. */
export const OFFLINE_STORE_FORMS = "'memory' or 'sqlite:PATH'";

export interface OpenOfflineStoreOptions {
  readonly limits?: Partial<OfflineStoreLimits>;
  /** SQLite `busy_timeout` (ms). */
  readonly busyTimeoutMs?: number;
}

export async function openOfflineStore(spec: string, options: OpenOfflineStoreOptions = {}): Promise<OfflineStore> {
  if (spec === 'memory') {
    return new MemoryOfflineStore(options.limits === undefined ? {} : { limits: options.limits });
  }
  if (typeof spec === 'string' && spec.startsWith('sqlite:') && spec.length > 'sqlite:'.length) {
    const path = spec.slice('sqlite:'.length);
    if (path.startsWith('//')) throw new ApiMisuse(`an offline store is ${OFFLINE_STORE_FORMS} (a path, not a URL)`);
    return SqliteOfflineStore.open(path, options);
  }
  throw new ApiMisuse(`an offline store is ${OFFLINE_STORE_FORMS}`);
}
