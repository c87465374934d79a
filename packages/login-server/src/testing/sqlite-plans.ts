/**
 * A test helper for SQLite stores (exported with `@parley/login-server/testing`): the statements a store
 * prepares that scan a whole table, from SQLite's own query plans.
 */
import type Database from 'better-sqlite3';

/**
 * Records the source of every statement prepared on `db` while `prepareAll` runs (it should make the store
 * prepare every statement it has), then plans each with literals in place of its parameters (the SQL holds
 * no '?' or '@' in its strings) and returns the `detail: sql` of each full scan: "SCAN t", with or without
 * "USING INDEX", visits every row of t; "SEARCH t USING ..." does not. Statements matching `skip` (tiny
 * tables) are not planned. `statements`: how many statements were prepared.
 */
export async function fullTableScans(
  db: Database.Database,
  prepareAll: () => Promise<unknown>,
  skip: RegExp,
): Promise<{ statements: number; fullScans: string[] }> {
  const sources: string[] = [];
  const prepare = db.prepare.bind(db);
  db.prepare = ((sql: string) => {
    sources.push(sql);
    return prepare(sql);
  }) as typeof db.prepare;
  await prepareAll();
  const fullScans: string[] = [];
  for (const sql of sources) {
    if (skip.test(sql)) continue;
    const plan = prepare(`EXPLAIN QUERY PLAN ${sql.replace(/@\w+|\?/g, '1')}`).all() as { detail: string }[];
    for (const p of plan) if (/^SCAN /.test(p.detail)) fullScans.push(`${p.detail}: ${sql.replace(/\s+/g, ' ')}`);
  }
  return { statements: sources.length, fullScans };
}
