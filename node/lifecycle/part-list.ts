import { EhrlogError } from '../core/errors.ts'
import type { Logger } from '../logger.ts'
import type { NamedPart } from './startable.ts'

/**
 * One ordered list of parts, the single source of start order, rollback and stop order: start()
 * starts them in list order (each may use the ones before it); stop() stops the started ones
 * in reverse. When a start throws, that part and every part started before it are stopped (the
 * failed one first, then in reverse order) before the error is rethrown, so a failed start holds
 * no lock, port or timer. stop() is idempotent, waits for a start under way, and stops every
 * part even when one fails (then it rejects with the first failure).
 */
export class PartList {
  readonly #parts: readonly NamedPart[]
  readonly #logger: Logger
  /** Parts whose start() was called, in start order: the ones stop() releases. */
  readonly #begun: NamedPart[] = []
  #starting: Promise<void> | undefined
  #stopping: Promise<void> | undefined

  constructor(parts: readonly NamedPart[], logger: Logger) {
    this.#parts = parts
    this.#logger = logger
  }

  start(): Promise<void> {
    if (this.#starting || this.#stopping) {
      return Promise.reject(new EhrlogError('ARGUMENT_INVALID', 'a part list starts only once'))
    }
    this.#starting = this.#startAll()
    return this.#starting
  }

  stop(): Promise<void> {
    // A stop during start waits for it: no part may be left running behind a finished stop.
    this.#stopping ??= (this.#starting ?? Promise.resolve())
      .catch(() => {}) // a failed start has released its parts already
      .then(() => this.#stopAll())
    return this.#stopping
  }

  async #startAll(): Promise<void> {
    for (const named of this.#parts) {
      // Listed before its start: a start that throws halfway (a store whose LevelDB opened but
      // whose feeds did not load) still has something to release.
      this.#begun.push(named)
      try {
        await named[1].start()
      } catch (err) {
        this.#logger.error(
          { part: named[0], err: (err as Error).message },
          'start failed: stopping the parts started so far',
        )
        await this.#stopAll().catch(() => {}) // each failure is logged; the start error wins
        throw err
      }
    }
  }

  async #stopAll(): Promise<void> {
    const failures: unknown[] = []
    for (const [name, part] of this.#begun.splice(0).reverse()) {
      try {
        await part.stop()
      } catch (err) {
        failures.push(err)
        this.#logger.error({ part: name, err: (err as Error).message }, 'part did not stop cleanly')
      }
    }
    if (failures.length > 0) throw failures[0]
  }
}
