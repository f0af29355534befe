import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { toHex } from '../../../node/core/hex.ts'
import {
  consistencyProofSize,
  EMPTY_ROOT,
  inclusionProofSize,
  isConsistencyValid,
  isInclusionValid,
  rootFromInclusionProof,
  verifyConsistency,
  verifyInclusion,
} from '../../../node/core/merkle/index.ts'
import { expectCode, flipBit, sizeAndIndex, twoSizes } from './helpers.ts'
import { leafHashes, mth, path, proof } from './reference.ts'

// The verifiers are checked against proofs from the naive reference, not from our builders.

function inclusionCase(treeSize: number, index: number) {
  const leaves = leafHashes(treeSize)
  return { leaf: leaves[index]!, root: mth(leaves), proof: path(index, leaves) }
}

function consistencyCase(oldSize: number, newSize: number) {
  const leaves = leafHashes(newSize)
  return {
    oldRoot: mth(leaves.slice(0, oldSize)),
    newRoot: mth(leaves),
    proof: oldSize === 0 ? [] : proof(oldSize, leaves),
  }
}

const bitOf = fc.record({ at: fc.nat(), bit: fc.integer({ min: 0, max: 255 }) })
const someHash = fc.uint8Array({ minLength: 32, maxLength: 32 })

describe('verifyInclusion (RFC 9162 §2.1.3.2)', () => {
  it('accepts every reference proof and recomputes the root', () => {
    fc.assert(
      fc.property(sizeAndIndex, ({ treeSize, index }) => {
        const c = inclusionCase(treeSize, index)
        expect(toHex(rootFromInclusionProof(c.leaf, index, treeSize, c.proof))).toBe(toHex(c.root))
        verifyInclusion(c.leaf, index, treeSize, c.proof, c.root)
        expect(isInclusionValid(c.leaf, index, treeSize, c.proof, c.root)).toBe(true)
      }),
    )
  })

  it('rejects a proof, leaf or root with any one bit flipped', () => {
    fc.assert(
      fc.property(sizeAndIndex, bitOf, ({ treeSize, index }, { at, bit }) => {
        const c = inclusionCase(treeSize, index)
        const [leaf] = flipBit([c.leaf], 0, bit)
        const [root] = flipBit([c.root], 0, bit)
        expectCode(
          () => verifyInclusion(leaf!, index, treeSize, c.proof, c.root),
          'INVALID_PROOF',
          'leaf',
        )
        expectCode(
          () => verifyInclusion(c.leaf, index, treeSize, c.proof, root!),
          'INVALID_PROOF',
          'root',
        )
        if (c.proof.length === 0) return
        const bad = flipBit(c.proof, at % c.proof.length, bit)
        expectCode(
          () => verifyInclusion(c.leaf, index, treeSize, bad, c.root),
          'INVALID_PROOF',
          'proof',
        )
        expect(isInclusionValid(c.leaf, index, treeSize, bad, c.root)).toBe(false)
      }),
    )
  })

  it('rejects the proof for any other index', () => {
    fc.assert(
      fc.property(sizeAndIndex, fc.nat(), ({ treeSize, index }, offset) => {
        fc.pre(treeSize > 1)
        const other = (index + 1 + (offset % (treeSize - 1))) % treeSize
        const c = inclusionCase(treeSize, index)
        expectCode(() => verifyInclusion(c.leaf, other, treeSize, c.proof, c.root), 'INVALID_PROOF')
      }),
    )
  })

  it('rejects a doubled tree size, and any tree size whose path has another length', () => {
    fc.assert(
      fc.property(sizeAndIndex, fc.integer({ min: 0, max: 600 }), ({ treeSize, index }, other) => {
        const c = inclusionCase(treeSize, index)
        expectCode(
          () => verifyInclusion(c.leaf, index, treeSize * 2, c.proof, c.root),
          'INVALID_PROOF',
          'doubled',
        )
        fc.pre(other <= index || inclusionProofSize(index, other) !== c.proof.length)
        expectCode(
          () => verifyInclusion(c.leaf, index, other, c.proof, c.root),
          'INVALID_PROOF',
          `size ${other}`,
        )
      }),
    )
  })

  it('rejects truncated and extended proofs', () => {
    fc.assert(
      fc.property(sizeAndIndex, someHash, ({ treeSize, index }, extra) => {
        const c = inclusionCase(treeSize, index)
        for (const bad of [
          [...c.proof, extra],
          [extra, ...c.proof],
          [...c.proof, c.root],
        ]) {
          expectCode(
            () => verifyInclusion(c.leaf, index, treeSize, bad, c.root),
            'INVALID_PROOF',
            'extended',
          )
        }
        if (c.proof.length === 0) return
        for (const bad of [c.proof.slice(1), c.proof.slice(0, -1)]) {
          expectCode(
            () => verifyInclusion(c.leaf, index, treeSize, bad, c.root),
            'INVALID_PROOF',
            'truncated',
          )
        }
      }),
    )
  })

  it('says what it got and wanted, and carries both roots as evidence', () => {
    const c = inclusionCase(300, 40)
    expect(c.proof).toHaveLength(9)
    const short = expectCode(
      () => verifyInclusion(c.leaf, 40, 300, c.proof.slice(0, 7), c.root),
      'INVALID_PROOF',
    )
    expect(short.message).toBe('proof has 7 hashes, want 9 for index 40 in tree size 300')

    const wrong = expectCode(
      () => verifyInclusion(c.leaf, 40, 300, c.proof, EMPTY_ROOT),
      'INVALID_PROOF',
    )
    expect(wrong.details).toMatchObject({
      leafIndex: 40,
      treeSize: 300,
      expectedRoot: toHex(EMPTY_ROOT),
      computedRoot: toHex(c.root),
      proof: c.proof.map(toHex),
    })
    expect(wrong.message).toContain(toHex(c.root))
  })

  it('treats malformed input as an invalid proof, not a crash', () => {
    const c = inclusionCase(5, 2)
    const cases: [string, () => void][] = [
      ['index == size', () => verifyInclusion(c.leaf, 5, 5, c.proof, c.root)],
      ['negative index', () => verifyInclusion(c.leaf, -1, 5, c.proof, c.root)],
      ['fractional index', () => verifyInclusion(c.leaf, 2.5, 5, c.proof, c.root)],
      ['empty tree', () => verifyInclusion(c.leaf, 0, 0, [], EMPTY_ROOT)],
      ['short leaf hash', () => verifyInclusion(c.leaf.subarray(1), 2, 5, c.proof, c.root)],
      ['short root', () => verifyInclusion(c.leaf, 2, 5, c.proof, c.root.subarray(1))],
      [
        'short proof hash',
        () => verifyInclusion(c.leaf, 2, 5, [c.proof[0]!.subarray(1), ...c.proof.slice(1)], c.root),
      ],
    ]
    for (const [label, run] of cases) expectCode(run, 'INVALID_PROOF', label)
  })

  it('binds the root, not the tree size: a checkpoint must sign both together', () => {
    // PATH(0, D[4]) = [d1, MTH(d2, d3)] folds the same way as a size-3 path, so it verifies
    // against the size-4 root for a claimed size of 3. Only the signed (size, root) pair
    // rules that out; this test pins the behaviour so a change to it is noticed.
    const c = inclusionCase(4, 0)
    expect(isInclusionValid(c.leaf, 0, 3, c.proof, c.root)).toBe(true)
    expect(isInclusionValid(c.leaf, 0, 3, c.proof, mth(leafHashes(3)))).toBe(false)
  })
})

