import {
  type CosignedCheckpoint,
  checkpointId,
  verifyCosignedCheckpoint,
} from '../core/checkpoint.ts'
import type { Membership } from '../core/trust/index.ts'
import { checkpointKeysOf } from '../core/trust/network-keys.ts'
import { type MembershipView, membershipViewOf } from '../membership/membership-view.ts'
import type { KnownHead } from '../store/index.ts'

/** The feed cuts of a cosigned checkpoint this node verified itself: roots it may trust. */
export interface TrustedCuts {
  checkpointId: string
  /** origin → (size, root), for origins with entries at the cut. */
  cuts: Map<string, KnownHead>
}

/**
 * Verifies the aggregate BLS cosignature of `cosigned` against the membership version it names
 * (a quorum of that version's members signed exactly these cuts: keysFor, so a checkpoint made
 * before a change still verifies under the keys valid then) and returns its non-empty cuts. The
 * checkpoint log is read from this node's own disk, so it is checked again here before its
 * roots are trusted. Throws INVALID_SIGNATURE when it does not verify, MEMBERSHIP_UNKNOWN when
 * it names a version this node does not hold. Results are remembered by checkpoint id.
 */
export class CheckpointTrust {
  readonly #membership: MembershipView
  readonly #quorum: number | undefined
  #last: TrustedCuts | undefined

  constructor(membership: Membership | MembershipView, quorum?: number) {
    this.#membership = membershipViewOf(membership)
    this.#quorum = quorum
  }

  cutsOf(cosigned: CosignedCheckpoint | undefined): TrustedCuts | undefined {
    if (!cosigned) return undefined
    const id = checkpointId(cosigned.checkpoint)
    if (this.#last?.checkpointId === id) return this.#last
    const keys = this.#membership.keysFor(cosigned.checkpoint.membership)
    verifyCosignedCheckpoint(cosigned, {
      ...checkpointKeysOf(keys),
      ...(this.#quorum === undefined ? {} : { quorum: this.#quorum }),
    })
    const cuts = new Map<string, KnownHead>()
    for (const cut of cosigned.checkpoint.feeds) {
      if (cut.treeSize > 0 && keys.ed25519Keys.has(cut.origin))
        cuts.set(cut.origin, { treeSize: cut.treeSize, root: cut.root })
    }
    this.#last = { checkpointId: id, cuts }
    return this.#last
  }
}

/** An origin's Ed25519 tree-head key from the membership; undefined: not a member. */
export function originKeyOf(membership: Membership, origin: string): Uint8Array | undefined {
  return membership.keys.ed25519Keys.get(origin)
}
