/**
 * Helpers shared by the store implementations (sqlite.ts, postgres.ts); not exported from the package.
 * The argument checks implement the conventions of store.ts: numbers are safe non-negative integers,
 * bytes are Uint8Arrays, and a misuse is an ApiMisuse (spec/00-conventions.md, GEN-ERR-1), never a
 * driver error half-way through a transaction.
 */
import { ApiMisuse } from '@parley/wire';
import { StoreError } from './store.js';

/** Throws ApiMisuse unless `value` is a safe integer >= `min`. */
export function checkInt(name: string, value: number, min = 0): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new ApiMisuse(`${name} must be a safe integer >= ${min}, got ${String(value)}`);
  }
}

export function checkBytes(name: string, value: Uint8Array): void {
  if (!(value instanceof Uint8Array)) throw new ApiMisuse(`${name} must be a Uint8Array`);
}

export function checkText(name: string, value: string): void {
  if (typeof value !== 'string') throw new ApiMisuse(`${name} must be a string`);
}

export function checkRole(role: string): void {
  if (role !== 'user' && role !== 'supernode' && role !== 'login') {
    throw new ApiMisuse(`role must be 'user', 'supernode' or 'login', got ${String(role)}`);
  }
}

export function checkKind(kind: string): void {
  if (kind !== 'policy' && kind !== 'supernode-list' && kind !== 'revocation-list') {
    throw new ApiMisuse(`kind must be 'policy', 'supernode-list' or 'revocation-list', got ${String(kind)}`);
  }
}

/** A fresh plain Uint8Array with the bytes of `b` (a driver's Buffer may be a view into a shared pool). */
export function copyOut(b: Uint8Array): Uint8Array {
  return new Uint8Array(b);
}

export function closedError(kind: string): ApiMisuse {
  return new ApiMisuse(`the ${kind} store is closed`);
}

/** Throws StoreError unless the database's schema is the one this software was built for. */
export function checkSchema(kind: string, actual: number, expected: number): void {
  if (actual > expected) {
    // [LOGIN-STORE-11] never run on a schema from newer software.
    throw new StoreError(
      'schema-newer',
      `the ${kind} database has schema version ${actual}, newer than this software's ${expected}; ` +
        'migrations are forward-only: run newer software or restore a backup',
    );
  }
  if (actual < expected) {
    throw new StoreError(
      'schema-outdated',
      `the ${kind} database has schema version ${actual}, this software needs ${expected}: call migrate()`,
    );
  }
}

/** Wraps a failed migration ([LOGIN-STORE-10]). */
export function migrationFailed(kind: string, version: number, name: string, cause: unknown): StoreError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new StoreError(
    'migration-failed',
    `${kind} migration ${version} (${name}) failed and was rolled back; the schema stays at version ${version - 1}: ${why}`,
    { cause },
  );
}
