import type { ClassicLevel } from 'classic-level'
import { EhrlogError } from '../core/errors.ts'

export type Op = { type: 'put'; key: Buffer; value: Buffer }

/**
 * Writes batches strictly in the order they were encoded, while the caller encodes the next
 * one: LevelDB works in a libuv thread, so encoding batch n+1 overlaps writing batch n on a
 * second core. Order matters: batch n+1 on disk without batch n would be a gap in a feed.
 * After a failed write the in-memory feed state is ahead of the disk, so the chain refuses
 * every later write until the store is reopened.
 */
export class WriteChain {
  readonly #db: ClassicLevel<Buffer, Buffer>
  readonly #sync: boolean
  #tail: Promise<void> = Promise.resolve()
  #failure: EhrlogError | undefined

  constructor(db: ClassicLevel<Buffer, Buffer>, sync: boolean) {
    this.#db = db
    this.#sync = sync
  }

  /** Throws STORE_CORRUPT if an earlier write failed. Call before encoding. */
  assertHealthy(): void {
    if (this.#failure) throw this.#failure
  }

  /** Queues a batch; resolves after it is on disk and `onCommit` ran. */
  write(ops: Op[], onCommit: () => void): Promise<void> {
    this.assertHealthy()
    const run = this.#tail.then(async () => {
      this.assertHealthy()
      const batch = this.#db.batch()
      for (const op of ops) batch.put(op.key, op.value)
      await batch.write({ sync: this.#sync })
      onCommit()
    })
    this.#tail = run.catch((cause: unknown) => {
      this.#failure ??= new EhrlogError(
        'STORE_CORRUPT',
        'a write to the store failed; reopen it and run `ehrlog verify`',
        { cause },
      )
    })
    return run
  }

  /** Resolves when every queued write has finished (or failed). */
  idle(): Promise<void> {
    return this.#tail
  }
}
