import { EhrlogError } from '../errors.ts'
import { EMPTY_ROOT, hashChildren } from './hash.ts'
import { bitLength, requireCount } from './tree-math.ts'

/**
 * A complete aligned subtree: level L, index k covers leaves [k * 2^L, (k + 1) * 2^L).
 * Level 0 nodes are leaf hashes. The store keeps the hash of every such node once it is
 * complete, and nothing else (docs/merkle.md).
 */
export type NodeId = { level: number; index: number }

/** RFC 9162 §2.1.1: "k is the largest power of two smaller than n" (k < n <= 2k). Needs n >= 2. */
export function largestPowerOfTwoBelow(n: number): number {
  requireCount('n', n)
  if (n < 2) {
    throw new EhrlogError('ARGUMENT_INVALID', `no power of two is below ${n}, want n >= 2`, {
      details: { field: 'n', value: n },
    })
  }
  return 2 ** (bitLength(n - 1) - 1)
}

/** The leaves [start, end) that `node` covers. */
export function nodeLeafRange(node: NodeId): [start: number, end: number] {
  const width = 2 ** node.level
  return [node.index * width, (node.index + 1) * width]
}

/** The index of the leaf whose append completes `node`: its last leaf. */
export function completingLeafIndex(node: NodeId): number {
  return (node.index + 1) * 2 ** node.level - 1
}

/**
 * Splits the leaf range [start, end) into maximal complete subtrees, left to right, largest
 * first. Precondition: start is a multiple of the largest power of two <= end - start. Every
 * range that RFC 9162's MTH, PATH and SUBPROOF recursions (§2.1.1, §2.1.3.1, §2.1.4.1) name has
 * this form, and for exactly these ranges `foldSubtrees` gives the range's MTH. An empty range
 * gives []. Throws ARGUMENT_INVALID otherwise.
 */
export function completeSubtrees(start: number, end: number): NodeId[] {
  requireCount('start', start)
  requireCount('end', end)
  if (start > end) {
    throw new EhrlogError('ARGUMENT_INVALID', `range [${start}, ${end}) ends before it starts`, {
      details: { start, end },
    })
  }
  const length = end - start
  if (length === 0) return []
  let level = bitLength(length) - 1
  let width = 2 ** level
  if (start % width !== 0) {
    throw new EhrlogError(
      'ARGUMENT_INVALID',
      `range [${start}, ${end}) starts at ${start}, want a multiple of ${width} for its length ${length}`,
      { details: { start, end } },
    )
  }
  // With start aligned to the top bit of the length, the subtrees are the length's set bits.
  const nodes: NodeId[] = []
  for (let at = start; at < end; level--, width /= 2) {
    if (end - at >= width) {
      nodes.push({ level, index: at / width })
      at += width
    }
  }
  return nodes
}

/**
 * MTH of a range from its complete subtree hashes, as `completeSubtrees` lists them:
 * H(0x01, h0, H(0x01, h1, ... hn)). Each subtree is the left half of the split of what
 * remains (RFC 9162 §2.1.1), so the right fold is the MTH. No hashes gives MTH({}).
 */
export function foldSubtrees(hashes: readonly Uint8Array[]): Uint8Array {
  let last = hashes.length - 1
  let root = hashes[last]
  if (root === undefined) return EMPTY_ROOT.slice()
  while (last > 0) root = hashChildren(hashes[--last]!, root)
  return root
}
