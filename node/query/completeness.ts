import type { Checkpoint } from '../core/checkpoint.ts'
import { encodeCompletenessProof } from '../core/index/index.ts'
import type { CompletenessJson } from '../core/trust/answer.ts'
import type { IndexView } from '../index/index-view.ts'

/** The answer's `completeness` for `patientId` at the cut of `checkpoint` (its feeds, every origin). */
export async function completenessOf(
  index: Pick<IndexView, 'prove'>,
  patientId: string,
  checkpoint: Checkpoint,
): Promise<CompletenessJson> {
  const proof = await index.prove(patientId, checkpoint)
  return { patientId, proof: Buffer.from(encodeCompletenessProof(proof)).toString('base64') }
}

/** One rule for node and clients: which queries carry (and must carry) a completeness proof. */
export { completenessPatientOf } from '../core/trust/index.ts'
