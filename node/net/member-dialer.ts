import type { PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Logger } from 'pino'
import type { Member } from '../core/trust/index.ts'
import type { NetHost } from './host.ts'
import type { NetMembers } from './net-members.ts'

export interface RedialOptions {
  /** First retry delay after a failed dial or a lost link. */
  minBackoffMs: number
  /** Backoff doubles per failure up to this. */
  maxBackoffMs: number
  /** How often the loop looks for members it is not connected to. */
  checkIntervalMs: number
  /** With no member connected this long, the node says so at error level (once per outage). */
  isolatedErrorMs: number
}

export const DEFAULT_REDIAL: RedialOptions = {
  minBackoffMs: 500,
  maxBackoffMs: 30_000,
  checkIntervalMs: 1000,
  isolatedErrorMs: 30_000,
}

/** What `ehrlog status` shows of one other member (node/api/status.ts). */
export interface MemberLink {
  name: string
  peerId: string
  connected: boolean
  /** The address of the open connection, else the one dialed last. */
  address?: string
  /** The last failed dial's error, cleared when a connection opens. */
  lastError?: string
  /** ISO 8601: when the member was last connected (now, while it is). */
  lastConnectedAt?: string
  /** Failed dials since the last connection. */
  failures: number
}

interface DialState {
  member: Member
  backoffMs: number
  nextAttempt: number
  dialing: boolean
  failures: number
  address?: string
  lastError?: string
  lastConnectedAt?: number
}

/**
 * Keeps this node connected to every other member of the version in force: dials each address
 * the membership lists for it at start (and after a change, follow()) and redials any it lost, with jittered exponential backoff. libp2p 3 does not
 * redial on its own once the connection monitor or the remote dropped a link (docs/performance.md).
 * It remembers, per member, the address tried, the last error and when it was last connected,
 * and logs at error level when no member has been reachable for `isolatedErrorMs`.
 */
export class MemberDialer {
  private readonly state = new Map<string, DialState>()
  private timer: NodeJS.Timeout | undefined
  private readonly controller = new AbortController()
  /** Since when no member has been connected; undefined while one is. */
  private isolatedSince: number | undefined
  private isolationLogged = false
  private readonly onConnect = (evt: CustomEvent<PeerId>) => {
    const s = this.state.get(evt.detail.toString())
    if (s) s.lastConnectedAt = Date.now()
  }
  private readonly onDisconnect = (evt: CustomEvent<PeerId>) => {
    const s = this.state.get(evt.detail.toString())
    if (!s) return
    s.lastConnectedAt = Date.now()
    s.backoffMs = this.opts.minBackoffMs
    s.nextAttempt = Date.now() + this.opts.minBackoffMs
  }

  constructor(
    private readonly host: NetHost,
    private readonly membership: NetMembers,
    private readonly self: string,
    private readonly log: Logger,
    private readonly opts: RedialOptions = DEFAULT_REDIAL,
  ) {}

  async start(): Promise<void> {
    await this.follow()
    this.isolatedSince = Date.now()
    this.host.addEventListener('peer:connect', this.onConnect)
    this.host.addEventListener('peer:disconnect', this.onDisconnect)
    this.tick()
  }

  /**
   * Follows the membership version in force: an added member (or a rotated libp2p key's new
   * PeerId) is dialed at the next tick, a removed one (or the old PeerId) is no longer, and a
   * member whose addresses changed is dialed at its new ones at once. Run after each change.
   */
  async follow(): Promise<void> {
    const wanted = new Map<string, Member>()
    for (const m of this.membership.members) if (m.name !== this.self) wanted.set(m.peerId, m)
    for (const peer of [...this.state.keys()]) if (!wanted.has(peer)) this.state.delete(peer)
    for (const [peer, m] of wanted) {
      const known = this.state.get(peer)
      if (known && sameAddresses(known.member, m)) {
        known.member = m
        continue
      }
      if (m.addresses.length > 0) {
        const multiaddrs = m.addresses.map((a) => multiaddr(a))
        await this.host.peerStore.merge(peerIdFromString(m.peerId), { multiaddrs })
      }
      this.state.set(peer, {
        member: m,
        backoffMs: this.opts.minBackoffMs,
        nextAttempt: 0,
        dialing: false,
        failures: 0,
        ...(m.addresses.length === 0 ? { lastError: 'network.json lists no address' } : {}),
      })
    }
  }

