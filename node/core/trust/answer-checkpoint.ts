import {
  type CosignedCheckpoint,
  checkpointId,
  cosignedFromJson,
  verifyCosignedCheckpoint,
} from '../checkpoint.ts'
import { toHex } from '../hex.ts'
import type { MembershipHistory } from './membership-history.ts'
import type { NetworkKeys } from './network-keys.ts'
import { checkpointKeysOf } from './network-keys.ts'
import type { Failure, QueryVerification } from './verification.ts'

/**
 * Checkpoints already verified under one set of keys (checkpoint id, signers, signature →
 * signer indexes): a BLS aggregate check costs ~27 ms, and the pages and cross-checks of one
 * query usually share a checkpoint. One map per membership.
 */
export type VerifiedCheckpoints = Map<string, number[]>

export interface CheckedCheckpoint {
  cosigned: CosignedCheckpoint | undefined
  cosignedBy: QueryVerification['cosignedBy']
  /** The answer had a checkpoint that does not verify. */
  untrusted: boolean
  /** The keys of the membership version the checkpoint names (`keys` when there is none). */
  keys: NetworkKeys
}

/**
 * The answer's checkpoint: its aggregate signature by a quorum of the members of the
 * membership version it names, for this network. With `history`, that version's keys come
 * from it (MEMBERSHIP_UNKNOWN when the history does not reach it); without, `keys` must be of
 * that version. A checkpoint that does not verify is a failure named `checkpoint`.
 */
export function checkAnswerCheckpoint(
  json: unknown,
  current: NetworkKeys,
  memo: VerifiedCheckpoints | undefined,
  failures: Failure[],
  history?: MembershipHistory,
): CheckedCheckpoint {
  if (json === null || json === undefined)
    return { cosigned: undefined, cosignedBy: undefined, untrusted: false, keys: current }
  try {
    const cosigned = cosignedFromJson(json)
    const keys = history ? history.keysFor(cosigned.checkpoint.membership) : current
    const key = `${checkpointId(cosigned.checkpoint)}:${toHex(cosigned.signers)}:${toHex(cosigned.signature)}`
    let signers = memo?.get(key)
    if (!signers) {
      signers = verifyCosignedCheckpoint(cosigned, checkpointKeysOf(keys))
      if (memo && memo.size < 64) memo.set(key, signers)
    }
    const time = new Date(cosigned.checkpoint.timeMs).toISOString()
    return {
      cosigned,
      cosignedBy: { count: signers.length, of: keys.blsKeys.length, time, signers },
      untrusted: false,
      keys,
    }
  } catch (err) {
    failures.push({ entryId: 'checkpoint', reason: (err as Error).message })
    return { cosigned: undefined, cosignedBy: undefined, untrusted: true, keys: current }
  }
}
