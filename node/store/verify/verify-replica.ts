import { availableParallelism } from 'node:os'
import { PREFIX, prefixRange } from '../format/key-layout.ts'
import type { StoreInternals } from '../log-store.ts'
import { CheckPool } from './check-pool.ts'
import { type CheckRecords, FeedChecker } from './feed-checker.ts'
import { checkRecords } from './record-check.ts'

/**
 * What can be wrong with a replica, per entry or per signed tree head:
 * - modified: the value fails authentication, or its hash is not what the next entry links to
 * - deleted: no entry where the feed has one
 * - truncated: entries missing at the tail, below the latest signed or a known tree head
 * - inserted: an entry no signed tree head covers
 * - reordered: an entry stored under another entry's seq
 * - bad-signature: a tree head not signed by its origin's key
 * - root-mismatch: the entries give another root than a signed or known head
 * - unreadable-feed: the feed record itself fails authentication
 * - tree-node: Merkle nodes stored with an entry differ from what the entries give (derived
 *   data, rebuilt by a repair; the entry itself is intact)
 */
export type ProblemKind =
  | 'modified'
  | 'deleted'
  | 'truncated'
  | 'inserted'
  | 'reordered'
  | 'bad-signature'
  | 'root-mismatch'
  | 'unreadable-feed'
  | 'tree-node'

export interface Problem {
  kind: ProblemKind
  origin: string
  /** Entry problems name the entry; head problems the tree size. */
  seq?: number
  entryId?: string
  /** The authentic entry hash where the chain tells it (what a repair must restore). */
  expectedHash?: string
  treeSize?: number
  message: string
}

export interface FeedReport {
  origin: string
  /** Entry records present. */
  entries: number
  /** Size of the latest signed tree head. */
  signedSize: number
  /** Whether roots could be recomputed through the whole feed. */
  rootsChecked: boolean
}

export interface VerifyReport {
  ok: boolean
  entriesChecked: number
  feeds: FeedReport[]
  problems: Problem[]
  /** Problems beyond maxProblems, counted but not listed (memory stays bounded). */
  problemsOmitted: number
}

export interface KnownHead {
  treeSize: number
  root: Uint8Array
}

export interface VerifyOptions {
  /** Tree heads learned elsewhere (a cosigned checkpoint): catches a rolled-back tail. */
  knownHeads?: ReadonlyMap<string, KnownHead>
  onProgress?: (entriesChecked: number) => void
  maxProblems?: number
  /**
   * Worker threads that decrypt and hash entries (check-pool.ts); 0 checks on this thread.
   * Default: one per core but one (at most 3) for stores of WORKERS_FROM entries or more,
   * else 0 (starting a worker costs ~0.3 s).
   */
  threads?: number
}

const PROGRESS_EVERY = 10_000
/** Below this many entries, starting workers costs more than they save. */
const WORKERS_FROM = 50_000

/**
 * Streams through every feed of an open store and names each damaged entry by origin, seq
 * and entry id (feed-checker.ts). Memory stays O(log n) per feed plus a few chunks in flight.
 */
export async function verifyReplica(
  store: StoreInternals,
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
