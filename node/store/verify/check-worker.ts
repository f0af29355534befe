import { parentPort, workerData } from 'node:worker_threads'
import { ValueCipher } from '../format/value-cipher.ts'
import { type RawRecords, transferables, unpackRecords } from '../packed-records.ts'
import { checkRecords } from './record-check.ts'

// One verify worker: checks the chunks of records its CheckPool sends, in order. It holds
// the value key (same process, same trust) and nothing else of the store.
const cipher = new ValueCipher((workerData as { valueKey: Uint8Array }).valueKey)
parentPort!.on('message', (job: { origin: string; raw: RawRecords }) => {
  const checked = checkRecords(cipher, job.origin, unpackRecords(job.raw))
  parentPort!.postMessage(checked, transferables(checked))
})
