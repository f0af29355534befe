export {
  IngestQueue,
  type IngestQueueOptions,
  type IngestRequest,
  type IngestResult,
} from './ingest-queue.ts'
