import type { PrivateKey, Stream } from '@libp2p/interface'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import type { Logger } from 'pino'
import { EhrlogError } from '../core/errors.ts'
import { type AcceptedListener, Acceptor } from './acceptor.ts'
import { type ControlHandler, ControlTopic } from './control-topic.ts'
import { Gossip } from './gossip.ts'
import { createHost, type NetHost } from './host.ts'
import { DEFAULT_REDIAL, MemberDialer, type MemberLink } from './member-dialer.ts'
import { joinPeersOf, MembershipFollower } from './membership-follower.ts'
import { NetMembers } from './net-members.ts'
import type { NetServiceOptions, PeerInfo } from './net-service-options.ts'
import { type QueryHandler, QueryServer } from './query-protocol.ts'
import { type RepairResponse, requestRepair } from './repair-client.ts'
import type { RepairRequest } from './repair-frames.ts'
import { RepairServer } from './repair-server.ts'
import type { AcceptGate, FeedBatch, ReplicaStore } from './replica-store.ts'
import { Sync } from './sync.ts'

type State = 'new' | 'starting' | 'started' | 'stopping' | 'stopped'

/** A part's member-only request/response protocol (e.g. a MemberResponder), run with the host. */
export type MemberProtocol = { start(): Promise<void>; stop(): Promise<void> }
type MakeProtocol = (host: NetHost, members: NetMembers) => MemberProtocol

interface Parts {
  host: NetHost
  gossip: Gossip
  sync: Sync
  dialer: MemberDialer
  control: Map<string, ControlTopic>
  repair: RepairServer | undefined
  query: QueryServer | undefined
  follower: MembershipFollower | undefined
  served: MemberProtocol[]
}

/**
 * The network layer of one node: libp2p host, gossip of new batches, sync, and redialing of
 * members. The constructor does no I/O; start() brings the parts up in dependency order and
 * stop() (idempotent) takes them down in reverse.
 */
export class NetService {
  private state: State = 'new'
  private parts: Parts | undefined
  private starting: Promise<void> | undefined
  private stopping: Promise<void> | undefined
  private readonly acceptor: Acceptor
  private readonly log: Logger
  /** What the network serves: the options' handlers and those registered before start. */
  private readonly controlHandlers: Map<string, ControlHandler>
  private queryHandler: QueryHandler | undefined
  private readonly memberProtocols: MakeProtocol[] = []
  private acceptGate: AcceptGate | undefined
  /** The membership in force, asked at each decision (net-members.ts). */
  private readonly members: NetMembers
  private ownPeerId: string | undefined
  /** The libp2p key the host runs with: the options' until rekey() switches to the next one. */
  private key: PrivateKey

  constructor(private readonly opts: NetServiceOptions) {
    this.key = opts.privateKey
    this.members = NetMembers.of(opts.membership)
    // Only a live membership can admit this node later (a joining node).
    if (!this.members.byName(opts.self) && !this.members.source) {
      throw new EhrlogError(
        'CONFIG_INVALID',
        `node name ${opts.self} is not a member in network.json`,
        {
          details: { field: 'self' },
        },
      )
    }
    joinPeersOf(opts.join ?? []) // refused here, before any I/O
    this.log = opts.logger.child({ component: 'net', node: opts.self })
    this.controlHandlers = new Map(Object.entries(opts.controlTopics ?? {}))
    this.queryHandler = opts.query
    const { store } = opts
    const gated: ReplicaStore = {
      sizes: () => store.sizes(),
      readBatches: (origin, fromSeq, max) => store.readBatches(origin, fromSeq, max),
      acceptBatch: (batch, fromPeer) => {
        const accept = () => store.acceptBatch(batch, fromPeer)
        return this.acceptGate ? this.acceptGate(batch, accept) : accept()
      },
    }
    this.acceptor = new Acceptor(gated, this.members, this.log)
  }

  /**
   * Serves member-only control topic `name` with `handler`. Before start() only: the parts
   * that handle topics are built after the network they publish through, and the topics are
   * fixed when the host is made.
   */
  handleControl(name: string, handler: ControlHandler): void {
    this.assertNew(`control topic ${name}`)
    this.controlHandlers.set(name, handler)
  }

  /** Answers /ehrlog/query/1.0.0 with `handler`. Before start() only. */
  handleQuery(handler: QueryHandler): void {
    this.assertNew('the query protocol')
    this.queryHandler = handler
  }

  /**
   * Serves a part's member-only request/response protocol, made once the host exists, started
   * with the network and stopped before the host. Before start() only.
   */
  serveMembers(make: MakeProtocol): void {
    this.assertNew('a member protocol')
    this.memberProtocols.push(make)
  }

