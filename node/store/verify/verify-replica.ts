import { availableParallelism } from 'node:os'
import { PREFIX, prefixRange } from '../format/key-layout.ts'
import type { StoreAccess } from '../store-access.ts'
import { CheckPool } from './check-pool.ts'
import { type CheckRecords, FeedChecker } from './feed-checker.ts'
import { checkRecords } from './record-check.ts'
import type { Problem, VerifyOptions, VerifyReport } from './report.ts'

const PROGRESS_EVERY = 10_000
/** Below this many entries, starting workers costs more than they save. */
const WORKERS_FROM = 50_000

/**
 * Streams through every feed of an open store and names each damaged entry by origin, seq
 * and entry id (feed-checker.ts). Memory stays O(log n) per feed plus a few chunks in flight.
 */
export async function verifyReplica(
  store: StoreAccess,
  opts: VerifyOptions = {},
): Promise<VerifyReport> {
  const report: VerifyReport = {
    ok: true,
    entriesChecked: 0,
    feeds: [],
    problems: [],
    problemsOmitted: 0,
  }
  const maxProblems = opts.maxProblems ?? 10_000
  const addProblem = (p: Problem) => {
    report.ok = false
    if (report.problems.length < maxProblems) report.problems.push(p)
    else report.problemsOmitted++
  }
  for await (const [key, value] of store.db.iterator(prefixRange(Buffer.of(PREFIX.feed)))) {
    if (!store.cipher.open(key, value)) {
      addProblem({
        kind: 'unreadable-feed',
        origin: `tag:${key.subarray(1).toString('hex')}`,
        message: 'feed record fails authentication',
      })
    }
  }
  const feeds = [...store.feeds.values()].sort((a, b) => a.origin.localeCompare(b.origin))
  const total = feeds.reduce((sum, f) => sum + f.committed.size, 0)
  // One core reads LevelDB and folds the tree; the others decrypt and hash (~3/5 of the work).
  const threads =
    opts.threads ?? (total >= WORKERS_FROM ? Math.min(availableParallelism() - 1, 3) : 0)
  const pool = threads > 0 ? new CheckPool(threads, store.valueKey) : undefined
  const inline: CheckRecords = async (origin, records) =>
    checkRecords(store.cipher, origin, records)
  // A worker that fails (or cannot start) costs speed, never a verdict: check inline instead.
  const check: CheckRecords = pool
    ? (origin, records) => pool.check(origin, records).catch(() => inline(origin, records))
    : inline
  try {
    for (const feed of feeds) {
      const checker = new FeedChecker(
        store,
        { origin: feed.origin, tag: feed.tag, known: opts.knownHeads?.get(feed.origin) },
        addProblem,
        check,
        2 * threads,
      )
      report.feeds.push(
        await checker.run(() => {
          report.entriesChecked++
          if (report.entriesChecked % PROGRESS_EVERY === 0) opts.onProgress?.(report.entriesChecked)
        }),
      )
    }
  } finally {
    await pool?.close()
  }
  opts.onProgress?.(report.entriesChecked)
  return report
}
