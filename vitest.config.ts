import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // Vite would pick graphql's ESM build (`module`) for the sources while Node loads its CJS build for graphql-yoga
    // and Pothos: two GraphQLError classes, so every error the gateway throws would reach clients masked as
    // "Unexpected error.". Node's own resolution (what `npm start` uses) gives one copy; make the tests use it too.
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Suites start their own servers on random ports; a 2-core machine does better with few in parallel.
    maxWorkers: 2,
  },
});
