import type { Server as HttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import type { AuthService } from '../auth/index.ts'
import { EhrlogError } from '../core/errors.ts'
import type { IngestQueue } from '../ingest/index.ts'
import type { GovernanceService } from '../membership/governance.ts'
import { type PortalNetwork, portalRoutes } from '../portal/index.ts'
import type { LogStore } from '../store/index.ts'
import { AUTH_ROUTE_METHODS, authRoutes } from './auth-routes.ts'
import { backupRoute } from './backup-route.ts'
import { BearerToken } from './bearer-auth.ts'
import {
  CHECKPOINT_PATH,
  type CheckpointSource,
  CONSISTENCY_PATH,
  checkpointRoutes,
} from './checkpoint-routes.ts'
import { EVENTS_PATH, eventsRoute } from './events-route.ts'
import { FHIR_AUDIT_EVENT_PATH, fhirRoute } from './fhir-route.ts'
import { fhirSearchRoute } from './fhir-search-route.ts'
import {
  HEALTHZ_PATH,
  healthRoutes,
  METRICS_PATH,
  type MetricsExposition,
  READYZ_PATH,
  type Readiness,
} from './health-routes.ts'
import { clientErrorResponse, type HttpFailure, httpFailureOf, sendFailure } from './http-errors.ts'
import {
  MEMBERSHIP_PATH,
  type MembershipRouteOptions,
  membershipRoute,
} from './membership-chain-route.ts'
import { MEMBERSHIP_PATHS, membershipRoutes } from './membership-proposal-routes.ts'
import { type ProofRouteOptions, proofRoute } from './proof-route.ts'
import { QUERY_PATH, type QueryRouteOptions, queryRoute } from './query-route.ts'
import { DebugRequestLog } from './request-log.ts'
import { addSecurityHeaders, setSecurityHeaders } from './security-headers.ts'
import type { NodeStatus } from './status.ts'
import { STATUS_PATH, statusRoute } from './status-route.ts'
import { addHsts, loadTlsPem, type TlsFiles, type TlsPem } from './tls.ts'
import { VERIFY_PATH, verifyRoute } from './verify-route.ts'

export const DEFAULT_BODY_LIMIT_BYTES = 1024 * 1024

/** Methods of each route, for 405 answers (HEAD comes with GET). */
const ALLOWED_METHODS: ReadonlyMap<string, readonly string[]> = new Map([
  [EVENTS_PATH, ['POST']],
  [FHIR_AUDIT_EVENT_PATH, ['GET', 'POST']], // GET: search (fhir-search-route.ts)
  [STATUS_PATH, ['GET', 'HEAD']],
  [CHECKPOINT_PATH, ['GET', 'HEAD', 'POST']],
  [CONSISTENCY_PATH, ['GET', 'HEAD']],
  [MEMBERSHIP_PATH, ['GET', 'HEAD']],
  [QUERY_PATH, ['GET']], // HEAD: 405 (query-route.ts)
  [VERIFY_PATH, ['POST']],
  ...AUTH_ROUTE_METHODS,
  [HEALTHZ_PATH, ['GET', 'HEAD']],
  [READYZ_PATH, ['GET', 'HEAD']],
  [METRICS_PATH, ['GET', 'HEAD']],
  [MEMBERSHIP_PATHS.proposals, ['GET', 'HEAD', 'POST']],
])

/** A whole request, headers to last body byte, must arrive within this (slow-client guard). */
const REQUEST_TIMEOUT_MS = 60_000
/** Longest request path echoed back in a 404 message. */
const PATH_ECHO_MAX = 200

export interface HttpServerOptions {
  host: string
  port: number
  /** Bearer token the EHR sends with every ingest request. */
  apiToken: string
  ingest: IngestQueue
  /** Called for each status request; supplied by node.ts, which owns the parts it reports. */
  status: () => Promise<NodeStatus> | NodeStatus
  logger: Logger
  /** Largest request body accepted (default 1 MiB); larger ones get 413. */
  bodyLimitBytes?: number
  /** Checkpoints and proofs (node.ts); without them those routes are absent. */
  checkpoints?: { source: CheckpointSource; store: LogStore }
  /** Sign-in, sessions and accounts (node.ts); without it those routes are absent. */
  /** `portals`: other members' portal addresses by node name (config.json), for sign-in hints. */
  auth?: { service: AuthService; node: string; portals?: Readonly<Record<string, string>> }
  /** Verified queries and entry proofs (node/query); served only together with `auth`. */
  query?: QueryRouteOptions['query'] & ProofRouteOptions['proofs']
  /** The web portal's pages (node/portal); served only together with `auth`. */
  portal?: { network: PortalNetwork }
  /** HTTPS with this certificate and key (re-read by reloadTls()); plain HTTP without. */
  tls?: TlsFiles | undefined
  /** Fastify's trustProxy: client address and scheme from a reverse proxy's headers. */
  trustProxy?: boolean | string[]
  /** GET /api/v1/membership (public: signed changes clients follow); absent without it. */
  membership?: MembershipRouteOptions
  /** GET /healthz, /readyz and /metrics; without it those routes are absent. */
  health?: { readiness: () => Readiness; metrics?: MetricsExposition; metricsToken?: string }
  /** Routes of other parts (node/stats), each a plugin given the token-checking helper. */
  routes?: ReadonlyArray<(scope: FastifyInstance, token: BearerToken) => Promise<void>>
  /** Membership proposals and signatures for admins (node/membership); served with `auth`. */
  governance?: GovernanceService
}

/**
 * The node's HTTP API: event ingest and status. Stop it before the ingest queue and the
 * store: stop() waits for requests in flight, whose events are then already durable.
 */
export class HttpServer {
  readonly #opts: HttpServerOptions
  readonly #token: BearerToken
  readonly #bodyLimitBytes: number
  #app: FastifyInstance | undefined
  #starting: Promise<void> | undefined
  #stopping: Promise<void> | undefined
  #url: string | undefined

  constructor(opts: HttpServerOptions) {
    const bodyLimitBytes = opts.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES
    if (!Number.isSafeInteger(bodyLimitBytes) || bodyLimitBytes < 1) {
      throw new EhrlogError(
        'ARGUMENT_INVALID',
        `bodyLimitBytes must be a positive integer, got ${bodyLimitBytes}`,
      )
    }
    this.#opts = opts
    this.#token = new BearerToken(opts.apiToken)
    this.#bodyLimitBytes = bodyLimitBytes
  }

  /** http(s)://host:port of the listening server (the real port when configured as 0). */
  get url(): string {
    if (this.#url === undefined) {
      throw new EhrlogError('UNAVAILABLE', 'the HTTP server is not listening')
    }
    return this.#url
  }

  /** Listens on host:port. Throws UNAVAILABLE when the port cannot be taken. */
  start(): Promise<void> {
    if (this.#stopping) {
      return Promise.reject(new EhrlogError('UNAVAILABLE', 'the HTTP server was stopped'))
    }
    this.#starting ??= this.#listen()
    return this.#starting
  }

  /** Closes the port and waits for requests in flight. Idempotent; waits for a start under way. */
  stop(): Promise<void> {
    this.#stopping ??= this.#close()
    return this.#stopping
  }

  /**
   * Re-reads the certificate and key (on SIGHUP) and serves them to new connections; open
   * ones keep theirs. False without TLS. Throws CONFIG_INVALID for unreadable or mismatched
   * files, and the certificate in use stays.
   */
  async reloadTls(): Promise<boolean> {
    const files = this.#opts.tls
    if (!files) return false
    const pem = await loadTlsPem(files)
    const app = this.#app
    if (!app) throw new EhrlogError('UNAVAILABLE', 'the HTTP server is not listening')
    ;(app.server as unknown as HttpsServer).setSecureContext(pem)
    return true
  }

  async #listen(): Promise<void> {
    const { host, port } = this.#opts
    const pem = this.#opts.tls ? await loadTlsPem(this.#opts.tls) : undefined
    const app = this.#build(pem)
    this.#app = app
    try {
      await app.listen({
        host,
        port,
        listenTextResolver: (url) => `HTTP API listening at ${url}`,
      })
    } catch (cause) {
      this.#app = undefined
      await app.close().catch(() => {})
      throw new EhrlogError(
        'UNAVAILABLE',
        `cannot listen for HTTP on ${host}:${port}: ${(cause as Error).message}`,
        {
          cause,
          details: { host, port },
        },
      )
    }
    const bound = (app.server.address() as AddressInfo).port
    this.#url = `${pem ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${bound}`
  }

  async #close(): Promise<void> {
    await this.#starting?.catch(() => {})
    const app = this.#app
    this.#app = undefined
    this.#url = undefined
    await app?.close()
  }

  #build(pem: TlsPem | undefined): FastifyInstance {
    const bodyLimit = this.#bodyLimitBytes
    // Cast: the pino-typed instance is used through the base-logger type the plugins take.
    const app = Fastify({
      loggerInstance: this.#opts.logger.child({ component: 'http' }),
      ...(pem ? { https: pem } : {}),
      trustProxy: this.#opts.trustProxy ?? false,
      logController: new DebugRequestLog(),
      bodyLimit,
      requestTimeout: REQUEST_TIMEOUT_MS,
      // While closing, Fastify would answer 503 with its own body shape; the onRequest hook
      // below answers in ours instead (and Fastify still sends Connection: close).
      return503OnClosing: false,
      // Bad URL encoding and the like, found before routing; such replies skip the hooks.
      frameworkErrors: (err, request, reply) => {
        setSecurityHeaders(request.url, reply)
        this.#fail(err, request, reply)
      },
      // Refused by Node's parser (e.g. headers over 16 KiB): answered in our error shape.
      clientErrorHandler: (err, socket) => {
        if (socket.writable) socket.end(clientErrorResponse(err as { code?: unknown }))
        else socket.destroy()
      },
    }) as unknown as FastifyInstance

    let closing = false
    app.addHook('preClose', async () => {
      closing = true
    })
    app.addHook('onRequest', async () => {
      if (closing) throw new EhrlogError('UNAVAILABLE', 'the node is shutting down: retry later')
    })
    addSecurityHeaders(app)
    addHsts(app)
    app.setErrorHandler((err, request, reply) => {
      this.#fail(err, request, reply)
    })
    app.setNotFoundHandler((request, reply) => {
      this.#notFound(request, reply)
    })

    // Root routes read no body: any content type is accepted and left unread, so a POST to
    // an unknown path is a 404, not a 415. The events route has its own JSON parser.
    app.removeAllContentTypeParsers()
    app.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined))

    app.register(statusRoute, { status: this.#opts.status })
    if (this.#opts.health) app.register(healthRoutes, this.#opts.health)
    app.register(eventsRoute, { ingest: this.#opts.ingest, token: this.#token })
    app.register(fhirRoute, { ingest: this.#opts.ingest, token: this.#token })
    const cp = this.#opts.checkpoints
    if (cp)
      app.register(checkpointRoutes, {
        checkpoints: cp.source,
        store: cp.store,
        token: this.#token,
      })
    if (cp) app.register(verifyRoute, { store: cp.store, token: this.#token })
    if (this.#opts.membership) app.register(membershipRoute, this.#opts.membership)
    const auth = this.#opts.auth
    if (auth)
      app.register(authRoutes, { auth: auth.service, node: auth.node, portals: auth.portals ?? {} })
    if (auth && cp)
      app.register(backupRoute, { store: cp.store, auth: auth.service, node: auth.node })
    if (auth && this.#opts.query) {
      app.register(queryRoute, { query: this.#opts.query, auth: auth.service })
      app.register(fhirSearchRoute, {
        query: this.#opts.query,
        auth: auth.service,
        bodyLimitBytes: this.#bodyLimitBytes,
      })
      app.register(proofRoute, { proofs: this.#opts.query, auth: auth.service })
    }
    if (auth && this.#opts.governance)
      app.register(membershipRoutes, {
        governance: this.#opts.governance,
        auth: auth.service,
        node: auth.node,
      })
    if (auth && this.#opts.portal)
      app.register(portalRoutes, { auth: auth.service, node: auth.node, ...this.#opts.portal })
    for (const routes of this.#opts.routes ?? [])
      app.register((scope) => routes(scope, this.#token))
    return app
  }

  #fail(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
    const failure = httpFailureOf(err, {
      bodyLimitBytes: this.#bodyLimitBytes,
      contentType: request.headers['content-type'],
    })
    logFailure(request, failure, err)
    sendFailure(reply, failure)
  }

  #notFound(request: FastifyRequest, reply: FastifyReply): void {
    const path = (request.url.split('?', 1)[0] ?? '').slice(0, PATH_ECHO_MAX)
    const allowed = ALLOWED_METHODS.get(path)
    if (allowed) {
      reply.header('Allow', allowed.join(', '))
      const error = new EhrlogError(
        'ARGUMENT_INVALID',
        `method ${request.method} is not allowed on ${path}: want ${allowed.join(' or ')}`,
        { details: { field: 'method', allowed } },
      )
      sendFailure(reply, { statusCode: 405, error, internal: false })
      return
    }
    const error = new EhrlogError('NOT_FOUND', `no route ${request.method} ${path}`, {
      details: { method: request.method, path },
    })
    sendFailure(reply, { statusCode: 404, error, internal: false })
  }
}

/**
 * Client mistakes go to debug with their code and field only: messages can quote the body,
 * and the log is on disk, where no patient identifier may appear.
 */
function logFailure(request: FastifyRequest, failure: HttpFailure, err: unknown): void {
  const { statusCode, error } = failure
  if (failure.internal) {
    request.log.error({ err, statusCode }, 'request failed')
  } else if (statusCode === 401 || (statusCode === 429 && error.details.field === 'login')) {
    const field = error.details.field
    const what =
      field === 'login'
        ? statusCode === 429
          ? 'sign-in refused by the failed-login limit'
          : 'failed sign-in'
        : field === 'session'
          ? 'request without a valid session'
          : 'request without a valid API token'
    request.log.warn({ ip: request.ip, statusCode, code: error.code, field }, what)
  } else {
    request.log.debug(
      { statusCode, code: error.code, field: error.details.field },
      'request refused',
    )
  }
}
