import { entryId } from '../core/entry.ts'
import { EhrlogError } from '../core/errors.ts'
import type { AuditEvent } from '../core/event.ts'
import type { AppendItem, LogStore, PendingLog, Receipt } from '../store/index.ts'
import { entryBytesBound, MAX_GOSSIP_BATCH_BYTES } from './batch-bytes.ts'
import type { OwnFeed } from './own-feed.ts'

export interface IngestRequest {
  /** Client's idempotency key: a retry with the same key returns the first answer. */
  key: string
  /** SHA-256 hex of the request body: the same key with another body is refused. */
  bodyHash: string
}

export interface IngestResult {
  /** Entry ids; empty while the events are pending. */
  ids: string[]
  /** True when the request key was seen before and nothing new was appended. */
  duplicate: boolean
  /**
   * Set when the events are durable but not yet sequenced (the own feed is fenced): their
   * pending ids. A retry with the same Idempotency-Key gets the entry ids once sequenced.
   */
  pendingIds?: string[]
}

/** When the own feed takes appends (PendingDrain: the fence is open and the backlog appended). */
export interface AppendGate {
  /** Resolves true once appends go straight to the feed; false after `timeoutMs`. */
  waitReady(timeoutMs: number): Promise<boolean>
}

export interface IngestQueueOptions {
  /** Where earlier requests' idempotency receipts are looked up. */
  store: Pick<LogStore, 'getReceipt'>
  /** Appends each batch and gossips it once durable. */
  feed: Pick<OwnFeed, 'append'>
  /** Told of each batch appended: its events and how long the durable append took (metrics). */
  observeAppend?: (events: number, durationMs: number) => void
  /** Events per append batch (default 1000). */
  maxBatch?: number
  /**
   * Entry bytes per append batch, bounded per event by entryBytesBound (default
   * MAX_GOSSIP_BATCH_BYTES: a batch goes out whole in one gossip message, not as an
   * announcement that every replica answers by pulling it back from this node).
   */
  maxBatchBytes?: number
  /** How long an event may wait for others to share its batch (default 2 ms). */
  maxDelayMs?: number
  /**
   * With `pending`: a request waits up to `gateWaitMs` for the gate, then is stored pending
   * (durable, not yet sequenced). Without them, requests go straight to the feed.
   */
  gate?: AppendGate
  pending?: Pick<PendingLog, 'add' | 'byRequest'>
  /** Default 2000 ms: covers a normal restart, whose fence opens with its first sync session. */
  gateWaitMs?: number
}

interface Pending {
  /** Emptied once taken into a batch (#start): the batch's items hold them from then on. */
  events: AuditEvent[]
  /** events.length, kept. */
  count: number
  /** entryBytesBound of its events, summed. */
  bytes: number
  request: IngestRequest | undefined
  resolve: (ids: string[]) => void
  reject: (err: unknown) => void
}

/**
 * Group commit for the node's own feed: concurrent requests share one append batch (one
 * fsync, one signed tree head), and an answer is given only after its batch is on disk.
 * At most two batches are in flight, one being written while the next is encoded. A batch
 * holds whole requests, in arrival order, up to maxBatch events and maxBatchBytes of
 * entries, so that under load it still goes out whole in one gossip message.
 */
export class IngestQueue {
  readonly #opts: Required<
    Pick<IngestQueueOptions, 'maxBatch' | 'maxBatchBytes' | 'maxDelayMs' | 'gateWaitMs'>
  > &
    IngestQueueOptions
  #pending: Pending[] = []
  #pendingEvents = 0
  #pendingBytes = 0
  #timer: NodeJS.Timeout | undefined
  #inFlight: Promise<void>[] = []
  /** Requests being appended, by key: a concurrent retry waits for the first. */
  readonly #byKey = new Map<string, { bodyHash: string; done: Promise<IngestResult> }>()

