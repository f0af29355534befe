import {
  type CosignedCheckpoint,
  cosignedFromJson,
  cosignedToJson,
  verifyCosignedCheckpoint,
} from '../../core/checkpoint.ts'
import { isEhrlogError } from '../../core/errors.ts'
import {
  checkAnswerCompleteness,
  checkNotOlder,
  completenessPatientOf,
  describeCompleteness,
  type MembershipHistory,
  type NetworkKeys,
} from '../../core/trust/index.ts'
import { checkpointKeysOf } from '../../core/trust/network-keys.ts'
import type { TrailLoader } from './trail-loader.ts'

/*
 * The completeness of the patient's trail, checked in this browser (docs/query.md, "What a
 * proof can show"): once every page is loaded, the newest checkpoint's completeness proof
 * must show the loaded entries up to its cut are every access to the patient at every
 * hospital. The newest checkpoint this browser verified is kept in localStorage (per node
 * address and network): a node presenting an older one as its latest is refused.
 */

export type TrailCompleteness =
  /** Proven: the statement's lines. */
  | { state: 'complete'; lines: string[] }
  /** The proof does not hold, or the checkpoint is older than one seen: what is wrong. */
  | { state: 'refused'; reason: string }
  /** No proof to check: the node sent none, or there is no checkpoint yet. */
  | { state: 'unproven'; reason: string }
  /** Not every page is loaded yet. */
  | { state: 'partial' }
  /** A filtered view (an auditor's, or a time range): completeness covers whole trails only. */
  | { state: 'not-applicable' }

const keyOf = (networkId: string): string => `ehrlog.checkpoint.${networkId}`

/** The newest checkpoint this browser verified for the network; anything malformed is none. */
function keptCheckpoint(
  keys: NetworkKeys,
  history: MembershipHistory | undefined,
): CosignedCheckpoint | undefined {
  try {
    const text = localStorage.getItem(keyOf(keys.networkId))
    if (text === null) return undefined
    const kept = cosignedFromJson(JSON.parse(text))
    // Under the keys of the membership version it names (an older one after a change).
    const of = history ? history.keysFor(kept.checkpoint.membership) : keys
    verifyCosignedCheckpoint(kept, checkpointKeysOf(of))
    return kept
  } catch {
    return undefined
  }
}

function keepCheckpoint(keys: NetworkKeys, c: CosignedCheckpoint): void {
  try {
    localStorage.setItem(keyOf(keys.networkId), JSON.stringify(cosignedToJson(c)))
  } catch {
    // No storage for this site: nothing is kept, the next visit checks without it.
  }
}

/** Checks what `loader` holds; keeps its newest checkpoint when everything verified. */
export function trailCompleteness(loader: TrailLoader): TrailCompleteness {
  const patientId = completenessPatientOf(loader.filter, loader.scope)
  if (patientId === undefined || loader.startCursor !== undefined)
    return { state: 'not-applicable' }
  if (!loader.done) return { state: 'partial' }
  const known = keptCheckpoint(loader.keys, loader.history)
  let newest = known
  try {
    for (const page of loader.pages) {
      const c = page.result.checkpoint
      if (!c) continue
      checkNotOlder(known, c)
      if (!newest || c.checkpoint.timeMs > newest.checkpoint.timeMs) newest = c
    }
    const statement = checkAnswerCompleteness({
      keys: loader.keys,
      patientId,
      pages: loader.pages,
    })
    if (loader.failures.length === 0 && newest) keepCheckpoint(loader.keys, newest)
    return { state: 'complete', lines: describeCompleteness(statement) }
  } catch (err) {
    if (!isEhrlogError(err, 'INVALID_PROOF')) throw err
    const reason = err.details.reason
    if (reason === 'proof-missing' || reason === 'no-checkpoint') {
      if (loader.failures.length === 0 && newest) keepCheckpoint(loader.keys, newest)
      return { state: 'unproven', reason: err.message }
    }
    return { state: 'refused', reason: err.message }
  }
}
