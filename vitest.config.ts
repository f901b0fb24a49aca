import { defineConfig } from 'vitest/config';

// Tests share the machine's real Redis and Postgres; each test file uses its own key prefix /
// database, so files may run in parallel. Two cores: keep the pool small.
export default defineConfig({
  test: {
    include: ['plugins/**/*.test.ts', 'control-plane/**/*.test.ts', 'test/**/*.test.ts', 'scripts/**/*.test.ts'],
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
