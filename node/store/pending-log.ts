import type { AuditEvent } from '../core/event.ts'
import { PREFIX, pendingKey, prefixRange, readU64 } from './format/key-layout.ts'
import type { LogStore } from './log-store.ts'
import { accessOf } from './store-access.ts'

/** An idempotent request's key and body hash, as IngestQueue takes them. */
export interface PendingRequest {
  key: string
  bodyHash: string
}

/** One request taken while the own feed was fenced: durable, not yet sequenced. */
export interface PendingRecord {
  /** Its LevelDB key: deleted in the same write that appends its events. */
  key: Buffer
  events: AuditEvent[]
  request: PendingRequest | undefined
  /** When it was taken (ISO 8601): the entries are recorded when they are sequenced. */
  receivedAt: string
}

interface Meta {
  key: Buffer
  arrival: number
  count: number
  request: PendingRequest | undefined
}

/** The ids a pending request is answered with: `pending-<arrival>-<index>`, unique per node. */
export function pendingIdsOf(arrival: number, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `pending-${arrival}-${i}`)
}

/**
 * Events taken while the node's own feed was fenced (node/ingest/own-tip-fence.ts), in the
 * node's encrypted LevelDB under their own prefix (Q | arrival number), sealed like every
 * value: no patient identifier in plaintext on disk. Each is written with fsync before it is
 * acknowledged, and deleted in the same atomic write that appends its events to the feed
 * (LogStore.appendEntries `removals`): after a crash it is pending or sequenced, never lost,
 * never both. The index of what is pending (not the events) is kept in memory.
 */
export class PendingLog {
  readonly #store: LogStore
  readonly #metas: Meta[] = []
  readonly #byRequest = new Map<string, Meta>()
  #lastArrival = 0

  constructor(store: LogStore) {
    this.#store = store
  }

  /** Reads the index of what is pending (after the store opened). */
  async open(): Promise<void> {
    const { db, cipher } = accessOf(this.#store)
    for await (const [key, value] of db.iterator(prefixRange(Buffer.of(PREFIX.pending)))) {
      const plain = cipher.open(key, value)
      // A value that fails authentication was not written by this node: left in place, skipped.
      if (!plain) continue
      const record = JSON.parse(plain.toString('utf8')) as StoredPending
      this.#index({
        key,
        arrival: readU64(key, 1),
        count: record.events.length,
        request: record.request,
      })
    }
  }

  /** Requests pending. */
  get size(): number {
    return this.#metas.length
  }

  /** Events pending. */
  get events(): number {
    return this.#metas.reduce((n, m) => n + m.count, 0)
  }

  /** Stores a request durably (fsync); returns its pending ids. */
  async add(events: AuditEvent[], request?: PendingRequest): Promise<string[]> {
    // Unique across restarts (the counter restarts empty): microseconds since 1970 or later.
    const arrival = Math.max(this.#lastArrival + 1, Date.now() * 1000)
    this.#lastArrival = arrival
    const key = pendingKey(arrival)
    const record: StoredPending = {
      events,
      ...(request ? { request } : {}),
      receivedAt: new Date().toISOString(),
    }
    const { db, cipher } = accessOf(this.#store)
    await db.put(key, cipher.seal(key, Buffer.from(JSON.stringify(record))), { sync: true })
    this.#index({ key, arrival, count: events.length, request })
    return pendingIdsOf(arrival, events.length)
  }

  /** A pending request with this idempotency key: its body hash and pending ids. */
  byRequest(requestKey: string): { bodyHash: string; pendingIds: string[] } | undefined {
    const meta = this.#byRequest.get(requestKey)
    if (!meta?.request) return undefined
    return { bodyHash: meta.request.bodyHash, pendingIds: pendingIdsOf(meta.arrival, meta.count) }
  }

  /** The oldest pending requests, whole, up to `maxEvents` events (at least one request). */
  async oldest(maxEvents: number): Promise<PendingRecord[]> {
    const { db, cipher } = accessOf(this.#store)
    const out: PendingRecord[] = []
    let events = 0
    for (const meta of this.#metas) {
      if (out.length > 0 && events + meta.count > maxEvents) break
      const value = await db.get(meta.key)
      const plain = value && cipher.open(meta.key, value)
      if (!plain) continue
      const record = JSON.parse(plain.toString('utf8')) as StoredPending
      out.push({ key: meta.key, ...record, request: record.request })
      events += meta.count
    }
    return out
  }

  /** Forgets records whose deletion was written (with their entries). */
  settled(keys: readonly Buffer[]): void {
    const gone = new Set(keys.map((k) => k.toString('hex')))
    for (let i = this.#metas.length - 1; i >= 0; i--) {
      const meta = this.#metas[i]!
      if (!gone.has(meta.key.toString('hex'))) continue
      this.#metas.splice(i, 1)
      if (meta.request) this.#byRequest.delete(meta.request.key)
    }
  }

  #index(meta: Meta): void {
    this.#metas.push(meta)
    this.#lastArrival = Math.max(this.#lastArrival, meta.arrival)
    if (meta.request) this.#byRequest.set(meta.request.key, meta)
  }
}

interface StoredPending {
  events: AuditEvent[]
  request?: PendingRequest
  receivedAt: string
}
