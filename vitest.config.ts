import { defineConfig } from 'vitest/config';
import { PlainSummaryReporter } from './scripts/vitest-summary.js';

// One root config; each package is a project (vitest 4: `test.projects`).
export default defineConfig({
  test: {
    projects: ['packages/*/vitest.config.ts', 'conformance*/vitest.config.ts', 'scripts/vitest.config.ts'],
    reporters: ['default', new PlainSummaryReporter()],
  },
});
