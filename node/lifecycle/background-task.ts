import type { Logger } from '../logger.ts'
import type { Startable } from './startable.ts'

/**
 * Work that runs in the background from start() until stop() aborts it and waits for it to
 * end (e.g. the tree cache's warm-up, which must end before the store closes). It never fails
 * a start: an error ends the task and is logged as a warning.
 */
export class BackgroundTask implements Startable {
  readonly #name: string
  readonly #run: (signal: AbortSignal) => Promise<void>
  readonly #logger: Logger
  readonly #abort = new AbortController()
  #done: Promise<void> = Promise.resolve()

  constructor(name: string, run: (signal: AbortSignal) => Promise<void>, logger: Logger) {
    this.#name = name
    this.#run = run
    this.#logger = logger
  }

  async start(): Promise<void> {
    if (this.#abort.signal.aborted) return
    this.#done = this.#run(this.#abort.signal).catch((err: unknown) => {
      this.#logger.warn({ err: (err as Error).message }, `${this.#name} stopped`)
    })
  }

  async stop(): Promise<void> {
    this.#abort.abort()
    await this.#done
  }
}
