import { EhrlogError } from '../core/errors.ts'
import { toHex } from '../core/hex.ts'
import type { Membership, NetworkKeys, VersionRef } from '../core/trust/index.ts'
import type { ChangeListener } from './live-membership.ts'

/**
 * What the node's parts that must follow the membership read of it (LiveMembership is one):
 * the version in force, any older version by number, the keys a checkpoint naming a version is
 * verified with, and the cut hooks. A part given a plain Membership (tests, the CLI on a
 * stopped folder) gets fixedMembership(m): one version that never changes.
 */
export interface MembershipView {
  readonly networkId: string
  /** The version in force: its members propose, cosign and append. */
  readonly current: Membership
  /** The change a quorum accepted, waiting for the next cut (undefined: none). */
  readonly pending: unknown
  /** The version the pending change would make (undefined: none pending). */
  readonly next: Membership | undefined
  /** Version `n`, or undefined when not held. */
  at(n: number): Membership | undefined
  /** The keys of the version `ref` names; MEMBERSHIP_UNKNOWN when it is not held. */
  keysFor(ref: VersionRef): NetworkKeys
  /** At this node's checkpoint cut: apply the pending change; true when the version moved. */
  applyPending(): Promise<boolean>
  /** A checkpoint names `ref`: apply the pending change if it makes `ref`; true when `ref` is current. */
  applyFor(ref: VersionRef): Promise<boolean>
  /** Called after each applied change; returns the unsubscribe. */
  onChange(listener: ChangeListener): () => void
}

/** A membership that does not change: version `m` only. */
export function fixedMembership(m: Membership): MembershipView {
  const holds = (ref: VersionRef) =>
    ref.version === m.version &&
    (typeof ref.hash === 'string' ? ref.hash : toHex(ref.hash)) === m.versionHash
  return {
    networkId: m.networkId,
    current: m,
    pending: undefined,
    next: undefined,
    at: (n) => (n === m.version ? m : undefined),
    keysFor(ref) {
      if (holds(ref)) return m.keys
      throw new EhrlogError(
        'MEMBERSHIP_UNKNOWN',
        `membership version ${ref.version} is not the one this node holds (${m.version})`,
        { details: { version: ref.version, latest: m.version } },
      )
    },
    applyPending: async () => false,
    applyFor: async (ref) => holds(ref),
    onChange: () => () => {},
  }
}

/** `m` as a view: a LiveMembership (or any view) as is, a plain Membership fixed. */
export function membershipViewOf(m: Membership | MembershipView): MembershipView {
  return 'keysFor' in m ? m : fixedMembership(m)
}
