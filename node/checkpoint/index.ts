export { BlsWorker } from './bls-worker.ts'
export { CheckpointService, type CheckpointServiceOptions } from './checkpoint-service.ts'
export {
  type CheckpointMessage,
  decodeCheckpointMessage,
  encodeCheckpointMessage,
} from './messages.ts'
export type { CheckpointIncident } from './proposal-check.ts'