  /** A stream of `protocol` to member `name` (dialed if not connected); UNAVAILABLE if it cannot be. */
  async dialMember(name: string, protocol: string, signal: AbortSignal): Promise<Stream> {
    const member = this.members.byName(name)
    const host = this.parts?.host
    if (!member || !host)
      throw new EhrlogError('UNAVAILABLE', `cannot reach ${name}`, { details: { peer: name } })
    return host.dialProtocol(peerIdFromString(member.peerId), protocol, { signal })
  }

  /** Every batch from the network reaches the store through `gate` (one gate). Before start() only. */
  gateAccepts(gate: AcceptGate): void {
    this.assertNew('an accept gate')
    if (this.acceptGate) throw new EhrlogError('ARGUMENT_INVALID', 'accepts are gated already')
    this.acceptGate = gate
  }

  private assertNew(what: string): void {
    if (this.state !== 'new') {
      throw new EhrlogError('ARGUMENT_INVALID', `cannot add ${what}: network is ${this.state}`)
    }
  }

  get networkId(): string {
    return this.members.networkId
  }

  /** Whether the membership in force lists this node with its key (false while joining). */
  get admitted(): boolean {
    return this.members.byName(this.opts.self)?.peerId === this.peerId
  }

  private get peerId(): string {
    this.ownPeerId ??= peerIdFromPrivateKey(this.key).toString()
    return this.ownPeerId
  }

  async start(): Promise<void> {
    if (this.state !== 'new') {
      throw new EhrlogError('ARGUMENT_INVALID', `NetService cannot start when ${this.state}`)
    }
    this.state = 'starting'
    this.starting = this.startParts()
    await this.starting
  }

  private async startParts(): Promise<void> {
    const { self } = this.opts
    const privateKey = this.key
    const membership = this.members
    const expected = membership.byName(self)?.peerId
    const actual = peerIdFromPrivateKey(privateKey).toString()
    if (expected !== undefined && actual !== expected) {
      this.state = 'stopped'
      throw new EhrlogError(
        'CONFIG_INVALID',
        `node key has PeerId ${actual}, network.json lists ${expected} for ${self}`,
        {
          details: { field: 'peerId' },
        },
      )
    }
    let host: NetHost
    try {
      host = await createHost({
        membership,
        privateKey,
        listen: this.opts.listen,
        ...(this.opts.announce ? { announce: this.opts.announce } : {}),
        maxClientConnections: this.opts.maxClientConnections ?? 16,
        ...(this.opts.maxClientConnectionsPerAddress !== undefined
          ? { maxClientConnectionsPerAddress: this.opts.maxClientConnectionsPerAddress }
          : {}),
        ...(this.opts.clientIdleMs !== undefined ? { clientIdleMs: this.opts.clientIdleMs } : {}),
        controlTopics: [...this.controlHandlers.keys()],
        dialable: (peer) => this.parts?.follower?.isJoinPeer(peer.toString()) ?? false,
      })
    } catch (err) {
      this.state = 'stopped'
      throw err
    }
    const sync = new Sync({
      host,
      membership,
      store: this.opts.store,
      acceptor: this.acceptor,
      log: this.log.child({ part: 'sync' }),
      intervalMs: this.opts.syncIntervalMs ?? 5000,
      timeoutMs: this.opts.syncTimeoutMs ?? 15_000,
      ...(this.opts.onPeerSizes ? { onPeerSizes: this.opts.onPeerSizes } : {}),
      // A joining node pulls nothing before it is admitted: members refuse it until then.
      enabled: () => this.admitted,
    })
    const gossip = new Gossip({
      host,
      membership,
      store: this.opts.store,
      acceptor: this.acceptor,
      log: this.log.child({ part: 'gossip' }),
      requestSync: (peer, reason) => sync.request(peer, reason),
      maxQueuedBytes: this.opts.maxOutboxBytes,
    })
    const dialer = new MemberDialer(host, membership, self, this.log.child({ part: 'dialer' }), {
      ...DEFAULT_REDIAL,
      ...this.opts.redial,
    })
    const control = new Map<string, ControlTopic>()
    for (const [name, handler] of this.controlHandlers) {
      control.set(
        name,
        new ControlTopic(host, membership, name, handler, this.log.child({ part: name })),
      )
    }
    const repair = this.opts.repair
      ? new RepairServer({
          host,
          membership,
          source: this.opts.repair,
          log: this.log.child({ part: 'repair' }),
          networkId: this.networkIdBytes(),
          timeoutMs: this.opts.repairTimeoutMs ?? 10_000,
          maxSessions: 8,
        })
      : undefined
    const query = this.queryHandler
      ? new QueryServer({
          host,
          handler: this.queryHandler,
          networkId: membership.networkId,
          log: this.log.child({ part: 'query' }),
          timeoutMs: 30_000,
          maxSessions: 16,
        })
      : undefined
    const source = membership.source
    const follower = source
      ? new MembershipFollower({
          host,
          members: membership,
          source,
          self,
          peerId: actual,
          dialer,
          syncAll: (reason) => void sync.syncAll(reason),
          log: this.log.child({ part: 'membership' }),
          timeoutMs: this.opts.syncTimeoutMs ?? 15_000,
          join: this.opts.join ?? [],
          onOwnPeerIdRotated: (peerId) => this.rotatedTo(peerId),
        })
      : undefined
    const served = this.memberProtocols.map((make) => make(host, membership))
    this.parts = { host, gossip, sync, dialer, control, repair, query, follower, served }
    try {
      host.addEventListener('peer:connect', (evt) => {
        if (!membership.isMember(evt.detail)) {
          this.log.info(
            { peer: evt.detail.toString() },
            'client connected: not a member, gossip and sync refused',
          )
        }
      })
      gossip.start()
      for (const topic of control.values()) topic.start()
      await sync.start()
      await repair?.start()
      await query?.start()
      for (const protocol of served) await protocol.start()
      await follower?.start()
      await dialer.start()
    } catch (err) {
      await this.stopParts()
      throw err
    }
    this.state = 'started'
    this.log.info(
      {
        peerId: actual,
        addresses: this.addresses(),
        networkId: this.networkId,
        version: membership.version,
        admitted: this.admitted,
      },
      'network started',
    )
  }

