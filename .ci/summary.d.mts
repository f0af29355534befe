/** Types of summary.mjs for the tests (test/ci/summary.test.ts). */
export interface TestReport {
  numPassedTests: number
  numFailedTests: number
  numPendingTests: number
  numTodoTests?: number
}
export function summaryLines(report: TestReport, reasons: string[]): string[]
export function engineProblem(version: string, range: string): string | undefined
