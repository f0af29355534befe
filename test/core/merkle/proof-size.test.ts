import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { consistencyProofSize, inclusionProofSize } from '../../../node/core/merkle/index.ts'
import { expectCode, sizeAndIndex, twoSizes } from './helpers.ts'
import { leafHashes, path, proof } from './reference.ts'

describe('proof sizes', () => {
  it('inclusionProofSize is the length of the reference PATH', () => {
    fc.assert(
      fc.property(sizeAndIndex, ({ treeSize, index }) => {
        expect(inclusionProofSize(index, treeSize)).toBe(path(index, leafHashes(treeSize)).length)
      }),
    )
  })

  it('consistencyProofSize is the length of the reference PROOF, 0 from the empty tree', () => {
    fc.assert(
      fc.property(twoSizes, ({ oldSize, newSize }) => {
        const want = oldSize === 0 ? 0 : proof(oldSize, leafHashes(newSize)).length
        expect(consistencyProofSize(oldSize, newSize)).toBe(want)
      }),
    )
  })

  it('handles sizes past 32 bits', () => {
    // A leaf of a 2^40-leaf tree has one sibling per level; a leaf past it only the left root.
    expect(inclusionProofSize(2 ** 40 - 1, 2 ** 40)).toBe(40)
    expect(inclusionProofSize(2 ** 40, 2 ** 40 + 1)).toBe(1)
    // Old tree = left half: just the right half. Old tree = left half + 1 leaf: that leaf,
    // its 40 right siblings, and the left half (as PROOF(3, D[4]) = [d2, d3, g]).
    expect(consistencyProofSize(2 ** 40, 2 ** 41)).toBe(1)
    expect(consistencyProofSize(2 ** 40 + 1, 2 ** 41)).toBe(42)
    expect(consistencyProofSize(3, 4)).toBe(3)
  })

  it('rejects impossible requests with ARGUMENT_INVALID', () => {
    expectCode(() => inclusionProofSize(3, 3), 'ARGUMENT_INVALID', 'index == size')
    expectCode(() => inclusionProofSize(0, 0), 'ARGUMENT_INVALID', 'empty tree')
    expectCode(() => consistencyProofSize(4, 3), 'ARGUMENT_INVALID', 'reversed')
    expectCode(() => consistencyProofSize(-1, 3), 'ARGUMENT_INVALID', 'negative')
  })
})
