import { type CosignedCheckpoint, checkpointId } from '../checkpoint.ts'
import { EhrlogError } from '../errors.ts'
import {
  type AnsweredEntry,
  type CompletenessFailure,
  type CompletenessProof,
  decodeCompletenessProof,
  type IndexCut,
  verifyCompleteness,
} from '../index/index.ts'
import type { CompletenessJson } from './answer.ts'
import { fromBase64 } from './answer-fields.ts'
import type { QueryFilter, QueryScope } from './filter.ts'
import type { NetworkKeys } from './network-keys.ts'
import type { QueryVerification } from './verification.ts'

/*
 * The last step of verifying a patient's trail (docs/query.md, "What a proof can show"): after
 * verifyQueryAnswer has checked every entry's inclusion on every page, the completeness proof
 * of the answer's checkpoint shows that the entries at or before the checkpoint's cut are ALL
 * of the patient's events at every origin, and no other. Pure: the CLI, verify-bundle and the
 * patient's browser run the same code.
 */

/** What a proven-complete answer states: for whom, up to which checkpoint, and what is newer. */
export interface CompletenessStatement {
  patientId: string
  checkpoint: CosignedCheckpoint
  /** checkpointId hex. */
  checkpointId: string
  /** The checkpoint's time, ISO 8601 UTC. */
  time: string
  cosignedBy: { count: number; of: number }
  /** Per origin of the cut: its size and how many of the patient's entries it holds. */
  origins: { origin: string; treeSize: number; count: number }[]
  /** Verified entries past the cut, per origin: signed by their origin, not yet proven complete. */
  newer: { origin: string; count: number }[]
}

/** Why there is no statement (details.reason of the INVALID_PROOF error). */
export type CompletenessRefusal =
  | 'proof-missing'
  | 'proof-malformed'
  | 'other-patient'
  | 'no-checkpoint'
  | 'checkpoint-older'
  | CompletenessFailure

/** One verified page of the answer: as the node sent it, and what verifyQueryAnswer found. */
export interface CheckedPage {
  answer: unknown
  result: QueryVerification
}

/**
 * The patient an answer must carry a completeness proof for, or undefined: exactly when the
 * effective filter (after the session's scope) is about one patient and selects every event
 * about them over all time. The node attaches `completeness` under the same rule.
 */
export function completenessPatientOf(
  filter: QueryFilter,
  scope: QueryScope = {},
): string | undefined {
  const patient = filter.patient ?? scope.patientId
  if (patient === undefined) return undefined
  if (scope.patientId !== undefined && scope.patientId !== patient) return undefined
  const { actor, action, resource, from, to, origin, outcome, kind } = filter
  const narrowed = [actor, action, resource, from, to, origin, outcome].some((v) => v !== undefined)
  if (narrowed || (kind !== undefined && kind !== 'event')) return undefined
  return patient
}

function refuse(
  reason: CompletenessRefusal,
  message: string,
  details: Record<string, unknown> = {},
  cause?: unknown,
): EhrlogError {
  return new EhrlogError('INVALID_PROOF', message, { cause, details: { reason, ...details } })
}

/**
 * Checks that the verified pages of one answer hold every event about `patientId` up to the
 * cut of the newest checkpoint among them, using that page's completeness proof. Throws
 * INVALID_PROOF with details.reason a CompletenessRefusal and a message naming what is
 * missing or wrong: no checkpoint, no proof, a proof for another patient, an entry of
 * another patient, an entry left out, a leaf behind an absence claim.
 */
