import { vrfInput } from '../core/index/layout.ts'
import { VRF_OUTPUT_SIZE, vrfProve } from '../core/index/vrf.ts'
import { VrfOutputs } from './vrf-output.ts'

/** A job of the VRF thread: outputs (betas) of many patients, or one patient's proof. */
export type VrfJob = { op: 'outputs'; patientIds: string[] } | { op: 'prove'; patientId: string }

/** outputs: betas end to end (64 bytes each, in the order asked); prove: the 80-byte proof. */
export interface VrfAnswer {
  bytes?: Uint8Array
  error?: string
}

/** The X25519 keys of the last secret key seen: a thread serves one key all its life. */
let outputsOf: { secretKey: Uint8Array; outputs: VrfOutputs } | undefined

/** Runs one job (on the thread, or inline when the thread is gone). */
export function runVrfJob(secretKey: Uint8Array, job: VrfJob): Uint8Array {
  if (job.op === 'prove') return vrfProve(secretKey, vrfInput(job.patientId))
  if (outputsOf?.secretKey !== secretKey) {
    outputsOf = { secretKey, outputs: new VrfOutputs(secretKey) }
  }
  const { outputs } = outputsOf
  const out = new Uint8Array(job.patientIds.length * VRF_OUTPUT_SIZE)
  job.patientIds.forEach((id, i) => {
    out.set(outputs.output(vrfInput(id)), i * VRF_OUTPUT_SIZE)
  })
  return out
}
