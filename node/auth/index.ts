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
export { FailureLimiter } from './failure-limiter.ts'
export { UserDirectory, type UserState, type UserStatus } from './user-directory.ts'
