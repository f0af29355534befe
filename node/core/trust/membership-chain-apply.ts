import { verifyBlsProofOfPossession } from '../bls.ts'
import { EhrlogError, isEhrlogError } from '../errors.ts'
import { fromHex } from '../hex.ts'
import type { Member } from './member.ts'
import { Membership } from './membership.ts'
import type { MembershipChange, MembershipVersion } from './membership-chain-types.ts'
import { describeVersion, majority } from './membership-chain-types.ts'

/** What a change makes of a version's members and quorum (number and hash are the caller's). */
export interface AppliedChange {
  members: Member[]
  quorum?: number
}

/** The fields no two members may share: a key or PeerId names exactly one member. */
const UNIQUE = ['name', 'ed25519PublicKey', 'blsPublicKey', 'peerId'] as const

/**
 * Applies one change to a version's membership. Checks what the change itself must satisfy,
 * whoever signed it: the member it names exists (MESSAGE_INVALID), a new name, key or PeerId
 * is nobody's yet, the member's own old one included (MEMBER_CONFLICT), a new BLS key comes
 * with its proof of possession (INVALID_PROOF), addresses are dialable multiaddrs of the
 * member (MESSAGE_INVALID), and the quorum stays between a majority and all members
 * (MESSAGE_INVALID). Pure: `version` is not changed.
 */
export function applyChange(version: MembershipVersion, change: MembershipChange): AppliedChange {
  const members = [...version.members]
  const at = (name: string): number => {
    const i = members.findIndex((m) => m.name === name)
    if (i < 0)
      throw invalid(
        version,
        'change.name',
        `names ${name}, not a member of ${describeVersion(version)}`,
      )
    return i
  }
  let quorum = version.quorum
  let added: Member | undefined
  switch (change.type) {
    case 'add':
      added = change.member
      members.push(added)
      break
    case 'remove': {
      members.splice(at(change.name), 1)
      if (members.length === 0)
        throw invalid(version, 'change.name', `would remove the last member, ${change.name}`)
      break
    }
    case 'rotate-ed25519': {
      const i = at(change.name)
      added = { ...members[i]!, ed25519PublicKey: change.ed25519PublicKey }
      members[i] = added
      break
    }
    case 'rotate-bls': {
      const i = at(change.name)
      added = {
        ...members[i]!,
        blsPublicKey: change.blsPublicKey,
        blsProofOfPossession: change.blsProofOfPossession,
      }
      members[i] = added
      break
    }
    case 'rotate-libp2p': {
      const i = at(change.name)
      added = { ...members[i]!, peerId: change.peerId }
      members[i] = added
      break
    }
    case 'addresses': {
      const i = at(change.name)
      members[i] = { ...members[i]!, addresses: change.addresses }
      break
    }
    case 'quorum':
      quorum = change.quorum
      break
  }
  if (added) checkNewIdentity(version, change, added)
  if (quorum !== undefined) {
    const least = majority(members.length)
    if (quorum < least || quorum > members.length)
      throw invalid(
        version,
        change.type === 'quorum' ? 'change.quorum' : 'change.type',
        `would leave a quorum of ${quorum} for ${members.length} members; it must be from ${least} (a majority, so two quorums always share a member) to ${members.length}${change.type === 'quorum' ? '' : ': change the quorum first'}`,
      )
  }
  return { members: normalized(version, members), ...(quorum === undefined ? {} : { quorum }) }
}

/** No name, key or PeerId of `added` is another member's, or its own old one; a new BLS key is proven. */
function checkNewIdentity(
  version: MembershipVersion,
  change: MembershipChange,
  added: Member,
): void {
  const subject = 'name' in change ? change.name : undefined
  for (const field of UNIQUE) {
    // A rotation keeps the member's name; every other field it names must be new.
    if (subject !== undefined && field === 'name') continue
    if (change.type !== 'add' && !(field in change)) continue
    const holder = version.members.find((m) => m[field] === added[field])
    if (holder)
      throw new EhrlogError(
        'MEMBER_CONFLICT',
        `${describeVersion(version)}: the ${field} ${added[field]} is already ${holder.name === subject ? `${holder.name}'s own` : `member ${holder.name}'s`}; a member's name, keys and PeerId are nobody else's`,
        {
          details: {
            field: `change.${change.type === 'add' ? `member.${field}` : field}`,
            member: holder.name,
          },
        },
      )
  }
  if (change.type === 'add' || change.type === 'rotate-bls') {
    const key = fromHex(added.blsPublicKey, 48) as Uint8Array
    const proof = fromHex(added.blsProofOfPossession, 96) as Uint8Array
    if (!verifyBlsProofOfPossession(key, proof))
      throw new EhrlogError(
        'INVALID_PROOF',
        `${describeVersion(version)}: blsProofOfPossession does not prove possession of ${added.name}'s new BLS key`,
        {
          details: {
            field:
              change.type === 'add'
                ? 'change.member.blsProofOfPossession'
                : 'change.blsProofOfPossession',
            member: added.name,
          },
        },
      )
  }
}

/**
 * The new member list through network.json's own parser (shapes, duplicates, multiaddrs that
 * name no other PeerId), with addresses as Membership keeps them. Proofs of possession were
 * checked above or at an earlier version, so none is paired again here.
 */
function normalized(version: MembershipVersion, members: Member[]): Member[] {
  try {
    return [
      ...Membership.fromJson({ members, vrfPublicKey: version.vrfPublicKey }, 'membership change', {
        proven: () => true,
      }).members,
    ]
  } catch (err) {
    if (isEhrlogError(err, 'CONFIG_INVALID'))
      throw invalid(version, `change.${String(err.details.field)}`, err.message, err)
    throw err
  }
}

function invalid(
  version: MembershipVersion,
  field: string,
  message: string,
  cause?: unknown,
): EhrlogError {
  return new EhrlogError('MESSAGE_INVALID', `${describeVersion(version)}: ${field}: ${message}`, {
    details: { field, version: version.number },
    cause,
  })
}
