import { EhrlogError } from '../../core/errors.ts'
import { isTreeHeadSignatureValid, type SignedTreeHead } from '../../core/tree-head.ts'

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

/**
 * What a batch from another node must be before the store compares it with its replica: 1 to
 * MAX_BATCH_ENTRIES entries under a head of the same origin that covers them, signed by the
 * origin's key (`publicKey`, from the membership; undefined: not a member).
 */
export function checkBatchHead(batch: FeedBatch, publicKey: Uint8Array | undefined): void {
  const { origin, head } = batch
  const count = batch.entries.length
  if (count === 0 || count > MAX_BATCH_ENTRIES) {
    throw new EhrlogError(
      'ENTRY_INVALID',
      `a batch carries 1 to ${MAX_BATCH_ENTRIES} entries, got ${count}`,
    )
  }
  if (head.origin !== origin || head.treeSize < count) {
    throw new EhrlogError(
      'ENTRY_INVALID',
      `batch head (${head.origin}, size ${head.treeSize}) does not fit ${count} entries of ${origin}`,
    )
  }
  if (!publicKey)
    throw new EhrlogError('ORIGIN_UNKNOWN', `origin ${origin} is not a member of this network`)
  if (!isTreeHeadSignatureValid(head, publicKey)) {
    throw new EhrlogError(
      'INVALID_SIGNATURE',
      `tree head of ${origin} at size ${head.treeSize} has a bad signature`,
      { details: { origin, treeSize: head.treeSize } },
    )
  }
}
