import type { AuditEvent } from '../core/event.ts'
import type { Logger } from '../logger.ts'
import type { PendingLog, PendingRequest, Receipt } from '../store/index.ts'
import { entryBytesBound, MAX_GOSSIP_BATCH_BYTES } from './batch-bytes.ts'
import type { AppendGate } from './ingest-queue.ts'
import type { OwnFeed } from './own-feed.ts'

export interface PendingDrainOptions {
  /** Settles when the own feed's fence opens (OwnTipFence.opened). */
  opened: Promise<void>
  log: PendingLog
  feed: Pick<OwnFeed, 'append'>
  logger: Logger
  /** Events per append batch (default 1000, as IngestQueue). */
  maxBatch?: number
  /** Entry bytes per append batch (default MAX_GOSSIP_BATCH_BYTES, as IngestQueue). */
  maxBatchBytes?: number
  /** Wait before trying a failed append again (default 1000 ms). */
  retryMs?: number
}

/**
 * Sequences the events taken while the own feed was fenced (PendingLog): once the fence opens,
 * appends them in arrival order, whole requests per batch (group commit), each batch deleting
 * its pending records in the same atomic write that appends their entries and writes their
 * idempotency receipts. Until the backlog is empty, new requests wait (waitReady) or join it,
 * so arrival order holds across the switch. A failed append is retried: the events stay durable.
 */
export class PendingDrain implements AppendGate {
  readonly #opts: PendingDrainOptions
  #ready = false
  #markReady: () => void = () => {}
  readonly #readyPromise: Promise<void>
  readonly #adding = new Set<Promise<unknown>>()
  #running: Promise<void> | undefined
  #stopped = false
  #retry: { timer: NodeJS.Timeout; resolve: () => void } | undefined

  constructor(opts: PendingDrainOptions) {
    this.#opts = opts
    this.#readyPromise = new Promise((resolve) => {
      this.#markReady = resolve
    })
  }

  async start(): Promise<void> {
    await this.#opts.log.open()
    if (this.#opts.log.size > 0) {
      this.#opts.logger.info(
        { requests: this.#opts.log.size, events: this.#opts.log.events },
        'events pending from before the restart: appended once the own feed is unfenced',
      )
    }
    void this.#opts.opened.then(() => this.#kick())
  }

  async stop(): Promise<void> {
    this.#stopped = true
    if (this.#retry) {
      clearTimeout(this.#retry.timer)
      this.#retry.resolve()
    }
    await this.#running
  }

  async waitReady(timeoutMs: number): Promise<boolean> {
    if (this.#ready) return true
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs)
    })
    try {
      return await Promise.race([this.#readyPromise.then(() => true), timedOut])
    } finally {
      clearTimeout(timer)
    }
  }

  /** Stores a request pending (durable on return). */
  async add(events: AuditEvent[], request?: PendingRequest): Promise<string[]> {
    const adding = this.#opts.log.add(events, request)
    this.#adding.add(adding)
    try {
      return await adding
    } finally {
      this.#adding.delete(adding)
      // Decided just before the backlog emptied: append it now rather than at the next start.
      if (this.#ready) this.#kick()
    }
  }

  /** Events stored pending and not yet appended. */
  get pendingEvents(): number {
    return this.#opts.log.events
  }

  byRequest(requestKey: string): { bodyHash: string; pendingIds: string[] } | undefined {
    return this.#opts.log.byRequest(requestKey)
  }

  #kick(): void {
    if (this.#running || this.#stopped) return
    this.#running = this.#drain().finally(() => {
      this.#running = undefined
    })
  }

  async #drain(): Promise<void> {
    const { log, logger } = this.#opts
    const before = log.events
    while (!this.#stopped) {
      if (log.size === 0) {
        if (this.#adding.size === 0) break
        await Promise.allSettled([...this.#adding])
        continue
      }
      try {
        const records = await log.oldest(this.#opts.maxBatch ?? 1000)
        if (records.length === 0) {
          logger.error({ pending: log.size }, 'pending events unreadable: left in the store')
          break
        }
        await this.#appendRecords(this.#withinBytes(records))
      } catch (err) {
        logger.warn({ err: (err as Error).message }, 'pending events not appended yet: retrying')
        await new Promise<void>((resolve) => {
          this.#retry = { timer: setTimeout(resolve, this.#opts.retryMs ?? 1000), resolve }
        })
      }
    }
    if (before > 0 && log.size === 0) logger.info({ events: before }, 'pending events appended')
    // Unreadable records (logged) must not hold every later request back.
    if (!this.#stopped) {
      this.#ready = true
      this.#markReady()
    }
  }

  /** The oldest records whose events fit maxBatchBytes (at least one): the rest wait their turn. */
  #withinBytes<R extends { events: AuditEvent[] }>(records: R[]): R[] {
    const max = this.#opts.maxBatchBytes ?? MAX_GOSSIP_BATCH_BYTES
    let bytes = 0
    for (const [i, r] of records.entries()) {
      for (const e of r.events) bytes += entryBytesBound(e)
      if (i > 0 && bytes > max) return records.slice(0, i)
    }
    return records
  }

  async #appendRecords(records: Awaited<ReturnType<PendingLog['oldest']>>): Promise<void> {
    const receipts: Receipt[] = []
    let at = 0
    for (const r of records) {
      if (r.request) {
        const { key: requestKey, bodyHash } = r.request
        receipts.push({ requestKey, bodyHash, firstItem: at, count: r.events.length })
      }
      at += r.events.length
    }
    const keys = records.map((r) => r.key)
    await this.#opts.feed.append(
      records.flatMap((r) => r.events.map((body) => ({ kind: 'event' as const, body }))),
      receipts,
      undefined,
      keys,
    )
    this.#opts.log.settled(keys)
  }
}
