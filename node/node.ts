import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { AlertService, type Incident } from './alerts/index.ts'
import { HttpServer, type NodeStatus } from './api/index.ts'
import { AuthService, UserDirectory } from './auth/index.ts'
import { type CheckpointIncident, CheckpointService } from './checkpoint/index.ts'
import type { UserRecord } from './core/auth/user-record.ts'
import { verifyEntryBody } from './core/body.ts'
import { decodeEntry, type Entry, isUserRecord } from './core/entry.ts'
import { EhrlogError } from './core/errors.ts'
import { assertOwnEntry, type NodeIdentity, openNodeDir, ProvenKeys } from './identity/index.ts'
import { IngestQueue } from './ingest/index.ts'
import { type IntegrityIncident, IntegrityService, repairSourceOf } from './integrity/index.ts'
import type { Logger } from './logger.ts'
import { Membership, NetService } from './net/index.ts'
import { storeOfNode } from './node-store.ts'
import { portalNetworkOf } from './portal/index.ts'
import { QueryService } from './query/index.ts'
import { CheckpointLog, type LogStore } from './store/index.ts'

export interface NodeOptions {
  dir: string
  passphrase?: string
  logger: Logger
  /** Mean anti-entropy sync period (default 5000 ms). */
  syncIntervalMs?: number
  /** Time between scheduled checkpoint rounds; 0: only on demand (default 10,000 ms). */
  checkpointIntervalMs?: number
  /** Also told of every incident the node reports to its admins (tests, tools). */
  onIncident?: (incident: Incident) => void
  /** Retry period of queued alert emails (default 30 s). */
  alertRetryMs?: number
  /** Time between scheduled scrubs of the replica; 0: only at start (default 10 min). */
  scrubIntervalMs?: number
  /**
   * How long start() waits for peers to restore an own feed shorter than the cosigned
   * checkpoint (default 15 s). Appends stay refused until it is whole, however long.
   */
  tailWaitMs?: number
  /** Told of each modified/deleted/equivocation incident the integrity service reports. */
  onIntegrityIncident?: (incident: IntegrityIncident) => void
}

/** Where a running node says it can be reached: DIR/node.json, removed on stop. */
export interface RuntimeInfo {
  pid: number
  name: string
  http: string
  addresses: string[]
}

export const RUNTIME_FILE = 'node.json'
export const NETWORK_FILE = 'network.json'
const CHECKPOINT_TOPIC = 'checkpoints'
const EVIDENCE_TOPIC = 'evidence'
/**
 * The scrub at start waits for the first sync session, at most this long (a restarted node
 * catches up before it reads its whole replica: both at once compete for the same cores);
 * and this long for a first peer to connect. Feeds found damaged at open are scrubbed at once.
 */
const FIRST_SCRUB_MAX_WAIT_MS = 60_000
const FIRST_SCRUB_NO_PEER_MS = 2_000

interface Parts {
  identity: NodeIdentity
  store: LogStore
  alerts: AlertService
  auth: AuthService
  checkpoints: CheckpointService
  integrity: IntegrityService
  net: NetService
  ingest: IngestQueue
  query: QueryService
  http: HttpServer
  /** The tree cache's warm-up after start (stopped before the store closes). */
  warmUp: { abort: AbortController; done: Promise<void> }
}

/**
 * The composition root: builds a node's parts from its folder and starts them in dependency
 * order (store → ingest → network → HTTP); stop() releases them in reverse, letting
 * in-flight appends finish. The constructor does no I/O.
 */
export class EhrlogNode {
  readonly #opts: NodeOptions
  #parts: Parts | undefined
  #state: 'new' | 'starting' | 'started' | 'stopping' | 'stopped' = 'new'
  #stopped: Promise<void> | undefined
  readonly #startedAt = Date.now()

  constructor(opts: NodeOptions) {
    this.#opts = opts
  }

