import { vrfInput } from '../core/index/layout.ts'
import { VRF_OUTPUT_SIZE, vrfOutput, vrfProve } from '../core/index/vrf.ts'

/** A job of the VRF thread: outputs (betas) of many patients, or one patient's proof. */
export type VrfJob = { op: 'outputs'; patientIds: string[] } | { op: 'prove'; patientId: string }

/** outputs: betas end to end (64 bytes each, in the order asked); prove: the 80-byte proof. */
export interface VrfAnswer {
  bytes?: Uint8Array
  error?: string
}

/** Runs one job (on the thread, or inline when the thread is gone). */
export function runVrfJob(secretKey: Uint8Array, job: VrfJob): Uint8Array {
  if (job.op === 'prove') return vrfProve(secretKey, vrfInput(job.patientId))
  const out = new Uint8Array(job.patientIds.length * VRF_OUTPUT_SIZE)
  job.patientIds.forEach((id, i) => {
    out.set(vrfOutput(secretKey, vrfInput(id)), i * VRF_OUTPUT_SIZE)
  })
  return out
}
