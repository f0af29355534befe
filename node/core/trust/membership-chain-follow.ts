import { EhrlogError } from '../errors.ts'
import { fromHex, toHex } from '../hex.ts'
import { verifyEd25519 } from '../tree-head.ts'
import type { Membership, MembershipOptions } from './membership.ts'
import {
  applyProposal,
  checkEquivocation,
  genesisVersion,
  type MembershipEquivocation,
  OLD_KEY_MISSING,
} from './membership-chain.ts'
import {
  type MembershipVersion,
  parseSignedProposal,
  proposalMessage,
  quorumOf,
  type SignedProposal,
} from './membership-chain-types.ts'

/*
 * The forgiving reader of proposal files that admins pass around before gossip carries them:
 * copies of one proposal signed by different members merge, the chain goes as far as quorums
 * reach, and the rest is reported (pending, refused, stale) instead of thrown. verifyChain is
 * the strict reader clients use.
 */

export interface FollowedProposal {
  /** Where it came from (file names, for the report). */
  sources: string[]
  signed: SignedProposal
  /** Members of its base version whose signatures verify. */
  signers: string[]
  /** Signatures that were dropped: not a member's, or not valid. */
  dropped: string[]
}

export interface RefusedProposal extends FollowedProposal {
  error: EhrlogError
}

export interface FollowedChain {
  genesis: Membership
  versions: MembershipVersion[]
  /** The proposal that made each version after genesis: applied[i] made versions[i + 1]. */
  applied: FollowedProposal[]
  current: MembershipVersion
  /**
   * On the current version, still short of signatures: `quorum` member signatures make it
   * apply, and for a rotation with the old key held, that key's (`waitingFor` names what).
   */
  pending: Array<FollowedProposal & { quorum: number; waitingFor: string }>
  /** Can never apply as they are: wrong network, another chain, replayed, or a bad change. */
  refused: RefusedProposal[]
  /** Two quorum-signed changes on one version: following stops there. */
  equivocation?: MembershipEquivocation
}

export function followChain(
  networkJson: unknown,
  files: ReadonlyArray<{ source: string; value: unknown }>,
  options: MembershipOptions = {},
): FollowedChain {
  const { genesis, version } = genesisVersion(networkJson, 'network.json', options)
  const refused: RefusedProposal[] = []
  const groups = new Map<string, FollowedProposal>()
  for (const { source, value } of files) {
    let signed: SignedProposal
    try {
      signed = parseSignedProposal(value, source)
    } catch (err) {
      if (!(err instanceof EhrlogError)) throw err
      refused.push({
        sources: [source],
        signed: value as SignedProposal,
        signers: [],
        dropped: [],
        error: err,
      })
      continue
    }
    const key = toHex(proposalMessage(signed.proposal))
    const group = groups.get(key)
    if (!group) {
      groups.set(key, { sources: [source], signed, signers: [], dropped: [] })
      continue
    }
    group.sources.push(source)
    const have = new Set(group.signed.signatures.map((s) => s.signer))
    group.signed = {
      ...group.signed,
      signatures: [
        ...group.signed.signatures,
        ...signed.signatures.filter((s) => !have.has(s.signer)),
      ],
      ...((group.signed.oldKeySignature ?? signed.oldKeySignature)
        ? { oldKeySignature: (group.signed.oldKeySignature ?? signed.oldKeySignature) as string }
        : {}),
    }
  }

  const versions = [version]
  const applied: FollowedProposal[] = []
  const pending: FollowedChain['pending'] = []
  let equivocation: MembershipEquivocation | undefined
  for (;;) {
    const current = versions.at(-1)!
    const candidates = [...groups.entries()].filter(
      ([, g]) =>
        g.signed.proposal.baseVersion === current.number &&
        g.signed.proposal.baseHash === current.hash,
    )
    const accepted: Array<{ key: string; group: FollowedProposal; next: MembershipVersion }> = []
    for (const [key, group] of candidates) {
      keepValidSignatures(current, group)
      try {
        accepted.push({ key, group, next: applyProposal(current, group.signed) })
      } catch (err) {
        if (!(err instanceof EhrlogError)) throw err
        if (!isPending(err)) {
          refused.push({ ...group, error: err })
          groups.delete(key)
        }
      }
    }
    if (accepted.length > 1) {
      try {
        checkEquivocation(current, accepted[0]!.group.signed, accepted[1]!.group.signed)
      } catch (err) {
        if (err instanceof EhrlogError && err.code === 'EQUIVOCATION')
          equivocation = err.details as unknown as MembershipEquivocation
        else throw err
      }
      for (const a of accepted) groups.delete(a.key)
      break
    }
    if (accepted.length === 0) break
    const [only] = accepted
    groups.delete(only!.key)
    applied.push(only!.group)
    versions.push(only!.next)
  }

  const current = versions.at(-1)!
  for (const group of groups.values()) {
    const { baseVersion, baseHash } = group.signed.proposal
    if (baseVersion === current.number && baseHash === current.hash && !equivocation) {
      pending.push({ ...group, quorum: quorumOf(current), waitingFor: waitingFor(current, group) })
      continue
    }
    try {
      applyProposal(current, group.signed)
    } catch (err) {
      if (!(err instanceof EhrlogError)) throw err
      refused.push({ ...group, error: err })
    }
  }
  return {
    genesis,
    versions,
    applied,
    current,
    pending,
    refused,
    ...(equivocation ? { equivocation } : {}),
  }
}

function waitingFor(version: MembershipVersion, group: FollowedProposal): string {
  const missing = Math.max(0, quorumOf(version) - group.signers.length)
  const { change } = group.signed.proposal
  const needs: string[] = []
  if (missing > 0) needs.push(`${missing} more member signature${missing === 1 ? '' : 's'}`)
  if ('oldKey' in change && change.oldKey === 'held' && !group.signed.oldKeySignature)
    needs.push(`${change.name}'s old ${change.type.slice('rotate-'.length)} key`)
  return needs.join(' and ')
}

/** Short of signatures (the quorum's, or a held rotated key's): more signing can make it apply. */
function isPending(err: EhrlogError): boolean {
  return err.code === 'QUORUM_NOT_MET' || err.details.reason === OLD_KEY_MISSING
}

/** Drops the signatures that are not by a member of `version` or do not verify, noting them. */
function keepValidSignatures(version: MembershipVersion, group: FollowedProposal): void {
  const message = proposalMessage(group.signed.proposal)
  const kept: SignedProposal['signatures'] = []
  group.signers = []
  group.dropped = []
  for (const s of group.signed.signatures) {
    const member = version.members.find((m) => m.name === s.signer)
    const ok =
      member !== undefined &&
      verifyEd25519(
        fromHex(member.ed25519PublicKey, 32) as Uint8Array,
        message,
        fromHex(s.signature, 64) as Uint8Array,
      )
    if (ok) {
      kept.push(s)
      group.signers.push(s.signer)
    } else group.dropped.push(s.signer)
  }
  group.signed = { ...group.signed, signatures: kept }
}
