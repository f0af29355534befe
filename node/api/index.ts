export { AUTH_PATHS } from './auth-routes.ts'
export { MAX_EVENTS_PER_REQUEST } from './event-batch.ts'
export { EVENTS_PATH, type EventsResponse } from './events-route.ts'
export {
  HEALTHZ_PATH,
  type HealthRouteOptions,
  METRICS_PATH,
  type MetricsExposition,
  READYZ_PATH,
  type Readiness,
} from './health-routes.ts'
export type { ErrorBody } from './http-errors.ts'
export { DEFAULT_BODY_LIMIT_BYTES, HttpServer, type HttpServerOptions } from './http-server.ts'
export { IDEMPOTENCY_KEY_MAX } from './idempotency-key.ts'
export {
  type AuthenticatedSession,
  requireActiveSession,
  requireSession,
  SESSION_COOKIE,
  type SessionAuthenticator,
} from './session.ts'
export type { NodeStatus } from './status.ts'
export { STATUS_PATH } from './status-route.ts'
export { HSTS_VALUE, loadTlsPem, type TlsFiles, tlsFilesOf } from './tls.ts'
