import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['./node/shim.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // CI asks for a JSON report too, to print a plain "N passed, N failed" line (.ci/run).
    reporters: process.env.EHRLOG_TEST_REPORT ? ['default', 'json'] : ['default'],
    outputFile: process.env.EHRLOG_TEST_REPORT ? { json: process.env.EHRLOG_TEST_REPORT } : {},
  },
})
