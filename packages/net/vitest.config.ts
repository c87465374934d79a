import { defineProject } from 'vitest/config';

export default defineProject({
  resolve: { conditions: ['@parley/source'] },
  test: {
    name: 'net',
    include: ['test/**/*.test.ts'],
    setupFiles: ['../../scripts/vitest-setup.ts'],
    testTimeout: 60_000,
  },
});
