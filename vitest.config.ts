import { defineConfig } from 'vitest/config';

// Tests use real SQLite files, sockets on 127.0.0.1 and child processes: keep the pool
// small on a 2-core machine and give process-level tests room without sleeping.
// Under CI a JSON report is written too; .ci/run turns it into the "N passed, N failed" line.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Worker threads and end-to-end tests run dist/: build it first when src/ is newer.
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 30_000,
    reporters: process.env.CI ? ['default', ['json', { outputFile: '.vitest-results.json' }]] : ['default'],
  },
});
