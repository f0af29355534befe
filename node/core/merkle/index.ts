export {
  foldInclusionProofs,
  type InclusionBatchPlan,
  type InclusionRequest,
  planInclusionProofs,
} from './batch-proof.ts'
export type { CompleteNode } from './builder.ts'
export { MerkleBuilder } from './builder.ts'
export { EMPTY_ROOT, HASH_SIZE, hashChildren, hashLeaf, sha256 } from './hash.ts'
export { MemoryTree } from './memory-tree.ts'
export { foldRanges, nodesForRanges } from './proof-fold.ts'
export type { LeafRange } from './proof-plan.ts'
export { consistencyProofRanges, inclusionProofRanges } from './proof-plan.ts'
export { consistencyProofSize, inclusionProofSize } from './proof-size.ts'
export type { NodeId } from './subtrees.ts'
export {
  completeSubtrees,
  completingLeafIndex,
  foldSubtrees,
  largestPowerOfTwoBelow,
  nodeLeafRange,
} from './subtrees.ts'
export {
  isConsistencyValid,
  isInclusionValid,
  rootFromInclusionProof,
  verifyConsistency,
  verifyInclusion,
} from './verify.ts'