  async start(): Promise<RuntimeInfo> {
    if (this.#state !== 'new')
      throw new EhrlogError('ARGUMENT_INVALID', `node cannot start when ${this.#state}`)
    this.#state = 'starting'
    const { dir, logger } = this.#opts
    const identity = await openNodeDir(
      dir,
      this.#opts.passphrase ? { passphrase: this.#opts.passphrase } : {},
    )
    const networkText = await readNetworkFile(dir)
    const provenKeys = await ProvenKeys.load(dir, identity.provenKeysKey)
    const membership = Membership.parse(networkText, join(dir, NETWORK_FILE), {
      proven: provenKeys.has,
    })
    assertOwnEntry(membership, identity.identity, join(dir, NETWORK_FILE))
    // Only a cache: a folder it cannot be written to costs the next start the pairings.
    await provenKeys
      .remember(membership.members)
      .catch((err: unknown) =>
        logger.warn({ err: (err as Error).message }, 'could not record the verified BLS proofs'),
      )
    const name = identity.config.name
    const store = storeOfNode(identity, membership.ed25519Keys())
    await store.open()
    const released: Array<() => Promise<void>> = [() => store.close()]
    try {
      for (const origin of store.origins()) {
        const damage = store.damageOf(origin)
        if (damage) logger.error({ origin, damage }, 'feed damaged at open: run `ehrlog verify`')
      }
      let net: NetService | undefined
      const signer = { origin: name, privateKey: identity.signingKey }
      const alerts = new AlertService({
        node: name,
        admins: identity.config.alerts.admins,
        ...(identity.config.alerts.smtp ? { smtp: identity.config.alerts.smtp } : {}),
        dir,
        logger: logger.child({ component: 'alerts' }),
        // Alerts are entries of the node's own feed: tamper-evident and replicated.
        record: async (body) => {
          const { entries, head } = await store.appendEntries(signer, [{ kind: 'alert', body }])
          net?.publish({ origin: name, entries: entries.map((e) => e.bytes), head })
        },
        ...(this.#opts.alertRetryMs ? { retryMs: this.#opts.alertRetryMs } : {}),
      })
      await alerts.start()
      released.unshift(() => alerts.stop())
      const directory = await loadUserDirectory(store, logger)
      const auth = new AuthService({
        node: name,
        signingKey: identity.signingKey,
        memberKey: (node) => {
          const hex = membership.byName(node)?.ed25519PublicKey
          return hex ? new Uint8Array(Buffer.from(hex, 'hex')) : undefined
        },
        directory,
        secret: identity.storeKeys.indexKey,
        append: async (records: UserRecord[]) => {
          // A record peers would refuse must never enter the feed: it would stall its replication.
          for (const r of records) verifyEntryBody('user', r, name)
          const { entries, head } = await store.appendEntries(
            signer,
            records.map((body) => ({ kind: 'user' as const, body })),
          )
          for (const r of records) directory.apply(name, r)
          net?.publish({ origin: name, entries: entries.map((e) => e.bytes), head })
        },
      })
      const report = (incident: Incident) => {
        this.#opts.onIncident?.(incident)
        alerts
          .report(incident)
          .catch((err: unknown) =>
            logger.error({ err: (err as Error).message }, 'could not report an incident'),
          )
      }
      const ingest = new IngestQueue({
        store,
        signer,
        onAppended: (batch) => net?.publish(batch),
      })
      released.unshift(() => ingest.drain())
      const checkpoints = new CheckpointService({
        self: name,
        membership,
        blsSecretKey: identity.blsSecretKey,
        store,
        checkpoints: new CheckpointLog(store),
        publish: (data) => net!.publishControl(CHECKPOINT_TOPIC, data),
        syncNow: () => net!.syncNow(),
        onIncident: (incident) => report(fromCheckpointIncident(name, incident)),
        logger: logger.child({ component: 'checkpoint' }),
        ...(this.#opts.checkpointIntervalMs !== undefined
          ? { intervalMs: this.#opts.checkpointIntervalMs }
          : {}),
      })
      // Every query is recorded in this node's own feed before it is answered.
      const query = new QueryService({
        node: name,
        store,
        checkpoints,
        auth,
        record: (event) => ingest.submit([event]),
        rateLimit: identity.config.query.rateLimit,
      })
      const integrity = new IntegrityService({
        self: name,
        store,
        membership,
        latestCheckpoint: () => checkpoints.latest(),
        latestHeld: () => checkpoints.latestHeld(),
        peers: () =>
          (net?.peers() ?? []).flatMap((p) =>
            p.name
              ? [
                  {
                    name: p.name,
                    request: (req, signal) => net!.requestRepair(p.peerId, req, signal),
                  },
                ]
              : [],
          ),
        syncNow: () => net!.syncNow(),
        beforeFirstScrub: () => net!.firstSync(FIRST_SCRUB_NO_PEER_MS, FIRST_SCRUB_MAX_WAIT_MS),
        publishEvidence: (data) => net!.publishControl(EVIDENCE_TOPIC, data),
        // Each incident goes to the admins (email or outbox) and is recorded in this feed.
        onIncident: (incident) => {
          this.#opts.onIntegrityIncident?.(incident)
          report(incident)
        },
        logger: logger.child({ component: 'integrity' }),
        ...(this.#opts.scrubIntervalMs !== undefined
          ? { scrubIntervalMs: this.#opts.scrubIntervalMs }
          : {}),
        ...(this.#opts.tailWaitMs !== undefined ? { tailWaitMs: this.#opts.tailWaitMs } : {}),
      })
      net = new NetService({
        membership,
        self: name,
        privateKey: identity.libp2pPrivateKey,
        listen: identity.config.listen,
        logger,
        store: {
          sizes: async () => store.sizes(),
          readBatches: (origin, fromSeq, max) => store.readBatches(origin, fromSeq, max),
          // Through the integrity gate: never during a repair of that feed; conflicts reported.
          acceptBatch: (batch) => integrity.accept(batch, () => store.acceptBatch(batch)),
        },
        repair: repairSourceOf(store),
        query: ({ token, ...request }) => query.answer(token, { ...request, via: 'libp2p' }),
        ...(this.#opts.syncIntervalMs ? { syncIntervalMs: this.#opts.syncIntervalMs } : {}),
        controlTopics: {
          [CHECKPOINT_TOPIC]: (data, from) => checkpoints.handle(data, from),
          [EVIDENCE_TOPIC]: (data, from) => integrity.handleEvidence(data, from),
        },
      })
      net.onAccepted((batch, fromPeer) =>
        integrity.noteDelivered(batch.origin, membership.byPeerId(fromPeer)?.name),
      )
      // Before the network: the integrity gate judges the first batches against the latest
      // cosigned checkpoint (a tail rolled back below it is named before sync refills it).
      await checkpoints.start()
      released.unshift(async () => checkpoints.stop())
      // User records from other nodes take effect as they arrive.
      net.onAccepted((batch) => {
        for (const bytes of batch.entries) {
          // The store verified these bytes already: decode only user records (most are events).
          if (!isUserRecord(bytes)) continue
          const { entry } = decodeEntry(bytes)
          if (entry.kind === 'user') directory.apply(entry.origin, entry.body)
        }
      })
      await net.start()
      released.unshift(() => net.stop())
      await integrity.start()
      released.unshift(() => integrity.stop())
      const http = new HttpServer({
        host: identity.config.http.host,
        port: identity.config.http.port,
        apiToken: identity.config.apiToken,
        ingest,
        status: () => this.status(),
        logger,
        checkpoints: { source: checkpoints, store },
        auth: { service: auth, node: name },
        query,
        portal: { network: portalNetworkOf(membership.networkId, networkText) },
      })
      await http.start()
      released.unshift(() => http.stop())
      // In the background: the first queries after a start then find the upper tree levels in
      // memory (docs/query.md); ~0.5 s of reads per million entries.
      const abort = new AbortController()
      const done = store.warmTreeCache(abort.signal).catch((err: unknown) => {
        logger.warn({ err: (err as Error).message }, 'tree cache warm-up stopped')
      })
      this.#parts = {
        warmUp: { abort, done },
        identity,
        store,
        alerts,
        auth,
        checkpoints,
        integrity,
        net,
        ingest,
        query,
        http,
      }
      const info: RuntimeInfo = {
        pid: process.pid,
        name,
        http: http.url,
        addresses: net.addresses(),
      }
      await writeFile(join(dir, RUNTIME_FILE), `${JSON.stringify(info, null, 2)}\n`)
      this.#state = 'started'
      logger.info(
        { http: info.http, addresses: info.addresses, networkId: membership.networkId },
        'node started',
      )
      return info
    } catch (err) {
      for (const release of released) await release().catch(() => {})
      this.#state = 'stopped'
      throw err
    }
  }

  /** Stops HTTP, lets queued appends finish, stops the network, closes the store. Idempotent. */
  stop(): Promise<void> {
    this.#stopped ??= this.#stopParts()
    return this.#stopped
  }

  async #stopParts(): Promise<void> {
    const parts = this.#parts
    this.#state = 'stopping'
    if (parts) {
      await parts.http.stop()
      await parts.checkpoints.stop()
      await parts.integrity.stop()
      await parts.ingest.drain()
      await parts.net.stop()
      await parts.alerts.stop()
      parts.warmUp.abort.abort()
      await parts.warmUp.done
      await parts.store.close()
      await rm(join(this.#opts.dir, RUNTIME_FILE), { force: true })
      this.#opts.logger.info('node stopped')
    }
    this.#state = 'stopped'
  }

  get store(): LogStore {
    return this.#require().store
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

  get checkpoints(): CheckpointService {
    return this.#require().checkpoints
  }

  get integrity(): IntegrityService {
    return this.#require().integrity
  }

  get ingest(): IngestQueue {
    return this.#require().ingest
  }

  get query(): QueryService {
    return this.#require().query
  }

  get httpUrl(): string {
    return this.#require().http.url
  }

  status(): NodeStatus {
    const { identity, store, net } = this.#require()
    const sizes = store.sizes()
    const peers = net.peers().filter((p) => p.name !== undefined)
    return {
      node: identity.config.name,
      networkId: net.networkId,
      peers: peers.map((p) => ({ name: p.name, peerId: p.peerId, connected: true })),
      feeds: [...sizes].map(([origin, size]) => ({
        origin,
        size,
        headSize: store.latestHead(origin)?.treeSize ?? 0,
      })),
      uptimeSeconds: Math.round((Date.now() - this.#startedAt) / 1000),
    }
  }

  #require(): Parts {
    if (!this.#parts) throw new EhrlogError('UNAVAILABLE', 'the node is not started')
    return this.#parts
  }
}

async function readNetworkFile(dir: string): Promise<string> {
  try {
    return await readFile(join(dir, NETWORK_FILE), 'utf8')
  } catch (cause) {
    throw new EhrlogError(
      'CONFIG_INVALID',
      `${join(dir, NETWORK_FILE)} is missing: a node needs the network's membership file (see \`ehrlog network init\`)`,
      {
        cause,
        details: { field: NETWORK_FILE },
      },
    )
  }
}

/** The runtime file of a running node, if one is running in `dir`. */
export async function readRuntimeInfo(dir: string): Promise<RuntimeInfo | undefined> {
  try {
    const info = JSON.parse(await readFile(join(dir, RUNTIME_FILE), 'utf8')) as RuntimeInfo
    process.kill(info.pid, 0) // throws when no such process: a stale file from a crash
    return info
  } catch {
    return undefined
  }
}

function fromCheckpointIncident(node: string, incident: CheckpointIncident): Incident {
  return {
    kind: incident.kind,
    key: incident.key,
    reportingNode: node,
    origin: incident.origin,
    entryIds: [],
    detectedAt: new Date().toISOString(),
    summary: incident.summary,
    evidence: incident.evidence,
  }
}

/**
 * Folds every user record of every feed into a directory, found through the store's U
 * postings (no pass over all entries). A damaged record must not keep the node from
 * starting: it is skipped and logged here, and the integrity service names and repairs it.
 */
async function loadUserDirectory(store: LogStore, logger: Logger): Promise<UserDirectory> {
  const directory = new UserDirectory()
  for (const ref of await store.userRecordRefs()) {
    let entry: Entry | undefined
    try {
      entry = (await store.getEntry(ref.origin, ref.seq))?.entry
    } catch (err) {
      logger.error({ ...ref, err: (err as Error).message }, 'unreadable user record skipped')
    }
    if (entry?.kind === 'user') directory.apply(ref.origin, entry.body)
  }
  return directory
}
