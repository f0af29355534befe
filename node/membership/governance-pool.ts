import { EhrlogError } from '../core/errors.ts'
import { fromHex } from '../core/hex.ts'
import { verifyEd25519 } from '../core/tree-head.ts'
import {
  applyChange,
  applyProposal,
  checkEquivocation,
  describeVersion,
  type MembershipEquivocation,
  type MembershipVersion,
  oldKeySignatureValid,
  proposalMessage,
  quorumOf,
  type SignedProposal,
  versionHash,
} from '../core/trust/index.ts'

/*
 * The proposals a node holds while members sign them (docs/protocol.md, "Membership
 * changes"): per base version, one copy per proposal message, into which every verified
 * signature is merged (as followChain merges files). Bounded; what does not verify is refused
 * whole, with the code naming why, and changes nothing.
 */

/** Proposals held per base version; more are refused (RATE_LIMITED) until one applies. */
export const MAX_PROPOSALS_PER_VERSION = 16

export interface PooledProposal {
  /** versionHash of its message: the hash of the version it makes, its name everywhere. */
  id: string
  /** Its proposal with every verified signature so far (sorted by signer). */
  signed: SignedProposal
  /** The members of the base version who signed. */
  signers: string[]
  /** Set once a quorum (and a held rotated key) signed: the version it makes. */
  accepted?: MembershipVersion
}

/** What merging one copy changed. */
export interface Merged {
  entry: PooledProposal
  /** First time this node saw the proposal. */
  isNew: boolean
  /** Signatures it did not hold before (member names); 'oldKey' for the rotated key's own. */
  added: Array<{ signer: string; signature: string; oldKey?: true }>
  /** It reached its quorum with this copy. */
  nowAccepted: boolean
}

/** The id of a proposal: the hash its version will have. */
export function proposalId(signed: Pick<SignedProposal, 'proposal'>): string {
  return versionHash(proposalMessage(signed.proposal))
}

export class GovernancePool {
  readonly #byBase = new Map<number, Map<string, PooledProposal>>()

