import { defineProject } from 'vitest/config';

export default defineProject({
  resolve: { conditions: ['@parley/source'] },
  // Workspace packages (@parley/wire, @parley/net) resolve to their TypeScript sources, never a stale dist/.
  ssr: { resolve: { conditions: ['@parley/source'], externalConditions: ['@parley/source'] } },
  test: {
    name: 'node',
    include: ['test/**/*.test.ts'],
    setupFiles: ['../../scripts/vitest-setup.ts'],
    testTimeout: 60_000,
  },
});
