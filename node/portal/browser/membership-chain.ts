import { isEhrlogError } from '../../core/errors.ts'
import { followChanges, followMembershipAnswer, MembershipHistory } from '../../core/trust/index.ts'
import { getJson } from './api.ts'
import { UntrustedNetwork } from './network-trust.ts'

/*
 * The browser follows the membership as the CLI does (docs/architecture.md, "What clients
 * trust"): from the genesis network.json whose id it pinned, through the signed changes the
 * node shows (GET /api/v1/membership), each checked here; a checkpoint is then verified under
 * the keys of the version it names. The chain verified is kept in localStorage, and a node
 * whose chain does not extend it, or forks it, is refused: nothing shows as verified.
 */
const CHAIN_KEY = 'ehrlog.membership'

/**
 * The history from `genesis` (the served network.json, already checked by trustedNetworkOf:
 * its BLS proofs are not paired again) through the kept chain and the node's changes.
 * Throws UntrustedNetwork saying which change was refused or where the chains part.
 */
export async function followServedMembership(genesis: unknown): Promise<MembershipHistory> {
  const pinned = MembershipHistory.fromChain(genesis, [], { proven: () => true })
  const kept = keptHistory(pinned)
  const ask = async (after: number) => {
    const answer = await getJson<unknown>(`/api/v1/membership${after > 0 ? `?after=${after}` : ''}`)
    if (answer.status === 404) return undefined // a node of an older version: genesis alone
    if (!answer.ok)
      throw new UntrustedNetwork(
        `the node did not send its membership changes (HTTP ${answer.status})`,
      )
    // Changes of another network than the genesis served are none of this one's: the page
    // then holds the genesis alone, and a checkpoint of a later version does not verify.
    if ((answer.body as { networkId?: unknown } | null)?.networkId !== pinned.networkId)
      return undefined
    return answer.body
  }
  let followed: MembershipHistory
  try {
    const answer = await ask(kept.latest)
    if (answer === undefined) return kept
    try {
      followed = followMembershipAnswer(kept, answer, 'this node')
    } catch (err) {
      if (!isEhrlogError(err, 'CHAIN_BROKEN') || kept.latest === 0) throw err
      const again = await ask(0)
      if (again === undefined) return kept
      followed = followMembershipAnswer(kept, again, 'this node')
    }
  } catch (err) {
    if (!isEhrlogError(err)) throw err
    throw new UntrustedNetwork(`the membership chain is refused (${err.code}): ${err.message}`)
  }
  keepHistory(followed)
  return followed
}

/** The kept chain, verified again from `pinned`; a chain that does not verify is none. */
function keptHistory(pinned: MembershipHistory): MembershipHistory {
  let text: string | null
  try {
    text = localStorage.getItem(CHAIN_KEY)
  } catch {
    return pinned
  }
  try {
    const value = JSON.parse(text ?? 'null') as { networkId?: unknown; changes?: unknown }
    if (value?.networkId !== pinned.networkId || !Array.isArray(value.changes)) return pinned
    return followChanges(pinned, 0, value.changes, 'this browser')
  } catch {
    // What another script or an edited profile left there is untrusted: a bad chain is none.
    return pinned
  }
}

function keepHistory(history: MembershipHistory): void {
  if (history.latest === 0) return
  try {
    localStorage.setItem(
      CHAIN_KEY,
      JSON.stringify({ networkId: history.networkId, changes: history.applied }),
    )
  } catch {
    // No storage: the chain is followed from genesis on each visit.
  }
}
