import {
  describeChange,
  describeVersion,
  type MembershipChange,
  type MembershipProposal,
  type MembershipVersion,
  quorumOf,
} from '../core/trust/index.ts'
import { type PooledProposal, proposalId, waitingFor } from './governance-pool.ts'
import type { LiveMembership } from './live-membership.ts'

/*
 * What `ehrlog network show --node URL` and GET /api/v1/membership/proposals answer: the
 * versions this node holds, the change waiting for the next checkpoint cut, and every
 * proposal being signed with who signed and what it still waits for.
 */

export interface ProposalView {
  id: string
  proposal: MembershipProposal
  /** Members of its base version who signed, and those who did not yet. */
  signers: string[]
  missing: string[]
  quorum: number
  /** Whether the rotated key's own signature is there (rotations with oldKey "held"). */
  oldKeySigned?: boolean
  /** pending: short of signatures; accepted: a quorum signed, applies at the next cut. */
  state: 'pending' | 'accepted'
  /** What it waits for, in words ("" once accepted). */
  waitingFor: string
  summary: string
}

export interface GovernanceView {
  networkId: string
  versions: Array<{ number: number; hash: string; change?: MembershipChange; signers?: string[] }>
  current: { number: number; hash: string; quorum: number; members: string[] }
  /** The change a quorum signed on the current version, applied at the next checkpoint cut. */
  accepted?: { id: string; summary: string; makes: number }
  proposals: ProposalView[]
}

export function proposalView(
  base: MembershipVersion,
  entry: PooledProposal,
  live: LiveMembership,
): ProposalView {
  const { change } = entry.signed.proposal
  const accepted =
    entry.accepted !== undefined ||
    (live.pending !== undefined && proposalId(live.pending) === entry.id)
  return {
    id: entry.id,
    proposal: entry.signed.proposal,
    signers: entry.signers,
    missing: base.members.map((m) => m.name).filter((n) => !entry.signers.includes(n)),
    quorum: quorumOf(base),
    ...('oldKey' in change && change.oldKey === 'held'
      ? { oldKeySigned: entry.signed.oldKeySignature !== undefined }
      : {}),
    state: accepted ? 'accepted' : 'pending',
    waitingFor: waitingFor(base, entry),
    summary: `${describeChange(change)} on ${describeVersion(base)}, proposed by ${entry.signed.proposal.proposer}`,
  }
}

export function viewOf(
  live: LiveMembership,
  pool: readonly PooledProposal[],
  next: MembershipVersion | undefined,
): GovernanceView {
  const { history } = live
  const current = history.versions.at(-1)!
  const bases = new Map([current, ...(next ? [next] : [])].map((v) => [v.number, v]))
  const pending = live.pending
  return {
    networkId: history.networkId,
    versions: history.versions.map((v, i) => ({
      number: v.number,
      hash: v.hash,
      ...(i === 0
        ? {}
        : {
            change: history.applied[i - 1]!.proposal.change,
            signers: history.applied[i - 1]!.signatures.map((s) => s.signer),
          }),
    })),
    current: {
      number: current.number,
      hash: current.hash,
      quorum: quorumOf(current),
      members: current.members.map((m) => m.name),
    },
    ...(pending
      ? {
          accepted: {
            id: proposalId(pending),
            summary: describeChange(pending.proposal.change),
            makes: current.number + 1,
          },
        }
      : {}),
    proposals: pool.flatMap((entry) => {
      const base = bases.get(entry.signed.proposal.baseVersion)
      return base ? [proposalView(base, entry, live)] : []
    }),
  }
}
