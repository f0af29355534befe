import type { PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Logger } from 'pino'
import type { Member, Membership } from '../core/trust/index.ts'
import type { NetHost } from './host.ts'

export interface RedialOptions {
  /** First retry delay after a failed dial or a lost link. */
  minBackoffMs: number
  /** Backoff doubles per failure up to this. */
  maxBackoffMs: number
  /** How often the loop looks for members it is not connected to. */
  checkIntervalMs: number
}

export const DEFAULT_REDIAL: RedialOptions = {
  minBackoffMs: 500,
  maxBackoffMs: 30_000,
  checkIntervalMs: 1000,
}

interface DialState {
  backoffMs: number
  nextAttempt: number
  dialing: boolean
  failures: number
}

/**
 * Keeps this node connected to every other member with known addresses: dials them at start
 * and redials any it lost, with jittered exponential backoff. libp2p 3 does not redial on its
 * own once the connection monitor or the remote dropped a link (docs/performance.md).
 */
export class MemberDialer {
  private readonly state = new Map<string, DialState>()
  private timer: NodeJS.Timeout | undefined
  private readonly controller = new AbortController()
  private readonly onDisconnect = (evt: CustomEvent<PeerId>) => {
    const s = this.state.get(evt.detail.toString())
    if (!s) return
    s.backoffMs = this.opts.minBackoffMs
    s.nextAttempt = Date.now() + this.opts.minBackoffMs
  }

  constructor(
    private readonly host: NetHost,
    private readonly membership: Membership,
    private readonly self: string,
    private readonly log: Logger,
    private readonly opts: RedialOptions = DEFAULT_REDIAL,
  ) {}

  async start(): Promise<void> {
    for (const m of this.dialable()) {
      const multiaddrs = m.addresses.map((a) => multiaddr(a))
      await this.host.peerStore.merge(peerIdFromString(m.peerId), { multiaddrs })
      this.state.set(m.peerId, {
        backoffMs: this.opts.minBackoffMs,
        nextAttempt: 0,
        dialing: false,
        failures: 0,
      })
    }
    this.host.addEventListener('peer:disconnect', this.onDisconnect)
    this.tick()
  }

  stop(): void {
    this.controller.abort()
    clearTimeout(this.timer)
    this.timer = undefined
    this.host.removeEventListener('peer:disconnect', this.onDisconnect)
  }

  private dialable(): Member[] {
    return this.membership.members.filter((m) => m.name !== this.self && m.addresses.length > 0)
  }

  private tick(): void {
    if (this.controller.signal.aborted) return
    const now = Date.now()
    for (const [peer, s] of this.state) {
      if (s.dialing || now < s.nextAttempt) continue
      const peerId = peerIdFromString(peer)
      if (this.host.getConnections(peerId).some((c) => c.status === 'open')) continue
      void this.dial(peer, s)
    }
    this.timer = setTimeout(() => this.tick(), this.opts.checkIntervalMs)
  }

  private async dial(peer: string, s: DialState): Promise<void> {
    s.dialing = true
    const name = this.membership.byPeerId(peer)?.name
    try {
      const signal = AbortSignal.any([this.controller.signal, AbortSignal.timeout(10_000)])
      await this.host.dial(peerIdFromString(peer), { signal })
      if (s.failures > 0)
        this.log.info({ peer, peerName: name, failures: s.failures }, 'member reconnected')
      s.failures = 0
      s.backoffMs = this.opts.minBackoffMs
    } catch (err) {
      if (this.controller.signal.aborted) return
      s.failures++
      // Full jitter on top of the doubling: members that lost each other at once do not
      // all redial in lockstep.
      s.nextAttempt = Date.now() + s.backoffMs * (0.5 + Math.random() / 2)
      s.backoffMs = Math.min(this.opts.maxBackoffMs, s.backoffMs * 2)
      const level = s.failures === 1 || s.failures % 10 === 0 ? 'info' : 'debug'
      this.log[level](
        {
          peer,
          peerName: name,
          failures: s.failures,
          retryInMs: Math.round(s.nextAttempt - Date.now()),
          err: (err as Error).message,
        },
        'dial to member failed',
      )
    } finally {
      s.dialing = false
    }
  }
}
