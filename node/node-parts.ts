import type { PrivateKey } from '@libp2p/interface'
import { AlertService, type Incident, incidentOfCheckpoint } from './alerts/index.ts'
import { HttpServer, type NodeStatus, tlsFilesOf } from './api/index.ts'
import { AtnaIngest } from './atna/index.ts'
import { AuthService, DirectoryFold } from './auth/index.ts'
import { CheckpointService } from './checkpoint/index.ts'
import { toHex } from './core/hex.ts'
import { ed25519RawPublicKey } from './core/tree-head.ts'
import { NodeMetrics, nodeHealthOf, type QuorumWatch } from './health/index.ts'
import type { NodeIdentity } from './identity/index.ts'
import { IndexPart } from './index/index-part.ts'
import type { IndexView } from './index/index-view.ts'
import { fencePart, IngestQueue, OwnFeed, OwnTipFence, PendingDrain } from './ingest/index.ts'
import { gateAccepts, IntegrityService, repairPeersOf, repairSourceOf } from './integrity/index.ts'
import { BackgroundTask, PartList, type Startable } from './lifecycle/index.ts'
import type { Logger } from './logger.ts'
import type { GovernanceService } from './membership/governance.ts'
import { governancePart } from './membership/governance-part.ts'
import type { LiveMembership } from './membership/live-membership.ts'
import { OwnRotation } from './membership/own-rotation.ts'
import { NetService } from './net/index.ts'
import type { NodeFolder } from './node-folder.ts'
import type { NodeOptions } from './node-options.ts'
import { storeOfNode } from './node-store.ts'
import { portalNetworkOf } from './portal/index.ts'
import { QueryService } from './query/index.ts'
import { type StatsService, statsPartOf } from './stats/index.ts'
import { CheckpointLog, type LogStore, PendingLog } from './store/index.ts'

export interface Parts {
  identity: NodeIdentity
  /** The membership as it changes (genesis, applied changes, the one pending for the cut). */
  membership: LiveMembership
  store: LogStore
  /** The per-patient index (node/index): checkpoints' index roots, completeness proofs. */
  index: IndexView
  alerts: AlertService
  auth: AuthService
  checkpoints: CheckpointService
  integrity: IntegrityService
  net: NetService
  ingest: IngestQueue
  fence: OwnTipFence
  pending: PendingDrain
  query: QueryService
  http: HttpServer
  quorumWatch: QuorumWatch
  /** Membership proposals and signatures (node/membership/governance.ts). */
  governance: GovernanceService
  /** ATNA syslog ingest, when config.json has `syslog` (TLS, UDP or both). */
  atna: AtnaIngest | undefined
  /** The private network statistics (node/stats). */
  stats: StatsService
}

const CHECKPOINT_TOPIC = 'checkpoints'
const EVIDENCE_TOPIC = 'evidence'
/**
 * The scrub at start waits for the first sync session, at most this long (a restarted node
 * catches up before it reads its whole replica: both at once compete for the same cores);
 * and this long for a first peer to connect. Feeds found damaged at open are scrubbed at once.
 */
const FIRST_SCRUB_MAX_WAIT_MS = 60_000
const FIRST_SCRUB_NO_PEER_MS = 2_000

/**
 * Builds a node's parts from its folder, without I/O: the network first, since most parts
 * publish through it, then each part with what it uses; the parts the network serves register
 * with it before it starts. Returns them with the one ordered list that starts them, rolls
 * back a failed start and stops them.
 */
