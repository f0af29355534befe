import { appendFileSync } from 'node:fs'

/**
 * Records why tests skip, for the closing line CI prints (.ci/summary.mjs): one line appended
 * to the file EHRLOG_SKIP_REASONS names, when it is set. Call it where the skip is decided.
 */
export function noteSkipReason(reason: string): void {
  const file = process.env.EHRLOG_SKIP_REASONS
  if (file) appendFileSync(file, `${reason}\n`)
}
