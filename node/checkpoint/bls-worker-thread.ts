import { parentPort, workerData } from 'node:worker_threads'
import { isEhrlogError } from '../core/errors.ts'
import { type BlsJob, type BlsKeys, runBlsJob } from './bls-jobs.ts'

// One BLS worker: runs the jobs its BlsWorker sends, in order, and answers each by id. It
// holds the node's BLS secret key (same process, same trust) and nothing else.
const keys = workerData as BlsKeys
parentPort!.on('message', ({ id, job }: { id: number; job: BlsJob }) => {
  try {
    parentPort!.postMessage({ id, value: runBlsJob(keys, job) })
  } catch (err) {
    const code = isEhrlogError(err) ? err.code : 'INTERNAL'
    parentPort!.postMessage({ id, error: { code, message: (err as Error).message } })
  }
})
parentPort!.postMessage({ ready: true })
