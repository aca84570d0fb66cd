import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Suites start their own servers on random ports; a 2-core machine does better with few in parallel.
    maxWorkers: 2,
  },
});
