import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Logger } from 'pino'
import { EhrlogError, isEhrlogError } from '../core/errors.ts'
import type { Membership } from '../core/trust/index.ts'
import type { NetHost } from './host.ts'
import type { MemberDialer } from './member-dialer.ts'
import {
  MembershipServer,
  requestMembershipChanges,
  verifyMembershipAnswer,
} from './membership-sync.ts'
import type { MembershipSource, NetMembers } from './net-members.ts'

export interface MembershipFollowerOptions {
  host: NetHost
  members: NetMembers
  source: MembershipSource
  self: string
  /** This node's PeerId (its libp2p key). */
  peerId: string
  dialer: MemberDialer
  /** Pulls from every connected member now (sync.ts syncAll). */
  syncAll: (reason: string) => void
  log: Logger
  timeoutMs: number
  /** Multiaddrs with /p2p/ a joining node asks besides the members it knows. */
  join: readonly string[]
  /** While not a member: how often connected peers are asked again (default 3000). */
  joinIntervalMs?: number
  /**
   * A version in force lists another PeerId for this node (its libp2p key rotated): true when
   * the node switches to it without a restart (NetService.rekey), false when it cannot.
   */
  onOwnPeerIdRotated?: (peerId: string) => boolean
}

/** How often a joining node repeats that it waits to be admitted. */
const WAITING_LOG_EVERY_MS = 60_000

/**
 * The network following the membership (docs/architecture.md, "A network that can change"):
 * serves /ehrlog/membership/1.0.0 from the node's history; on each new link with a member
 * asks for the changes after its newest version (a node that was down catches up that way),
 * verifies them from its own history and applies them (LiveMembership.catchUp); and after
 * each applied change closes the links of removed members and old PeerIds, rebuilds those of
 * added members (a link opened while they were clients carries no gossip subscriptions), and
 * has the dialer follow. A node not yet a member (joining) asks the peers it reaches until a
 * version lists it, and says in its log that it waits to be admitted.
 */
export class MembershipFollower {
  private readonly server: MembershipServer
  private readonly controller = new AbortController()
  /** One catch-up at a time: answers from two peers would race for the same versions. */
  private queue: Promise<unknown> = Promise.resolve()
  private timer: NodeJS.Timeout | undefined
  private unsubscribe: () => void = () => {}
  private waitingLoggedAt = 0
  private readonly joinPeers: Map<string, string>
  private readonly onConnect = (evt: CustomEvent<{ toString(): string }>) => {
    const peer = evt.detail.toString()
    if (this.members.isMember(peer) || this.joinPeers.has(peer)) void this.ask(peer, 'connect')
  }

  constructor(private readonly opts: MembershipFollowerOptions) {
    this.server = new MembershipServer({
      host: opts.host,
      history: () => opts.source.history,
      log: opts.log,
      timeoutMs: opts.timeoutMs,
      maxSessions: 8,
    })
    this.joinPeers = joinPeersOf(opts.join)
  }

  private get members(): NetMembers {
    return this.opts.members
  }

  /** Whether `peer` is one of the `--join` peers (the gater lets a joining node dial them). */
  isJoinPeer(peer: string): boolean {
    return this.joinPeers.has(peer)
  }

  /** Whether this node is a member of the version it holds. */
  get admitted(): boolean {
    return this.members.byName(this.opts.self)?.peerId === this.opts.peerId
  }

  async start(): Promise<void> {
    await this.server.start()
    this.unsubscribe = this.members.onChange((now, before) => {
      this.changed(now, before).catch((err: unknown) => {
        if (!this.controller.signal.aborted)
          this.opts.log.warn(
            { err: (err as Error).message },
            'could not follow a membership change',
          )
      })
    })
    this.opts.host.addEventListener('peer:connect', this.onConnect)
    if (!this.admitted) {
      this.logWaiting()
      this.joinRound()
    }
  }

  async stop(): Promise<void> {
    this.controller.abort()
    clearTimeout(this.timer)
    this.unsubscribe()
    this.opts.host.removeEventListener('peer:connect', this.onConnect)
    await this.queue.catch(() => {})
    await this.server.stop()
  }

  /**
   * Asks every connected member (and, while joining, every `--join` peer) for changes newer
   * than this node's, one after the other; resolves with how many were applied.
   */
  async catchUpNow(reason = 'manual'): Promise<number> {
    let applied = 0
    for (const peer of this.askable()) applied += await this.ask(peer, reason)
    return applied
  }

  private askable(): string[] {
    return this.opts.host
      .getPeers()
      .map(String)
      .filter((p) => this.members.isMember(p) || this.joinPeers.has(p))
  }

  /** Asks `peer` for the changes after this node's newest version, page by page. */
  private ask(peer: string, reason: string): Promise<number> {
    const run = this.queue.then(() => this.askNow(peer, reason))
    this.queue = run.catch(() => {})
    return run
  }