describe('verifyConsistency (RFC 9162 §2.1.4.2)', () => {
  it('accepts every reference proof', () => {
    fc.assert(
      fc.property(twoSizes, ({ oldSize, newSize }) => {
        const c = consistencyCase(oldSize, newSize)
        verifyConsistency(oldSize, newSize, c.oldRoot, c.newRoot, c.proof)
        expect(isConsistencyValid(oldSize, newSize, c.oldRoot, c.newRoot, c.proof)).toBe(true)
      }),
    )
  })

  it('rejects a proof or either root with any one bit flipped', () => {
    fc.assert(
      fc.property(twoSizes, bitOf, ({ oldSize, newSize }, { at, bit }) => {
        const c = consistencyCase(oldSize, newSize)
        const [oldRoot] = flipBit([c.oldRoot], 0, bit)
        const [newRoot] = flipBit([c.newRoot], 0, bit)
        expectCode(
          () => verifyConsistency(oldSize, newSize, oldRoot!, c.newRoot, c.proof),
          'INVALID_PROOF',
          'old root',
        )
        // From the empty tree nothing binds the new root; everywhere else it is checked.
        if (oldSize > 0) {
          expectCode(
            () => verifyConsistency(oldSize, newSize, c.oldRoot, newRoot!, c.proof),
            'INVALID_PROOF',
            'new root',
          )
        }
        if (c.proof.length === 0) return
        const bad = flipBit(c.proof, at % c.proof.length, bit)
        expectCode(
          () => verifyConsistency(oldSize, newSize, c.oldRoot, c.newRoot, bad),
          'INVALID_PROOF',
          'proof',
        )
        expect(isConsistencyValid(oldSize, newSize, c.oldRoot, c.newRoot, bad)).toBe(false)
      }),
    )
  })

  it('rejects truncated and extended proofs, and swapped roots', () => {
    fc.assert(
      fc.property(twoSizes, someHash, ({ oldSize, newSize }, extra) => {
        const c = consistencyCase(oldSize, newSize)
        const { oldRoot, newRoot } = c
        for (const bad of [
          [...c.proof, extra],
          [extra, ...c.proof],
          [...c.proof, oldRoot],
          [oldRoot, ...c.proof],
        ]) {
          expectCode(
            () => verifyConsistency(oldSize, newSize, oldRoot, newRoot, bad),
            'INVALID_PROOF',
            'extended',
          )
        }
        if (oldSize === newSize) return
        expectCode(
          () => verifyConsistency(oldSize, newSize, newRoot, oldRoot, c.proof),
          'INVALID_PROOF',
          'swapped',
        )
        if (c.proof.length === 0) return
        for (const bad of [c.proof.slice(1), c.proof.slice(0, -1)]) {
          expectCode(
            () => verifyConsistency(oldSize, newSize, oldRoot, newRoot, bad),
            'INVALID_PROOF',
            'truncated',
          )
        }
      }),
    )
  })

  it('rejects the proof for sizes whose proof has another length', () => {
    const other = fc.record({
      oldOther: fc.integer({ min: 0, max: 600 }),
      newOther: fc.integer({ min: 0, max: 600 }),
    })
    fc.assert(
      fc.property(twoSizes, other, ({ oldSize, newSize }, { oldOther, newOther }) => {
        const c = consistencyCase(oldSize, newSize)
        const differs = (o: number, n: number) =>
          o > n || consistencyProofSize(o, n) !== c.proof.length
        if (differs(oldOther, newSize)) {
          expectCode(
            () => verifyConsistency(oldOther, newSize, c.oldRoot, c.newRoot, c.proof),
            'INVALID_PROOF',
            `old ${oldOther}`,
          )
        }
        if (differs(oldSize, newOther)) {
          expectCode(
            () => verifyConsistency(oldSize, newOther, c.oldRoot, c.newRoot, c.proof),
            'INVALID_PROOF',
            `new ${newOther}`,
          )
        }
      }),
    )
  })

  it('needs an empty proof and equal roots at equal sizes', () => {
    const c = consistencyCase(5, 5)
    verifyConsistency(5, 5, c.oldRoot, c.newRoot, [])
    expectCode(
      () => verifyConsistency(5, 5, c.oldRoot, mth(leafHashes(4)), []),
      'INVALID_PROOF',
      'roots differ',
    )
    expectCode(
      () => verifyConsistency(5, 5, c.oldRoot, c.newRoot, [c.oldRoot]),
      'INVALID_PROOF',
      'non-empty proof',
    )
  })

  it('from the empty tree, needs an empty proof and MTH({}) as old root', () => {
    const { newRoot } = consistencyCase(0, 7)
    verifyConsistency(0, 7, EMPTY_ROOT, newRoot, [])
    verifyConsistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    expectCode(
      () => verifyConsistency(0, 7, newRoot, newRoot, []),
      'INVALID_PROOF',
      'old root not MTH({})',
    )
    expectCode(
      () => verifyConsistency(0, 7, EMPTY_ROOT, newRoot, [newRoot]),
      'INVALID_PROOF',
      'non-empty proof',
    )
  })

  it('says what it got and wanted, and carries the roots as evidence', () => {
    const c = consistencyCase(6, 8)
    const short = expectCode(
      () => verifyConsistency(6, 8, c.oldRoot, c.newRoot, c.proof.slice(1)),
      'INVALID_PROOF',
    )
    expect(short.message).toBe('proof has 2 hashes, want 3 from tree size 6 to 8')

    const other = mth(leafHashes(9).slice(1, 9)) // a different 8-leaf tree
    const wrong = expectCode(
      () => verifyConsistency(6, 8, c.oldRoot, other, c.proof),
      'INVALID_PROOF',
    )
    expect(wrong.message).toContain(`gives new root ${toHex(c.newRoot)}, want ${toHex(other)}`)
    expect(wrong.details).toMatchObject({
      oldSize: 6,
      newSize: 8,
      oldRoot: toHex(c.oldRoot),
      newRoot: toHex(other),
      computedOldRoot: toHex(c.oldRoot),
      computedNewRoot: toHex(c.newRoot),
    })
  })

  it('treats malformed input as an invalid proof, not a crash', () => {
    const c = consistencyCase(3, 7)
    const cases: [string, () => void][] = [
      ['reversed sizes', () => verifyConsistency(7, 3, c.newRoot, c.oldRoot, c.proof)],
      ['negative size', () => verifyConsistency(-3, 7, c.oldRoot, c.newRoot, c.proof)],
      ['fractional size', () => verifyConsistency(3, 7.5, c.oldRoot, c.newRoot, c.proof)],
      ['short old root', () => verifyConsistency(3, 7, c.oldRoot.subarray(1), c.newRoot, c.proof)],
      ['long new root', () => verifyConsistency(3, 7, c.oldRoot, new Uint8Array(33), c.proof)],
      [
        'short proof hash',
        () =>
          verifyConsistency(3, 7, c.oldRoot, c.newRoot, [new Uint8Array(31), ...c.proof.slice(1)]),
      ],
    ]
    for (const [label, run] of cases) expectCode(run, 'INVALID_PROOF', label)
  })
})
