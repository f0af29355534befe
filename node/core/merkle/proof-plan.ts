import { EhrlogError } from '../errors.ts'
import { largestPowerOfTwoBelow } from './subtrees.ts'
import { requireCount } from './tree-math.ts'

/**
 * The first step of building a proof without the whole tree: which leaf ranges' MTH make up
 * the proof. Each range satisfies `completeSubtrees`' precondition, so a store fetches their
 * complete nodes (`nodesForRanges`) and folds them (`foldRanges`).
 */
export type LeafRange = [start: number, end: number]

/**
 * The ranges whose MTH form PATH(index, D[treeSize]) (RFC 9162 §2.1.3.1), leaf-most first.
 * Throws ARGUMENT_INVALID unless 0 <= index < treeSize.
 */
export function inclusionProofRanges(index: number, treeSize: number): LeafRange[] {
  requireCount('index', index)
  requireCount('treeSize', treeSize)
  if (index >= treeSize) {
    throw new EhrlogError(
      'ARGUMENT_INVALID',
      `leaf index ${index} is not below tree size ${treeSize}`,
      {
        details: { index, treeSize },
      },
    )
  }
  // The recursion appends after recursing, so walking from the root collects the proof
  // root-most first; it is reversed at the end.
  const rootward: LeafRange[] = []
  let start = 0
  let end = treeSize
  while (end - start > 1) {
    const split = start + largestPowerOfTwoBelow(end - start)
    if (index < split) {
      rootward.push([split, end]) // PATH(m, D[0:k]) : MTH(D[k:n])
      end = split
    } else {
      rootward.push([start, split]) // PATH(m - k, D[k:n]) : MTH(D[0:k])
      start = split
    }
  }
  return rootward.reverse()
}

/**
 * The ranges whose MTH form PROOF(oldSize, D[newSize]) = SUBPROOF(oldSize, D[newSize], true)
 * (RFC 9162 §2.1.4.1), in proof order. The RFC defines PROOF only for 0 < oldSize < newSize;
 * we return [] for oldSize == newSize (SUBPROOF(m, D[m], true) = {}) and for oldSize == 0 (the
 * empty tree is a prefix of every tree; transparency-dev/merkle does the same), and
 * `verifyConsistency` accepts exactly those empty proofs. Throws ARGUMENT_INVALID if
 * oldSize > newSize.
 */
export function consistencyProofRanges(oldSize: number, newSize: number): LeafRange[] {
  requireCount('oldSize', oldSize)
  requireCount('newSize', newSize)
  if (oldSize > newSize) {
    throw new EhrlogError(
      'ARGUMENT_INVALID',
      `old tree size ${oldSize} is larger than new tree size ${newSize}`,
      { details: { oldSize, newSize } },
    )
  }
  if (oldSize === 0 || oldSize === newSize) return []
  const rootward: LeafRange[] = []
  let start = 0
  let end = newSize
  // b of SUBPROOF: whether D[start:oldSize] is the whole old tree, whose root the verifier has.
  let oldRootKnown = true
  while (oldSize < end) {
    const split = start + largestPowerOfTwoBelow(end - start)
    if (oldSize <= split) {
      rootward.push([split, end]) // SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
      end = split
    } else {
      rootward.push([start, split]) // SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
      start = split
      oldRootKnown = false
    }
  }
  if (!oldRootKnown) rootward.push([start, end]) // SUBPROOF(m, D[m], false) = {MTH(D[m])}
  return rootward.reverse()
}
