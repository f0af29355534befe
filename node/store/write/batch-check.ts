import { EhrlogError } from '../../core/errors.ts'
import { isTreeHeadSignatureValid } from '../../core/tree-head.ts'
import { type FeedBatch, MAX_BATCH_ENTRIES } from './feed-batch.ts'

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
