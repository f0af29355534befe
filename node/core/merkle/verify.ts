import { EhrlogError, isEhrlogError } from '../errors.ts'
import { bytesEqual, toHex } from '../hex.ts'
import { EMPTY_ROOT, HASH_SIZE, hashChildren } from './hash.ts'
import { consistencyProofSize, inclusionProofSize } from './proof-size.ts'
import { half, isCount, isOdd, isPowerOfTwo } from './tree-math.ts'

/*
 * Proof checking, RFC 9162 §2.1.3.2 and §2.1.4.2, step by step. Everything here may come
 * from the network, so every failure, malformed input included, is INVALID_PROOF with its
 * evidence in `details`. Note that a proof binds a root, not a tree size: a checkpoint must
 * sign (size, root) together.
 */

/**
 * The root that `proof` gives for `leafHash` at `index` in a tree of `treeSize` leaves
 * (RFC 9162 §2.1.3.2 steps 1-4). Throws INVALID_PROOF on index >= treeSize or a proof of
 * the wrong length.
 */
export function rootFromInclusionProof(
  leafHash: Uint8Array,
  index: number,
  treeSize: number,
  proof: readonly Uint8Array[],
): Uint8Array {
  const evidence = () => ({
    leafIndex: index,
    treeSize,
    leafHash: toHex(leafHash),
    proof: proof.map(toHex),
  })
  if (!isCount(index) || !isCount(treeSize)) {
    throw invalidProof(
      `leaf index ${index} and tree size ${treeSize} must be non-negative integers`,
      evidence(),
    )
  }
  // Step 1.
  if (index >= treeSize) {
    throw invalidProof(`leaf index ${index} is not below tree size ${treeSize}`, evidence())
  }
  requireHashSizes('leaf hash', [leafHash], evidence)
  requireHashSizes('proof hash', proof, evidence)
  const want = inclusionProofSize(index, treeSize)
  if (proof.length !== want) {
    throw invalidProof(
      `proof has ${proof.length} hashes, want ${want} for index ${index} in tree size ${treeSize}`,
      evidence(),
    )
  }
  // Steps 2-4: fn walks the leaf's position up the tree, sn the last leaf's; where they are
  // equal the node is the right edge, whose sibling (if any) is on the left.
  let fn = index
  let sn = treeSize - 1
  let r = leafHash
  for (const p of proof) {
    if (sn === 0) throw invalidProof('proof is longer than the path to the root', evidence())
    if (isOdd(fn) || fn === sn) {
      r = hashChildren(p, r)
      // Levels where the right edge has no sibling add no hash.
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn)
        sn = half(sn)
      }
    } else {
      r = hashChildren(r, p)
    }
    fn = half(fn)
    sn = half(sn)
  }
  // Step 5, first half; the length check above makes this unreachable, but it is the spec.
  if (sn !== 0) throw invalidProof('proof is shorter than the path to the root', evidence())
  return r
}

/**
 * Checks that `leafHash` is at `index` in the tree of `treeSize` leaves with `root`
 * (RFC 9162 §2.1.3.2). Throws INVALID_PROOF with both roots in `details` if not.
 */
export function verifyInclusion(
  leafHash: Uint8Array,
  index: number,
  treeSize: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): void {
  const evidence = () => ({
    leafIndex: index,
    treeSize,
    leafHash: toHex(leafHash),
    proof: proof.map(toHex),
    expectedRoot: toHex(root),
  })
  requireHashSizes('root', [root], evidence)
  const computed = rootFromInclusionProof(leafHash, index, treeSize, proof)
  if (!bytesEqual(computed, root)) {
    throw invalidProof(
      `inclusion proof for index ${index} in tree size ${treeSize} gives root ${toHex(computed)}, want ${toHex(root)}`,
      { ...evidence(), computedRoot: toHex(computed) },
    )
  }
}

/**
 * Checks that the tree of `oldSize` leaves with `oldRoot` is a prefix of the tree of `newSize`
 * leaves with `newRoot` (RFC 9162 §2.1.4.2). Beyond the RFC's 0 < oldSize < newSize, equal
 * sizes need an empty proof and equal roots, and oldSize 0 needs an empty proof and
 * oldRoot = MTH({}) (§2.1.1). Throws INVALID_PROOF with the roots in `details` otherwise.
 */
