import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type CosignedCheckpoint, verifyCosignedCheckpoint } from '../node/core/checkpoint.ts'
import { EhrlogError } from '../node/core/errors.ts'
import { fromHex } from '../node/core/hex.ts'
import { Membership } from '../node/net/index.ts'
import { NETWORK_FILE } from '../node/node.ts'
import { plural } from './format/plural.ts'

/**
 * The client's trust anchor: its own copy of network.json (--network FILE, or the node
 * folder's). Nothing a node sends is believed unless it verifies against these keys.
 */
export async function loadMembership(opts: {
  network?: string
  dir?: string
}): Promise<Membership> {
  const path = opts.network ?? (opts.dir ? join(opts.dir, NETWORK_FILE) : undefined)
  if (!path) {
    throw new EhrlogError(
      'ARGUMENT_INVALID',
      'give --network FILE (your copy of network.json): answers are verified against it, not trusted',
      {
        details: { field: 'network' },
      },
    )
  }
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (cause) {
    throw new EhrlogError('FILE_INVALID', `cannot read ${path}: ${(cause as Error).message}`, {
      cause,
    })
  }
  return Membership.parse(text, path)
}

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
  const keys = membership.members.map((m) => fromHex(m.blsPublicKey, 48)!)
  const signers = verifyCosignedCheckpoint(cosigned, fromHex(membership.networkId, 32)!, keys)
  return {
    signers: signers.map((i) => membership.members[i]!.name),
    memberCount: keys.length,
    time: new Date(cosigned.checkpoint.timeMs).toISOString(),
  }
}

export function describeVerdict(v: CheckpointVerdict): string {
  return `verified: cosigned by ${v.signers.length} of ${plural(v.memberCount, 'node')} (${v.signers.join(', ')}) at ${v.time}`
}
