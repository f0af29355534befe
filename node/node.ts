import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { AlertService } from './alerts/index.ts'
import type { NodeStatus } from './api/index.ts'
import type { AuthService } from './auth/index.ts'
import type { CheckpointService } from './checkpoint/index.ts'
import { EhrlogError } from './core/errors.ts'
import { applyHeapPolicy } from './heap-policy.ts'
import { RUNTIME_FILE, type RuntimeInfo } from './identity/index.ts'
import type { IndexView } from './index/index-view.ts'
import type { IngestQueue } from './ingest/index.ts'
import type { IntegrityService } from './integrity/index.ts'
import type { PartList } from './lifecycle/index.ts'
import type { GovernanceService } from './membership/governance.ts'
import type { LiveMembership } from './membership/live-membership.ts'
import type { NetService } from './net/index.ts'
import { readNodeFolder } from './node-folder.ts'
import type { NodeOptions } from './node-options.ts'
import { buildParts, type Parts } from './node-parts.ts'
import type { QueryService } from './query/index.ts'
import type { StatsService } from './stats/index.ts'
import type { LogStore } from './store/index.ts'

export { NETWORK_FILE, RUNTIME_FILE, type RuntimeInfo, readRuntimeInfo } from './identity/index.ts'
export type { NodeOptions } from './node-options.ts'

/**
 * The composition root: reads a node's folder, builds its parts (node-parts.ts) and starts
 * them from one ordered list (store → alerts → user directory → checkpoints → network →
 * ingest → integrity → HTTP → tree cache warm-up); a failed start and stop() release them in
 * reverse, letting in-flight appends finish. The constructor does no I/O.
 */
export class EhrlogNode {
  readonly #opts: NodeOptions
  #parts: Parts | undefined
  #lifecycle: PartList | undefined
  #state: 'new' | 'starting' | 'started' | 'stopping' | 'stopped' = 'new'
  #starting: Promise<RuntimeInfo> | undefined
  #stopped: Promise<void> | undefined
  readonly #startedAt = Date.now()

  constructor(opts: NodeOptions) {
    this.#opts = opts
  }

  start(): Promise<RuntimeInfo> {
    if (this.#state !== 'new') {
      return Promise.reject(
        new EhrlogError('ARGUMENT_INVALID', `node cannot start when ${this.#state}`),
      )
    }
    this.#state = 'starting'
    this.#starting = this.#start()
    return this.#starting
  }

  async #start(): Promise<RuntimeInfo> {
    const { dir, logger, passphrase } = this.#opts
    applyHeapPolicy()
    try {
      const folder = await readNodeFolder(dir, passphrase, logger)
      const { parts, lifecycle } = buildParts(folder, this.#opts, {
        status: () => this.status(),
        started: () => this.#state === 'started',
      })
      this.#lifecycle = lifecycle
      await lifecycle.start() // on failure, it has stopped what it started
      this.#parts = parts
      const info: RuntimeInfo = {
        pid: process.pid,
        name: folder.identity.config.name,
        http: parts.http.url,
        addresses: parts.net.addresses(),
      }
      await writeFile(join(dir, RUNTIME_FILE), `${JSON.stringify(info, null, 2)}\n`)
      this.#state = 'started'
      const { networkId } = folder.membership
      logger.info({ http: info.http, addresses: info.addresses, networkId }, 'node started')
      return info
    } catch (err) {
      await this.#lifecycle?.stop().catch(() => {})
      this.#parts = undefined
      this.#state = 'stopped'
      throw err
    }
  }

  /**
   * Stops HTTP, lets queued appends finish, stops the network, closes the store: the parts in
   * reverse start order. Idempotent; a stop during start waits for the start, then stops.
   */
  stop(): Promise<void> {
    this.#stopped ??= this.#stopParts()
    return this.#stopped
  }

  async #stopParts(): Promise<void> {
    await this.#starting?.catch(() => {})
    const started = this.#parts !== undefined
    this.#state = 'stopping'
    try {
      await this.#lifecycle?.stop()
    } finally {
      this.#state = 'stopped'
    }
    if (started) {
      await rm(join(this.#opts.dir, RUNTIME_FILE), { force: true })
      this.#opts.logger.info('node stopped')
    }
  }

  get store(): LogStore {
    return this.#require().store
  }

  /** The network's membership as it changes: offer a quorum-signed change, read any version. */
  get membership(): LiveMembership {
    return this.#require().membership
  }

  get net(): NetService {
    return this.#require().net
  }

  get auth(): AuthService {
    return this.#require().auth
  }

  get alerts(): AlertService {
    return this.#require().alerts
  }

  /** The per-patient index this node answers completeness proofs from. */
  get index(): IndexView {
    return this.#require().index
  }

  get checkpoints(): CheckpointService {
    return this.#require().checkpoints
  }

  get integrity(): IntegrityService {
    return this.#require().integrity
  }

  /** The private network statistics (node/stats). */
  get stats(): StatsService {
    return this.#require().stats
  }

  get ingest(): IngestQueue {
    return this.#require().ingest
  }

  get query(): QueryService {
    return this.#require().query
  }

  /** Membership proposals and signatures (node/membership/governance.ts). */
  get governance(): GovernanceService {
    return this.#require().governance
  }

  /** Re-reads the HTTPS certificate and key (SIGHUP); false when the node serves plain HTTP. */
  reloadTls(): Promise<boolean> {
    return this.#require().http.reloadTls()
  }

  get httpUrl(): string {
    return this.#require().http.url
  }

  status(): NodeStatus {
    const { identity, store, net, fence, pending } = this.#require()
    const sizes = store.sizes()
    const peers = net.peers().filter((p) => p.name !== undefined)
    return {
      node: identity.config.name,
      networkId: net.networkId,
      peers: peers.map((p) => ({ name: p.name, peerId: p.peerId, connected: true })),
      members: net.memberLinks(),
      membership: net.membershipStatus(),
      feeds: [...sizes].map(([origin, size]) => ({
        origin,
        size,
        headSize: store.latestHead(origin)?.treeSize ?? 0,
      })),
      ownFeed: {
        fenced: !fence.isOpen,
        ...(fence.isOpen ? {} : { waitingFor: fence.why() }),
        pendingEvents: pending.pendingEvents,
      },
      uptimeSeconds: Math.round((Date.now() - this.#startedAt) / 1000),
      ...(this.#parts?.atna && { syslog: this.#parts.atna.tallies() }),
    }
  }

  #require(): Parts {
    if (!this.#parts) throw new EhrlogError('UNAVAILABLE', 'the node is not started')
    return this.#parts
  }
}