  constructor(opts: IngestQueueOptions) {
    this.#opts = {
      maxBatch: 1000,
      maxBatchBytes: MAX_GOSSIP_BATCH_BYTES,
      maxDelayMs: 2,
      gateWaitMs: 2000,
      ...opts,
    }
  }

  /** Appends validated events; resolves with their entry ids once they are durable. */
  async submit(events: AuditEvent[], request?: IngestRequest): Promise<IngestResult> {
    if (events.length === 0) {
      throw new EhrlogError('EVENT_INVALID', 'no events in the request', {
        details: { field: 'events' },
      })
    }
    if (!request) return this.#appendOrPend(events, undefined)
    const running = this.#byKey.get(request.key)
    if (running) {
      this.#assertSameBody(request, running.bodyHash)
      return { ...(await running.done), duplicate: true }
    }
    // Registered before the first await: a concurrent retry with this key waits for this one
    // instead of appending a second time.
    let settle!: { resolve: (result: IngestResult) => void; reject: (err: unknown) => void }
    const done = new Promise<IngestResult>((resolve, reject) => {
      settle = { resolve, reject }
    })
    done.catch(() => {}) // rejections reach the callers; this only silences the unobserved case
    this.#byKey.set(request.key, { bodyHash: request.bodyHash, done })
    try {
      // Pending before receipts: the write that sequences a pending request writes its
      // receipt, and only then is it forgotten here, so one of the two always finds it.
      const pending = this.#opts.pending?.byRequest(request.key)
      if (pending) {
        this.#assertSameBody(request, pending.bodyHash)
        const result = { ids: [], duplicate: true, pendingIds: pending.pendingIds }
        settle.resolve(result)
        return result
      }
      const receipt = await this.#opts.store.getReceipt(request.key)
      if (receipt) {
        this.#assertSameBody(request, receipt.bodyHash)
        const ids = Array.from({ length: receipt.count }, (_, i) =>
          entryId(receipt.origin, receipt.firstSeq + i),
        )
        settle.resolve({ ids, duplicate: true })
        return { ids, duplicate: true }
      }
      const appending = this.#appendOrPend(events, request)
      events = [] // not held here while the append runs: the queue lets them go once encoded
      const result = await appending
      settle.resolve(result)
      return result
    } catch (err) {
      settle.reject(err)
      throw err
    } finally {
      this.#byKey.delete(request.key)
    }
  }

  /**
   * Appends once the gate is open; if it stays closed for gateWaitMs, stores the request
   * pending instead (PendingDrain appends it later, in arrival order, before anything newer).
   */
  async #appendOrPend(
    events: AuditEvent[],
    request: IngestRequest | undefined,
  ): Promise<IngestResult> {
    const { gate, pending, gateWaitMs } = this.#opts
    if (gate && pending && !(await gate.waitReady(gateWaitMs))) {
      return { ids: [], duplicate: false, pendingIds: await pending.add(events, request) }
    }
    const ids = this.#enqueue(events, request)
    // The queue holds them now, and lets go once they are encoded: so does this frame.
    events = []
    return { ids: await ids, duplicate: false }
  }

  #enqueue(events: AuditEvent[], request: IngestRequest | undefined): Promise<string[]> {
    let bytes = 0
    for (const e of events) bytes += entryBytesBound(e)
    const done = new Promise<string[]>((resolve, reject) => {
      this.#pending.push({ events, count: events.length, bytes, request, resolve, reject })
    })
    this.#pendingEvents += events.length
    this.#pendingBytes += bytes
    this.#schedule()
    return done
  }

  /** Resolves when everything submitted so far is appended (or failed). */
  async drain(): Promise<void> {
    while (this.#pending.length > 0 || this.#inFlight.length > 0) {
      if (this.#pending.length > 0 && this.#inFlight.length < 2) this.#flush()
      await Promise.race(this.#inFlight)
    }
  }

  #assertSameBody(request: IngestRequest, bodyHash: string): void {
    if (request.bodyHash !== bodyHash) {
      throw new EhrlogError(
        'IDEMPOTENCY_CONFLICT',
        `idempotency key ${JSON.stringify(request.key)} was used before with a different request body`,
        {
          details: { field: 'Idempotency-Key' },
        },
      )
    }
  }

  #schedule(): void {
    if (this.#inFlight.length >= 2) return // the finishing batch reschedules
    if (
      this.#pendingEvents >= this.#opts.maxBatch ||
      this.#pendingBytes >= this.#opts.maxBatchBytes
    ) {
      this.#flush()
    } else if (!this.#timer) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined
        if (this.#inFlight.length < 2) this.#flush()
      }, this.#opts.maxDelayMs)
    }
  }

  /**
   * Takes whole requests, in order, up to maxBatch events and maxBatchBytes (a larger request
   * goes alone), and appends them.
   */
  #flush(): void {
    if (this.#pending.length === 0) return
    const { maxBatch, maxBatchBytes } = this.#opts
    let taken = 0
    let count = 0
    let bytes = 0
    for (const next of this.#pending) {
      if (taken > 0 && (count + next.count > maxBatch || bytes + next.bytes > maxBatchBytes)) break
      taken++
      count += next.count
      bytes += next.bytes
    }
    const batch = this.#pending.splice(0, taken)
    this.#pendingEvents -= count
    this.#pendingBytes -= bytes
    const run = this.#append(batch).finally(() => {
      this.#inFlight = this.#inFlight.filter((p) => p !== run)
      if (this.#pending.length > 0) this.#schedule()
    })
    this.#inFlight.push(run)
  }

  async #append(taken: Pending[]): Promise<void> {
    const started = performance.now()
    try {
      const { entries, head } = await this.#start(taken)
      // Ids from the signed head: the entries hold bytes, not parsed bodies.
      const firstSeq = head.treeSize - entries.length + 1
      let at = 0
      for (const p of taken) {
        p.resolve(
          Array.from({ length: p.count }, (_, i) => entryId(head.origin, firstSeq + at + i)),
        )
        at += p.count
      }
      this.#opts.observeAppend?.(at, performance.now() - started)
    } catch (err) {
      for (const p of taken) p.reject(err)
    }
  }

  /**
   * Starts the append of `taken`, letting go of their events: from here only the batch's
   * items hold the bodies, and the store lets go of those once encoded, so that a batch
   * waiting for its write keeps no event alive (docs/performance.md, session 10).
   */
  #start(taken: Pending[]): ReturnType<IngestQueueOptions['feed']['append']> {
    const items: AppendItem[] = []
    const receipts: Receipt[] = []
    for (const p of taken) {
      if (p.request)
        receipts.push({
          requestKey: p.request.key,
          bodyHash: p.request.bodyHash,
          firstItem: items.length,
          count: p.count,
        })
      for (const body of p.events) items.push({ kind: 'event', body })
      p.events = []
    }
    return this.#opts.feed.append(items, receipts)
  }
}
