/* What verifyReplica (verify-replica.ts) reports, and the options it takes. */

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
