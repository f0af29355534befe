import { EMPTY_ROOT, hashChildren, hashLeaf } from '../../../node/core/merkle/hash.ts'

/*
 * A naive RFC 9162 tree, written straight from the recursive definitions and sharing no
 * code with node/core/merkle beyond the two hash functions: MTH (§2.1.1), PATH (§2.1.3.1),
 * PROOF and SUBPROOF (§2.1.4.1). D is a list of leaf hashes, so MTH({d}) is d itself.
 * Slow on purpose: every MTH is recomputed from the leaves.
 */

/** k with k < n <= 2k, by counting up, so it shares nothing with the code under test. */
function split(n: number): number {
  let k = 1
  while (k * 2 < n) k *= 2
  return k
}

export function mth(leaves: readonly Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return EMPTY_ROOT
  if (leaves.length === 1) return leaves[0]!
  const k = split(leaves.length)
  return hashChildren(mth(leaves.slice(0, k)), mth(leaves.slice(k)))
}

export function path(m: number, leaves: readonly Uint8Array[]): Uint8Array[] {
  const n = leaves.length
  if (n === 1) return []
  const k = split(n)
  if (m < k) return [...path(m, leaves.slice(0, k)), mth(leaves.slice(k))]
  return [...path(m - k, leaves.slice(k)), mth(leaves.slice(0, k))]
}

/** PROOF(m, D[n]) for 0 < m <= n. */
export function proof(m: number, leaves: readonly Uint8Array[]): Uint8Array[] {
  return subproof(m, leaves, true)
}

function subproof(m: number, leaves: readonly Uint8Array[], b: boolean): Uint8Array[] {
  const n = leaves.length
  if (m === n) return b ? [] : [mth(leaves)]
  const k = split(n)
  if (m <= k) return [...subproof(m, leaves.slice(0, k), b), mth(leaves.slice(k))]
  return [...subproof(m - k, leaves.slice(k), false), mth(leaves.slice(0, k))]
}

const cache: Uint8Array[] = []

/** Leaf hashes of distinct 4-byte big-endian inputs 0, 1, ..., n-1. */
export function leafHashes(n: number): Uint8Array[] {
  for (let i = cache.length; i < n; i++) {
    const input = new Uint8Array(4)
    new DataView(input.buffer).setUint32(0, i)
    cache.push(hashLeaf(input))
  }
  return cache.slice(0, n)
}