export function buildParts(
  folder: NodeFolder,
  opts: NodeOptions,
  node: { status: () => NodeStatus; started: () => boolean },
): { parts: Parts; lifecycle: PartList } {
  const { identity, membership } = folder
  const { dir, logger } = opts
  const name = identity.config.name
  const metrics = new NodeMetrics()
  const store = storeOfNode(identity, folder.originKeys)
  // Nothing is signed onto the own feed before a quorum told this node its tip (own-tip-fence.ts).
  const fence = new OwnTipFence({
    self: name,
    members: membership.members.map((m) => m.name),
    localSize: () => store.size(name),
    ...(opts.overrideFence !== undefined ? { override: opts.overrideFence } : {}),
    logger: logger.child({ component: 'fence' }),
  })
  const net: NetService = new NetService({
    // The network follows the version in force (net-members.ts), a joining node included.
    membership: folder.live,
    self: name,
    privateKey: identity.libp2pPrivateKey,
    // A change rotating this node's libp2p key: the key of keys-next.enc, read when it applies.
    nextPrivateKey: (peerId: string): Promise<PrivateKey | undefined> =>
      ownRotation.libp2pKeyFor(peerId),
    onRekeyed: (peerId: string): void => ownRotation.rekeyed(peerId),
    listen: identity.config.listen,
    announce: identity.config.announce,
    ...(identity.config.join ? { join: identity.config.join } : {}),
    logger,
    store: {
      sizes: async () => store.sizes(),
      readBatches: (origin, fromSeq, max) => store.readBatches(origin, fromSeq, max),
      // A key rotation's marker among stored entries fixes the rotation's cut (origin-keys.ts).
      acceptBatch: async (batch) => {
        const result = await store.acceptBatch(batch)
        if (result.status === 'stored') folder.originKeys.noteEntries(batch.origin, batch.entries)
        return result
      },
      peerSizes: (sizes) => metrics.announced(sizes),
    },
    repair: repairSourceOf(store),
    onPeerSizes: (peer, sizes) =>
      fence.noteClaim(membership.byPeerId(peer)?.name, sizes.get(name) ?? 0),
    ...(opts.syncIntervalMs ? { syncIntervalMs: opts.syncIntervalMs } : {}),
  })
  const signer = { origin: name, privateKey: identity.signingKey }
  const ownFeed = new OwnFeed({ store, signer, gossip: net, logger, fence })
  // The own keys follow a change rotating them, with no restart (own-rotation.ts): the feed's
  // signer switches right after the rotation's marker, the checkpoints get the new BLS key.
  const ownRotation = new OwnRotation({
    self: name,
    dir,
    live: folder.live,
    originKeys: folder.originKeys,
    signer,
    identity,
    installedSigningKey: folder.installedSigningKey,
    next: folder.nextKeys,
    append: (items, marker) => ownFeed.append(items, [], undefined, [], marker),
    store,
    addBlsSecretKey: (secretKey) => checkpoints.addBlsSecretKey(secretKey),
    logger: logger.child({ component: 'membership' }),
  })
  // Events taken while fenced: durable in the store, appended once it opens (pending-drain.ts).
  const pending = new PendingDrain({
    opened: fence.opened,
    log: new PendingLog(store),
    feed: ownFeed,
    logger: logger.child({ component: 'pending' }),
  })
  const alerts = new AlertService({
    node: name,
    admins: identity.config.alerts.admins,
    ...(identity.config.alerts.smtp ? { smtp: identity.config.alerts.smtp } : {}),
    dir,
    logger: logger.child({ component: 'alerts' }),
    // Alerts are entries of the node's own feed: tamper-evident and replicated.
    record: async (body) => void (await ownFeed.append([{ kind: 'alert', body }])),
    // The first email of a fork names the seq where the histories part (integrity proves it).
    parting: (incident, signal) => integrity.partingOf(incident, signal),
    ...(opts.alertRetryMs ? { retryMs: opts.alertRetryMs } : {}),
  })
  // Each incident goes to the admins (email or outbox) and is recorded in the own feed.
  const report = (incident: Incident) => {
    opts.onIncident?.(incident)
    metrics.incident(incident.kind)
    alerts
      .report(incident)
      .catch((err: unknown) =>
        logger.error({ err: (err as Error).message }, 'could not report an incident'),
      )
  }
  const users = new DirectoryFold({ store, feed: ownFeed, accepted: net, logger })
  const auth = new AuthService({
    node: name,
    // Sessions are checked against the key the version in force lists for this node: after
    // its own Ed25519 rotation, the new key (even while its feed still waits for the cut).
    get signingKey() {
      const next = folder.next?.signingKey
      const listed = folder.live.current.byName(name)?.ed25519PublicKey
      return next && listed === toHex(ed25519RawPublicKey(next)) ? next : signer.privateKey
    },
    memberKey: (node) => {
      const hex = folder.live.current.byName(node)?.ed25519PublicKey
      return hex ? new Uint8Array(Buffer.from(hex, 'hex')) : undefined
    },
    directory: users.directory,
    secret: identity.storeKeys.indexKey,
    append: (records) => users.append(records),
  })
  const ingest = new IngestQueue({
    store,
    feed: ownFeed,
    gate: pending,
    pending,
    ...(opts.fenceWaitMs !== undefined ? { gateWaitMs: opts.fenceWaitMs } : {}),
    observeAppend: (events, ms) => metrics.appended(events, ms),
  })
  // The per-patient index (docs/architecture.md, "Complete answers"): its roots go into each
  // checkpoint; answers to patient-only queries carry its completeness proofs.
  const checkpointLog = new CheckpointLog(store)
  const indexPart = new IndexPart(
    store,
    folder.vrfSecretKey,
    async () => (await checkpointLog.latestRecord())?.cosigned.checkpoint,
    logger.child({ component: 'index' }),
  )
  const index = opts.indexView?.(store, folder.vrfSecretKey) ?? indexPart
  const checkpoints = new CheckpointService({
    self: name,
    // Rounds follow the membership: each under the version in force, a change applied at the cut.
    membership: folder.live,
    blsSecretKey: identity.blsSecretKey,
    // A rotated BLS key (keys-next.enc) signs under the versions that list it.
    ...(folder.next ? { moreBlsSecretKeys: [folder.next.blsSecretKey] } : {}),
    store,
    index,
    checkpoints: checkpointLog,
    publish: (data) => net.publishControl(CHECKPOINT_TOPIC, data),
    syncNow: () => net.syncNow(),
    onIncident: (incident) => report(incidentOfCheckpoint(name, incident)),
    onAdopted: (cosigned) => folder.originKeys.noteCheckpoint(cosigned),
    onRoundEnded: (outcome, ms) => metrics.roundEnded(outcome, ms),
    logger: logger.child({ component: 'checkpoint' }),
    ...(opts.checkpointIntervalMs !== undefined ? { intervalMs: opts.checkpointIntervalMs } : {}),
  })
  net.handleControl(CHECKPOINT_TOPIC, (data, from) => checkpoints.handle(data, from))
  // A member removed at this cut is frozen at its size in the last checkpoint it was cut in.
  folder.live.onChange((now) => folder.originKeys.noteApplied(now.version, checkpoints.latest()))
  // Every query is recorded in this node's own feed before it is answered.
  const query = new QueryService({
    node: name,
    store,
    checkpoints,
    auth,
    record: (event) => ingest.submit([event]),
    rateLimit: identity.config.query.rateLimit,
    observe: (outcome, ms) => metrics.queried(outcome, ms),
    index,
    logger: logger.child({ component: 'query' }),
  })
  net.handleQuery(({ token, ...request }) => query.answer(token, { ...request, via: 'libp2p' }))
  const integrity = new IntegrityService({
    self: name,
    store,
    membership: folder.live,
    latestCheckpoint: () => checkpoints.latest(),
    latestHeld: () => checkpoints.latestHeld(),
    peers: () => repairPeersOf(net),
    syncNow: () => net.syncNow(),
    beforeFirstScrub: () => net.firstSync(FIRST_SCRUB_NO_PEER_MS, FIRST_SCRUB_MAX_WAIT_MS),
    publishEvidence: (data) => net.publishControl(EVIDENCE_TOPIC, data),
    onIncident: (incident) => {
      opts.onIntegrityIncident?.(incident)
      report(incident)
    },
    // A rotated-out key signing new history is also an incident (`rotated-out-key`, above).
    onRetiredKey: (incident) => opts.onRetiredKey?.(incident),
    logger: logger.child({ component: 'integrity' }),
    onScrubbed: (ms) => metrics.scrubbed(ms),
    index,
    ...(opts.scrubIntervalMs !== undefined ? { scrubIntervalMs: opts.scrubIntervalMs } : {}),
    ...(opts.tailWaitMs !== undefined ? { tailWaitMs: opts.tailWaitMs } : {}),
  })
  gateAccepts(net, integrity, (peerId) => membership.byPeerId(peerId)?.name)
  net.handleControl(EVIDENCE_TOPIC, (data, from) => integrity.handleEvidence(data, from))
  // Membership changes: gossiped on the member-only topic, signed only when an admin asks.
  const governance = governancePart(folder, {
    dir,
    net,
    append: (body) => ownFeed.append([{ kind: 'membership', body }]),
    alerts,
    logger: logger.child({ component: 'membership' }),
  })
  const health = nodeHealthOf(metrics, {
    self: name,
    // The version in force: a removed member is no longer watched (nor alerted on as silent).
    members: () => folder.live.current.members.map((m) => m.name),
    quorum: () => folder.live.current.quorum,
    config: identity.config,
    // The own feed's tip is known once integrity's hold is lifted and the fence is open.
    store: {
      size: (origin) => store.size(origin),
      appendHoldOf: (origin) =>
        store.appendHoldOf(origin) ?? (fence.isOpen ? undefined : fence.why()),
    },
    peers: () => net.peers(),
    latestCheckpoint: () => checkpoints.latest(),
    alertQueueLength: () => alerts.pending(),
    started: node.started,
    checkpointIntervalMs: opts.checkpointIntervalMs ?? 10_000,
    report,
    logger: logger.child({ component: 'health' }),
  })
  const stats = statsPartOf({
    identity,
    membership,
    live: folder.live,
    store,
    ownFeed,
    net,
    checkpoints,
    report,
    opts,
  })
  const http = new HttpServer({
    host: identity.config.http.host,
    port: identity.config.http.port,
    apiToken: identity.config.apiToken,
    ingest,
    status: node.status,
    logger,
    checkpoints: { source: checkpoints, store },
    auth: { service: auth, node: name, portals: identity.config.portals },
    query,
    portal: { network: portalNetworkOf(membership.networkId, folder.networkText) },
    membership: { history: () => folder.live.history },
    health: health.http,
    tls: tlsFilesOf(identity.config.http.tls, dir),
    trustProxy: identity.config.http.trustProxy,
    routes: [stats.routes],
    governance,
  })
  const syslog = identity.config.syslog
  const atna =
    syslog &&
    new AtnaIngest({
      config: syslog,
      dir,
      submit: (events) => ingest.submit(events),
      observe: (sender, outcome, n) => metrics.syslogMessages(sender, outcome, n),
      logger: logger.child({ component: 'syslog' }),
    })
  // The first queries after a start then find the upper tree levels in memory (docs/query.md);
  // ~0.5 s of reads per million entries.
  const warmUp = new BackgroundTask(
    'tree cache warm-up',
    (signal) => store.warmTreeCache(signal),
    logger,
  )
  // Started in this order, stopped in reverse (a failed start too); adding a part is one line.
  const lifecycle = new PartList(
    [
      ['store', storePart(store, logger)],
      // Before anything appends: a rotation marker a crash left unwritten is signed first.
      [
        'own key rotation',
        { start: () => ownRotation.start(), stop: async () => ownRotation.stop() },
      ],
      // Built from the store before anything appends or asks for a root or a proof.
      ...(index === indexPart ? [['per-patient index', indexPart] as [string, Startable]] : []),
      ['pending events', pending],
      ['alerts', alerts],
      // Before the network: no batch is stored between loading the directory and following it.
      ['user directory', users],
      // Before the network: the integrity gate judges the first batches against the latest
      // cosigned checkpoint (a tail rolled back below it is named before sync refills it).
      ['checkpoints', checkpoints],
      // Before the network: its topic handler takes messages from the first connection.
      ['membership governance', governance],
      ['network', net],
      // Stopped before the network: appends in flight at stop are drained, then gossiped.
      ['ingest', { start: async () => {}, stop: () => ingest.drain() }],
      // After the network (the first scrub waits for its first sync); before HTTP: an own
      // feed shorter than the checkpoint is pulled back (tailWaitMs) before events are taken.
      ['integrity', integrity],
      // After integrity: with the override, a feed shorter than the cosigned checkpoint is
      // held by integrity's store hold before anything can be appended.
      [
        'own-feed fence',
        fencePart(fence, pending, name, () => store.size(name), opts.overrideFence),
      ],
      // Emails admins when members go silent or checkpoints stall (and when that ends).
      ['quorum watch', health.watch],
      ['statistics', stats.service],
      ['http', http],
      // Beside HTTP: another door for events, after integrity like it.
      ...(atna ? [['syslog', atna] as [string, Startable]] : []),
      // Last, so that it stops first: before the store closes.
      ['tree cache warm-up', warmUp],
    ],
    logger,
  )
  const parts = {
    identity,
    membership: folder.live,
    store,
    index,
    alerts,
    auth,
    checkpoints,
    integrity,
    net,
    ingest,
    query,
    http,
    quorumWatch: health.watch,
    fence,
    pending,
    governance,
    atna,
    stats: stats.service,
  }
  return { parts, lifecycle }
}

/** Opens the store (naming feeds found damaged at open) and closes it. */
function storePart(store: LogStore, logger: Logger): Startable {
  return {
    async start() {
      await store.open()
      for (const origin of store.origins()) {
        const damage = store.damageOf(origin)
        if (damage) logger.error({ origin, damage }, 'feed damaged at open: run `ehrlog verify`')
      }
    },
    stop: () => store.close(),
  }
}
