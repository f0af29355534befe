import type { Connection, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** How many client (non-member) connections a node holds, and for how long idle. */
export interface ClientLimits {
  /** Client connections at once (0: members only). */
  max: number
  /** Client connections at once from one IP address. */
  perAddress: number
  /** A client connection with no open stream for this long is closed. */
  idleMs: number
}

export const DEFAULT_CLIENT_LIMITS: Omit<ClientLimits, 'max'> = { perAddress: 4, idleMs: 10_000 }

/**
 * A client connection younger than this (or busy this recently) is never evicted to make room:
 * a CLI that just connected opens its query stream within milliseconds.
 */
const EVICTION_GRACE_MS = 1_000

/**
 * Keeps the client slots of the query protocol for clients that use them. Anyone may open a
 * libp2p connection and hold it without a word; sixteen of them used to shut every CLI out.
 * So: a client connection with no open stream for `idleMs` is closed; one IP address holds at
 * most `perAddress` of them; and when the slots are full a new client takes the slot of the
 * longest-idle one (idle for at least a second) instead of being refused.
 */
export class ClientConnections {
  readonly #busyAt = new WeakMap<Connection, number>()

  constructor(
    private readonly limits: ClientLimits,
    private readonly connections: () => Connection[],
    private readonly isMember: (peer: PeerId) => boolean,
    private readonly now: () => number = Date.now,
  ) {}

  /** Open connections of non-members. */
  clients(): Connection[] {
    return this.connections().filter((c) => c.status === 'open' && !this.isMember(c.remotePeer))
  }

  /**
   * The gater's question for an encrypted inbound connection: refuse it? Members never are.
   * A client is admitted when its address and the node have a free slot, or one can be freed
   * by closing an idle client connection.
   */
  denyInbound(peer: PeerId, remoteAddr: Multiaddr): boolean {
    if (this.isMember(peer) || this.limits.max <= 0) return !this.isMember(peer)
    const ip = hostOf(remoteAddr)
    const clients = this.clients()
    const fromIp = clients.filter((c) => hostOf(c.remoteAddr) === ip)
    if (fromIp.length >= this.limits.perAddress && !this.#evictIdle(fromIp)) return true
    if (clients.length >= this.limits.max && !this.#evictIdle(this.clients())) return true
    return false
  }

  /** Closes client connections idle for `idleMs`; returns how many. Run it periodically. */
  sweep(): number {
    let closed = 0
    for (const c of this.clients()) {
      if (this.#idleMs(c) < this.limits.idleMs) continue
      c.abort(new Error(`client connection idle for ${this.limits.idleMs} ms: closed`))
      closed++
    }
    return closed
  }

  #idleMs(c: Connection): number {
    const now = this.now()
    // Only the client's own open streams count: the node's pings and identify open streams
    // of their own on every connection, and a half-closed stream carries no more requests.
    if (c.streams.some((s) => s.direction === 'inbound' && s.status === 'open')) {
      this.#busyAt.set(c, now)
      return 0
    }
    return now - (this.#busyAt.get(c) ?? c.timeline.open)
  }

  #evictIdle(candidates: Connection[]): boolean {
    let victim: Connection | undefined
    let longest = EVICTION_GRACE_MS - 1
    for (const c of candidates) {
      const idle = this.#idleMs(c)
      if (idle > longest) {
        victim = c
        longest = idle
      }
    }
    victim?.abort(new Error('idle client connection closed to make room for another client'))
    return victim !== undefined
  }
}

/** The IP address of a multiaddr (`/ip4/1.2.3.4/tcp/…`), or the whole address if none. */
function hostOf(addr: Multiaddr): string {
  const ip = addr.getComponents().find((c) => c.name === 'ip4' || c.name === 'ip6')
  return ip?.value ?? addr.toString()
}
