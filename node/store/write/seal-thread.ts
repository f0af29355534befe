import { parentPort, workerData } from 'node:worker_threads'
import { VALUE_OVERHEAD, ValueCipher } from '../format/value-cipher.ts'
import type { RawRecords } from '../packed-records.ts'
import type { SealedValues } from './seal-worker.ts'

// The seal worker (seal-worker.ts): seals each job's records, in order, with the value key.
// Its nonces come from its own random pool, as independent as any two draws in one thread.
const cipher = new ValueCipher((workerData as { valueKey: Uint8Array }).valueKey)
// Each value is sealed straight into the answer's buffer (no sealed copy per value).
parentPort!.on('message', (raw: RawRecords) => {
  const { count, keys, keyEnds, values: plain, valueEnds } = raw
  const ends = new Uint32Array(count)
  const values = new Uint8Array(plain.byteLength + count * VALUE_OVERHEAD)
  let at = 0
  for (let i = 0; i < count; i++) {
    const key = keys.subarray(i === 0 ? 0 : keyEnds[i - 1], keyEnds[i])
    const plaintext = plain.subarray(i === 0 ? 0 : valueEnds[i - 1], valueEnds[i])
    at = cipher.sealInto(key, plaintext, values, at)
    ends[i] = at
  }
  const answer: SealedValues = { values, ends }
  parentPort!.postMessage(answer, [values.buffer, ends.buffer])
})
