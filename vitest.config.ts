import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Each file isolates its own databases and Redis prefix, so files may run in parallel.
    fileParallelism: true,
    maxWorkers: 2,
    pool: 'forks',
  },
});
