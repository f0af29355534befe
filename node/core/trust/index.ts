/*
 * What a verifier needs to check what a node sends without trusting it: the membership and
 * its keys, queries (filter, scope, cursor, the answer's wire types, verification and the
 * cross-check between nodes) and the checkpoint verdict. Pure, no I/O: nodes, the CLI and
 * the browser share it.
 */
export type {
  AnswerEntryJson,
  AnswerHeadJson,
  CompletenessJson,
  QueryAnswerJson,
} from './answer.ts'
export type { VerifiedCheckpoints } from './answer-checkpoint.ts'
export {
  type CheckedPage,
  type CompletenessRefusal,
  type CompletenessStatement,
  checkAnswerCompleteness,
  checkNotOlder,
  completenessPatientOf,
  describeCompleteness,
} from './answer-completeness.ts'
export {
  type CheckpointVerdict,
  describeVerdict,
  membershipOfCheckpoint,
  verifyCheckpoint,
} from './checkpoint-verdict.ts'
export { type CheckedAnswer, crossCheckAnswers } from './cross-check.ts'
export { comparePositions, decodeCursor, encodeCursor, type Position } from './cursor.ts'
export {
  filterMismatch,
  parseQueryFilter,
  QUERY_LIMITS,
  type QueryFilter,
  type QueryScope,
} from './filter.ts'
export { type Member, type PublicIdentity, publicIdentitySchema } from './member.ts'
export { Membership, type MembershipOptions } from './membership.ts'
export {
  addSignature,
  applyProposal,
  checkEquivocation,
  genesisVersion,
  type MembershipEquivocation,
  networkKeysOf,
  OLD_KEY_MISSING,
  oldKeySignatureValid,
  proposeChange,
  type VerifiedChain,
  verifyChain,
} from './membership-chain.ts'
export { type AppliedChange, applyChange } from './membership-chain-apply.ts'
export {
  type FollowedChain,
  type FollowedProposal,
  followChain,
} from './membership-chain-follow.ts'
export {
  changeSchema,
  describeChange,
  describeVersion,
  type MembershipChange,
  type MembershipProposal,
  type MembershipVersion,
  majority,
  parseSignedProposal,
  proposalMessage,
  quorumOf,
  type RotateChange,
  type SignedProposal,
  versionHash,
} from './membership-chain-types.ts'
export {
  changesUpTo,
  followChanges,
  followMembershipAnswer,
  type MembershipAnswerJson,
  membershipAnswerOf,
} from './membership-follow.ts'
export { MembershipHistory, type VersionRef } from './membership-history.ts'
export {
  checkpointKeysOf,
  type NetworkKeys,
  networkIdOf,
  shortNetworkId,
} from './network-keys.ts'
export { actionType, clip, SEED_COLUMNS, seedRow, timestamp } from './seed-columns.ts'
export type {
  Failure,
  Integrity,
  QueryVerification,
  VerifiedEntry,
} from './verification.ts'
export { type AnswerCheck, verifyQueryAnswer } from './verify-answer.ts'
