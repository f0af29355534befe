export { CheckpointLog } from './checkpoint-log.ts'
export type {
  AppendItem,
  EntryRef,
  LogStoreOptions,
  ProofRequest,
  Receipt,
  Signer,
  StoredReceipt,
  StoreKeys,
} from './log-store.ts'
export { LogStore } from './log-store.ts'
export { proveInForkedTree } from './read/forked-tree.ts'
export {
  completedNodes,
  type FeedRepair,
  type FeedRepairResult,
  type ProvenEntry,
  repairFeed,
  verifyProvenEntry,
} from './repair/feed-repair.ts'
export {
  entryBytesOfValue,
  headSizeBefore,
  headSizes,
  lastHeadSize,
  rawRecords,
  repairCount,
} from './repair/raw-reads.ts'
export type {
  FeedReport,
  KnownHead,
  Problem,
  ProblemKind,
  VerifyOptions,
  VerifyReport,
} from './verify/verify-replica.ts'
export { verifyReplica } from './verify/verify-replica.ts'
export type { AcceptResult, FeedBatch } from './write/feed-batch.ts'
export { MAX_BATCH_ENTRIES } from './write/feed-batch.ts'
