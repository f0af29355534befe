import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['./node/shim.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Two test files at a time. Vitest's default on a 2-core machine is one (cores - 1), and most
    // of the suite's time is spent waiting (checkpoint intervals, sync rounds, key windows,
    // timers), not computing: a second file fills that time. Files that start networks take
    // distinct ports per worker (scripts/in-process-network.ts basePort, test/e2e/harness.ts).
    maxWorkers: 2,
    // CI asks for a JSON report too, to print a plain "N passed, N failed" line (.ci/run).
    reporters: process.env.EHRLOG_TEST_REPORT ? ['default', 'json'] : ['default'],
    outputFile: process.env.EHRLOG_TEST_REPORT ? { json: process.env.EHRLOG_TEST_REPORT } : {},
  },
})
