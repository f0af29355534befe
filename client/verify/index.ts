/*
 * What the commands that verify what nodes send share: the client's own membership file,
 * the session's claims, the connection that asks members and cross-checks their answers,
 * the query flags and the export bundle's format. Verification itself is node/core/trust.
 */
export { BUNDLE_FORMAT, type Bundle } from './bundle.ts'
export { type CompletenessVerdict, completenessVerdict } from './completeness.ts'
export { Connection, type RateLimitWait, type VerifiedPage } from './connection.ts'
export { loadMembership, membershipOf, networkFileOf } from './membership-file.ts'
export {
  explainUnknown,
  followedTrust,
  keepChain,
  loadTrust,
  sessionTrust,
} from './membership-trust.ts'
export { keepNewestCheckpoint, readNewestCheckpoint } from './newest-checkpoint.ts'
export {
  addQueryOptions,
  FORMATS,
  type Format,
  filterOf,
  type QueryFlags,
} from './query-options.ts'
export { issuerOf, scopeOf } from './session-claims.ts'
