import type { FastifyInstance } from 'fastify'
import type { Incident } from '../alerts/index.ts'
import type { BearerToken } from '../api/bearer-auth.ts'
import type { CheckpointService } from '../checkpoint/index.ts'
import type { Membership } from '../core/trust/index.ts'
import type { NodeIdentity } from '../identity/index.ts'
import type { OwnFeed } from '../ingest/index.ts'
import type { LiveMembership } from '../membership/live-membership.ts'
import type { NetService } from '../net/index.ts'
import type { NodeOptions } from '../node-options.ts'
import type { LogStore } from '../store/index.ts'
import { BundleServer, fetchStatsBundle } from './bundle-fetch.ts'
import { statsRoutes } from './stats-routes.ts'
import { StatsService } from './stats-service.ts'

export { MAX_BUNDLE_BYTES, STATS_BUNDLE_PROTOCOL } from './bundle-fetch.ts'
export { MAX_INLINE_BUNDLE_BYTES } from './messages.ts'
export { STATS_DIR, STATS_FILE, type StatsNodeOptions } from './stats-config.ts'
export { STATS_PATHS } from './stats-routes.ts'
export { StatsService }

/** The member-only control topic of the statistics (docs/protocol.md, "Statistics"). */
export const STATS_TOPIC = 'stats'

/**
 * The statistics part as node-parts.ts adds it: the service (a Startable) on the `stats`
 * control topic, appending to the own feed, its HTTP routes, and /ehrlog/stats-bundle/1.0.0
 * serving its bundles to members (those too large for a message).
 */
export function statsPartOf(p: {
  identity: NodeIdentity
  membership: Membership
  /** The membership as it changes: a new version re-keys the statistics. */
  live?: LiveMembership
  store: LogStore
  ownFeed: OwnFeed
  net: NetService
  checkpoints: CheckpointService
  report: (incident: Incident) => void
  opts: NodeOptions
}): {
  service: StatsService
  routes: (scope: FastifyInstance, token: BearerToken) => Promise<void>
} {
  const service = new StatsService({
    ...p.opts.stats,
    identity: p.identity,
    membership: p.membership,
    ...(p.live ? { live: p.live } : {}),
    store: p.store,
    append: async (body) => void (await p.ownFeed.append([{ kind: 'stats', body }])),
    publish: (data) => p.net.publishControl(STATS_TOPIC, data),
    fetchBundle: (from, announced) =>
      fetchStatsBundle(
        (member, protocol, signal) => p.net.dialMember(member, protocol, signal),
        p.net.networkId,
        from,
        announced,
      ),
    checkpoint: () => p.checkpoints.latest(),
    runCheckpoint: () => p.checkpoints.runRound(),
    report: p.report,
    logger: p.opts.logger.child({ component: 'stats' }),
  })
  p.net.handleControl(STATS_TOPIC, (data) => service.handle(data))
  const log = p.opts.logger.child({ component: 'stats' })
  p.net.serveMembers(
    (host, membership) => new BundleServer({ host, membership, dir: service.dir, log }),
  )
  return { service, routes: statsRoutes({ stats: service, node: p.identity.config.name }) }
}
