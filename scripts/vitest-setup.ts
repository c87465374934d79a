// Deterministic property tests: one seed for every fast-check run, printed on failure by fast-check
// itself together with the shrink path. Replay a failure with PARLEY_SEED=<seed> pnpm test.
import fc from 'fast-check';

const seed = process.env.PARLEY_SEED !== undefined ? Number(process.env.PARLEY_SEED) : 0x5eed_2026;
const numRuns = process.env.PARLEY_RUNS !== undefined ? Number(process.env.PARLEY_RUNS) : undefined;
fc.configureGlobal({ seed, ...(numRuns !== undefined ? { numRuns } : {}) });
