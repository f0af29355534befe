import { Worker } from 'node:worker_threads'
import { EhrlogError, type ErrorCode } from '../core/errors.ts'
import type { Logger } from '../logger.ts'
import { sourceUrl } from '../threads/source-root.ts'
import { workerSource } from '../threads/worker-source.ts'
import { type BlsJob, type BlsResults, type BlsSecret, runBlsJob } from './bls-jobs.ts'

interface Pending {
  resolve: (value: unknown) => void
  reject: (err: Error) => void
}

type Answer =
  | { id: number; value: unknown }
  | { id: number; error: { code: string; message: string } }

/**
 * Runs the BLS jobs of checkpoint rounds (bls-jobs.ts) on a worker thread, so the event loop
 * that carries gossip never stalls behind a 20–30 ms pairing. start() launches the thread,
 * stop() terminates it (idempotent) and fails the jobs still waiting with UNAVAILABLE. If the
 * thread dies on its own, later jobs run inline instead: slower for the loop, but rounds go on.
 */
export class BlsWorker {
  readonly #keys: BlsSecret
  readonly #log: Logger
  readonly #pending = new Map<number, Pending>()
  #worker: Worker | undefined
  #exited: Promise<void> = Promise.resolve()
  #nextId = 0
  #state: 'new' | 'running' | 'failed' | 'stopped' = 'new'

  constructor(keys: BlsSecret, log: Logger) {
    this.#keys = keys
    this.#log = log
  }

  /** True while the thread runs (from start() until it exits). */
  get running(): boolean {
    return this.#state === 'running'
  }

  /** Launches the thread. Jobs sent before it has loaded wait in its message queue. */
  start(): void {
    if (this.#state !== 'new') return
    const worker = new Worker(workerSource(sourceUrl('node/checkpoint/bls-worker-thread.ts')), {
      eval: true,
      workerData: this.#keys,
      // A job's garbage is a few points: a small young generation is enough (see check-pool.ts).
      resourceLimits: { maxYoungGenerationSizeMb: 4 },
    })
    this.#worker = worker
    this.#state = 'running'
    worker.on('message', (answer: Answer | { ready: true }) => this.#answer(answer))
    worker.on('error', (err) => this.#fail(err))
    this.#exited = new Promise((resolve) =>
      worker.once('exit', (code) => {
        this.#fail(new Error(`BLS worker exited with code ${code}`))
        resolve()
      }),
    )
  }

  /** Terminates the thread and waits until it has exited; waiting jobs fail with UNAVAILABLE. */
  async stop(): Promise<void> {
    if (this.#state === 'stopped') return this.#exited
    const worker = this.#worker
    this.#state = 'stopped'
    this.#rejectAll(new EhrlogError('UNAVAILABLE', 'BLS worker stopped'))
    if (worker) await worker.terminate()
    await this.#exited
  }

  /** Runs `job` on the thread (inline if the thread failed). */
  run<K extends BlsJob['op']>(job: Extract<BlsJob, { op: K }>): Promise<BlsResults[K]> {
    if (this.#state === 'stopped' || this.#state === 'new') {
      return Promise.reject(new EhrlogError('UNAVAILABLE', `BLS worker is ${this.#state}`))
    }
    if (this.#state === 'failed' || !this.#worker) {
      try {
        return Promise.resolve(runBlsJob(this.#keys, job) as BlsResults[K])
      } catch (err) {
        return Promise.reject(err)
      }
    }
    const id = this.#nextId++
    const worker = this.#worker
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject })
      worker.postMessage({ id, job })
    })
  }

  #answer(answer: Answer | { ready: true }): void {
    if (!('id' in answer)) return
    const pending = this.#pending.get(answer.id)
    this.#pending.delete(answer.id)
    if (!pending) return
    if ('error' in answer) {
      const { code, message } = answer.error
      pending.reject(new EhrlogError(code as ErrorCode, message))
    } else pending.resolve(answer.value)
  }

  #fail(err: Error): void {
    if (this.#state !== 'running') return
    this.#state = 'failed'
    this.#log.error({ err: err.message }, 'BLS worker failed: checkpoint BLS now runs inline')
    // The jobs it held are lost; their rounds fail and the next ones run inline.
    this.#rejectAll(new EhrlogError('UNAVAILABLE', `BLS worker failed: ${err.message}`))
  }

  #rejectAll(err: Error): void {
    for (const pending of this.#pending.values()) pending.reject(err)
    this.#pending.clear()
  }
}
