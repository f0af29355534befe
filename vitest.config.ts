import { defineConfig } from 'vitest/config'

/**
 * Files that judge the network's timing end to end (real node processes under steady ingest,
 * asserting that no alert is sent): they run alone, after the rest. Beside another file on 2
 * shared cores, a checkpoint round can starve for 3 intervals and raise a founded but
 * test-failing "checkpoints stalled" alert (seen once, at load 16).
 */
const ALONE = ['test/e2e/membership-change.test.ts']

export default defineConfig({
  test: {
    setupFiles: ['./node/shim.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // CI asks for a JSON report too, to print a plain "N passed, N failed" line (.ci/run).
    reporters: process.env.EHRLOG_TEST_REPORT ? ['default', 'json'] : ['default'],
    outputFile: process.env.EHRLOG_TEST_REPORT ? { json: process.env.EHRLOG_TEST_REPORT } : {},
    projects: [
      {
        extends: true,
        test: {
          name: 'shared',
          include: ['test/**/*.test.ts'],
          exclude: ALONE,
          // Two test files at a time. Vitest's default on a 2-core machine is one (cores - 1),
          // and most of the suite's time is spent waiting (checkpoint intervals, sync rounds,
          // key windows, timers), not computing: a second file fills that time. Files that
          // start networks take distinct ports per worker (scripts/in-process-network.ts
          // basePort, test/e2e/harness.ts).
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'alone',
          include: ALONE,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
})
