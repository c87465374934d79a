import { defineConfig } from 'vitest/config';

// One root config; each package is a project (vitest 4: `test.projects`).
export default defineConfig({
  test: {
    projects: ['packages/*/vitest.config.ts', 'conformance*/vitest.config.ts'],
    reporters: ['default'],
  },
});