  /**
   * A version in force lists `peerId` for this node, not its key's: with the next key of that
   * PeerId, the host restarts with it (after the follower that calls this has returned);
   * false without it (the admin installs the key and restarts the process).
   */
  private rotatedTo(peerId: string): boolean {
    const next = this.opts.nextPrivateKey
    if (!next) return false
    const has = (key: PrivateKey | undefined) =>
      key && peerIdFromPrivateKey(key).toString() === peerId
    if (typeof next !== 'function' && !has(next)) return false
    setImmediate(() => {
      // A function is asked now (a node reads keys-next.enc again): a miss is said, then.
      ;(typeof next === 'function' ? next(peerId) : Promise.resolve(next))
        .then((key) => {
          if (has(key)) return this.rekey(key!)
          this.log.error(
            { peerId },
            `the membership lists PeerId ${peerId} for ${this.opts.self}, whose key keys-next.enc does not hold: install the rotated key and restart`,
          )
        })
        .catch((err: unknown) =>
          this.log.error(
            { err: (err as Error).message, peerId },
            'could not restart the network with the rotated libp2p key: restart the node',
          ),
        )
    })
    return true
  }

  /**
   * Restarts the network parts on `key` (a rotated libp2p key): the host, gossip, sync,
   * dialing, the control topics and the protocols stop, then start again with the new PeerId
   * on the same addresses. The store, the handlers registered before start and everything
   * that publishes through this service stay; publishing fails (UNAVAILABLE, or no control
   * topic) for the moment the parts are down. The members, which applied the same change at
   * the same cut, refuse the old PeerId and dial the new one. A stop() meanwhile waits for it.
   */
  async rekey(key: PrivateKey): Promise<void> {
    if (this.state !== 'started' || this.stopping) return
    const from = this.peerId
    this.state = 'starting'
    const run = (async () => {
      await this.stopParts()
      this.key = key
      this.ownPeerId = undefined
      this.state = 'starting'
      await this.startParts()
    })()
    this.starting = run
    await run
    this.log.info(
      { from, peerId: this.peerId, admitted: this.admitted },
      'network restarted with the rotated libp2p key',
    )
    if ((this.state as State) === 'started') this.opts.onRekeyed?.(this.peerId)
  }

  /** Stops dialing, sync, gossip, then the host. Safe to call at any time, any number of times. */
  stop(): Promise<void> {
    // A stop during start waits for it, so no part is left running behind a 'stopped' state.
    this.stopping ??= (this.starting ?? Promise.resolve())
      .catch(() => {})
      .then(() => this.stopParts())
    return this.stopping
  }

