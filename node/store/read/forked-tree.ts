import { EhrlogError } from '../../core/errors.ts'
import {
  hashChildren,
  inclusionProofRanges,
  largestPowerOfTwoBelow,
  MemoryTree,
} from '../../core/merkle/index.ts'
import type { StoreAccess } from '../store-access.ts'
import { TreeReader } from './tree-reader.ts'

/**
 * Root of, and an inclusion proof in, another version of a feed: this replica's first
 * `prefixSize` leaves followed by `leaves` (leaf hashes from a batch that conflicts with
 * ours). For equivocation evidence: the origin's conflicting head proves its entry only
 * through a tree we never stored. O(log n) reads of our nodes plus O(leaves) hashing.
 */
export async function proveInForkedTree(
  access: StoreAccess,
  origin: string,
  prefixSize: number,
  leaves: readonly Uint8Array[],
  index: number,
  treeSize: number,
): Promise<{ root: Uint8Array; proof: Uint8Array[] }> {
  const feed = access.feeds.get(origin)
  if (!feed || prefixSize > feed.committed.size || treeSize !== prefixSize + leaves.length) {
    throw new EhrlogError(
      'ARGUMENT_INVALID',
      `cannot fork ${origin} after ${prefixSize} with ${leaves.length} leaves at size ${treeSize}`,
    )
  }
  const ours = new TreeReader(access.db, access.cipher, feed.tag)
  // MTH of leaves [start, end): RFC 9162 §2.1.1's split, reading our stored nodes for the part
  // before prefixSize. Every range the recursion names is one completeSubtrees accepts.
  const rangeHash = async (start: number, end: number): Promise<Uint8Array> => {
    if (end <= prefixSize) return ours.rangeHash(start, end)
    if (start >= prefixSize)
      return new MemoryTree(leaves.slice(start - prefixSize, end - prefixSize)).root()
    const k = largestPowerOfTwoBelow(end - start)
    return hashChildren(await rangeHash(start, start + k), await rangeHash(start + k, end))
  }
  // PATH (RFC 9162 §2.1.3.1) is the MTH of each planned range.
  const proof: Uint8Array[] = []
  for (const [start, end] of inclusionProofRanges(index, treeSize))
    proof.push(await rangeHash(start, end))
  return { root: await rangeHash(0, treeSize), proof }
}
