import { EhrlogError } from '../errors.ts'
import {
  isPowerOfTwo,
  levelsToCommonAncestor,
  popCount,
  requireCount,
  trailingZeros,
} from './tree-math.ts'

/*
 * Closed forms for proof lengths, so a verifier can reject a proof of the wrong length
 * before hashing and say what it wanted. Same decomposition as transparency-dev/merkle
 * (proof/verify.go): the path climbs `inner` levels to where the paths of the leaf and of
 * the tree's last leaf meet, then takes one left sibling per set bit above ("border").
 */

/** Hashes in PATH(index, D[treeSize]) (RFC 9162 §2.1.3.1). Needs 0 <= index < treeSize. */
export function inclusionProofSize(index: number, treeSize: number): number {
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
  const inner = levelsToCommonAncestor(index, treeSize - 1)
  return inner + popCount(Math.floor(index / 2 ** inner))
}

/**
 * Hashes in PROOF(oldSize, D[newSize]) (RFC 9162 §2.1.4.1); 0 when oldSize is 0 or equals
 * newSize (see consistencyProofRanges). Needs 0 <= oldSize <= newSize.
 */
export function consistencyProofSize(oldSize: number, newSize: number): number {
  requireCount('oldSize', oldSize)
  requireCount('newSize', newSize)
  if (oldSize > newSize) {
    throw new EhrlogError(
      'ARGUMENT_INVALID',
      `old tree size ${oldSize} is larger than new tree size ${newSize}`,
      { details: { oldSize, newSize } },
    )
  }
  if (oldSize === 0 || oldSize === newSize) return 0
  const inner = levelsToCommonAncestor(oldSize - 1, newSize - 1)
  const border = popCount(Math.floor((oldSize - 1) / 2 ** inner))
  // The old tree's rightmost complete subtree has 2^shift leaves; the proof starts with its
  // hash, unless it is the whole old tree, whose root the verifier already has.
  const shift = trailingZeros(oldSize)
  const seed = isPowerOfTwo(oldSize) ? 0 : 1
  return seed + inner - shift + border
}
