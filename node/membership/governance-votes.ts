import { createHash, type KeyObject } from 'node:crypto'
import { readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { PrivateKey } from '@libp2p/interface'
import { blsSign } from '../core/bls.ts'
import { EhrlogError } from '../core/errors.ts'
import { toHex } from '../core/hex.ts'
import { signEd25519 } from '../core/tree-head.ts'
import {
  addSignature,
  type MembershipProposal,
  proposalMessage,
  type SignedProposal,
} from '../core/trust/index.ts'

/*
 * A member's own signature on a membership change, the same whether an admin signs a file
 * (`ehrlog network sign --dir`) or asks the running node (`--node URL`): at most one change
 * per version (membership-votes.json), and the rotated key's own signature when the member
 * rotates a key it still holds.
 */

/** Where a node folder remembers which proposal it signed on each version (never two). */
export const VOTES_FILE = 'membership-votes.json'

/** The keys a member signs changes with: its Ed25519 key, and its current BLS and libp2p keys. */
export interface MemberKeys {
  name: string
  signingKey: KeyObject
  blsSecretKey: Uint8Array
  libp2pPrivateKey: PrivateKey
}

/**
 * A member signs at most one proposal per version: were two different ones to reach a quorum,
 * the chain would fork. The node folder remembers its choice (EQUIVOCATION for another).
 */
export async function recordVote(
  dir: string,
  name: string,
  proposal: MembershipProposal,
): Promise<void> {
  const path = join(dir, VOTES_FILE)
  const votes = (await readFile(path, 'utf8')
    .then((text) => JSON.parse(text) as Record<string, string>)
    .catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return {}
      throw new EhrlogError(
        'FILE_INVALID',
        `${path} is not JSON: restore it or remove it knowingly`,
        { cause: err },
      )
    })) as Record<string, string>
  const slot = `${proposal.networkId}/${proposal.baseVersion}/${proposal.baseHash}`
  const digest = createHash('sha256').update(proposalMessage(proposal)).digest('hex')
  const before = votes[slot]
  if (before === digest) return
  if (before !== undefined)
    throw new EhrlogError(
      'EQUIVOCATION',
      `${name} already signed another change on version ${proposal.baseVersion} (message ${before.slice(0, 16)}…); signing a second would let two changes reach a quorum and fork the membership`,
      { details: { baseVersion: proposal.baseVersion, signed: before, refused: digest } },
    )
  votes[slot] = digest
  const partial = `${path}.partial`
  await writeFile(partial, `${JSON.stringify(votes, null, 2)}\n`)
  await rename(partial, path)
}

/** Whether `name` still owes its old key's signature to its own rotation. */
export function needsOldKey(signed: SignedProposal, name: string): boolean {
  const { change } = signed.proposal
  return (
    'oldKey' in change &&
    change.oldKey === 'held' &&
    change.name === name &&
    !signed.oldKeySignature
  )
}

/**
 * `signed` with the member's Ed25519 signature and, for a rotation of its own key it still
 * holds, that key's signature of the same message (oldKeySignature). The vote is the
 * caller's to record first (recordVote).
 */
export async function signAsMember(
  signed: SignedProposal,
  keys: MemberKeys,
): Promise<SignedProposal> {
  const out = addSignature(signed, keys.name, keys.signingKey)
  if (!needsOldKey(out, keys.name)) return out
  const { change } = out.proposal
  const message = proposalMessage(out.proposal)
  let signature: Uint8Array
  switch (change.type) {
    case 'rotate-ed25519':
      signature = signEd25519(keys.signingKey, message)
      break
    case 'rotate-bls':
      signature = blsSign(keys.blsSecretKey, message)
      break
    default:
      signature = await keys.libp2pPrivateKey.sign(message)
  }
  return { ...out, oldKeySignature: toHex(signature) }
}
