import { EhrlogError } from '../errors.ts'
import { HASH_SIZE, hashChildren } from './hash.ts'
import { foldSubtrees, type NodeId } from './subtrees.ts'
import { isOdd, popCount, requireCount } from './tree-math.ts'

/** A complete node and its hash, as `MerkleBuilder.append` reports it for the store. */
export type CompleteNode = NodeId & { hash: Uint8Array }

/**
 * The tree of a growing feed in O(log n) memory: only the frontier, the hashes of the
 * maximal complete subtrees of [0, size), one per set bit of size, largest (leftmost) first
 * (a "compact range", as in transparency-dev/merkle's compact package). Appends are the
 * write hot path, so the frontier is a stack that holds only the hashes themselves. The
 * builder keeps the arrays it is given and returns: callers must not mutate them.
 */
export class MerkleBuilder {
  #size = 0
  readonly #frontier: Uint8Array[] = []

  /** Resumes from a stored `size` and `frontier()`. Throws ARGUMENT_INVALID if they disagree. */
  static fromFrontier(size: number, hashes: readonly Uint8Array[]): MerkleBuilder {
    requireCount('size', size)
    const want = popCount(size)
    if (hashes.length !== want) {
      throw new EhrlogError(
        'ARGUMENT_INVALID',
        `frontier has ${hashes.length} hashes, want ${want} for tree size ${size}`,
        { details: { size, got: hashes.length, want } },
      )
    }
    for (const hash of hashes) requireHashSize(hash)
    const builder = new MerkleBuilder()
    builder.#size = size
    builder.#frontier.push(...hashes)
    return builder
  }

  get size(): number {
    return this.#size
  }

  /**
   * Adds the next leaf and returns every node it completes, by increasing level: the leaf
   * itself at level 0, then each parent whose right child was just completed.
   */
  append(leafHash: Uint8Array): CompleteNode[] {
    requireHashSize(leafHash)
    let node: CompleteNode = { level: 0, index: this.#size, hash: leafHash }
    const completed = [node]
    // An odd index is a right child; its left sibling is the frontier's last (smallest)
    // subtree, and together they complete the parent (RFC 9162 §2.1.1 with n = 2k).
    while (isOdd(node.index)) {
      const left = this.#frontier.pop()!
      node = {
        level: node.level + 1,
        index: (node.index - 1) / 2,
        hash: hashChildren(left, node.hash),
      }
      completed.push(node)
    }
    this.#frontier.push(node.hash)
    this.#size++
    return completed
  }

  /** MTH(D[size]): the fold of the frontier, MTH({}) for the empty tree. O(log n) hashes. */
  root(): Uint8Array {
    return foldSubtrees(this.#frontier)
  }

  /** An independent copy, so a batch can append to it and be dropped if the write fails. */
  clone(): MerkleBuilder {
    return MerkleBuilder.fromFrontier(this.#size, this.#frontier)
  }

  /** The complete subtree hashes of [0, size), left to right: enough to resume. */
  frontier(): Uint8Array[] {
    return this.#frontier.slice()
  }
}

function requireHashSize(hash: Uint8Array): void {
  if (hash.byteLength !== HASH_SIZE) {
    throw new EhrlogError(
      'ARGUMENT_INVALID',
      `hash has ${hash.byteLength} bytes, want ${HASH_SIZE}`,
      {
        details: { got: hash.byteLength, want: HASH_SIZE },
      },
    )
  }
}
