import { OrderedWorker } from '../../threads/ordered-worker.ts'
import { packRecords, transferables } from '../packed-records.ts'
import type { CheckedRecords } from './record-check.ts'

/**
 * Worker threads that run checkRecords (record-check.ts) for verifyReplica: decrypting and
 * hashing are ~3/4 of verify's per-entry work and need no other entry, so they move off
 * the thread that reads LevelDB and folds the tree. Jobs go round-robin; each worker
 * answers in order. Once a worker fails, its jobs are refused, and the caller checks
 * inline instead.
 */
export class CheckPool {
  readonly #workers: OrderedWorker<CheckedRecords>[] = []
  #next = 0

  constructor(size: number, valueKey: Uint8Array) {
    for (let i = 0; i < size; i++)
      this.#workers.push(
        new OrderedWorker('node/store/verify/check-worker.ts', { valueKey }, 'verify worker'),
      )
  }

  /** Checks records on a worker; they are packed into fresh buffers, so the caller keeps its own. */
  check(
    origin: string,
    records: ReadonlyArray<readonly [Uint8Array, Uint8Array]>,
  ): Promise<CheckedRecords> {
    const worker = this.#workers[this.#next++ % this.#workers.length]!
    const raw = packRecords(records)
    return worker.run({ origin, raw }, transferables(raw))
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.close('verify pool closed')))
  }
}
