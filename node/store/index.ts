export { CheckpointLog } from './checkpoint-log.ts'
export type { AcceptResult, FeedBatch } from './feed-batch.ts'
export { MAX_BATCH_ENTRIES } from './feed-batch.ts'
export { proveInForkedTree } from './forked-tree.ts'
export type {
  AppendItem,
  EntryRef,
  LogStoreOptions,
  Receipt,
  Signer,
  StoredReceipt,
  StoreKeys,
} from './log-store.ts'
export { LogStore } from './log-store.ts'
export {
  completedNodes,
  entryBytesOfValue,
  type FeedRepair,
  type FeedRepairResult,
  headSizeBefore,
  headSizes,
  lastHeadSize,
  type ProvenEntry,
  rawRecords,
  repairCount,
  repairFeed,
  verifyProvenEntry,
} from './repair.ts'
export type {
  FeedReport,
  KnownHead,
  Problem,
  ProblemKind,
  VerifyOptions,
  VerifyReport,
} from './verify-replica.ts'
export { verifyReplica } from './verify-replica.ts'
