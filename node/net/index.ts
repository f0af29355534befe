export type { AcceptedListener, AcceptOutcome } from './acceptor.ts'
export type { ControlHandler } from './control-topic.ts'
export type { MemberLink } from './member-dialer.ts'
export {
  type MembershipAnswer,
  requestMembershipChanges,
  verifyMembershipAnswer,
} from './membership-sync.ts'
export {
  type MembershipSource,
  type MembersListener,
  type MemberView,
  NetMembers,
} from './net-members.ts'
export {
  type MemberProtocol,
  NetService,
  type NetServiceOptions,
  type PeerInfo,
} from './net-service.ts'
export {
  batchTopic,
  LIMITS,
  MEMBERSHIP_PROTOCOL,
  QUERY_PROTOCOL,
  REPAIR_PROTOCOL,
  SYNC_PROTOCOL,
} from './protocol.ts'
export {
  QueryClient,
  type QueryHandler,
  type QueryTarget,
  type QueryWireRequest,
} from './query-protocol.ts'
export type { RepairResponse } from './repair-client.ts'
export { type ProvenEntryBytes, type RepairRequest, rangesOf } from './repair-frames.ts'
export type { RepairSource } from './repair-server.ts'
export type { AcceptGate, AcceptResult, FeedBatch, ReplicaStore } from './replica-store.ts'
