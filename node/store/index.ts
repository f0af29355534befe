export { BACKUP_MAGIC, backupChunks, readBackup, writeBackupInto } from './backup-file.ts'
export { CheckpointLog } from './checkpoint-log.ts'
export type { AcceptResult, FeedBatch } from './feed-batch.ts'
export { MAX_BATCH_ENTRIES } from './feed-batch.ts'
export {
  entryBytesOfValue,
  headSizeBefore,
  headSizes,
  lastHeadSize,
  rawRecords,
  repairCount,
} from './feed-reads.ts'
export { proveInForkedTree } from './forked-tree.ts'
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
export { PendingLog, type PendingRecord, type PendingRequest, pendingIdsOf } from './pending-log.ts'
export {
  completedNodes,
  type FeedRepair,
  type FeedRepairResult,
  type ProvenEntry,
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
