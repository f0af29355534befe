import { EhrlogError } from '../errors.ts'
import { fromHex, toHex } from '../hex.ts'
import { Membership, type MembershipOptions } from './membership.ts'
import { applyProposal, verifyChain } from './membership-chain.ts'
import {
  type MembershipVersion,
  parseSignedProposal,
  quorumOf,
  type SignedProposal,
} from './membership-chain-types.ts'
import type { NetworkKeys } from './network-keys.ts'

/** A membership version as a checkpoint names it: number and hash (hex or bytes). */
export interface VersionRef {
  version: number
  hash: string | Uint8Array
}

/**
 * A network's membership from its pinned genesis through every applied change, each checked
 * against the version before it (verifyChain): what a node keeps and what a client follows.
 * Immutable; `extend` returns a longer history. It answers "which members and keys made this
 * checkpoint", so anything signed under an older version still verifies under the keys valid
 * then (docs/architecture.md, "A network that can change").
 */
export class MembershipHistory {
  readonly genesis: Membership
  readonly versions: readonly MembershipVersion[]
  /** applied[i] made versions[i + 1]. */
  readonly applied: readonly SignedProposal[]
  readonly #byVersion = new Map<number, Membership>()

  private constructor(
    genesis: Membership,
    versions: readonly MembershipVersion[],
    applied: readonly SignedProposal[],
  ) {
    this.genesis = genesis
    this.versions = versions
    this.applied = applied
    this.#byVersion.set(0, genesis)
  }

  /**
   * Verifies `changes` (signed proposals, as JSON values) in order from the genesis
   * network.json; throws the first refused change's code with `details.index`.
   */
  static fromChain(
    networkJson: unknown,
    changes: readonly unknown[],
    options: MembershipOptions = {},
  ): MembershipHistory {
    const chain = verifyChain(networkJson, changes, options)
    return new MembershipHistory(
      chain.genesis,
      chain.versions,
      changes.map((c) => parseSignedProposal(c)),
    )
  }

  /** The network id: the genesis's, for every version. */
  get networkId(): string {
    return this.genesis.networkId
  }

  /** The newest version's number. */
  get latest(): number {
    return this.versions.length - 1
  }

  /** The members of the newest version. */
  get current(): Membership {
    return this.at(this.latest)!
  }

  /** The members of version `n`, or undefined past the newest. */
  at(n: number): Membership | undefined {
    const cached = this.#byVersion.get(n)
    if (cached) return cached
    const v = this.versions[n]
    if (!v) return undefined
    const m = Membership.ofVersion(
      v.networkId,
      { number: v.number, hash: v.hash, quorum: quorumOf(v) },
      v.members,
      fromHex(v.vrfPublicKey, 32) as Uint8Array,
    )
    this.#byVersion.set(n, m)
    return m
  }

  /**
   * The keys a checkpoint naming `ref` is verified with; MEMBERSHIP_UNKNOWN when this history
   * has no such version (not yet reached: fetch the changes) or has another at that number.
   */
  keysFor(ref: VersionRef): NetworkKeys {
    const hash = typeof ref.hash === 'string' ? ref.hash : toHex(ref.hash)
    const v = this.versions[ref.version]
    if (!v || v.hash !== hash) {
      throw new EhrlogError(
        'MEMBERSHIP_UNKNOWN',
        v
          ? `membership version ${ref.version} (${hash.slice(0, 8)}…) is not the one this history holds (${v.hash.slice(0, 8)}…): another chain`
          : `membership version ${ref.version} (${hash.slice(0, 8)}…) is past the newest this history holds (${this.latest}): its changes are needed first`,
        { details: { version: ref.version, hash, latest: this.latest } },
      )
    }
    return this.at(ref.version)!.keys
  }

  /** This history with one more change applied (applyProposal's codes when refused). */
  extend(signed: unknown): MembershipHistory {
    const next = applyProposal(this.versions.at(-1)!, signed)
    const longer = new MembershipHistory(
      this.genesis,
      [...this.versions, next],
      [...this.applied, parseSignedProposal(signed)],
    )
    for (const [n, m] of this.#byVersion) longer.#byVersion.set(n, m)
    return longer
  }
}
