import { readlinkSync } from 'node:fs'
import { setPriority } from 'node:os'
import { parentPort, workerData } from 'node:worker_threads'
import { runVrfJob, type VrfAnswer, type VrfJob } from './vrf-jobs.ts'

// The VRF thread (vrf-worker.ts): computes the per-patient index's VRF outputs and proofs,
// ~0.5 ms and ~3 ms each, off the event loop. It holds the network's VRF
// secret key, as the main thread does (same process, same trust), and answers jobs in order.
const secretKey = (workerData as { secretKey: Uint8Array }).secretKey

/**
 * The thread's nice value. Betas are needed by the next checkpoint's cut (seconds away), not
 * by appends: where cores are short, appends, gossip and reads go first and the VRF takes the
 * rest (on Linux a nice value is per thread; CFS still gives a nice-10 thread ~10% of a core
 * against a busy one, so it never starves). Elsewhere the thread keeps its priority.
 */
const VRF_THREAD_NICE = 10
try {
  // /proc/thread-self -> "PID/task/TID"; setpriority(PRIO_PROCESS, TID) sets this thread only.
  const tid = Number(readlinkSync('/proc/thread-self').split('/').pop())
  if (Number.isInteger(tid) && tid > 0) setPriority(tid, VRF_THREAD_NICE)
} catch {
  // not Linux, or not allowed: the same answers, at the default priority
}

parentPort!.on('message', (job: VrfJob) => {
  let answer: VrfAnswer
  try {
    answer = { bytes: runVrfJob(secretKey, job) }
  } catch (err) {
    answer = { error: (err as Error).message }
  }
  parentPort!.postMessage(answer, answer.bytes ? [answer.bytes.buffer as ArrayBuffer] : [])
})