  /** The proposals on `base` (number), oldest first. */
  on(base: number): PooledProposal[] {
    return [...(this.#byBase.get(base)?.values() ?? [])]
  }

  get(id: string): PooledProposal | undefined {
    for (const group of this.#byBase.values()) {
      const found = group.get(id)
      if (found) return found
    }
    return undefined
  }

  all(): PooledProposal[] {
    return [...this.#byBase.values()].flatMap((g) => [...g.values()])
  }

  /** Forgets the proposals on versions before `current` (they can never apply now). */
  prune(current: number): void {
    for (const base of this.#byBase.keys()) if (base < current) this.#byBase.delete(base)
  }

  /**
   * Merges a copy of a proposal on `base`. The whole copy is refused when the proposer is not a
   * member (SIGNER_UNKNOWN), the change cannot apply to `base` (applyChange's codes), a
   * signature is not a member's (SIGNER_UNKNOWN) or does not verify (INVALID_SIGNATURE), a
   * first copy lacks the proposer's signature (QUORUM_NOT_MET), or the pool is full.
   */
  merge(base: MembershipVersion, signed: SignedProposal): Merged {
    const { proposal } = signed
    if (proposal.baseVersion !== base.number || proposal.baseHash !== base.hash)
      throw new EhrlogError(
        'CHAIN_BROKEN',
        `the proposal is on version ${proposal.baseVersion} (${proposal.baseHash.slice(0, 8)}…), not ${describeVersion(base)}`,
        { details: { field: 'proposal.baseHash', version: base.number } },
      )
    const where = describeVersion(base)
    if (!base.members.some((m) => m.name === proposal.proposer))
      throw new EhrlogError(
        'SIGNER_UNKNOWN',
        `the proposer ${proposal.proposer} is not a member of ${where}; only members propose changes`,
        { details: { field: 'proposal.proposer', signer: proposal.proposer } },
      )
    const id = proposalId(signed)
    const group = this.#byBase.get(base.number) ?? new Map<string, PooledProposal>()
    const held = group.get(id)
    if (!held) {
      // What every member would refuse whoever signs (a key already a member's, a bad proof).
      applyChange(base, proposal.change)
      if (group.size >= MAX_PROPOSALS_PER_VERSION)
        throw new EhrlogError(
          'RATE_LIMITED',
          `${MAX_PROPOSALS_PER_VERSION} proposals are already pending on ${where}: sign or let one apply first`,
          { details: { field: 'proposal', version: base.number } },
        )
    }
    const message = proposalMessage(proposal)
    const have = new Map((held?.signed.signatures ?? []).map((s) => [s.signer, s.signature]))
    const added: Merged['added'] = []
    signed.signatures.forEach(({ signer, signature }, i) => {
      const member = base.members.find((m) => m.name === signer)
      if (!member)
        throw new EhrlogError(
          'SIGNER_UNKNOWN',
          `signatures.${i}: ${signer} is not a member of ${where}; only its members sign changes to it`,
          { details: { field: `signatures.${i}.signer`, signer } },
        )
      if (have.has(signer)) return
      const key = fromHex(member.ed25519PublicKey, 32) as Uint8Array
      if (!verifyEd25519(key, message, fromHex(signature, 64) as Uint8Array))
        throw new EhrlogError(
          'INVALID_SIGNATURE',
          `signatures.${i}: ${signer}'s signature does not verify for this proposal on ${where}`,
          { details: { field: `signatures.${i}.signature`, signer } },
        )
      added.push({ signer, signature })
    })
    let oldKeySignature = held?.signed.oldKeySignature
    if (signed.oldKeySignature !== undefined && oldKeySignature === undefined) {
      const { change } = proposal
      const rotated =
        'oldKey' in change && change.oldKey === 'held'
          ? base.members.find((m) => m.name === change.name)
          : undefined
      if (
        !rotated ||
        !('oldKey' in change) ||
        !oldKeySignatureValid(
          rotated,
          change.type,
          message,
          fromHex(signed.oldKeySignature) as Uint8Array,
        )
      )
        throw new EhrlogError(
          'INVALID_SIGNATURE',
          `oldKeySignature: not the rotated key's signature of this proposal on ${where}`,
          { details: { field: 'oldKeySignature' } },
        )
      oldKeySignature = signed.oldKeySignature
      added.push({ signer: change.name, signature: oldKeySignature, oldKey: true })
    }
    const signatures = [
      ...(held?.signed.signatures ?? []),
      ...added.filter((a) => !a.oldKey).map(({ signer, signature }) => ({ signer, signature })),
    ].sort((a, b) => (a.signer < b.signer ? -1 : a.signer > b.signer ? 1 : 0))
    if (!signatures.some((s) => s.signer === proposal.proposer))
      throw new EhrlogError(
        'QUORUM_NOT_MET',
        `the proposer ${proposal.proposer} did not sign its proposal on ${where}`,
        { details: { field: 'signatures', proposer: proposal.proposer } },
      )
    const entry: PooledProposal = {
      id,
      signed: { proposal, signatures, ...(oldKeySignature ? { oldKeySignature } : {}) },
      signers: signatures.map((s) => s.signer),
      ...(held?.accepted ? { accepted: held.accepted } : {}),
    }
    let nowAccepted = false
    if (!entry.accepted) {
      try {
        entry.accepted = applyProposal(base, entry.signed)
        nowAccepted = true
      } catch (err) {
        if (!(err instanceof EhrlogError)) throw err
        // Short of signatures: more may come.
      }
    }
    group.set(id, entry)
    this.#byBase.set(base.number, group)
    return { entry, isNew: !held, added, nowAccepted }
  }

  /** Two accepted proposals on `base`: the evidence of a fork (checkEquivocation's). */
  equivocation(base: MembershipVersion): MembershipEquivocation | undefined {
    const accepted = this.on(base.number).filter((p) => p.accepted)
    if (accepted.length < 2) return undefined
    try {
      checkEquivocation(base, accepted[0]!.signed, accepted[1]!.signed)
    } catch (err) {
      if (err instanceof EhrlogError && err.code === 'EQUIVOCATION')
        return err.details as unknown as MembershipEquivocation
      throw err
    }
    return undefined
  }
}

/** What a pending proposal still waits for, in words ("" once accepted). */
export function waitingFor(base: MembershipVersion, entry: PooledProposal): string {
  if (entry.accepted) return ''
  const missing = Math.max(0, quorumOf(base) - entry.signers.length)
  const { change } = entry.signed.proposal
  const needs: string[] = []
  if (missing > 0) needs.push(`${missing} more member signature${missing === 1 ? '' : 's'}`)
  if ('oldKey' in change && change.oldKey === 'held' && !entry.signed.oldKeySignature)
    needs.push(`${change.name}'s old ${change.type.slice('rotate-'.length)} key`)
  return needs.join(' and ')
}
