import type { Checkpoint } from '../core/checkpoint.ts'
import { encodeCompletenessProof } from '../core/index/index.ts'
import type { CompletenessJson } from '../core/trust/answer.ts'
import type { QueryFilter } from '../core/trust/index.ts'
import type { IndexView } from '../index/index-view.ts'

/**
 * The patient a completeness proof can be given for, or undefined: the effective filter (after
 * scope) names one patient and nothing else narrows it (no actor, action, resource, time,
 * origin or outcome; `kind` absent, `event` or `all`, which with a patient all select exactly
 * the patient's events). Only then do the answer's pages hold every event about the patient,
 * which is what the proof shows (docs/architecture.md, "Complete answers").
 */
export function completenessPatientOf(filter: QueryFilter): string | undefined {
  const { patient, kind, ...rest } = filter
  if (patient === undefined) return undefined
  if (kind !== undefined && kind !== 'event' && kind !== 'all') return undefined
  return Object.values(rest).every((v) => v === undefined) ? patient : undefined
}

/** The answer's `completeness` for `patientId` at the cut of `checkpoint` (its feeds, every origin). */
export async function completenessOf(
  index: Pick<IndexView, 'prove'>,
  patientId: string,
  checkpoint: Checkpoint,
): Promise<CompletenessJson> {
  const proof = await index.prove(patientId, checkpoint)
  return { patientId, proof: Buffer.from(encodeCompletenessProof(proof)).toString('base64') }
}
