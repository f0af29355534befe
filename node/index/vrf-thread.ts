import { parentPort, workerData } from 'node:worker_threads'
import { runVrfJob, type VrfAnswer, type VrfJob } from './vrf-jobs.ts'

// The VRF thread (vrf-worker.ts): computes the per-patient index's VRF outputs and proofs,
// ~5 ms and ~10 ms of curve arithmetic each, off the event loop. It holds the network's VRF
// secret key, as the main thread does (same process, same trust), and answers jobs in order.
const secretKey = (workerData as { secretKey: Uint8Array }).secretKey
parentPort!.on('message', (job: VrfJob) => {
  let answer: VrfAnswer
  try {
    answer = { bytes: runVrfJob(secretKey, job) }
  } catch (err) {
    answer = { error: (err as Error).message }
  }
  parentPort!.postMessage(answer, answer.bytes ? [answer.bytes.buffer as ArrayBuffer] : [])
})
