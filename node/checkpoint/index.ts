export {
  type CheckpointIncident,
  CheckpointService,
  type CheckpointServiceOptions,
} from './checkpoint-service.ts'
export {
  type CheckpointMessage,
  decodeCheckpointMessage,
  encodeCheckpointMessage,
} from './messages.ts'
