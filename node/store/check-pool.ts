import { Worker } from 'node:worker_threads'
import { sourceUrl } from '../threads/source-root.ts'
import { workerSource } from '../threads/worker-source.ts'
import { type CheckedRecords, packRecords, transferables } from './record-check.ts'

interface Waiter {
  resolve: (checked: CheckedRecords) => void
  reject: (err: Error) => void
}

/**
 * Worker threads that run checkRecords (record-check.ts) for verifyReplica: decrypting and
 * hashing are ~3/4 of verify's per-entry work and need no other entry, so they move off
 * the thread that reads LevelDB and folds the tree. Jobs go round-robin; each worker
 * answers in order. Once a worker fails, every later job is refused, and the caller checks
 * inline instead.
 */
export class CheckPool {
  readonly #workers: Worker[] = []
  readonly #waiting: Waiter[][] = []
  #next = 0
  #failure: Error | undefined

  constructor(size: number, valueKey: Uint8Array) {
    for (let i = 0; i < size; i++) {
      const worker = new Worker(workerSource(sourceUrl('node/store/check-worker.ts')), {
        eval: true,
        workerData: { valueKey },
        // A job is one chunk of records, garbage once answered: a small young generation
        // is enough, and the default one (like the main thread's) costs ~15 MB of RSS.
        resourceLimits: { maxYoungGenerationSizeMb: 4 },
      })
      const waiting: Waiter[] = []
      worker.on('message', (checked: CheckedRecords) => waiting.shift()?.resolve(checked))
      worker.on('error', (err) => this.#fail(err))
      worker.on('exit', (code) => this.#fail(new Error(`verify worker exited with ${code}`)))
      this.#workers.push(worker)
      this.#waiting.push(waiting)
    }
  }

  /** Checks records on a worker; they are packed into fresh buffers, so the caller keeps its own. */
  check(
    origin: string,
    records: ReadonlyArray<readonly [Uint8Array, Uint8Array]>,
  ): Promise<CheckedRecords> {
    if (this.#failure) return Promise.reject(this.#failure)
    const i = this.#next++ % this.#workers.length
    const raw = packRecords(records)
    return new Promise((resolve, reject) => {
      this.#waiting[i]!.push({ resolve, reject })
      this.#workers[i]!.postMessage({ origin, raw }, transferables(raw))
    })
  }

  async close(): Promise<void> {
    this.#failure ??= new Error('verify pool closed')
    await Promise.all(this.#workers.map((w) => w.terminate()))
  }

  #fail(err: Error): void {
    this.#failure ??= err
    for (const waiting of this.#waiting) for (const w of waiting.splice(0)) w.reject(err)
  }
}
