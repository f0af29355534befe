export { gateAccepts, type NetworkDoor } from './accept-gate.ts'
export { CheckpointTrust, type TrustedCuts } from './checkpoint-trust.ts'
export {
  decodeEvidence,
  type EquivocationEvidence,
  encodeEvidence,
  equivocationKey,
  evidenceToJson,
  type SignedEntry,
  verifyEquivocation,
} from './evidence.ts'
export type { IntegrityIncident, IntegrityIncidentKind } from './incident.ts'
export {
  IntegrityService,
  type IntegrityServiceOptions,
  type ScrubResult,
} from './integrity-service.ts'
export { type RepairNetwork, repairPeersOf } from './repair-peers.ts'
export { repairSourceOf } from './repair-source.ts'
export {
  type FeedRepairInput,
  type FeedRepairOutcome,
  type RepairPeer,
  repairFromPeers,
} from './repairer.ts'
export { type RetiredKeyIncident, ROTATED_OUT_KEY } from './retired-key.ts'
