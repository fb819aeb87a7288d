import { defineConfig } from 'vitest/config';

// Tests use real SQLite files, sockets on 127.0.0.1 and child processes: keep the pool
// small on a 2-core machine and give process-level tests room without sleeping.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
