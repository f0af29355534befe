import type { Incident } from '../alerts/index.ts'
import type { HealthRouteOptions } from '../api/index.ts'
import type { CosignedCheckpoint } from '../core/checkpoint.ts'
import { defaultQuorum } from '../core/checkpoint.ts'
import type { NodeConfig } from '../identity/config.ts'
import type { Logger } from '../logger.ts'
import type { NodeMetrics } from './node-metrics.ts'
import { QuorumWatch } from './quorum-watch.ts'
import { readinessOf } from './readiness.ts'

/** The parts of a node that health and metrics read (node.ts hands them over). */
export interface HealthParts {
  self: string
  /**
   * Every member's name, this node's included; a function is read at each use (the version in
   * force: the quorum watch stops watching a removed member, and starts on an added one).
   */
  members: readonly string[] | (() => readonly string[])
  /** The version in force's checkpoint quorum (default: a majority of `members`). */
  quorum?: () => number
  config: Pick<NodeConfig, 'http' | 'alerts'>
  store: { size(origin: string): number; appendHoldOf(origin: string): string | undefined }
  /** Connected peers (NetService.peers); clients have no name. */
  peers(): Array<{ name: string | undefined }>
  latestCheckpoint(): CosignedCheckpoint | undefined
  alertQueueLength(): number
  /** The node is started and its store open. */
  started(): boolean
  /** The checkpoint round interval (0: rounds on demand only). */
  checkpointIntervalMs: number
  report(incident: Incident): void
  logger: Logger
}

/**
 * Binds the metrics' gauges to the node's parts, and builds what HttpServer serves at
 * /healthz, /readyz, /metrics and the QuorumWatch that emails admins (start and stop it
 * with the node).
 */
export function nodeHealthOf(
  metrics: NodeMetrics,
  parts: HealthParts,
): { http: HealthRouteOptions; watch: QuorumWatch } {
  const all = () => (typeof parts.members === 'function' ? parts.members() : parts.members)
  const others = () => all().filter((m) => m !== parts.self)
  const connected = () => {
    const names = new Set<string>()
    for (const p of parts.peers()) if (p.name && p.name !== parts.self) names.add(p.name)
    return names
  }
  const latestMs = () => parts.latestCheckpoint()?.checkpoint.timeMs
  metrics.bind({
    sizes: () => new Map(all().map((m) => [m, parts.store.size(m)])),
    memberCount: () => others().length,
    connectedMembers: () => connected().size,
    latestCheckpointMs: latestMs,
    alertQueueLength: parts.alertQueueLength,
  })
  const readiness = () =>
    readinessOf({
      started: parts.started,
      appendHold: () => parts.store.appendHoldOf(parts.self),
      memberCount: () => others().length,
      connectedMembers: () => connected().size,
    })
  const watch = new QuorumWatch({
    self: parts.self,
    members: others,
    quorum: parts.quorum ?? (() => defaultQuorum(all().length)),
    memberSilenceMs: parts.config.alerts.memberSilenceMs,
    stallRounds: parts.config.alerts.quorumStallRounds,
    checkpointIntervalMs: parts.checkpointIntervalMs,
    connected,
    uncheckpointed: () => {
      const feeds = parts.latestCheckpoint()?.checkpoint.feeds ?? []
      return all().some(
        (m) => parts.store.size(m) > (feeds.find((f) => f.origin === m)?.treeSize ?? 0),
      )
    },
    latestCheckpointMs: latestMs,
    report: parts.report,
    logger: parts.logger,
  })
  const { metricsToken } = parts.config.http
  return {
    http: { readiness, metrics: metrics.registry, ...(metricsToken ? { metricsToken } : {}) },
    watch,
  }
}
