import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // graphql 16 ships CommonJS (main) and ESM (module) builds; Node loads the CommonJS one for the
  // libraries, so test code must too, or two graphql instances meet ("from another module or realm").
  resolve: { alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }] },
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    // Each file gets its own database (a copy of a migrated template), so files run in parallel. They wait on
    // PostgreSQL, sockets and processes much of the time: one file per core, and at least two, keeps the CPU
    // busy (vitest's default, one less than the cores, runs them one at a time on two cores).
    pool: 'forks',
    maxWorkers: Math.max(2, availableParallelism()),
    testTimeout: 30_000,
    hookTimeout: 90_000,
  },
});
