import { type CosignedCheckpoint, verifyCosignedCheckpoint } from '../checkpoint.ts'
import type { Membership } from './membership.ts'
import { MembershipHistory } from './membership-history.ts'
import { checkpointKeysOf } from './network-keys.ts'

/** Who cosigned a checkpoint that verified, by name, and when. */
export interface CheckpointVerdict {
  signers: string[]
  memberCount: number
  time: string
  /** The membership version the checkpoint was cosigned under. */
  version: number
}

/**
 * Verifies a cosigned checkpoint; throws INVALID_SIGNATURE if it fails. With a history (the
 * pinned genesis and the verified changes), under the members of the version it names
 * (MEMBERSHIP_UNKNOWN when the history does not reach that version); with one membership
 * version, it must name that version.
 */
export function verifyCheckpoint(
  trust: Membership | MembershipHistory,
  cosigned: CosignedCheckpoint,
): CheckpointVerdict {
  const membership = membershipOfCheckpoint(trust, cosigned)
  const { blsKeys } = membership.keys
  const signers = verifyCosignedCheckpoint(cosigned, checkpointKeysOf(membership.keys))
  return {
    signers: signers.map((i) => membership.members[i]!.name),
    memberCount: blsKeys.length,
    time: new Date(cosigned.checkpoint.timeMs).toISOString(),
    version: membership.version,
  }
}

/** The membership version a checkpoint names, from `trust` (MEMBERSHIP_UNKNOWN if not held). */
export function membershipOfCheckpoint(
  trust: Membership | MembershipHistory,
  cosigned: CosignedCheckpoint,
): Membership {
  if (!(trust instanceof MembershipHistory)) return trust
  const ref = cosigned.checkpoint.membership
  trust.keysFor(ref)
  return trust.at(ref.version)!
}

export function describeVerdict(v: CheckpointVerdict): string {
  const version = v.version === 0 ? '' : ` (membership version ${v.version})`
  return `verified: cosigned by ${v.signers.length} of ${v.memberCount} node${v.memberCount === 1 ? '' : 's'} (${v.signers.join(', ')}) at ${v.time}${version}`
}
