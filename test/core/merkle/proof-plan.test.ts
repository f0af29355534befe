import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  consistencyProofRanges,
  consistencyProofSize,
  inclusionProofRanges,
  inclusionProofSize,
  type LeafRange,
} from '../../../node/core/merkle/index.ts'
import { expectCode, hexes, sizeAndIndex, twoSizes } from './helpers.ts'
import { leafHashes, mth, path, proof } from './reference.ts'

/*
 * RFC 9162 §2.1.5's 7-leaf example, with its node letters as leaf ranges: leaves a..f and
 * d6 are [0,1)..[6,7); g = [0,2), h = [2,4), i = [4,6), j = [6,7), k = [0,4), l = [4,7).
 */
const [b, c, d, f] = [
  [1, 2],
  [2, 3],
  [3, 4],
  [5, 6],
] as LeafRange[]
const [g, h, i, j, k, l] = [
  [0, 2],
  [2, 4],
  [4, 6],
  [6, 7],
  [0, 4],
  [4, 7],
] as LeafRange[]

const mthOf = (leaves: Uint8Array[], ranges: LeafRange[]) =>
  hexes(ranges.map(([s, e]) => mth(leaves.slice(s, e))))

describe('inclusionProofRanges', () => {
  it('gives the inclusion proofs of the RFC 9162 §2.1.5 example', () => {
    expect(inclusionProofRanges(0, 7)).toEqual([b, h, l])
    expect(inclusionProofRanges(3, 7)).toEqual([c, g, l])
    expect(inclusionProofRanges(4, 7)).toEqual([f, j, k])
    expect(inclusionProofRanges(6, 7)).toEqual([i, k])
    expect(inclusionProofRanges(0, 1)).toEqual([])
  })

  it('names exactly the subtrees of the reference PATH (RFC 9162 §2.1.3.1)', () => {
    fc.assert(
      fc.property(sizeAndIndex, ({ treeSize, index }) => {
        const leaves = leafHashes(treeSize)
        expect(mthOf(leaves, inclusionProofRanges(index, treeSize))).toEqual(
          hexes(path(index, leaves)),
        )
      }),
    )
  })

  it('with the leaf, tiles the whole tree, for sizes past 32 bits', () => {
    const big = fc.record({
      treeSize: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
      at: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
    })
    fc.assert(
      fc.property(big, ({ treeSize, at }) => {
        const index = Math.min(Math.floor(at * treeSize), treeSize - 1)
        const ranges = [[index, index + 1] as LeafRange, ...inclusionProofRanges(index, treeSize)]
        ranges.sort((x, y) => x[0] - y[0])
        expect(ranges[0]![0]).toBe(0)
        for (let n = 1; n < ranges.length; n++) expect(ranges[n]![0]).toBe(ranges[n - 1]![1])
        expect(ranges.at(-1)![1]).toBe(treeSize)
        expect(ranges.length - 1).toBe(inclusionProofSize(index, treeSize))
      }),
    )
  })

  it('rejects index >= treeSize and non-integers with ARGUMENT_INVALID', () => {
    const bad: [number, number][] = [
      [0, 0],
      [5, 5],
      [6, 5],
      [-1, 5],
      [1.5, 5],
      [0, 2 ** 53],
    ]
    for (const [index, treeSize] of bad)
      expectCode(
        () => inclusionProofRanges(index, treeSize),
        'ARGUMENT_INVALID',
        `${index} in ${treeSize}`,
      )
  })
})

describe('consistencyProofRanges', () => {
  it('gives the consistency proofs of the RFC 9162 §2.1.5 example', () => {
    expect(consistencyProofRanges(3, 7)).toEqual([c, d, g, l])
    expect(consistencyProofRanges(4, 7)).toEqual([l])
    expect(consistencyProofRanges(6, 7)).toEqual([i, j, k])
  })

  it('is empty for equal sizes and from the empty tree (our documented extension)', () => {
    expect(consistencyProofRanges(7, 7)).toEqual([])
    expect(consistencyProofRanges(0, 7)).toEqual([])
    expect(consistencyProofRanges(0, 0)).toEqual([])
  })

  it('names exactly the subtrees of the reference PROOF (RFC 9162 §2.1.4.1)', () => {
    fc.assert(
      fc.property(twoSizes, ({ oldSize, newSize }) => {
        fc.pre(oldSize > 0)
        const leaves = leafHashes(newSize)
        expect(mthOf(leaves, consistencyProofRanges(oldSize, newSize))).toEqual(
          hexes(proof(oldSize, leaves)),
        )
      }),
    )
  })

  it('has the closed-form length for sizes past 32 bits', () => {
    const big = fc
      .tuple(fc.nat(Number.MAX_SAFE_INTEGER), fc.nat(Number.MAX_SAFE_INTEGER))
      .map(([x, y]) => [Math.min(x, y), Math.max(x, y)] as const)
    fc.assert(
      fc.property(big, ([oldSize, newSize]) => {
        const ranges = consistencyProofRanges(oldSize, newSize)
        expect(ranges.length).toBe(consistencyProofSize(oldSize, newSize))
        for (const [start, end] of ranges) expect(end).toBeGreaterThan(start)
      }),
    )
  })

  it('rejects oldSize > newSize and non-integers with ARGUMENT_INVALID', () => {
    const bad: [number, number][] = [
      [6, 5],
      [1, 0],
      [-1, 5],
      [2, 5.5],
    ]
    for (const [oldSize, newSize] of bad)
      expectCode(
        () => consistencyProofRanges(oldSize, newSize),
        'ARGUMENT_INVALID',
        `${oldSize} to ${newSize}`,
      )
  })
})