export function checkAnswerCompleteness(input: {
  keys: NetworkKeys
  patientId: string
  pages: readonly CheckedPage[]
}): CompletenessStatement {
  const { keys, patientId, pages } = input
  // The newest checkpoint of the pages: pages asked later may carry a newer one, and the
  // entries of all pages together are the patient's trail as that page's node saw it.
  let newest: CheckedPage | undefined
  for (const page of pages) {
    const c = page.result.checkpoint
    if (
      c &&
      (!newest?.result.checkpoint ||
        c.checkpoint.timeMs >= newest.result.checkpoint.checkpoint.timeMs)
    )
      newest = page
  }
  const cosigned = newest?.result.checkpoint
  const by = newest?.result.cosignedBy
  if (!newest || !cosigned || !by)
    throw refuse(
      'no-checkpoint',
      'completeness: not proven (the answer has no cosigned checkpoint to prove it against)',
      { patientId },
    )
  const json = (newest.answer as { completeness?: Partial<CompletenessJson> } | null)?.completeness
  if (json === undefined || json === null)
    throw refuse('proof-missing', 'completeness: not proven (the node sent no proof)', {
      patientId,
    })
  if (json.patientId !== patientId)
    throw refuse(
      'other-patient',
      `answered under another patient: the completeness proof is for patient ${String(json.patientId)}, not ${patientId}`,
      { patientId, answeredFor: json.patientId },
    )
  let proof: CompletenessProof
  try {
    const bytes = fromBase64(json.proof)
    if (!bytes) throw new Error('proof is not base64')
    proof = decodeCompletenessProof(bytes)
  } catch (err) {
    throw refuse(
      'proof-malformed',
      `the completeness proof does not decode: ${(err as Error).message}`,
      { patientId },
      err,
    )
  }
  const cut = new Map<string, IndexCut>(
    cosigned.checkpoint.feeds.map((f) => [
      f.origin,
      { treeSize: f.treeSize, indexRoot: f.indexRoot },
    ]),
  )
  const entries: AnsweredEntry[] = []
  const newer = new Map<string, number>()
  for (const page of pages)
    for (const v of page.result.verified) {
      const { origin, seq, kind, body } = v.entry.entry
      if (seq > (cut.get(origin)?.treeSize ?? 0)) {
        newer.set(origin, (newer.get(origin) ?? 0) + 1)
        continue
      }
      // Only events name a patient; any other kind in the answer is an entry of no patient.
      const about =
        kind === 'event'
          ? String((body as { patientId?: unknown }).patientId)
          : `(a ${kind} record)`
      entries.push({ origin, seq, patientId: about })
    }
  const proven = verifyCompleteness({
    vrfPublicKey: keys.vrfPublicKey,
    patientId,
    cut,
    proof,
    entries,
  })
  return {
    patientId,
    checkpoint: cosigned,
    checkpointId: checkpointId(cosigned.checkpoint),
    time: by.time,
    cosignedBy: { count: by.count, of: by.of },
    origins: proven.origins,
    newer: [...newer]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([origin, count]) => ({ origin, count })),
  }
}

/** The statement's lines, as the CLI prints them and the portal shows them. */
export function describeCompleteness(s: CompletenessStatement): string[] {
  const lines = [
    `complete: every access to patient ${s.patientId} recorded up to checkpoint ${s.time} (${s.checkpointId.slice(0, 12)}), cosigned by ${s.cosignedBy.count} of ${s.cosignedBy.of}`,
  ]
  const n = s.newer.reduce((sum, o) => sum + o.count, 0)
  if (n > 0)
    lines.push(
      `${n} newer ${n === 1 ? 'entry' : 'entries'} signed by ${n === 1 ? 'its' : 'their'} origin, not yet proven complete (${s.newer.map((o) => `${o.origin}: ${o.count}`).join(', ')})`,
    )
  return lines
}

/**
 * Refuses a checkpoint older than one the verifier already verified for this network (kept by
 * the CLI in its config folder, by the browser in localStorage): a node presenting it as its
 * latest hides everything recorded since. Same time, different checkpoint: also refused.
 */
export function checkNotOlder(
  known: CosignedCheckpoint | undefined,
  presented: CosignedCheckpoint,
): void {
  if (!known) return
  const k = known.checkpoint.timeMs
  const p = presented.checkpoint.timeMs
  const kid = checkpointId(known.checkpoint)
  const pid = checkpointId(presented.checkpoint)
  if (p > k || kid === pid) return
  const at = (ms: number, id: string) => `${new Date(ms).toISOString()} (${id.slice(0, 12)})`
  throw refuse(
    'checkpoint-older',
    p === k
      ? `the answer's checkpoint ${at(p, pid)} is not the one already verified at the same time ${at(k, kid)}`
      : `the answer's checkpoint of ${at(p, pid)} is older than the checkpoint of ${at(k, kid)} already verified: the node presents an old state as its latest`,
    { presented: new Date(p).toISOString(), known: new Date(k).toISOString() },
  )
}
