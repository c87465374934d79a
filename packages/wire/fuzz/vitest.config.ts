// The fuzz runner's vitest config (spec/01-packets.md §9): runs fuzz/main.fuzz.ts, TypeScript source
// directly, so `pnpm fuzz` needs no build. Started by scripts/fuzz.mjs, which passes the options.
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: dirname(dirname(fileURLToPath(import.meta.url))),
  resolve: { conditions: ['@parley/source'] },
  test: {
    include: ['fuzz/main.fuzz.ts'],
    testTimeout: 24 * 3600 * 1000,
    pool: 'forks',
    fileParallelism: false,
    disableConsoleIntercept: true,
  },
});
