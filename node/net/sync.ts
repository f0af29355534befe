import type { PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Logger } from 'pino'
import { fromHex } from '../core/hex.ts'
import type { Acceptor } from './acceptor.ts'
import type { NetHost } from './host.ts'
import type { NetMembers } from './net-members.ts'
import type { ReplicaStore } from './replica-store.ts'
import { pullFrom } from './sync-client.ts'
import { SyncServer } from './sync-server.ts'

export interface SyncOptions {
  host: NetHost
  membership: NetMembers
  store: ReplicaStore
  acceptor: Acceptor
  log: Logger
  /** Mean anti-entropy period; each round is jittered to 50–150% of it. */
  intervalMs: number
  /** Longest wait for one frame, dial or write. */
  timeoutMs: number
  /** Told of each member's state vector, whichever side opened the session. */
  onPeerSizes?: PeerSizesListener
  /** False while this node may not pull (a joining node not yet admitted); default true. */
  enabled?: () => boolean
}

/**
 * A member's sizes of every feed, from its STATE frame: `peer` is its PeerId, authenticated by
 * the connection (only members get this far). The own-feed fence counts these as claims.
 */
export type PeerSizesListener = (peer: string, sizes: ReadonlyMap<string, number>) => void

// After this many consecutive failed sessions with a connected member, its link is closed
// so that MemberDialer builds a fresh one: our liveness check in place of the connection
// monitor's ping abort (docs/performance.md).
const FAILURES_BEFORE_HANGUP = 3
/** How long a periodic round leaves gossip to bring what a peer holds more of. */
const PERIODIC_GRACE_MS = 1000

/**
 * Anti-entropy: pulls from every connected member on connect, on a jittered timer, and
 * whenever gossip finds a gap. At most one session per peer runs at a time; a request that
 * arrives during one makes it run once more afterwards.
 */
export class Sync {
  private readonly server: SyncServer
  private readonly sessions = new Map<string, { again: boolean; done: Promise<void> }>()
  private readonly pulling = new Map<string, Promise<void>>()
  private readonly failures = new Map<string, number>()
  private readonly controller = new AbortController()
  private readonly networkId: Uint8Array
  private timer: NodeJS.Timeout | undefined
  /** The first session with a member since start: the catch-up after downtime. */
  private firstStarted = false
  private endFirst: () => void = () => {}
  private readonly firstEnded = new Promise<void>((resolve) => {
    this.endFirst = resolve
  })
  private readonly onConnect = (evt: CustomEvent<PeerId>) =>
    this.request(evt.detail.toString(), 'connect')

  constructor(private readonly opts: SyncOptions) {
    this.networkId = fromHex(opts.membership.networkId, 32) as Uint8Array
    this.server = new SyncServer({
      host: opts.host,
      membership: opts.membership,
      store: opts.store,
      log: opts.log,
      networkId: this.networkId,
      timeoutMs: opts.timeoutMs,
      maxSessions: 16,
      ...(opts.onPeerSizes ? { onPeerSizes: opts.onPeerSizes } : {}),
    })
  }

  async start(): Promise<void> {
    await this.server.start()
    this.opts.host.addEventListener('peer:connect', this.onConnect)
    this.schedule()
  }

  async stop(): Promise<void> {
    this.controller.abort()
    this.endFirst()
    clearTimeout(this.timer)
    this.opts.host.removeEventListener('peer:connect', this.onConnect)
    await Promise.allSettled([...this.sessions.values()].map((s) => s.done))
    await this.server.stop()
  }

  /** Pulls from `peer` soon; coalesces with a session already running. */
  request(peer: string, reason: string): void {
    if (this.controller.signal.aborted || !this.opts.membership.isMember(peer)) return
    if (this.opts.enabled && !this.opts.enabled()) return
    const running = this.sessions.get(peer)
    if (running) {
      running.again = true
      return
    }
    const session = { again: true, done: Promise.resolve() }
    session.done = (async () => {
      while (session.again && !this.controller.signal.aborted) {
        session.again = false
        if (await this.runOnce(peer, reason)) session.again = true
      }
    })().finally(() => this.sessions.delete(peer))
    this.sessions.set(peer, session)
    if (!this.firstStarted) {
      this.firstStarted = true
      void session.done.finally(this.endFirst)
    }
  }

  /**
   * Settles when the first session since start has ended (a restarted node has then caught
   * up from that peer), after at most `maxMs`; after `noPeerMs` if no member was connected
   * by then. Work that would compete with catching up for the CPU waits on this.
   */
  async firstSession(noPeerMs: number, maxMs: number): Promise<void> {
    const timers: NodeJS.Timeout[] = []
    const waited = (ms: number) =>
      new Promise<void>((resolve) => {
        timers.push(setTimeout(resolve, ms))
      })
    try {
      await Promise.race([this.firstEnded, waited(noPeerMs)])
      if (this.firstStarted) await Promise.race([this.firstEnded, waited(maxMs - noPeerMs)])
    } finally {
      for (const timer of timers) clearTimeout(timer)
    }
  }

  /** Pulls from every connected member now; resolves when those sessions end. */
  async syncAll(reason = 'manual'): Promise<void> {
    for (const peer of this.connectedMembers()) this.request(peer, reason)
    await Promise.allSettled([...this.sessions.values()].map((s) => s.done))
  }

  private connectedMembers(): string[] {
    return this.opts.host
      .getPeers()
      .map((p) => p.toString())
      .filter((p) => this.opts.membership.isMember(p))
  }

  private schedule(): void {
    const delay = this.opts.intervalMs * (0.5 + Math.random())
    this.timer = setTimeout(() => {
      for (const peer of this.connectedMembers()) this.request(peer, 'periodic')
      this.schedule()
    }, delay)
  }

  /**
   * One session with `peer`. Returns true when it left origins to a session with another
   * peer: once those end it must run again, since a session that failed (its peer left
   * midway) leaves them behind.
   */
  private async runOnce(peer: string, reason: string): Promise<boolean> {
    const { log, membership } = this.opts
    const peerName = membership.byPeerId(peer)?.name
    const started = performance.now()
    try {
      const { stored, deferred } = await pullFrom(
        {
          ...this.opts,
          networkId: this.networkId,
          pulling: this.pulling,
          // A gap or a new link wants its entries now; a periodic round lets gossip deliver
          // what is in flight first.
          graceMs: reason === 'periodic' ? PERIODIC_GRACE_MS : 0,
        },
        peer,
        this.controller.signal,
      )
      this.failures.delete(peer)
      const ms = Math.round(performance.now() - started)
      if (stored > 0)
        log.info({ peer, peerName, reason, entries: stored, ms }, 'sync pulled entries')
      else log.debug({ peer, peerName, reason, ms }, 'sync: nothing to pull')
      if (deferred.length === 0) return false
      await Promise.all(deferred)
      return true
    } catch (err) {
      if (this.controller.signal.aborted) return false
      const failures = (this.failures.get(peer) ?? 0) + 1
      this.failures.set(peer, failures)
      const level = failures === 1 ? 'info' : 'debug'
      log[level]({ peer, peerName, reason, failures, err: (err as Error).message }, 'sync failed')
      const timedOut =
        (err as Error).name === 'TimeoutError' || (err as Error).name === 'AbortError'
      if (failures >= FAILURES_BEFORE_HANGUP && timedOut) {
        log.warn({ peer, peerName, failures }, 'member unresponsive: closing its link to redial')
        this.failures.delete(peer)
        await this.opts.host.hangUp(peerIdFromString(peer)).catch(() => {})
      }
      return false
    }
  }
}
