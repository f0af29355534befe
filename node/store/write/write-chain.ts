import type { ClassicLevel } from 'classic-level'
import { EhrlogError } from '../../core/errors.ts'

/**
 * Where a batch's records go while it is encoded: plaintext values, which the sink seals
 * (seal-worker.ts) on their way into the LevelDB batch.
 */
export interface PlainSink {
  /** Not `put`, so that a raw LevelDB batch, which would store the plaintext, is no sink. */
  putPlain(key: Buffer, plaintext: Uint8Array): void
  /**
   * A key whose value is empty: a posting of one seq, which its key states in full
   * (write/indexes.ts, docs/storage.md "Key-only postings"). Nothing to seal.
   */
  putKeyOnly(key: Buffer): void
}

export type ChainedBatch = ReturnType<ClassicLevel<Buffer, Buffer>['batch']>

/**
 * Writes batches strictly in the order they were encoded, while the caller encodes the next
 * one: LevelDB works in a libuv thread, so encoding batch n+1 overlaps writing batch n on a
 * second core. Order matters: batch n+1 on disk without batch n would be a gap in a feed.
 * After a failed write the in-memory feed state is ahead of the disk, so the chain refuses
 * every later write until the store is reopened.
 *
 * Batches are LevelDB chained batches, filled with put() as the entries are encoded: the
 * array form of batch() costs ~5 µs of main-thread JS per operation here, a chained put
 * ~0.6 µs, and each key and value becomes garbage at once instead of living until its
 * batch is written (docs/performance.md).
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

  /** A new batch to fill; hand it to write() or discard(). */
  begin(): ChainedBatch {
    this.assertHealthy()
    return this.#db.batch()
  }

  /** Drops a batch that will not be written (its encoding failed). */
  discard(batch: ChainedBatch): void {
    void batch.close()
  }

  /**
   * Queues a batch; resolves after it is on disk and `onCommit` ran. `filled`: the batch is
   * still being filled (sealed off-thread) and is written once that settles.
   */
  write(batch: ChainedBatch, onCommit: () => void, filled?: Promise<void>): Promise<void> {
    this.assertHealthy()
    const run = this.#tail.then(async () => {
      await filled
      if (this.#failure) {
        await batch.close()
        throw this.#failure
      }
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