  private async askNow(peer: string, reason: string): Promise<number> {
    const { source, log } = this.opts
    const peerName = this.members.byPeerId(peer)?.name
    let applied = 0
    try {
      for (;;) {
        if (this.controller.signal.aborted) return applied
        const history = source.history
        const answer = await requestMembershipChanges(
          this.opts.host,
          peer,
          { networkId: history.networkId, after: history.latest },
          this.opts.timeoutMs,
          this.controller.signal,
        )
        if (answer.changes.length === 0) return applied
        const verified = verifyMembershipAnswer(history, answer, peer)
        const n = await source.catchUp(verified)
        applied += n
        log.info(
          {
            peer,
            peerName,
            reason,
            applied: n,
            version: source.current.version,
            theirs: answer.latest,
          },
          'membership changes caught up from a peer',
        )
        if (n === 0 || source.history.latest >= answer.latest) return applied
      }
    } catch (err) {
      if (this.controller.signal.aborted) return applied
      const code = isEhrlogError(err) ? err.code : undefined
      const level = code === 'UNAVAILABLE' || code === 'RATE_LIMITED' ? 'debug' : 'warn'
      log[level](
        { peer, peerName, reason, code, err: (err as Error).message },
        'membership answer refused: nothing applied from it',
      )
      return applied
    }
  }

  /** After an applied change: links, dialing and (once admitted) sync follow it. */
  private async changed(now: Membership, before: Membership): Promise<void> {
    const { host, log, self } = this.opts
    const wasAdmitted = before.byName(self)?.peerId === this.opts.peerId
    const gone = before.members.filter((m) => !now.byPeerId(m.peerId))
    const added = now.members.filter((m) => !before.byPeerId(m.peerId) && m.name !== self)
    log.info(
      {
        version: now.version,
        added: added.map((m) => m.name),
        dropped: gone.map((m) => m.name),
      },
      'membership changed: the network follows',
    )
    for (const m of [...gone, ...added]) {
      if (m.peerId === this.opts.peerId) continue
      // A removed member (or an old PeerId) is refused from now on; an added one's link is
      // rebuilt as a member's (its gossip subscriptions were ignored while it was a client).
      await host.hangUp(peerIdFromString(m.peerId)).catch(() => {})
    }
    await this.opts.dialer.follow()
    if (!wasAdmitted && this.admitted) {
      clearTimeout(this.timer)
      log.info(
        { version: now.version, peerId: this.opts.peerId },
        `admitted: ${self} is a member from membership version ${now.version}; syncing every feed`,
      )
      this.opts.syncAll('admitted')
    } else if (
      wasAdmitted &&
      !this.admitted &&
      now.byName(self) &&
      this.opts.onOwnPeerIdRotated?.(now.byName(self)!.peerId)
    ) {
      log.info(
        { version: now.version, peerId: now.byName(self)!.peerId },
        `membership version ${now.version} lists ${self}'s rotated libp2p key: the network restarts with it`,
      )
    } else if (wasAdmitted && !this.admitted) {
      log.error(
        { version: now.version },
        now.byName(self)
          ? `membership version ${now.version} lists another libp2p key for ${self}: install the rotated key and restart`
          : `${self} was removed from the network at membership version ${now.version}: it no longer replicates nor cosigns`,
      )
    }
  }

  /** While joining: dial the `--join` peers, ask everyone reachable, and say so now and then. */
  private joinRound(): void {
    if (this.controller.signal.aborted || this.admitted) return
    for (const [peer, address] of this.joinPeers) {
      if (this.opts.host.getConnections(peerIdFromString(peer)).length > 0) continue
      void this.opts.host
        .dial(multiaddr(address), { signal: AbortSignal.timeout(this.opts.timeoutMs) })
        .catch((err: unknown) =>
          this.opts.log.debug({ address, err: (err as Error).message }, 'join peer not reached'),
        )
    }
    void this.catchUpNow('joining').finally(() => this.logWaiting())
    this.timer = setTimeout(() => this.joinRound(), this.opts.joinIntervalMs ?? 3000)
  }

  private logWaiting(): void {
    if (this.admitted || Date.now() - this.waitingLoggedAt < WAITING_LOG_EVERY_MS) return
    this.waitingLoggedAt = Date.now()
    this.opts.log.warn(
      {
        version: this.opts.source.current.version,
        peerId: this.opts.peerId,
        join: [...this.joinPeers.values()],
      },
      `waiting to be admitted: ${this.opts.self} is not a member of membership version ${this.opts.source.current.version}; it neither appends nor cosigns until the members add it (ehrlog network propose add)`,
    )
  }
}

/** PeerId → address of each `join` multiaddr; CONFIG_INVALID for one without /p2p/<PeerId>. */
export function joinPeersOf(addresses: readonly string[]): Map<string, string> {
  return new Map(
    addresses.map((address) => {
      let peer: string | undefined
      try {
        peer = multiaddr(address)
          .getComponents()
          .find((c) => c.name === 'p2p')?.value
      } catch {
        peer = undefined
      }
      if (!peer)
        throw new EhrlogError(
          'CONFIG_INVALID',
          `join address ${address} is not a multiaddr ending in /p2p/<PeerId>`,
          { details: { field: 'join' } },
        )
      return [peer, address]
    }),
  )
}
