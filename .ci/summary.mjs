// The closing lines CI reads (.ci/run): "N skipped: <why>" when tests skipped, then the plain
// "N passed, N failed, N skipped" (alone on its line, as CI parses it), and the check
// that this Node satisfies package.json's "engines". Plain JavaScript: it runs before and
// after `npm ci`, without tsx.
import { existsSync, readFileSync } from 'node:fs'

/**
 * ["12 skipped: Chromium missing, apt-get install chromium", "300 passed, 0 failed, 12 skipped"].
 * `reasons` are the lines tests wrote to EHRLOG_SKIP_REASONS when they skipped
 * (test/helpers/skip-reason.ts). The last line stays plain: CI reads it alone on its line.
 */
export function summaryLines(report, reasons) {
  const skipped = report.numPendingTests + (report.numTodoTests ?? 0)
  const why = [...new Set(reasons.map((r) => r.trim()).filter((r) => r !== ''))]
  let line = `${report.numPassedTests} passed, ${report.numFailedTests} failed`
  if (skipped > 0) line += `, ${skipped} skipped`
  return skipped > 0 && why.length > 0 ? [`${skipped} skipped: ${why.join('; ')}`, line] : [line]
}

/** Undefined when `version` (e.g. v20.20.2) satisfies `range` (">=20.10"), else why not. */
export function engineProblem(version, range) {
  const want = /^>=\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(range.trim())
  if (!want) return `cannot read the engines range ${JSON.stringify(range)} (want ">=X.Y")`
  const have = version.replace(/^v/, '').split('.').map(Number)
  const need = want.slice(1).map((n) => Number(n ?? 0))
  for (let i = 0; i < 3; i++) {
    if ((have[i] ?? 0) > need[i]) return undefined
    if ((have[i] ?? 0) < need[i])
      return `Node ${version} is older than package.json's engines ${range}`
  }
  return undefined
}

const [command, ...args] = process.argv.slice(2)
if (command === 'engine') {
  const { engines } = JSON.parse(readFileSync('package.json', 'utf8'))
  const problem = engineProblem(process.version, engines.node)
  if (problem) {
    console.error(`== ${problem}`)
    process.exit(1)
  }
  console.log(`== node ${process.version} satisfies engines ${engines.node}`)
} else if (command === 'summary') {
  const [reportFile, reasonsFile] = args
  const report = JSON.parse(readFileSync(reportFile, 'utf8'))
  const reasons =
    reasonsFile && existsSync(reasonsFile) ? readFileSync(reasonsFile, 'utf8').split('\n') : []
  for (const line of summaryLines(report, reasons)) console.log(line)
}
