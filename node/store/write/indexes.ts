import type { ClassicLevel } from 'classic-level'
import type { AuditEvent } from '../../core/event.ts'
import {
  actorKey,
  blindIndex,
  type FeedTag,
  PREFIX,
  patientKey,
  prefixRange,
  readU64,
  timeKey,
  userRecordsKey,
} from '../format/key-layout.ts'
import type { ValueCipher } from '../format/value-cipher.ts'
import type { PlainSink } from './write-chain.ts'

export interface EntryRef {
  origin: string
  seq: number
}

export interface IndexedEvent {
  seq: number
  event: AuditEvent
}

/** What one batch adds to the indexes: its events, and the seqs of its user records. */
export interface IndexedBatch {
  events: IndexedEvent[]
  userSeqs: number[]
}

const CACHE_LIMIT = 100_000
/** Time postings are grouped per minute of event time. */
export const TIME_BUCKET_MS = 60_000

/**
 * The secondary indexes, as posting lists written once per append batch (docs/storage.md):
 * - P | blind(patient) | feed | first seq → seqs of that patient's entries in the batch
 * - A | blind(actor) | feed | first seq → seqs of that actor's entries in the batch
 * - I | minute of event time | feed | first seq → (seq, event time ms) pairs
 * - U | feed | first seq → seqs of the user records in the batch (so a node starts without
 *   reading every entry to rebuild its user directory)
 * Blind keys are HMACs, so they land at random places in LevelDB, and random-key writes
 * cost ~10 µs each here (docs/performance.md): one posting per patient per batch instead of one key
 * per entry is what keeps appends fast. Values are sealed like every other value (by the
 * sink).
 */
export class Indexes {
  readonly #indexKey: Uint8Array
  readonly #blinds = new Map<string, Buffer>()

  constructor(indexKey: Uint8Array) {
    this.#indexKey = indexKey
  }

  blind(kind: 'patient' | 'actor', id: string): Buffer {
    const cacheKey = `${kind}\0${id}`
    let blind = this.#blinds.get(cacheKey)
    if (!blind) {
      blind = blindIndex(this.#indexKey, kind, id)
      if (this.#blinds.size >= CACHE_LIMIT) this.#blinds.clear()
      this.#blinds.set(cacheKey, blind)
    }
    return blind
  }

  /** The index writes for the entries of one batch (seqs ascending). */
  addBatchOps(ops: PlainSink, tag: FeedTag, batch: IndexedBatch): void {
    const { events, userSeqs } = batch
    if (userSeqs.length > 0) ops.putPlain(userRecordsKey(tag, userSeqs[0]!), u64List(userSeqs))
    const byPatient = groupBy(events, (e) => e.event.patientId)
    const byActor = groupBy(events, (e) => e.event.actorId)
    // Each event time parsed once (a Date.parse per event per use showed in profiles).
    const timeMs = new Map<IndexedEvent, number>()
    for (const e of events) timeMs.set(e, Date.parse(e.event.time))
    const byMinute = groupBy(events, (e) => Math.floor(timeMs.get(e)! / TIME_BUCKET_MS))
    for (const [id, list] of byPatient) {
      ops.putPlain(patientKey(this.blind('patient', id), tag, list[0]!.seq), seqList(list))
    }
    for (const [id, list] of byActor) {
      ops.putPlain(actorKey(this.blind('actor', id), tag, list[0]!.seq), seqList(list))
    }
    for (const [minute, list] of byMinute) {
      const plain = Buffer.allocUnsafe(list.length * 16)
      list.forEach((e, i) => {
        writeU64(plain, i * 16, e.seq)
        writeU64(plain, i * 16 + 8, timeMs.get(e)!)
      })
      ops.putPlain(timeKey(minute * TIME_BUCKET_MS, tag, list[0]!.seq), plain)
    }
  }

  patientPrefix(patientId: string): Buffer {
    return Buffer.concat([Buffer.of(PREFIX.patient), this.blind('patient', patientId)])
  }

  actorPrefix(actorId: string): Buffer {
    return Buffer.concat([Buffer.of(PREFIX.actor), this.blind('actor', actorId)])
  }
}

function groupBy<K>(
  events: readonly IndexedEvent[],
  keyOf: (e: IndexedEvent) => K,
): Map<K, IndexedEvent[]> {
  const groups = new Map<K, IndexedEvent[]>()
  for (const e of events) {
    const k = keyOf(e)
    const list = groups.get(k)
    if (list) list.push(e)
    else groups.set(k, [e])
  }
  return groups
}

function seqList(list: readonly IndexedEvent[]): Buffer {
  return u64List(list.map((e) => e.seq))
}

function u64List(list: readonly number[]): Buffer {
  const plain = Buffer.allocUnsafe(list.length * 8)
  list.forEach((n, i) => {
    writeU64(plain, i * 8, n)
  })
  return plain
}

function writeU64(buf: Buffer, at: number, n: number): void {
  buf.writeUInt32BE(Math.floor(n / 0x1_0000_0000), at)
  buf.writeUInt32BE(n >>> 0, at + 4)
}

/** Reads posting lists under a prefix into entry references, in key order. */
export async function scanPostings(
  db: ClassicLevel<Buffer, Buffer>,
  cipher: ValueCipher,
  range: { gte: Buffer; lt: Buffer },
  limit: number,
  originOfTag: (tagHex: string) => string | undefined,
  /** For time postings: keep a (seq, time) pair only if this holds. */
  timeFilter?: (timeMs: number) => boolean,
): Promise<EntryRef[]> {
  const refs: EntryRef[] = []
  for await (const [key, value] of db.iterator(range)) {
    const origin = originOfTag(key.subarray(key.length - 16, key.length - 8).toString('hex'))
    const plain = cipher.open(key, value)
    // A posting that fails authentication is skipped here and reported by verify.
    if (!origin || !plain) continue
    const stride = timeFilter ? 16 : 8
    for (let at = 0; at + stride <= plain.length; at += stride) {
      if (timeFilter && !timeFilter(readU64(plain, at + 8))) continue
      refs.push({ origin, seq: readU64(plain, at) })
      if (refs.length >= limit) return refs
    }
  }
  return refs
}

/** Key range of the time postings that may hold events in [fromMs, toMs). */
export function timeRange(fromMs: number, toMs: number): { gte: Buffer; lt: Buffer } {
  const bound = (ms: number) => {
    const b = Buffer.alloc(9)
    b[0] = PREFIX.time
    b.writeBigUInt64BE(BigInt(Math.max(0, ms)), 1)
    return b
  }
  return {
    gte: bound(Math.floor(fromMs / TIME_BUCKET_MS) * TIME_BUCKET_MS),
    lt: bound(Math.max(0, toMs)),
  }
}

export { prefixRange }
