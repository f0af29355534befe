import type { PeerId } from '@libp2p/interface'
import type { Member, Membership, MembershipHistory } from '../core/trust/index.ts'

/**
 * What the network layer asks of the membership: the members of the version in force. A
 * fixed `Membership` is one; `NetMembers` is one that follows a live membership as it changes.
 */
export interface MemberView {
  readonly networkId: string
  readonly members: readonly Member[]
  byName(name: string): Member | undefined
  byPeerId(peerId: PeerId | string): Member | undefined
  isMember(peerId: PeerId | string): boolean
}

/** Told after each applied change, with the versions before and after it. */
export type MembersListener = (now: Membership, before: Membership) => void

/**
 * A membership that changes (node/membership/live-membership.ts LiveMembership is one): the
 * version in force, its verified history, a hook after each applied change, and the catch-up
 * with changes fetched from a peer.
 */
export interface MembershipSource {
  readonly current: Membership
  readonly history: MembershipHistory
  onChange(listener: MembersListener): () => void
  catchUp(changes: readonly unknown[]): Promise<number>
}

/**
 * The network layer's view of the membership: always the version in force (the connection
 * gater, gossip scoring, control topics, responders and sync ask it at each decision, so a
 * change is followed without rebuilding them), plus what a change leaves behind: the feeds of
 * removed members stay origins (kept, frozen by the store), and the PeerIds of removed members
 * and rotated-out libp2p keys are refused outright, not admitted as clients.
 */
export class NetMembers implements MemberView {
  readonly #source: MembershipSource | undefined
  readonly #fixed: Membership | undefined
  #everOf:
    | { history: MembershipHistory | undefined; names: Set<string>; peerIds: Set<string> }
    | undefined

  private constructor(source: Membership | MembershipSource) {
    if (isSource(source)) this.#source = source
    else this.#fixed = source
  }

  static of(membership: Membership | MembershipSource | NetMembers): NetMembers {
    return membership instanceof NetMembers ? membership : new NetMembers(membership)
  }

  /** The live source, or undefined for a fixed membership (nothing to sync or follow). */
  get source(): MembershipSource | undefined {
    return this.#source
  }

  get current(): Membership {
    return this.#source ? this.#source.current : (this.#fixed as Membership)
  }

  get networkId(): string {
    return this.current.networkId
  }

  get members(): readonly Member[] {
    return this.current.members
  }

  /** The newest version this node holds (0 for a fixed genesis). */
  get version(): number {
    return this.current.version
  }

  byName(name: string): Member | undefined {
    return this.current.byName(name)
  }

  byPeerId(peerId: PeerId | string): Member | undefined {
    return this.current.byPeerId(peerId)
  }

  isMember(peerId: PeerId | string): boolean {
    return this.current.isMember(peerId)
  }

  /**
   * A feed this network replicates: a member's now, or one of an earlier version (a removed
   * member's feed is kept, frozen at its last cosigned size by the store).
   */
  isOrigin(name: string): boolean {
    return this.current.byName(name) !== undefined || this.#ever().names.has(name)
  }

  /**
   * A PeerId an earlier version listed that the current one does not: a removed member's, or
   * a libp2p key rotated out. The gater admits a removed member's not at all, not even as a
   * client; a rotated-out one only as a client (isRotatedOutPeer).
   */
  isFormerPeer(peerId: PeerId | string): boolean {
    const id = typeof peerId === 'string' ? peerId : peerId.toString()
    return !this.current.byPeerId(id) && this.#ever().peerIds.has(id)
  }

  /**
   * A former PeerId (isFormerPeer) of a member the current version still lists under another
   * one: its libp2p key was rotated. Its node, if it missed the cut (the members refused its
   * old PeerId from theirs), learns the change as a client (/ehrlog/membership/1.0.0) and then
   * switches to the new key (NetService.rekey).
   */
  isRotatedOutPeer(peerId: PeerId | string): boolean {
    const id = typeof peerId === 'string' ? peerId : peerId.toString()
    if (!this.isFormerPeer(id)) return false
    const history = this.#source?.history
    for (const v of history?.versions ?? []) {
      const name = v.members.find((m) => m.peerId === id)?.name
      if (name !== undefined) return this.current.byName(name) !== undefined
    }
    return false
  }

  /** Calls `listener` after each applied change (never, for a fixed membership). */
  onChange(listener: MembersListener): () => void {
    return this.#source ? this.#source.onChange(listener) : () => {}
  }

  /** Names and PeerIds of every version, recomputed when the history grows. */
  #ever(): { names: Set<string>; peerIds: Set<string> } {
    const history = this.#source?.history
    if (this.#everOf === undefined || this.#everOf.history !== history) {
      const names = new Set<string>()
      const peerIds = new Set<string>()
      for (const v of history?.versions ?? [])
        for (const m of v.members) {
          names.add(m.name)
          peerIds.add(m.peerId)
        }
      this.#everOf = { history, names, peerIds }
    }
    return this.#everOf
  }
}

function isSource(value: Membership | MembershipSource): value is MembershipSource {
  return 'onChange' in value && typeof (value as MembershipSource).onChange === 'function'
}
