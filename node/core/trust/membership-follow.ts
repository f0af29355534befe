import { EhrlogError, isEhrlogError } from '../errors.ts'
import { toHex } from '../hex.ts'
import { applyProposal, checkEquivocation } from './membership-chain.ts'
import { proposalMessage, type SignedProposal } from './membership-chain-types.ts'
import type { MembershipHistory } from './membership-history.ts'

/*
 * How clients follow a network's membership (docs/architecture.md, "What clients trust"):
 * from the genesis network.json they pinned, through the signed changes a node shows them
 * (GET /api/v1/membership, docs/query.md), each checked against the version before it. A node
 * is never believed: a change that does not verify is refused naming it, and a chain that
 * forks the one the client verified before is an equivocation with both changes as evidence.
 * Pure: the CLI and the browser share it.
 */

/** What a node answers for GET /api/v1/membership?after=n (docs/query.md). */
export interface MembershipAnswerJson {
  v: 1
  /** The genesis network.json's id: the network's id for every version. */
  networkId: string
  /** The version the first change applies to: changes[i] makes version after + i + 1. */
  after: number
  /** The applied signed changes after version `after`, in order. */
  changes: SignedProposal[]
  /** The node's newest version: its number and hash (hex). */
  latest: { version: number; hash: string }
}

/** A node's answer from its history: the changes after version `after` (none past its newest). */
export function membershipAnswerOf(history: MembershipHistory, after = 0): MembershipAnswerJson {
  const from = Math.min(after, history.latest)
  return {
    v: 1,
    networkId: history.networkId,
    after: from,
    changes: history.applied.slice(from),
    latest: { version: history.latest, hash: history.versions[history.latest]!.hash },
  }
}

/**
 * `known` (verified from the pinned genesis) followed through a node's answer: a change the
 * client already holds must be the same change (else EQUIVOCATION when both verify on the same
 * version, or the node's change's refusal); every newer one is applied to the version before
 * it, and the first refused is thrown with its code, `details.version` (the version it would
 * make) and `details.index` (its place in the answer). A node behind the client is no error:
 * the client keeps the longer chain it verified. Throws MESSAGE_INVALID for a malformed answer,
 * CHAIN_BROKEN when the answer is of another network or its `latest` is not what its changes
 * make.
 */
export function followMembershipAnswer(
  known: MembershipHistory,
  answer: unknown,
  node = 'the node',
): MembershipHistory {
  const a = parseAnswer(answer, node)
  if (a.networkId !== known.networkId)
    throw new EhrlogError(
      'CHAIN_BROKEN',
      `${node} shows the membership of network ${a.networkId.slice(0, 16)}…, not yours (${known.networkId.slice(0, 16)}…)`,
      { details: { field: 'networkId' } },
    )
  if (a.after > known.latest)
    throw new EhrlogError(
      'MESSAGE_INVALID',
      `${node} answered changes after version ${a.after}, past the ${known.latest} asked for`,
      { details: { field: 'after' } },
    )
  const history = followChanges(known, a.after, a.changes, node)
  const { version, hash } = a.latest
  const ours = history.versions[version]
  if (version > history.latest)
    throw new EhrlogError(
      'CHAIN_BROKEN',
      `${node} says its newest membership version is ${version}, but the changes it shows reach ${history.latest}: changes are missing`,
      { details: { field: 'latest', version, latest: history.latest } },
    )
  if (ours && ours.hash !== hash)
    throw new EhrlogError(
      'CHAIN_BROKEN',
      `${node} names membership version ${version} ${hash.slice(0, 8)}…, but the chain verified from your genesis makes ${ours.hash.slice(0, 8)}… there: it does not extend your chain`,
      { details: { field: 'latest', version, hash, expected: ours.hash } },
    )
  return history
}

/**
 * `known` followed through `changes`, which claim to follow version `after` (≤ known.latest):
 * the ones `known` holds must be the same changes, each newer one is applied to the version
 * before it. Throws like followMembershipAnswer, naming the change (`from`: where it came from).
 */
export function followChanges(
  known: MembershipHistory,
  after: number,
  changes: readonly unknown[],
  from: string,
): MembershipHistory {
  let history = known
  changes.forEach((change, index) => {
    const made = after + index + 1
    const where = `membership change ${made} from ${from} (index ${index})`
    if (made <= history.latest) {
      sameChange(history, made, change, where)
      return
    }
    try {
      history = history.extend(change)
    } catch (err) {
      throw refusal(err, where, made, index)
    }
  })
  return history
}

/** The change making version `made` must be the one the history applied (signatures may differ). */
function sameChange(
  history: MembershipHistory,
  made: number,
  change: unknown,
  where: string,
): void {
  const ours = history.applied[made - 1]!
  const theirs = (change as Partial<SignedProposal> | null)?.proposal
  try {
    if (
      theirs &&
      toHex(proposalMessage(theirs as SignedProposal['proposal'])) ===
        toHex(proposalMessage(ours.proposal))
    )
      return
  } catch {
    // Not even a proposal: refused below with applyProposal's code.
  }
  const base = history.versions[made - 1]!
  try {
    checkEquivocation(base, ours, change)
  } catch (err) {
    if (isEhrlogError(err, 'EQUIVOCATION'))
      throw new EhrlogError(
        'EQUIVOCATION',
        `${where}: ${err.message}; the change you verified before and the node's are the evidence`,
        { details: { ...err.details, version: made } },
      )
    throw err
  }
  try {
    applyProposal(base, change)
  } catch (err) {
    throw refusal(err, where, made, undefined)
  }
  // Both apply to the same version yet checkEquivocation saw no fork: the same message.
}

function refusal(err: unknown, where: string, made: number, index: number | undefined): unknown {
  if (!(err instanceof EhrlogError)) return err
  return new EhrlogError(err.code, `${where} is refused: ${err.message}`, {
    details: { ...err.details, version: made, ...(index === undefined ? {} : { index }) },
    cause: err,
  })
}

function parseAnswer(answer: unknown, node: string): MembershipAnswerJson {
  const a = (typeof answer === 'object' && answer !== null ? answer : {}) as Record<string, unknown>
  const bad = (field: string, want: string) =>
    new EhrlogError('MESSAGE_INVALID', `${node}'s membership answer: ${field}: ${want}`, {
      details: { field },
    })
  if (a.v !== 1) throw bad('v', 'want 1')
  if (typeof a.networkId !== 'string' || !/^[0-9a-f]{64}$/.test(a.networkId))
    throw bad('networkId', 'want 64 hex digits')
  if (!Number.isSafeInteger(a.after) || (a.after as number) < 0)
    throw bad('after', 'want a version number')
  if (!Array.isArray(a.changes)) throw bad('changes', 'want a list of signed changes')
  const latest = a.latest as { version?: unknown; hash?: unknown } | undefined
  if (
    !Number.isSafeInteger(latest?.version) ||
    (latest!.version as number) < 0 ||
    typeof latest!.hash !== 'string' ||
    !/^[0-9a-f]{64}$/.test(latest!.hash)
  )
    throw bad('latest', 'want {version, hash}')
  return a as unknown as MembershipAnswerJson
}

/**
 * The signed changes from genesis up to the newest version any of `refs` names: what a bundle
 * carries so that its checkpoints verify offline from the pinned genesis.
 */
export function changesUpTo(
  history: MembershipHistory,
  refs: readonly { version: number }[],
): SignedProposal[] {
  const newest = refs.reduce((n, r) => Math.max(n, r.version), 0)
  return history.applied.slice(0, Math.min(newest, history.latest))
}
