export { CheckpointLog } from './checkpoint-log.ts'
export type { AcceptResult, FeedBatch } from './feed-batch.ts'
export { MAX_BATCH_ENTRIES } from './feed-batch.ts'
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
export type {
  FeedReport,
  KnownHead,
  Problem,
  ProblemKind,
  VerifyOptions,
  VerifyReport,
} from './verify-replica.ts'
export { verifyReplica } from './verify-replica.ts'
