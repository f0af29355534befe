import type { Logger } from 'pino'
import { encodeGossipMessage, GOSSIP_HEADER_BYTES } from './batch-codec.ts'
import { LIMITS } from './protocol.ts'

export interface OutboxOptions {
  /** Encoded records waiting to be published; past this the oldest are dropped. */
  maxQueuedBytes: number
  /** Records are packed into messages of about this size. */
  targetMessageBytes: number
}

/**
 * Bounded queue between `publish()` and gossipsub, which has no backpressure (docs/performance.md).
 * One loop sends one message at a time: it waits until the peers' gossip streams have
 * drained (`waitWritable`), then packs as many queued records as fit in one message. While
 * it waits, new records pile up and go out together, so bursts become few large messages.
 * When the queue overflows the oldest records are dropped and logged: gossip is the fast
 * path only, and anti-entropy sync delivers whatever it missed.
 */
export class GossipOutbox {
  private queue: Uint8Array[] = []
  private queuedBytes = 0
  private dropped = 0
  private flushing: Promise<void> | undefined
  private readonly controller = new AbortController()

  constructor(
    private readonly send: (message: Uint8Array) => Promise<void>,
    private readonly waitWritable: (signal: AbortSignal) => Promise<void>,
    private readonly log: Logger,
    private readonly opts: OutboxOptions,
  ) {}

  get pendingBytes(): number {
    return this.queuedBytes
  }

  /** Queues one encoded batch record; it must fit in one message on its own. */
  enqueue(record: Uint8Array): void {
    if (this.controller.signal.aborted) return
    this.queue.push(record)
    this.queuedBytes += record.byteLength
    while (this.queuedBytes > this.opts.maxQueuedBytes && this.queue.length > 1) {
      this.queuedBytes -= (this.queue.shift() as Uint8Array).byteLength
      this.dropped++
    }
    // setImmediate lets the publish() calls of one tick share a message.
    this.flushing ??= new Promise((resolve) => setImmediate(resolve)).then(() => this.flush())
  }

  /** Stops sending; whatever is still queued is left to sync. */
  async stop(): Promise<void> {
    this.controller.abort()
    await this.flushing
    this.queue = []
    this.queuedBytes = 0
  }

  private async flush(): Promise<void> {
    const { signal } = this.controller
    try {
      while (this.queue.length > 0 && !signal.aborted) {
        await this.waitWritable(signal)
        if (signal.aborted) break
        let count = 0
        let bytes = GOSSIP_HEADER_BYTES
        for (const r of this.queue) {
          if (count === LIMITS.maxRecordsPerMessage) break
          if (count > 0 && bytes + r.byteLength > this.opts.targetMessageBytes) break
          bytes += r.byteLength
          count++
        }
        const records = this.queue.splice(0, count)
        this.queuedBytes -= bytes - GOSSIP_HEADER_BYTES
        if (this.dropped > 0) {
          this.log.warn(
            { dropped: this.dropped },
            'gossip outbox full: dropped oldest batches, sync will deliver them',
          )
          this.dropped = 0
        }
        try {
          await this.send(encodeGossipMessage(records))
        } catch (err) {
          this.log.warn(
            { err: (err as Error).message, records: count },
            'gossip publish failed, sync will deliver',
          )
        }
      }
    } finally {
      this.flushing = undefined
    }
  }
}
