import { blsPublicKey } from '../core/bls.ts'
import type { MembershipRef } from '../core/checkpoint.ts'
import { fromHex, toHex } from '../core/hex.ts'
import type { Membership } from '../core/trust/index.ts'
import { checkpointKeysOf } from '../core/trust/network-keys.ts'
import type { VersionKeys } from './bls-jobs.ts'

/**
 * One membership version as a checkpoint round uses it: its members (the signer bitmap's
 * order), its keys and quorum, this node's place in it (-1: not a member of that version) and
 * the BLS secret key that matches this node's entry there (undefined: the folder does not
 * hold it, e.g. a BLS rotation whose new key is not installed: the node does not sign).
 */
export interface VersionState {
  membership: Membership
  /**
   * The feeds its checkpoints cut, in name order: its members' and those of members removed
   * before it, whose feeds stay, frozen at their last cosigned size, so that every later
   * checkpoint still covers their entries (answers, consistency since an older checkpoint).
   */
  origins: readonly string[]
  ref: MembershipRef
  keys: VersionKeys
  /** This node's index among the version's members; -1 when it is not one. */
  index: number
  secretKey: Uint8Array | undefined
}

/** Computes and remembers VersionStates by version hash. */
export class VersionStates {
  readonly #self: string
  readonly #secretKeys: Uint8Array[]
  readonly #publicKeys = new Map<string, Uint8Array>()
  readonly #byHash = new Map<string, VersionState>()
  readonly #quorum: number | undefined
  readonly #former: (version: number) => Membership | undefined

  /**
   * `secretKeys`: the BLS secret keys the node folder holds (the identity's first); `quorum`
   * overrides every version's (tests).
   */
  constructor(
    self: string,
    secretKeys: readonly Uint8Array[],
    quorum?: number,
    former: (version: number) => Membership | undefined = () => undefined,
  ) {
    this.#self = self
    this.#secretKeys = [...secretKeys]
    this.#quorum = quorum
    this.#former = former
  }

  /**
   * The version `ref` names among those `view` holds, or the one its pending change would make
   * (`next`); undefined when neither.
   */
  ofRef(
    view: { at(n: number): Membership | undefined; readonly next: Membership | undefined },
    ref: MembershipRef,
  ): VersionState | undefined {
    const hash = toHex(ref.hash)
    const m = [view.at(ref.version), view.next].find(
      (c) => c?.version === ref.version && c.versionHash === hash,
    )
    return m && this.of(m)
  }

  /** One more secret key (a BLS rotation's new key): versions are judged again with it. */
  addSecretKey(secretKey: Uint8Array): void {
    if (this.#secretKeys.some((k) => toHex(k) === toHex(secretKey))) return
    this.#secretKeys.push(secretKey)
    this.#byHash.clear()
  }

  of(membership: Membership): VersionState {
    const cached = this.#byHash.get(membership.versionHash)
    if (cached) return cached
    const index = membership.members.findIndex((m) => m.name === this.#self)
    const own = membership.members[index]?.blsPublicKey
    const origins = new Set(membership.members.map((m) => m.name))
    for (let v = 0; v < membership.version; v++)
      for (const m of this.#former(v)?.members ?? []) origins.add(m.name)
    const state: VersionState = {
      membership,
      origins: [...origins].sort(),
      ref: { version: membership.version, hash: fromHex(membership.versionHash, 32)! },
      keys: { ...checkpointKeysOf(membership.keys), quorum: this.#quorum ?? membership.quorum },
      index,
      secretKey: own === undefined ? undefined : this.#secretFor(own),
    }
    if (this.#byHash.size > 64) this.#byHash.clear()
    this.#byHash.set(membership.versionHash, state)
    return state
  }

  #secretFor(publicHex: string): Uint8Array | undefined {
    return this.#secretKeys.find((sk) => {
      const id = toHex(sk)
      let pk = this.#publicKeys.get(id)
      if (!pk) {
        pk = blsPublicKey(sk)
        this.#publicKeys.set(id, pk)
      }
      return toHex(pk) === publicHex
    })
  }
}