  /** Gossips a batch this node has stored (its own, usually). Never blocks; see gossip-outbox.ts. */
  publish(batch: FeedBatch): void {
    if (this.state !== 'started' || !this.parts) {
      throw new EhrlogError('UNAVAILABLE', `network is ${this.state}, cannot publish`)
    }
    if (!this.admitted) {
      throw new EhrlogError(
        'UNAVAILABLE',
        `${this.opts.self} is not a member of membership version ${this.members.version}: waiting to be admitted`,
      )
    }
    this.parts.gossip.publish(batch)
  }

  /** Publishes on a control topic named in the options (no-op before start or after stop). */
  async publishControl(name: string, data: Uint8Array): Promise<void> {
    const topic = this.parts?.control.get(name)
    if (!topic) throw new EhrlogError('ARGUMENT_INVALID', `no control topic ${name}`)
    await topic.publish(data)
  }

  /**
   * Asks member `peerId` for entries with inclusion proofs (docs/protocol.md, "Repair"). The
   * answer is untrusted: verify it against a trusted root before writing any of it.
   */
  async requestRepair(
    peerId: string,
    request: RepairRequest,
    signal?: AbortSignal,
  ): Promise<RepairResponse> {
    if (!this.parts) throw new EhrlogError('UNAVAILABLE', `network is ${this.state}`)
    if (!this.members.isMember(peerId))
      throw new EhrlogError('FORBIDDEN', `peer ${peerId} is not a member`)
    return requestRepair(
      {
        host: this.parts.host,
        networkId: this.networkIdBytes(),
        timeoutMs: this.opts.repairTimeoutMs ?? 10_000,
      },
      peerId,
      request,
      signal,
    )
  }

  /** Connected peers, members and clients. */
  peers(): PeerInfo[] {
    if (!this.parts) return []
    const { host, gossip } = this.parts
    const subscribed = new Set(host.services.pubsub.getSubscribers(gossip.topic).map(String))
    return host.getPeers().map((p) => ({
      peerId: p.toString(),
      name: this.members.byPeerId(p)?.name,
      addresses: host.getConnections(p).map((c) => c.remoteAddr.toString()),
      gossip: subscribed.has(p.toString()),
    }))
  }

  /**
   * The membership version in force and whether it lists this node (`ehrlog status`): a
   * joining node says what it waits for.
   */
  membershipStatus(): { version: number; admitted: boolean; waitingFor?: string } {
    const version = this.members.version
    if (this.admitted) return { version, admitted: true }
    return {
      version,
      admitted: false,
      waitingFor: `to be admitted: membership version ${version} does not list ${this.opts.self} with this node's PeerId; the members add it with \`ehrlog network propose add\``,
    }
  }

  /** Every other member: connected or not, the address tried, the last error (`ehrlog status`). */
  memberLinks(): MemberLink[] {
    return this.parts?.dialer.links() ?? []
  }

  /** Addresses this node listens on (or announces), with /p2p/<peer id>. */
  addresses(): string[] {
    return this.parts?.host.getMultiaddrs().map((a) => a.toString()) ?? []
  }

  /** Called for every batch from the network that the store newly stored. Returns unsubscribe. */
  onAccepted(listener: AcceptedListener): () => void {
    return this.acceptor.onAccepted(listener)
  }

  /** Sync.firstSession: the catch-up after start has ended (at most `maxMs`). */
  async firstSync(noPeerMs: number, maxMs: number): Promise<void> {
    await this.parts?.sync.firstSession(noPeerMs, maxMs)
  }

  /**
   * Asks every connected member for membership changes newer than this node's and applies
   * those that verify (a checkpoint proposal named a version this node lacks). Resolves with
   * how many were applied; 0 with a fixed membership.
   */
  async catchUpMembership(): Promise<number> {
    return (await this.parts?.follower?.catchUpNow('on demand')) ?? 0
  }

  /** Runs one anti-entropy round with every connected member now (tests, and sync on demand). */
  async syncNow(): Promise<void> {
    await this.parts?.sync.syncAll('manual')
  }

  private networkIdBytes(): Uint8Array {
    return new Uint8Array(Buffer.from(this.members.networkId, 'hex'))
  }

  private async stopParts(): Promise<void> {
    const parts = this.parts
    this.parts = undefined
    this.state = 'stopping'
    if (parts) {
      parts.dialer.stop()
      await parts.follower?.stop()
      await parts.query?.stop()
      for (const protocol of parts.served) await protocol.stop()
      await parts.repair?.stop()
      await parts.sync.stop()
      await parts.gossip.stop()
      for (const topic of parts.control.values()) topic.stop()
      await parts.host.stop()
      await this.acceptor.idle()
    }
    this.state = 'stopped'
    this.log.info('network stopped')
  }
}

export type { NetServiceOptions, PeerInfo } from './net-service-options.ts'
