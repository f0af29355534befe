import type { SignedTreeHead } from '../../core/tree-head.ts'

/**
 * Consecutive entries of one feed ending at a signed tree head: the unit of appends,
 * gossip and sync. A receiver holding entries 1..head.treeSize - entries.length can
 * verify the batch completely (chain, seq, root, signature) before storing it.
 */
export interface FeedBatch {
  origin: string
  /** Canonical entry bytes, seqs head.treeSize - entries.length + 1 .. head.treeSize. */
  entries: Uint8Array[]
  head: SignedTreeHead
}

export type AcceptResult =
  | { status: 'stored' | 'duplicate'; treeSize: number }
  | { status: 'gap'; have: number; want: number }

/** The most entries one append or accepted batch may carry. */
export const MAX_BATCH_ENTRIES = 10_000
