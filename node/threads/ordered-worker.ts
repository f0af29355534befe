import { type Transferable, Worker } from 'node:worker_threads'
import { sourceUrl } from './source-root.ts'
import { workerSource } from './worker-source.ts'

/**
 * One worker thread that answers its jobs in order, one message each (the verify pool's
 * workers, the seal worker). Once it fails (an error, an exit, close()), every waiting and
 * later job is refused with that error, and the caller does the work inline instead.
 */
export class OrderedWorker<Answer> {
  readonly #worker: Worker
  readonly #waiting: Array<{ resolve: (answer: Answer) => void; reject: (err: Error) => void }> = []
  #failure: Error | undefined

  /** `entry`: the thread's source from the repository root, e.g. `node/store/write/seal-thread.ts`. */
  constructor(entry: string, workerData: unknown, name: string) {
    this.#worker = new Worker(workerSource(sourceUrl(entry)), {
      eval: true,
      workerData,
      // A job's buffers are garbage once answered: a small young generation will do, and
      // the default one (like the main thread's) costs ~15 MB of RSS.
      resourceLimits: { maxYoungGenerationSizeMb: 4 },
    })
    this.#worker.unref() // its owner closes it; it must not keep the process alive alone
    this.#worker.on('message', (answer: Answer) => this.#waiting.shift()?.resolve(answer))
    this.#worker.on('error', (err) => this.#fail(err))
    this.#worker.on('exit', (code) => this.#fail(new Error(`${name} exited with ${code}`)))
  }

  /** Posts a job (transferring `transfer`); resolves with the worker's answer to it. */
  run(job: unknown, transfer: readonly Transferable[]): Promise<Answer> {
    if (this.#failure) return Promise.reject(this.#failure)
    return new Promise((resolve, reject) => {
      this.#waiting.push({ resolve, reject })
      this.#worker.postMessage(job, transfer)
    })
  }

  async close(reason: string): Promise<void> {
    this.#fail(new Error(reason))
    await this.#worker.terminate()
  }

  #fail(err: Error): void {
    this.#failure ??= err
    for (const w of this.#waiting.splice(0)) w.reject(this.#failure)
  }
}
