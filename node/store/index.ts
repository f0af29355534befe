// The public surface of node/store. The folders under it, by concern: format/ (keys, records,
// value encryption), write/ (appends and accepted batches), read/ (entries, trees, proofs),
// verify/ (verifyReplica), repair/ (repairs, and ScrubView: what node/integrity reads).
export { BACKUP_MAGIC, backupChunks, readBackup, writeBackupInto } from './backup-file.ts'
export { CheckpointLog } from './checkpoint-log.ts'
export type {
  AppendItem,
  CommittedBatch,
  EntryRef,
  LogStoreOptions,
  PatientPosting,
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
  verifyProvenEntry,
} from './repair/feed-repair.ts'
export type { ScrubView } from './repair/scrub-view.ts'
export type { HeadKeys } from './store-types.ts'
export type {
  FeedReport,
  KnownHead,
  Problem,
  ProblemKind,
  VerifyOptions,
  VerifyReport,
} from './verify/report.ts'
export type { AcceptResult, FeedBatch } from './write/feed-batch.ts'
export { MAX_BATCH_ENTRIES } from './write/feed-batch.ts'
