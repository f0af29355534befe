import { parentPort, workerData } from 'node:worker_threads'
import { VALUE_OVERHEAD, ValueCipher } from '../format/value-cipher.ts'
import { type RawRecords, unpackRecords } from '../packed-records.ts'
import type { SealedValues } from './seal-worker.ts'

// The seal worker (seal-worker.ts): seals each job's records, in order, with the value key.
// Its nonces come from its own random pool, as independent as any two draws in one thread.
const cipher = new ValueCipher((workerData as { valueKey: Uint8Array }).valueKey)
parentPort!.on('message', (raw: RawRecords) => {
  const records = unpackRecords(raw)
  const ends = new Uint32Array(records.length)
  const values = new Uint8Array(raw.values.byteLength + records.length * VALUE_OVERHEAD)
  let at = 0
  records.forEach(([key, plaintext], i) => {
    const sealed = cipher.seal(key, plaintext)
    values.set(sealed, at)
    at += sealed.byteLength
    ends[i] = at
  })
  const answer: SealedValues = { values, ends }
  parentPort!.postMessage(answer, [values.buffer, ends.buffer])
})
