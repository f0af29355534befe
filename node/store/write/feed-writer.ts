import type { ClassicLevel } from 'classic-level'
import type { FeedState } from '../feed-state.ts'
import type { ValueCipher } from '../format/value-cipher.ts'
import { type CommitListeners, committedBatch } from '../patient-index-store.ts'
import type { EncodedBatch } from './feed-encoder.ts'
import { RecentBatches } from './recent-batches.ts'
import { Sealer } from './seal-worker.ts'
import { type PlainSink, WriteChain } from './write-chain.ts'

/**
 * LogStore's writes of feed batches: encodes a batch into a LevelDB batch (sealing inline or
 * on the seal worker), queues it on the write chain, moves the feed's tip at once and its
 * committed state once it is on disk, tells the commit listeners, and keeps the batch among
 * the recent ones that peers pull next (recent-batches.ts).
 */
export class FeedWriter {
  readonly writes: WriteChain
  readonly sealer: Sealer
  readonly recent = new RecentBatches()
  readonly #committed: CommitListeners

  constructor(
    db: ClassicLevel<Buffer, Buffer>,
    sync: boolean,
    cipher: ValueCipher,
    valueKey: Uint8Array,
    committed: CommitListeners,
  ) {
    this.writes = new WriteChain(db, sync)
    this.sealer = new Sealer(cipher, valueKey)
    this.#committed = committed
  }

  /**
   * Encodes one batch (synchronously: batches are encoded one at a time, in call order),
   * queues it, moves the feed's tip at once and its committed state once it is on disk.
   * `offThread`: seal the batch's records on the seal worker while this thread goes on.
   */
  async commit<T extends EncodedBatch>(
    feed: FeedState,
    encode: (sink: PlainSink) => T,
    offThread = false,
    removals: readonly Buffer[] = [],
  ): Promise<T> {
    const batch = this.writes.begin()
    for (const key of removals) batch.del(key)
    const deferred = offThread ? this.sealer.deferred(batch) : undefined
    let encoded: T
    try {
      encoded = encode(deferred?.sink ?? this.sealer.inline(batch))
    } catch (err) {
      this.writes.discard(batch)
      throw err
    }
    const { builder, lastHash, lastRecordedMs, head, events, entryBytes } = encoded
    const firstSeq = feed.tip.builder.size + 1
    // Only now: a batch whose encoding failed must not leave a new feed without its record.
    feed.isNew = false
    feed.tip = { builder, lastHash, lastRecordedMs }
    await this.writes.write(
      batch,
      () => {
        feed.committed = { size: head.treeSize, root: head.root, head }
        this.recent.add(feed.origin, firstSeq, entryBytes, head)
        if (this.#committed.size > 0)
          this.#committed.tell(committedBatch(feed.origin, firstSeq, head.treeSize, events))
      },
      deferred?.fill(),
    )
    return encoded
  }

  /** Waits for queued writes, then stops the seal worker. */
  async close(): Promise<void> {
    await this.writes.idle()
    await this.sealer.close()
    this.recent.clear()
  }
}
