import { EhrlogError } from '../errors.ts'
import { inclusionProofRanges } from './proof-plan.ts'
import { completeSubtrees, foldSubtrees, type NodeId } from './subtrees.ts'

/** One inclusion proof asked for: PATH(index, D[treeSize]). */
export interface InclusionRequest {
  index: number
  treeSize: number
}

/**
 * Many inclusion proofs planned together. Proofs of leaves in one tree share their upper
 * ranges (the siblings near the root), and often the right edge of the tree, so each complete
 * node is listed once and each distinct range is folded once.
 */
export interface InclusionBatchPlan {
  /** Every complete node the proofs need, each once: fetch these (one batched read). */
  nodes: NodeId[]
  /** Each distinct range as indexes into `nodes`, its complete subtrees left to right. */
  ranges: number[][]
  /** Per request, in request order: its proof as indexes into `ranges`, leaf-most first. */
  proofs: number[][]
}

/**
 * Plans PATH(index, D[treeSize]) (RFC 9162 §2.1.3.1) for every request, as
 * `inclusionProofRanges` does for one. Throws ARGUMENT_INVALID unless 0 <= index < treeSize.
 */
export function planInclusionProofs(requests: readonly InclusionRequest[]): InclusionBatchPlan {
  const nodes: NodeId[] = []
  const ranges: number[][] = []
  // Keys are strings: sizes and indexes go up to 2^53, past what a packed number could hold.
  const nodeAt = new Map<string, number>()
  const rangeAt = new Map<string, number>()
  const proofs = requests.map(({ index, treeSize }) =>
    inclusionProofRanges(index, treeSize).map(([start, end]) => {
      const rangeKey = `${start}:${end}`
      let r = rangeAt.get(rangeKey)
      if (r === undefined) {
        r = ranges.length
        rangeAt.set(rangeKey, r)
        ranges.push(
          completeSubtrees(start, end).map((node) => {
            const nodeKey = `${node.level}/${node.index}`
            let n = nodeAt.get(nodeKey)
            if (n === undefined) {
              n = nodes.length
              nodeAt.set(nodeKey, n)
              nodes.push(node)
            }
            return n
          }),
        )
      }
      return r
    }),
  )
  return { nodes, ranges, proofs }
}

/**
 * Folds the node hashes (in `plan.nodes` order) into each request's proof: the same hashes,
 * in the same order, as folding each proof alone (`foldRanges`). Proofs that share a range
 * share its hash array: read them, do not write to them. Throws ARGUMENT_INVALID if the count
 * of hashes does not match the plan.
 */
export function foldInclusionProofs(
  plan: InclusionBatchPlan,
  nodeHashes: readonly Uint8Array[],
): Uint8Array[][] {
  if (nodeHashes.length !== plan.nodes.length) {
    throw new EhrlogError(
      'ARGUMENT_INVALID',
      `got ${nodeHashes.length} node hashes, want ${plan.nodes.length} for the planned proofs`,
      { details: { got: nodeHashes.length, want: plan.nodes.length } },
    )
  }
  const rangeHashes = plan.ranges.map((nodes) => foldSubtrees(nodes.map((n) => nodeHashes[n]!)))
  return plan.proofs.map((proof) => proof.map((r) => rangeHashes[r]!))
}