export function verifyConsistency(
  oldSize: number,
  newSize: number,
  oldRoot: Uint8Array,
  newRoot: Uint8Array,
  proof: readonly Uint8Array[],
): void {
  const evidence = () => ({
    oldSize,
    newSize,
    oldRoot: toHex(oldRoot),
    newRoot: toHex(newRoot),
    proof: proof.map(toHex),
  })
  if (!isCount(oldSize) || !isCount(newSize)) {
    throw invalidProof(
      `tree sizes ${oldSize} and ${newSize} must be non-negative integers`,
      evidence(),
    )
  }
  if (oldSize > newSize) {
    throw invalidProof(
      `old tree size ${oldSize} is larger than new tree size ${newSize}`,
      evidence(),
    )
  }
  requireHashSizes('root', [oldRoot, newRoot], evidence)
  requireHashSizes('proof hash', proof, evidence)
  const want = consistencyProofSize(oldSize, newSize)
  if (proof.length !== want) {
    throw invalidProof(
      `proof has ${proof.length} hashes, want ${want} from tree size ${oldSize} to ${newSize}`,
      evidence(),
    )
  }
  if (oldSize === newSize) {
    if (!bytesEqual(oldRoot, newRoot)) {
      throw invalidProof(`roots differ at the same tree size ${oldSize}`, evidence())
    }
    return
  }
  if (oldSize === 0) {
    if (!bytesEqual(oldRoot, EMPTY_ROOT)) {
      throw invalidProof(
        `root of the empty tree is ${toHex(oldRoot)}, want ${toHex(EMPTY_ROOT)}`,
        evidence(),
      )
    }
    return
  }
  const { oldComputed, newComputed } = rootsFromConsistencyProof(
    oldSize,
    newSize,
    oldRoot,
    proof,
    evidence,
  )
  if (!bytesEqual(oldComputed, oldRoot) || !bytesEqual(newComputed, newRoot)) {
    const which = bytesEqual(oldComputed, oldRoot) ? 'new' : 'old'
    const [got, wanted] = which === 'old' ? [oldComputed, oldRoot] : [newComputed, newRoot]
    throw invalidProof(
      `consistency proof from tree size ${oldSize} to ${newSize} gives ${which} root ${toHex(got)}, want ${toHex(wanted)}`,
      { ...evidence(), computedOldRoot: toHex(oldComputed), computedNewRoot: toHex(newComputed) },
    )
  }
}

/** `verifyInclusion` as a boolean; other errors than INVALID_PROOF still throw. */
export function isInclusionValid(
  leafHash: Uint8Array,
  index: number,
  treeSize: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  return succeeds(() => verifyInclusion(leafHash, index, treeSize, proof, root))
}

/** `verifyConsistency` as a boolean; other errors than INVALID_PROOF still throw. */
export function isConsistencyValid(
  oldSize: number,
  newSize: number,
  oldRoot: Uint8Array,
  newRoot: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  return succeeds(() => verifyConsistency(oldSize, newSize, oldRoot, newRoot, proof))
}

/**
 * RFC 9162 §2.1.4.2 steps 2-7 for 0 < oldSize < newSize with a proof of the right length:
 * fr rebuilds the old root and sr the new one from the same hashes.
 */
function rootsFromConsistencyProof(
  oldSize: number,
  newSize: number,
  oldRoot: Uint8Array,
  proof: readonly Uint8Array[],
  evidence: () => Record<string, unknown>,
): { oldComputed: Uint8Array; newComputed: Uint8Array } {
  // Step 2: a power-of-two old tree is itself a complete node, so its root starts the path.
  const seedIsOldRoot = isPowerOfTwo(oldSize)
  const seed = seedIsOldRoot ? oldRoot : proof[0]!
  // Steps 3-4: skip the levels where the old tree's right edge is a left child.
  let fn = oldSize - 1
  let sn = newSize - 1
  while (isOdd(fn)) {
    fn = half(fn)
    sn = half(sn)
  }
  // Steps 5-6.
  let fr = seed
  let sr = seed
  for (let i = seedIsOldRoot ? 0 : 1; i < proof.length; i++) {
    const c = proof[i]!
    if (sn === 0) throw invalidProof('proof is longer than the path to the root', evidence())
    if (isOdd(fn) || fn === sn) {
      fr = hashChildren(c, fr)
      sr = hashChildren(c, sr)
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn)
        sn = half(sn)
      }
    } else {
      sr = hashChildren(sr, c)
    }
    fn = half(fn)
    sn = half(sn)
  }
  // Step 7, first part; the length check makes this unreachable, but it is the spec.
  if (sn !== 0) throw invalidProof('proof is shorter than the path to the root', evidence())
  return { oldComputed: fr, newComputed: sr }
}

function requireHashSizes(
  what: string,
  hashes: readonly Uint8Array[],
  evidence: () => Record<string, unknown>,
): void {
  for (const [i, hash] of hashes.entries()) {
    if (hash.byteLength !== HASH_SIZE) {
      throw invalidProof(`${what} ${i} has ${hash.byteLength} bytes, want ${HASH_SIZE}`, evidence())
    }
  }
}

function invalidProof(message: string, details: Record<string, unknown>): EhrlogError {
  return new EhrlogError('INVALID_PROOF', message, { details })
}

function succeeds(verify: () => void): boolean {
  try {
    verify()
    return true
  } catch (err) {
    if (isEhrlogError(err, 'INVALID_PROOF')) return false
    throw err
  }
}
