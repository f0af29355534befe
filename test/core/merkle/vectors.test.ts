import { describe, expect, it } from 'vitest'
import { toHex } from '../../../node/core/hex.ts'
import {
  type CompleteNode,
  EMPTY_ROOT,
  hashLeaf,
  MemoryTree,
  MerkleBuilder,
  rootFromInclusionProof,
  verifyConsistency,
  verifyInclusion,
} from '../../../node/core/merkle/index.ts'
import { expectCode, flipBit, hexes } from './helpers.ts'
import { mth, path, proof } from './reference.ts'
import {
  COMPACT_TREES,
  CONSISTENCY_PROOFS,
  INCLUSION_PROOFS,
  LEAF_INPUTS,
  NODE_HASHES,
  ROOTS,
  SOME_HASH,
} from './vectors.ts'

// Published vectors: transparency-dev/merkle testonly/constants.go and proof/verify_test.go
// (see vectors.ts). The corruptions are the ones verify_test.go applies.

const leafHashes = LEAF_INPUTS.map(hashLeaf)
const root = (size: number): Uint8Array => ROOTS[size]!
const text = (bytes: string): Uint8Array => new TextEncoder().encode(bytes)

describe('the CT reference tree', () => {
  it('hashes the leaf inputs to the published level-0 nodes, and e3b0c442... is MTH({})', () => {
    expect(hexes(leafHashes)).toEqual(hexes(NODE_HASHES[0]!))
    expect(toHex(EMPTY_ROOT)).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    )
  })

  it('the naive reference gives the published roots, paths and proofs (so it can judge the rest)', () => {
    for (let size = 0; size <= 8; size++)
      expect(toHex(mth(leafHashes.slice(0, size)))).toBe(toHex(root(size)))
    for (const v of INCLUSION_PROOFS) {
      expect(hexes(path(v.index, leafHashes.slice(0, v.treeSize)))).toEqual(hexes(v.proof))
    }
    for (const v of CONSISTENCY_PROOFS) {
      expect(hexes(proof(v.oldSize, leafHashes.slice(0, v.newSize)))).toEqual(hexes(v.proof))
    }
  })

  it('MerkleBuilder gives the published root and compact range after every append', () => {
    const builder = new MerkleBuilder()
    expect(toHex(builder.root())).toBe(toHex(root(0)))
    expect(builder.frontier()).toEqual([])
    for (const [i, leafHash] of leafHashes.entries()) {
      builder.append(leafHash)
      expect(builder.size).toBe(i + 1)
      expect(toHex(builder.root())).toBe(toHex(root(i + 1)))
      expect(hexes(builder.frontier())).toEqual(hexes(COMPACT_TREES[i + 1]!))
    }
  })

  it('MerkleBuilder reports each published node once, when it completes', () => {
    const builder = new MerkleBuilder()
    const reported: CompleteNode[][] = leafHashes.map((leafHash) => builder.append(leafHash))
    // Leaf 7 (0-based) completes (0,7), (1,3), (2,1) and the root (3,0).
    expect(reported[7]!.map(({ level, index }) => [level, index])).toEqual([
      [0, 7],
      [1, 3],
      [2, 1],
      [3, 0],
    ])
    const byLevel: string[][] = []
    for (const node of reported.flat()) {
      const level = byLevel[node.level] ?? []
      byLevel[node.level] = level
      expect(
        level[node.index],
        `node (${node.level}, ${node.index}) reported twice`,
      ).toBeUndefined()
      level[node.index] = toHex(node.hash)
    }
    expect(byLevel).toEqual(NODE_HASHES.map(hexes))
  })

  it('MemoryTree gives the published root for every size', () => {
    const tree = new MemoryTree(leafHashes)
    for (let size = 0; size <= 8; size++) expect(toHex(tree.root(size))).toBe(toHex(root(size)))
  })

  it.each(INCLUSION_PROOFS)(
    'MemoryTree builds the published inclusion proof for index $index in tree size $treeSize',
    (v) => {
      const tree = new MemoryTree(leafHashes)
      expect(hexes(tree.inclusionProof(v.index, v.treeSize))).toEqual(hexes(v.proof))
    },
  )

  it.each(CONSISTENCY_PROOFS)(
    'MemoryTree builds the published consistency proof from $oldSize to $newSize',
    (v) => {
      const tree = new MemoryTree(leafHashes)
      expect(hexes(tree.consistencyProof(v.oldSize, v.newSize))).toEqual(hexes(v.proof))
    },
  )

  it.each(INCLUSION_PROOFS)(
    'verifies the published inclusion proof for index $index in tree size $treeSize, and no corruption of it',
    (v) => {
      const leafHash = leafHashes[v.index]!
      const good = root(v.treeSize)
      expect(toHex(rootFromInclusionProof(leafHash, v.index, v.treeSize, v.proof))).toBe(
        toHex(good),
      )
      verifyInclusion(leafHash, v.index, v.treeSize, v.proof, good)

      const n = v.proof.length
      const probes: [string, () => void][] = [
        ['index - 1', () => verifyInclusion(leafHash, v.index - 1, v.treeSize, v.proof, good)],
        ['index + 1', () => verifyInclusion(leafHash, v.index + 1, v.treeSize, v.proof, good)],
        ['index ^ 2', () => verifyInclusion(leafHash, v.index ^ 2, v.treeSize, v.proof, good)],
        ['treeSize * 2', () => verifyInclusion(leafHash, v.index, v.treeSize * 2, v.proof, good)],
        ['treeSize / 2', () => verifyInclusion(leafHash, v.index, v.treeSize >> 1, v.proof, good)],
        [
          'wrong leaf',
          () => verifyInclusion(text('WrongLeaf'), v.index, v.treeSize, v.proof, good),
        ],
        ['empty root', () => verifyInclusion(leafHash, v.index, v.treeSize, v.proof, EMPTY_ROOT)],
        ['random root', () => verifyInclusion(leafHash, v.index, v.treeSize, v.proof, SOME_HASH)],
        [
          'trailing garbage',
          () =>
            verifyInclusion(leafHash, v.index, v.treeSize, [...v.proof, new Uint8Array(0)], good),
        ],
        [
          'trailing root',
          () => verifyInclusion(leafHash, v.index, v.treeSize, [...v.proof, good], good),
        ],
        [
          'preceding garbage',
          () =>
            verifyInclusion(leafHash, v.index, v.treeSize, [new Uint8Array(0), ...v.proof], good),
        ],
        [
          'preceding root',
          () => verifyInclusion(leafHash, v.index, v.treeSize, [good, ...v.proof], good),
        ],
      ]
      for (let i = 0; i < n; i++) {
        probes.push([
          `proof[${i}] bit 3`,
          () => verifyInclusion(leafHash, v.index, v.treeSize, flipBit(v.proof, i, 3), good),
        ])
      }
      if (n > 0)
        probes.push([
          'removed component',
          () => verifyInclusion(leafHash, v.index, v.treeSize, v.proof.slice(0, -1), good),
        ])
      if (n > 1) {
        const inserted = [v.proof[0]!, SOME_HASH, ...v.proof.slice(1)]
        probes.push([
          'inserted component',
          () => verifyInclusion(leafHash, v.index, v.treeSize, inserted, good),
        ])
      }
      for (const [label, probe] of probes) expectCode(probe, 'INVALID_PROOF', label)
    },
  )

  it.each(CONSISTENCY_PROOFS)(
    'verifies the published consistency proof from $oldSize to $newSize, and no corruption of it',
    (v) => {
      const [r1, r2] = [root(v.oldSize), root(v.newSize)]
      verifyConsistency(v.oldSize, v.newSize, r1, r2, v.proof)
      if (v.proof.length === 0) return // as in the source, only non-trivial proofs are corrupted

      const [s1, s2, p] = [v.oldSize, v.newSize, v.proof]
      const wrongRoot = text('WrongRoot')
      const probes: [string, () => void][] = [
        ['oldSize - 1', () => verifyConsistency(s1 - 1, s2, r1, r2, p)],
        ['oldSize + 1', () => verifyConsistency(s1 + 1, s2, r1, r2, p)],
        ['oldSize ^ 2', () => verifyConsistency(s1 ^ 2, s2, r1, r2, p)],
        ['newSize * 2', () => verifyConsistency(s1, s2 * 2, r1, r2, p)],
        ['newSize / 2', () => verifyConsistency(s1, s2 >> 1, r1, r2, p)],
        ['wrong old root', () => verifyConsistency(s1, s2, wrongRoot, r2, p)],
        ['wrong new root', () => verifyConsistency(s1, s2, r1, wrongRoot, p)],
        ['swapped roots', () => verifyConsistency(s1, s2, r2, r1, p)],
        ['empty proof', () => verifyConsistency(s1, s2, r1, r2, [])],
        ['trailing garbage', () => verifyConsistency(s1, s2, r1, r2, [...p, new Uint8Array(0)])],
        ['trailing old root', () => verifyConsistency(s1, s2, r1, r2, [...p, r1])],
        ['trailing new root', () => verifyConsistency(s1, s2, r1, r2, [...p, r2])],
        ['preceding garbage', () => verifyConsistency(s1, s2, r1, r2, [new Uint8Array(0), ...p])],
        ['preceding old root', () => verifyConsistency(s1, s2, r1, r2, [r1, ...p])],
        ['preceding new root', () => verifyConsistency(s1, s2, r1, r2, [r2, ...p])],
        ['preceding proof[0]', () => verifyConsistency(s1, s2, r1, r2, [p[0]!, ...p])],
        ['truncated proof', () => verifyConsistency(s1, s2, r1, r2, p.slice(0, -1))],
      ]
      for (let i = 0; i < p.length; i++) {
        probes.push([
          `proof[${i}] bit 4`,
          () => verifyConsistency(s1, s2, r1, r2, flipBit(p, i, 4)),
        ])
      }
      for (const [label, probe] of probes) expectCode(probe, 'INVALID_PROOF', label)
    },
  )
})
