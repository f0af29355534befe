import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { toHex } from '../../../node/core/hex.ts'
import {
  completeSubtrees,
  completingLeafIndex,
  EMPTY_ROOT,
  foldSubtrees,
  largestPowerOfTwoBelow,
  nodeLeafRange,
} from '../../../node/core/merkle/index.ts'
import { expectCode } from './helpers.ts'
import { leafHashes, mth } from './reference.ts'

const ids = (start: number, end: number) =>
  completeSubtrees(start, end).map((n) => [n.level, n.index])

describe('largestPowerOfTwoBelow', () => {
  it('is the k of RFC 9162 §2.1.1 with k < n <= 2k, past 32 bits too', () => {
    const cases: [number, number][] = [
      [2, 1],
      [3, 2],
      [4, 2],
      [5, 4],
      [8, 4],
      [9, 8],
      [300, 256],
      [2 ** 32, 2 ** 31],
      [2 ** 32 + 1, 2 ** 32],
      [2 ** 40 + 5, 2 ** 40],
      [Number.MAX_SAFE_INTEGER, 2 ** 52],
    ]
    for (const [n, k] of cases) expect(largestPowerOfTwoBelow(n), `n = ${n}`).toBe(k)
  })

  it('rejects n < 2 and non-integers with ARGUMENT_INVALID', () => {
    for (const n of [1, 0, -4, 2.5, Number.NaN, 2 ** 53])
      expectCode(() => largestPowerOfTwoBelow(n), 'ARGUMENT_INVALID', `n = ${n}`)
  })
})

describe('completeSubtrees', () => {
  it('splits a range into its maximal aligned subtrees, largest first', () => {
    expect(ids(0, 0)).toEqual([])
    expect(ids(0, 1)).toEqual([[0, 0]])
    expect(ids(0, 7)).toEqual([
      [2, 0],
      [1, 2],
      [0, 6],
    ])
    expect(ids(4, 10)).toEqual([
      [2, 1],
      [1, 4],
    ])
    expect(ids(8, 9)).toEqual([[0, 8]])
    expect(ids(2 ** 40, 2 ** 40 + 3)).toEqual([
      [1, 2 ** 39],
      [0, 2 ** 40 + 2],
    ])
    expect(ids(0, 2 ** 41 - 1)).toHaveLength(41)
  })

  it('rejects reversed, negative, fractional and misaligned ranges with ARGUMENT_INVALID', () => {
    const bad: [number, number][] = [
      [3, 2],
      [-1, 2],
      [0.5, 2],
      [0, Number.POSITIVE_INFINITY],
      [1, 3], // length 2 must start at a multiple of 2
      [2, 6], // length 4 must start at a multiple of 4
      [2, 9], // length 7 must start at a multiple of 4
    ]
    for (const [start, end] of bad)
      expectCode(() => completeSubtrees(start, end), 'ARGUMENT_INVALID', `[${start}, ${end})`)
  })

  it('folds back to the reference MTH of any range the RFC recursion can ask for', () => {
    const validRange = fc.integer({ min: 0, max: 300 }).chain((length) => {
      const top = length === 0 ? 1 : 2 ** Math.floor(Math.log2(length))
      return fc.record({ start: fc.nat(3).map((j) => j * top), length: fc.constant(length) })
    })
    fc.assert(
      fc.property(validRange, ({ start, length }) => {
        const end = start + length
        const leaves = leafHashes(end)
        const nodes = completeSubtrees(start, end)
        // The nodes tile [start, end) left to right, each a complete aligned subtree.
        let at = start
        for (const node of nodes) {
          const [from, to] = nodeLeafRange(node)
          expect(from).toBe(at)
          expect(completingLeafIndex(node)).toBe(to - 1)
          at = to
        }
        expect(at).toBe(end)
        const hashes = nodes.map((node) => mth(leaves.slice(...nodeLeafRange(node))))
        expect(toHex(foldSubtrees(hashes))).toBe(toHex(mth(leaves.slice(start, end))))
      }),
    )
  })
})

describe('foldSubtrees', () => {
  it('gives MTH({}) for no hashes and the hash itself for one', () => {
    const [leaf] = leafHashes(1)
    expect(toHex(foldSubtrees([]))).toBe(toHex(EMPTY_ROOT))
    expect(toHex(foldSubtrees([leaf!]))).toBe(toHex(leaf!))
  })

  it('hands out a copy of MTH({}), so a caller cannot corrupt the constant', () => {
    foldSubtrees([]).fill(0)
    expect(toHex(EMPTY_ROOT)).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    )
  })
})

describe('nodeLeafRange and completingLeafIndex', () => {
  it('map (level, index) to its leaves and to the leaf whose append completes it', () => {
    expect(nodeLeafRange({ level: 0, index: 5 })).toEqual([5, 6])
    expect(nodeLeafRange({ level: 3, index: 2 })).toEqual([16, 24])
    expect(completingLeafIndex({ level: 0, index: 5 })).toBe(5)
    expect(completingLeafIndex({ level: 3, index: 2 })).toBe(23)
    expect(completingLeafIndex({ level: 40, index: 1 })).toBe(2 ** 41 - 1)
  })
})
