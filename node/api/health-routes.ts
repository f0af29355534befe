import { isIP } from 'node:net'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { EhrlogError } from '../core/errors.ts'
import { BearerToken } from './bearer-auth.ts'

export const HEALTHZ_PATH = '/healthz'
export const READYZ_PATH = '/readyz'
export const METRICS_PATH = '/metrics'

/** Whether the node can do its work, and if not, why (each reason one short sentence). */
export interface Readiness {
  ready: boolean
  reasons: string[]
}

/** What the metrics route serves: a prom-client Registry fits. */
export interface MetricsExposition {
  contentType: string
  metrics(): Promise<string>
}

export interface HealthRouteOptions {
  readiness: () => Readiness
  /** Without it, GET /metrics is absent (404). */
  metrics?: MetricsExposition
  /** config.json `http.metricsToken`: Bearer token that lets other hosts scrape. */
  metricsToken?: string
}

/**
 * Probes for a load balancer or an orchestrator, and Prometheus metrics. The probes hold no
 * data and are open. /metrics holds no patient or user data either (labels are origins and
 * kinds only), but feed sizes and query counts tell about a hospital's activity: without a
 * token it answers loopback clients only (with trustProxy, the client a proxy names).
 */
export async function healthRoutes(
  scope: FastifyInstance,
  opts: HealthRouteOptions,
): Promise<void> {
  scope.get(HEALTHZ_PATH, async () => ({ status: 'alive' }))
  scope.get(READYZ_PATH, async () => {
    const { ready, reasons } = opts.readiness()
    if (!ready)
      throw new EhrlogError('UNAVAILABLE', `not ready: ${reasons.join('; ')}`, {
        details: { reasons },
      })
    return { status: 'ready' }
  })
  const exposition = opts.metrics
  if (!exposition) return
  const token = opts.metricsToken === undefined ? undefined : new BearerToken(opts.metricsToken)
  scope.get(METRICS_PATH, async (request, reply) => {
    authorizeScrape(request, token)
    const text = await exposition.metrics()
    reply.header('Content-Type', exposition.contentType)
    reply.header('Cache-Control', 'no-store')
    return text
  })
}

/** A scrape is allowed with the metrics token, or without one from this host only. */
function authorizeScrape(request: FastifyRequest, token: BearerToken | undefined): void {
  const header = request.headers.authorization
  if (token && header !== undefined) {
    token.check(header)
    return
  }
  if (isLoopback(request.ip)) return
  throw token
    ? new EhrlogError(
        'UNAUTHORIZED',
        'missing metrics token: want the header Authorization: Bearer <http.metricsToken>',
        { details: { field: 'Authorization' } },
      )
    : new EhrlogError(
        'FORBIDDEN',
        `/metrics answers loopback clients only, not ${request.ip}: set http.metricsToken in config.json to scrape from another host`,
        { details: { field: 'ip' } },
      )
}

function isLoopback(ip: string): boolean {
  const v4 = ip.startsWith('::ffff:') ? ip.slice(7) : ip
  if (isIP(v4) === 4) return v4.startsWith('127.')
  return ip === '::1'
}
