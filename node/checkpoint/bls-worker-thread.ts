import { setPriority } from 'node:os'
import { parentPort, workerData } from 'node:worker_threads'
import { isEhrlogError } from '../core/errors.ts'
import { type BlsJob, type BlsSecret, runBlsJob } from './bls-jobs.ts'

// One BLS worker: runs the jobs its BlsWorker sends, in order, and answers each by id. It
// holds the node's BLS secret key (same process, same trust) and nothing else.
const keys = workerData as BlsSecret

// A round has seconds to spare, gossip milliseconds: when the cores are busy, this thread
// should yield to the event loops, or a round's ~100 ms of pairings on every node stalls
// propagation (docs/performance.md, "Peer network"). Linux keeps nice values per thread, so
// this lowers only this thread; elsewhere it would lower the whole process, so it is left.
const BLS_THREAD_NICE = 5
if (process.platform === 'linux') {
  try {
    setPriority(BLS_THREAD_NICE)
  } catch {
    // not permitted here: run at the process's priority
  }
}

parentPort!.on('message', ({ id, job }: { id: number; job: BlsJob }) => {
  try {
    parentPort!.postMessage({ id, value: runBlsJob(keys, job) })
  } catch (err) {
    const code = isEhrlogError(err) ? err.code : 'INTERNAL'
    parentPort!.postMessage({ id, error: { code, message: (err as Error).message } })
  }
})
parentPort!.postMessage({ ready: true })
