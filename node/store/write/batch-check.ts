import { EhrlogError } from '../../core/errors.ts'
import { toHex } from '../../core/hex.ts'
import { isTreeHeadSignatureValid } from '../../core/tree-head.ts'
import type { HeadKeys, LogStoreOptions } from '../store-types.ts'
import { type FeedBatch, MAX_BATCH_ENTRIES } from './feed-batch.ts'

/**
 * What a batch from another node must be before the store compares it with its replica: 1 to
 * MAX_BATCH_ENTRIES entries under a head of the same origin that covers them, signed by the
 * origin's key for that size (`keys.headKeys`, else `keys.originKey`, from the membership;
 * undefined: not a member, or a removed member's feed past its frozen size). A head that a
 * retired key signed past the size it was retired at is refused as INVALID_SIGNATURE with
 * `details.retiredKey`: a rotated-out key signing new history (the integrity service alerts).
 */
export function checkBatchHead(
  batch: FeedBatch,
  keys: Pick<LogStoreOptions, 'originKey' | 'headKeys'>,
): void {
  const { origin, head } = batch
  const judged = keys.headKeys?.(origin, head.treeSize, batch.entries)
  const publicKey = judged ? judged.key : keys.originKey(origin, head.treeSize)
  const retired = judged?.retired ?? []
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
  const byRetired = () => retired.find((r) => isTreeHeadSignatureValid(head, r.key))
  if (!publicKey) {
    const old = retired.length > 0 ? byRetired() : undefined
    if (old) throw retiredKeySignature(batch, old)
    throw new EhrlogError(
      'ORIGIN_UNKNOWN',
      retired.length > 0
        ? `origin ${origin} is no longer a member: its feed is frozen below size ${head.treeSize}`
        : `origin ${origin} is not a member of this network`,
      { details: { origin, treeSize: head.treeSize } },
    )
  }
  if (!isTreeHeadSignatureValid(head, publicKey)) {
    const old = byRetired()
    if (old) throw retiredKeySignature(batch, old)
    throw new EhrlogError(
      'INVALID_SIGNATURE',
      `tree head of ${origin} at size ${head.treeSize} has a bad signature`,
      { details: { origin, treeSize: head.treeSize } },
    )
  }
}

function retiredKeySignature(batch: FeedBatch, old: HeadKeys['retired'][number]): EhrlogError {
  const { origin, head } = batch
  return new EhrlogError(
    'INVALID_SIGNATURE',
    `tree head of ${origin} at size ${head.treeSize} is signed by a key membership version ${old.version} retired after size ${old.upTo}`,
    {
      details: {
        origin,
        treeSize: head.treeSize,
        retiredKey: toHex(old.key),
        retiredAfter: old.upTo,
        version: old.version,
        root: toHex(head.root),
        signature: toHex(head.signature),
      },
    },
  )
}