  stop(): void {
    this.controller.abort()
    clearTimeout(this.timer)
    this.timer = undefined
    this.host.removeEventListener('peer:connect', this.onConnect)
    this.host.removeEventListener('peer:disconnect', this.onDisconnect)
  }

  /** Every other member: connected or not, the address tried, the last error. */
  links(): MemberLink[] {
    return [...this.state.entries()].map(([peer, s]) => {
      const open = this.openConnection(peer)
      const lastConnectedAt = open ? Date.now() : s.lastConnectedAt
      const address = open?.remoteAddr.toString() ?? s.address
      return {
        name: s.member.name,
        peerId: peer,
        connected: open !== undefined,
        failures: s.failures,
        ...(address !== undefined ? { address } : {}),
        ...(!open && s.lastError !== undefined ? { lastError: s.lastError } : {}),
        ...(lastConnectedAt !== undefined
          ? { lastConnectedAt: new Date(lastConnectedAt).toISOString() }
          : {}),
      }
    })
  }

  private openConnection(peer: string) {
    return this.host.getConnections(peerIdFromString(peer)).find((c) => c.status === 'open')
  }

  private tick(): void {
    if (this.controller.signal.aborted) return
    const now = Date.now()
    let anyConnected = false
    for (const [peer, s] of this.state) {
      if (this.openConnection(peer)) {
        anyConnected = true
        s.lastConnectedAt = now
        continue
      }
      if (s.dialing || now < s.nextAttempt || s.member.addresses.length === 0) continue
      void this.dial(peer, s)
    }
    this.checkIsolation(anyConnected, now)
    this.timer = setTimeout(() => this.tick(), this.opts.checkIntervalMs)
  }

  // A node that reaches no member cannot cosign checkpoints nor replicate; before this log
  // line the only clue was a stalled checkpoint quorum.
  private checkIsolation(anyConnected: boolean, now: number): void {
    if (this.state.size === 0) return // a network of one
    if (anyConnected) {
      if (this.isolationLogged) this.log.info('a member is reachable again')
      this.isolatedSince = undefined
      this.isolationLogged = false
      return
    }
    this.isolatedSince ??= now
    if (this.isolationLogged || now - this.isolatedSince < this.opts.isolatedErrorMs) return
    this.isolationLogged = true
    this.log.error(
      {
        members: this.links().map(({ name, address, lastError }) => ({
          name,
          address,
          lastError,
        })),
        sinceMs: now - this.isolatedSince,
      },
      `no member reachable for ${Math.round((now - this.isolatedSince) / 1000)} s: check each member's addresses in network.json, the firewall, and \`ehrlog status\``,
    )
  }

  /** Tries the member's addresses in network.json's order until one connects. */
  private async dial(peer: string, s: DialState): Promise<void> {
    s.dialing = true
    const name = s.member.name
    try {
      let connected = false
      for (const address of s.member.addresses) {
        s.address = address
        try {
          const signal = AbortSignal.any([this.controller.signal, AbortSignal.timeout(10_000)])
          await this.host.dial(multiaddr(`${address}/p2p/${peer}`), { signal })
          connected = true
          break
        } catch (err) {
          if (this.controller.signal.aborted) return
          s.lastError = describeDialError(err)
        }
      }
      if (connected) {
        if (s.failures > 0)
          this.log.info({ peer, peerName: name, failures: s.failures }, 'member reconnected')
        s.failures = 0
        s.lastError = undefined
        s.lastConnectedAt = Date.now()
        s.backoffMs = this.opts.minBackoffMs
        return
      }
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
          address: s.address,
          failures: s.failures,
          retryInMs: Math.round(s.nextAttempt - Date.now()),
          err: s.lastError,
        },
        'dial to member failed',
      )
    } finally {
      s.dialing = false
    }
  }
}

function sameAddresses(a: Member, b: Member): boolean {
  return (
    a.addresses.length === b.addresses.length && a.addresses.every((x, i) => x === b.addresses[i])
  )
}

/** libp2p wraps the socket's error (ECONNREFUSED …) in an AggregateError or a cause. */
function describeDialError(err: unknown): string {
  const e = err as Error & { errors?: unknown[]; cause?: unknown }
  const inner = e.errors?.[0] ?? e.cause
  const innerText = inner instanceof Error ? inner.message : undefined
  return innerText && !e.message.includes(innerText) ? `${e.message}: ${innerText}` : e.message
}
