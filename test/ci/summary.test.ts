import { describe, expect, it } from 'vitest'
import { engineProblem, summaryLines } from '../../.ci/summary.mjs'

const report = (passed: number, failed: number, pending: number) => ({
  numPassedTests: passed,
  numFailedTests: failed,
  numPendingTests: pending,
  numTodoTests: 0,
})

describe('the closing lines of .ci/run', () => {
  it('names why tests skipped, once per reason', () => {
    expect(
      summaryLines(report(300, 0, 12), [
        'Chromium missing (/usr/bin/chromium), apt-get install chromium',
        'Chromium missing (/usr/bin/chromium), apt-get install chromium',
        '',
      ]),
    ).toEqual([
      '12 skipped: Chromium missing (/usr/bin/chromium), apt-get install chromium',
      '300 passed, 0 failed, 12 skipped',
    ])
    expect(summaryLines(report(3, 1, 0), [])).toEqual(['3 passed, 1 failed'])
    expect(summaryLines(report(3, 0, 2), [])).toEqual(['3 passed, 0 failed, 2 skipped'])
  })

  it("checks this Node against package.json's engines", () => {
    expect(engineProblem('v20.20.2', '>=20.10')).toBeUndefined()
    expect(engineProblem('v22.1.0', '>=20.10')).toBeUndefined()
    expect(engineProblem('v20.9.0', '>=20.10')).toMatch(/older than package.json's engines/)
    expect(engineProblem('v18.20.0', '>=20.10')).toMatch(/older/)
    expect(engineProblem('v20.10.0', '^20')).toMatch(/cannot read/)
  })
})
