export { entryBytesBound, MAX_GOSSIP_BATCH_BYTES } from './batch-bytes.ts'
export { fenceOverrideEvent, NO_PATIENT } from './fence-override.ts'
export { fencePart } from './fence-part.ts'
export {
  type AppendGate,
  IngestQueue,
  type IngestQueueOptions,
  type IngestRequest,
  type IngestResult,
} from './ingest-queue.ts'
export {
  type AppendedBatch,
  type AppendFence,
  type BatchPublisher,
  OwnFeed,
  type OwnFeedOptions,
} from './own-feed.ts'
export {
  type FenceOpening,
  fenceQuorum,
  judgeFence,
  OwnTipFence,
  type OwnTipFenceOptions,
} from './own-tip-fence.ts'
export { PendingDrain, type PendingDrainOptions } from './pending-drain.ts'
