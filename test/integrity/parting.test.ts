import { describe, expect, it } from 'vitest'
import { hashLeaf, MemoryTree } from '../../node/core/merkle/index.ts'
import { prefixRoot } from '../../node/integrity/parting.ts'

describe('prefixRoot: the root of the leaves up to one, from its inclusion proof', () => {
  it('equals the MTH of the first index + 1 leaves (RFC 9162 §2.1.1) for every leaf of trees of 1 to 70 leaves', () => {
    const leaves = Array.from({ length: 70 }, (_, i) => hashLeaf(new Uint8Array([i, i >> 8])))
    for (let size = 1; size <= leaves.length; size++) {
      const tree = new MemoryTree(leaves.slice(0, size))
      for (let index = 0; index < size; index++) {
        const proof = tree.inclusionProof(index)
        expect(Buffer.from(prefixRoot(leaves[index]!, index, size, proof))).toEqual(
          Buffer.from(tree.root(index + 1)),
        )
      }
    }
  })
})
