import { EhrlogError } from '../errors.ts'
import { foldInclusionProofs, type InclusionRequest, planInclusionProofs } from './batch-proof.ts'
import { MerkleBuilder } from './builder.ts'
import { foldRanges, nodesForRanges } from './proof-fold.ts'
import { consistencyProofRanges, inclusionProofRanges } from './proof-plan.ts'
import { completeSubtrees, foldSubtrees, type NodeId } from './subtrees.ts'
import { requireCount } from './tree-math.ts'

/**
 * A whole tree in memory, for small trees (checkpoint roots across origins) and tests. It
 * keeps exactly what the store keeps, every complete node by (level, index), and builds
 * roots and proofs by the same plan-then-fold path, so it exercises the store's logic.
 */
export class MemoryTree {
  readonly #builder = new MerkleBuilder()
  /** #levels[level][index] = hash of the complete node (level, index). */
  readonly #levels: Uint8Array[][] = []

  constructor(leafHashes: Iterable<Uint8Array> = []) {
    for (const leafHash of leafHashes) this.append(leafHash)
  }

  get size(): number {
    return this.#builder.size
  }

  /** Adds a leaf hash and returns its index. Throws ARGUMENT_INVALID unless it is 32 bytes. */
  append(leafHash: Uint8Array): number {
    for (const node of this.#builder.append(leafHash)) {
      const level = this.#levels[node.level] ?? []
      this.#levels[node.level] = level
      level[node.index] = node.hash
    }
    return this.size - 1
  }

  /** MTH of the first `treeSize` leaves (RFC 9162 §2.1.1). */
  root(treeSize = this.size): Uint8Array {
    this.#requireSize(treeSize)
    return foldSubtrees(completeSubtrees(0, treeSize).map((node) => this.#nodeHash(node)))
  }

  /** PATH(index, D[treeSize]) (RFC 9162 §2.1.3.1). */
  inclusionProof(index: number, treeSize = this.size): Uint8Array[] {
    this.#requireSize(treeSize)
    return this.#proofFor(inclusionProofRanges(index, treeSize))
  }

  /** Many PATHs at once, each complete node read once (`planInclusionProofs`). */
  inclusionProofs(requests: readonly InclusionRequest[]): Uint8Array[][] {
    for (const { treeSize } of requests) this.#requireSize(treeSize)
    const plan = planInclusionProofs(requests)
    return foldInclusionProofs(
      plan,
      plan.nodes.map((node) => this.#nodeHash(node)),
    )
  }

  /** PROOF(oldSize, D[newSize]) (RFC 9162 §2.1.4.1); [] for oldSize 0 or oldSize == newSize. */
  consistencyProof(oldSize: number, newSize = this.size): Uint8Array[] {
    this.#requireSize(newSize)
    return this.#proofFor(consistencyProofRanges(oldSize, newSize))
  }

  #proofFor(ranges: [number, number][]): Uint8Array[] {
    const hashes = nodesForRanges(ranges).map((node) => this.#nodeHash(node))
    return foldRanges(ranges, hashes)
  }

  #nodeHash(node: NodeId): Uint8Array {
    const hash = this.#levels[node.level]?.[node.index]
    if (hash === undefined) {
      throw new EhrlogError('INTERNAL', `node (${node.level}, ${node.index}) is not complete yet`, {
        details: { ...node, treeSize: this.size },
      })
    }
    return hash
  }

  #requireSize(treeSize: number): void {
    requireCount('treeSize', treeSize)
    if (treeSize > this.size) {
      throw new EhrlogError(
        'ARGUMENT_INVALID',
        `tree size ${treeSize} is larger than the tree (${this.size})`,
        {
          details: { treeSize, size: this.size },
        },
      )
    }
  }
}
