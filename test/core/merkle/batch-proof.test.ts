import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  foldInclusionProofs,
  inclusionProofRanges,
  isInclusionValid,
  MemoryTree,
  nodesForRanges,
  planInclusionProofs,
} from '../../../node/core/merkle/index.ts'
import { expectCode, hexes, sizeAndIndex } from './helpers.ts'
import { leafHashes, mth, path } from './reference.ts'

const leaves = leafHashes(300)
const tree = new MemoryTree(leaves)

/** 1..40 requests in trees of up to 300 leaves, repeats and mixed sizes included. */
const requests = fc.array(sizeAndIndex, { minLength: 1, maxLength: 40 })

describe('batched inclusion proofs (planInclusionProofs, foldInclusionProofs)', () => {
  it('equal the reference PATH (RFC 9162 §2.1.3.1) and the single-proof path, and verify', () => {
    fc.assert(
      fc.property(requests, (asked) => {
        const batched = tree.inclusionProofs(asked)
        expect(batched).toHaveLength(asked.length)
        asked.forEach(({ index, treeSize }, i) => {
          const want = hexes(path(index, leaves.slice(0, treeSize)))
          expect(hexes(batched[i]!), `${index} in ${treeSize}`).toEqual(want)
          expect(hexes(tree.inclusionProof(index, treeSize))).toEqual(want)
          const root = mth(leaves.slice(0, treeSize))
          expect(isInclusionValid(leaves[index]!, index, treeSize, batched[i]!, root)).toBe(true)
        })
      }),
    )
  })

  it('names each complete node once, and no more nodes than the proofs planned one by one', () => {
    fc.assert(
      fc.property(requests, (asked) => {
        const plan = planInclusionProofs(asked)
        const keys = plan.nodes.map((n) => `${n.level}/${n.index}`)
        expect(new Set(keys).size).toBe(keys.length)
        const single = new Set(
          asked.flatMap(({ index, treeSize }) =>
            nodesForRanges(inclusionProofRanges(index, treeSize)).map(
              (n) => `${n.level}/${n.index}`,
            ),
          ),
        )
        expect(new Set(keys)).toEqual(single)
      }),
    )
  })

  it('shares the upper nodes: 100 leaves of a 2^20-leaf tree need far fewer than 100 proofs alone', () => {
    const size = 2 ** 20
    const asked = Array.from({ length: 100 }, (_, i) => ({ index: i * 10_007, treeSize: size }))
    const alone = asked.reduce(
      (sum, { index, treeSize }) =>
        sum + nodesForRanges(inclusionProofRanges(index, treeSize)).length,
      0,
    )
    expect(alone).toBe(2000)
    // 100 leaves 10,007 apart share every level above ~13: 100 × 14 + ~100 nodes, not 2,000.
    expect(planInclusionProofs(asked).nodes.length).toBeLessThan(1600)
  })

  it('refuses a leaf outside its tree and a hash count that does not match the plan', () => {
    expectCode(() => planInclusionProofs([{ index: 5, treeSize: 5 }]), 'ARGUMENT_INVALID')
    const plan = planInclusionProofs([{ index: 1, treeSize: 5 }])
    expectCode(() => foldInclusionProofs(plan, leaves.slice(0, 1)), 'ARGUMENT_INVALID')
    expect(planInclusionProofs([])).toEqual({ nodes: [], ranges: [], proofs: [] })
  })
})
