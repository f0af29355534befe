export {
  IngestQueue,
  type IngestQueueOptions,
  type IngestRequest,
  type IngestResult,
} from './ingest-queue.ts'
export {
  type AppendedBatch,
  type BatchPublisher,
  OwnFeed,
  type OwnFeedOptions,
} from './own-feed.ts'
