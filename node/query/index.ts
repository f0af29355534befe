export { buildAnswer, type ProofStore } from './answer-builder.ts'
export { answerConsistency, type ConsistencySource } from './consistency-builder.ts'
export {
  type EntryRead,
  entryProofAt,
  type ProofAnswerJson,
  readEntryProof,
} from './proof-reader.ts'
export { type QueryRequest, QueryService, type QueryServiceOptions } from './query-service.ts'
export {
  DEFAULT_QUERY_RATE_LIMIT,
  type QueryRateLimit,
  QueryRateLimiter,
} from './rate-limit.ts'
export { QueryRefused, type RefusalReason, type Session, scopeQuery } from './scope.ts'
export { SELECT_LIMITS, type Selection, type SelectStore, selectEntries } from './select.ts'
