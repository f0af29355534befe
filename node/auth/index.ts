export {
  AuthService,
  type AuthServiceOptions,
  type Challenge,
  LOGIN_FAILED,
} from './auth-service.ts'
export {
  type AcceptedBatches,
  DirectoryFold,
  type DirectoryFoldOptions,
  type UserRecordFeed,
} from './directory-fold.ts'
export {
  DEFAULT_LOGIN_LIMITS,
  FailureLimiter,
  type LoginLimitReason,
  type LoginLimits,
} from './failure-limiter.ts'
export { UserDirectory, type UserState, type UserStatus } from './user-directory.ts'
export { WindowedCounts } from './windowed-counts.ts'
