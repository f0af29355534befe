import { EhrlogError } from '../errors.ts'
import type { LeafRange } from './proof-plan.ts'
import { completeSubtrees, foldSubtrees, type NodeId } from './subtrees.ts'
import { popCount } from './tree-math.ts'

/**
 * The complete nodes to fetch (one batched read) to build a proof from its planned ranges,
 * in order. The ranges of one proof are disjoint, so no node repeats.
 */
export function nodesForRanges(ranges: readonly LeafRange[]): NodeId[] {
  const nodes: NodeId[] = []
  for (const [start, end] of ranges) nodes.push(...completeSubtrees(start, end))
  return nodes
}

/**
 * Folds node hashes, given in `nodesForRanges(ranges)` order, into one MTH per range: the
 * proof. Throws ARGUMENT_INVALID if the count of hashes does not match the plan.
 */
export function foldRanges(
  ranges: readonly LeafRange[],
  nodeHashes: readonly Uint8Array[],
): Uint8Array[] {
  // A range's complete subtrees are the set bits of its length (see completeSubtrees).
  const counts = ranges.map(([start, end]) => popCount(end - start))
  const want = counts.reduce((sum, count) => sum + count, 0)
  if (nodeHashes.length !== want) {
    throw new EhrlogError(
      'ARGUMENT_INVALID',
      `got ${nodeHashes.length} node hashes, want ${want} for ${ranges.length} ranges`,
      { details: { got: nodeHashes.length, want } },
    )
  }
  const proof: Uint8Array[] = []
  let at = 0
  for (const count of counts) {
    proof.push(foldSubtrees(nodeHashes.slice(at, at + count)))
    at += count
  }
  return proof
}
