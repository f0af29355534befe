import {
  type CosignedCheckpoint,
  checkpointId,
  verifyCosignedCheckpoint,
} from '../core/checkpoint.ts'
import { fromHex } from '../core/hex.ts'
import type { Membership } from '../core/trust/index.ts'
import { checkpointKeysOf } from '../core/trust/network-keys.ts'
import type { KnownHead } from '../store/index.ts'

/** The feed cuts of a cosigned checkpoint this node verified itself: roots it may trust. */
export interface TrustedCuts {
  checkpointId: string
  /** origin → (size, root), for origins with entries at the cut. */
  cuts: Map<string, KnownHead>
}

/**
 * Verifies the aggregate BLS cosignature of `cosigned` against the membership (a quorum of
 * members signed exactly these cuts) and returns its non-empty cuts. The checkpoint log is read
 * from this node's own disk, so it is checked again here before its roots are trusted.
 * Throws INVALID_SIGNATURE when it does not verify. Results are remembered by checkpoint id.
 */
export class CheckpointTrust {
  readonly #membership: Membership
  readonly #blsKeys: readonly Uint8Array[]
  readonly #networkId: Uint8Array
  readonly #quorum: number | undefined
  #last: TrustedCuts | undefined

  constructor(membership: Membership, quorum?: number) {
    this.#membership = membership
    this.#blsKeys = membership.keys.blsKeys
    this.#networkId = fromHex(membership.keys.networkId, 32)!
    this.#quorum = quorum
  }

  cutsOf(cosigned: CosignedCheckpoint | undefined): TrustedCuts | undefined {
    if (!cosigned) return undefined
    const id = checkpointId(cosigned.checkpoint)
    if (this.#last?.checkpointId === id) return this.#last
    verifyCosignedCheckpoint(cosigned, {
      ...checkpointKeysOf(this.#membership.keys),
      ...(this.#quorum === undefined ? {} : { quorum: this.#quorum }),
    })
    const cuts = new Map<string, KnownHead>()
    for (const cut of cosigned.checkpoint.feeds) {
      if (cut.treeSize > 0 && this.#membership.byName(cut.origin))
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
