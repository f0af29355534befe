import { type CosignedCheckpoint, verifyCosignedCheckpoint } from '../checkpoint.ts'
import type { Membership } from './membership.ts'
import { checkpointKeysOf } from './network-keys.ts'

/** Who cosigned a checkpoint that verified, by name, and when. */
export interface CheckpointVerdict {
  signers: string[]
  memberCount: number
  time: string
}

/** Verifies a cosigned checkpoint against the membership; throws INVALID_SIGNATURE if it fails. */
export function verifyCheckpoint(
  membership: Membership,
  cosigned: CosignedCheckpoint,
): CheckpointVerdict {
  const { blsKeys } = membership.keys
  const signers = verifyCosignedCheckpoint(cosigned, checkpointKeysOf(membership.keys))
  return {
    signers: signers.map((i) => membership.members[i]!.name),
    memberCount: blsKeys.length,
    time: new Date(cosigned.checkpoint.timeMs).toISOString(),
  }
}

export function describeVerdict(v: CheckpointVerdict): string {
  return `verified: cosigned by ${v.signers.length} of ${v.memberCount} node${v.memberCount === 1 ? '' : 's'} (${v.signers.join(', ')}) at ${v.time}`
}
