import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { toHex } from '../../../node/core/hex.ts'
import { MemoryTree } from '../../../node/core/merkle/index.ts'
import { expectCode, hexes, sizeAndIndex, twoSizes } from './helpers.ts'
import { leafHashes, mth, path, proof } from './reference.ts'

// Built once and queried at smaller sizes, as the store is: answers must not depend on
// leaves appended after the size asked for.
const tree = new MemoryTree(leafHashes(300))

describe('MemoryTree', () => {
  it('numbers appended leaves from 0', () => {
    const small = new MemoryTree()
    expect(small.append(leafHashes(1)[0]!)).toBe(0)
    expect(small.append(leafHashes(2)[1]!)).toBe(1)
    expect(small.size).toBe(2)
  })

  it('has the reference MTH as root at every size', () => {
    const leaves = leafHashes(300)
    for (let size = 0; size <= 300; size++)
      expect(toHex(tree.root(size)), `size ${size}`).toBe(toHex(mth(leaves.slice(0, size))))
    expect(toHex(tree.root())).toBe(toHex(mth(leaves)))
  })

  it('builds the reference inclusion proof PATH (RFC 9162 §2.1.3.1)', () => {
    fc.assert(
      fc.property(sizeAndIndex, ({ treeSize, index }) => {
        const leaves = leafHashes(treeSize)
        expect(hexes(tree.inclusionProof(index, treeSize))).toEqual(hexes(path(index, leaves)))
      }),
    )
  })

  it('builds the reference consistency proof PROOF (RFC 9162 §2.1.4.1), [] from size 0', () => {
    fc.assert(
      fc.property(twoSizes, ({ oldSize, newSize }) => {
        const want = oldSize === 0 ? [] : proof(oldSize, leafHashes(newSize))
        expect(hexes(tree.consistencyProof(oldSize, newSize))).toEqual(hexes(want))
      }),
    )
  })

  it('rejects sizes beyond the tree, bad indexes and reversed sizes with ARGUMENT_INVALID', () => {
    expectCode(() => tree.root(301), 'ARGUMENT_INVALID', 'root past the end')
    expectCode(() => tree.root(-1), 'ARGUMENT_INVALID', 'negative root size')
    expectCode(() => tree.inclusionProof(0, 301), 'ARGUMENT_INVALID', 'tree size past the end')
    expectCode(() => tree.inclusionProof(300), 'ARGUMENT_INVALID', 'index == size')
    expectCode(() => tree.inclusionProof(10, 10), 'ARGUMENT_INVALID', 'index == treeSize')
    expectCode(() => tree.consistencyProof(11, 10), 'ARGUMENT_INVALID', 'reversed')
    expectCode(() => tree.consistencyProof(10, 301), 'ARGUMENT_INVALID', 'new size past the end')
  })

  it('rejects a malformed leaf hash with ARGUMENT_INVALID and keeps its size', () => {
    const small = new MemoryTree(leafHashes(3))
    expectCode(() => small.append(new Uint8Array(0)), 'ARGUMENT_INVALID')
    expect(small.size).toBe(3)
    expect(toHex(small.root())).toBe(toHex(mth(leafHashes(3))))
  })
})
