import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { toHex } from '../../../node/core/hex.ts'
import { type CompleteNode, MerkleBuilder, nodeLeafRange } from '../../../node/core/merkle/index.ts'
import { expectCode, hexes } from './helpers.ts'
import { leafHashes, mth } from './reference.ts'

function built(size: number): MerkleBuilder {
  const builder = new MerkleBuilder()
  for (const leafHash of leafHashes(size)) builder.append(leafHash)
  return builder
}

const asText = (nodes: CompleteNode[]) => nodes.map((n) => `${n.level}/${n.index}/${toHex(n.hash)}`)

describe('MerkleBuilder', () => {
  it('has the reference MTH as root at every size from 0 to 300', () => {
    const leaves = leafHashes(300)
    const builder = new MerkleBuilder()
    for (let size = 0; size <= 300; size++) {
      expect(builder.size).toBe(size)
      expect(toHex(builder.root()), `size ${size}`).toBe(toHex(mth(leaves.slice(0, size))))
      if (size < 300) builder.append(leaves[size]!)
    }
  })

  it('reports every complete node exactly once, when its last leaf arrives, with its reference hash', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 300 }), (size) => {
        const leaves = leafHashes(size)
        const builder = new MerkleBuilder()
        const seen = new Set<string>()
        for (const [seq, leafHash] of leaves.entries()) {
          const nodes = builder.append(leafHash)
          expect(nodes[0]).toEqual({ level: 0, index: seq, hash: leafHash })
          for (const [n, node] of nodes.entries()) {
            expect(node.level).toBe(n)
            expect(nodeLeafRange(node)[1]).toBe(seq + 1)
            expect(toHex(node.hash)).toBe(toHex(mth(leaves.slice(...nodeLeafRange(node)))))
            seen.add(`${node.level}/${node.index}`)
          }
        }
        // All complete nodes of a size-n tree: floor(n / 2^L) at each level L.
        let want = 0
        for (let width = 1; width <= size; width *= 2) want += Math.floor(size / width)
        expect(seen.size).toBe(want)
      }),
      { numRuns: 50 }, // each run rehashes every node from its leaves
    )
  })

  it('resumes from its frontier and continues exactly as the original', () => {
    const sizes = fc.record({
      size: fc.integer({ min: 0, max: 300 }),
      more: fc.integer({ min: 1, max: 100 }),
    })
    fc.assert(
      fc.property(sizes, ({ size, more }) => {
        const original = built(size)
        const resumed = MerkleBuilder.fromFrontier(original.size, original.frontier())
        expect(toHex(resumed.root())).toBe(toHex(original.root()))
        for (const leafHash of leafHashes(size + more).slice(size)) {
          expect(asText(resumed.append(leafHash))).toEqual(asText(original.append(leafHash)))
          expect(resumed.size).toBe(original.size)
          expect(toHex(resumed.root())).toBe(toHex(original.root()))
        }
        expect(hexes(resumed.frontier())).toEqual(hexes(original.frontier()))
      }),
    )
  })

  it('keeps its frontier private and its clones independent', () => {
    const builder = built(7)
    const root = toHex(builder.root())
    builder.frontier().pop()
    const clone = builder.clone()
    clone.append(leafHashes(8)[7]!)
    expect(clone.size).toBe(8)
    expect(builder.size).toBe(7)
    expect(toHex(builder.root())).toBe(root)
    expect(toHex(clone.root())).toBe(toHex(mth(leafHashes(8))))
  })

  it('rejects a hash that is not 32 bytes with ARGUMENT_INVALID and changes nothing', () => {
    const builder = built(5)
    const root = toHex(builder.root())
    expectCode(() => builder.append(new Uint8Array(31)), 'ARGUMENT_INVALID')
    expect(builder.size).toBe(5)
    expect(toHex(builder.root())).toBe(root)
  })

  it('rejects a frontier that does not fit its size with ARGUMENT_INVALID', () => {
    const frontier = built(7).frontier()
    expectCode(
      () => MerkleBuilder.fromFrontier(6, frontier),
      'ARGUMENT_INVALID',
      'size 6 has 2 subtrees',
    )
    expectCode(
      () => MerkleBuilder.fromFrontier(7, frontier.slice(1)),
      'ARGUMENT_INVALID',
      'too few',
    )
    expectCode(
      () => MerkleBuilder.fromFrontier(7, [...frontier.slice(1), new Uint8Array(33)]),
      'ARGUMENT_INVALID',
      'bad hash',
    )
    expectCode(() => MerkleBuilder.fromFrontier(-1, []), 'ARGUMENT_INVALID', 'negative size')
    expectCode(
      () => MerkleBuilder.fromFrontier(1.5, [frontier[0]!]),
      'ARGUMENT_INVALID',
      'fractional size',
    )
  })
})
