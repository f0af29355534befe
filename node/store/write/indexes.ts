import type { ClassicLevel } from 'classic-level'
import type { AuditEvent } from '../../core/event.ts'
import {
  actorKey,
  BLIND_SIZE,
  blindIndex,
  type FeedTag,
  PREFIX,
  patientKey,
  prefixRange,
  readU64,
  timeKey,
  userRecordsKey,
  writeU64,
} from '../format/key-layout.ts'
import type { ValueCipher } from '../format/value-cipher.ts'
import type { PlainSink } from './write-chain.ts'

export interface EntryRef {
  origin: string
  seq: number
}

/**
 * What the indexes and the commit listeners read of an event: only these fields, copied out of
 * the body, so that a batch waiting for its write does not keep each body (above all its
 * ~1.2 KiB `original`) alive until the write is on disk (docs/performance.md, session 10).
 */
export type IndexedFields = Pick<AuditEvent, 'patientId' | 'actorId' | 'time'>

export interface IndexedEvent {
  seq: number
  event: IndexedFields
}

/** What one batch adds to the indexes: its events, and the seqs of its user records. */
export interface IndexedBatch {
  events: IndexedEvent[]
  userSeqs: number[]
}

/** Blind indexes kept per kind (patients, actors); a full cache starts again empty. */
export const BLIND_CACHE_LIMIT = 100_000
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
 * sink), except a posting of one seq (P, A, U): its key already ends in that seq, so
 * it is stored as the key alone, with an empty value (postingSeqs reads both forms). That is
 * most postings (a patient rarely has two events in one batch), and an AES-GCM seal costs
 * ~3 µs of CPU however small the value (docs/storage.md "Key-only postings").
 */
export class Indexes {
  readonly #indexKey: Uint8Array
  /** Blind indexes by id, one cache per kind: no `kind + id` string built per lookup. */
  readonly #blinds = { patient: new BlindCache(), actor: new BlindCache() }

  constructor(indexKey: Uint8Array) {
    this.#indexKey = indexKey
  }

  blind(kind: 'patient' | 'actor', id: string): Buffer {
    const cache = this.#blinds[kind]
    let blind = cache.get(id)
    if (!blind) {
      blind = blindIndex(this.#indexKey, kind, id)
      cache.set(id, blind)
    }
    return blind
  }

  /**
   * The index writes for the entries of one batch (seqs ascending): U, then P, A and I
   * postings, each group in first-seen order. One pass groups the events (every append and
   * every accepted batch runs this per entry, docs/performance.md).
   */
  addBatchOps(ops: PlainSink, tag: FeedTag, batch: IndexedBatch): void {
    const { events, userSeqs } = batch
    if (userSeqs.length > 0) putPosting(ops, userRecordsKey(tag, userSeqs[0]!), userSeqs)
    if (events.length === 0) return
    const byPatient = new Map<string, number[]>()
    const byActor = new Map<string, number[]>()
    /** minute → seq, event time ms, seq, event time ms, … */
    const byMinute = new Map<number, number[]>()
    // Events of a batch often share a time (a burst of one message's patients): parse once.
    let lastTime: string | undefined
    let lastMs = 0
    for (const { seq, event } of events) {
      pushTo(byPatient, event.patientId, seq)
      pushTo(byActor, event.actorId, seq)
      if (event.time !== lastTime) {
        lastTime = event.time
        lastMs = Date.parse(lastTime)
      }
      const minute = Math.floor(lastMs / TIME_BUCKET_MS)
      const list = byMinute.get(minute)
      if (list) list.push(seq, lastMs)
      else byMinute.set(minute, [seq, lastMs])
    }
    for (const [id, seqs] of byPatient) {
      putPosting(ops, patientKey(this.blind('patient', id), tag, seqs[0]!), seqs)
    }
    for (const [id, seqs] of byActor) {
      putPosting(ops, actorKey(this.blind('actor', id), tag, seqs[0]!), seqs)
    }
    for (const [minute, pairs] of byMinute) {
      ops.putPlain(timeKey(minute * TIME_BUCKET_MS, tag, pairs[0]!), u64List(pairs))
    }
  }

  patientPrefix(patientId: string): Buffer {
    return Buffer.concat([Buffer.of(PREFIX.patient), this.blind('patient', patientId)])
  }

  actorPrefix(actorId: string): Buffer {
    return Buffer.concat([Buffer.of(PREFIX.actor), this.blind('actor', actorId)])
  }
}

/**
 * Up to BLIND_CACHE_LIMIT blind indexes by id, end to end in one array, the map holding where
 * each is: a Buffer kept per id was three objects (the view, its ArrayBuffer, the map's
 * entry) that every major GC marks and sweeps, ~300,000 at a pool of 100,000 patients. get()
 * gives a new view (young garbage); a view stays valid, as a filled region is never written
 * again (growing copies to a new array, and a full cache starts a new one).
 */
class BlindCache {
  readonly #at = new Map<string, number>()
  #slab = new Uint8Array(BLIND_SIZE * 1024)

  get(id: string): Buffer | undefined {
    const i = this.#at.get(id)
    return i === undefined ? undefined : Buffer.from(this.#slab.buffer, i * BLIND_SIZE, BLIND_SIZE)
  }

  set(id: string, blind: Uint8Array): void {
    if (this.#at.size >= BLIND_CACHE_LIMIT) {
      this.#at.clear()
      this.#slab = new Uint8Array(this.#slab.length)
    }
    const i = this.#at.size
    if ((i + 1) * BLIND_SIZE > this.#slab.length) {
      const grown = new Uint8Array(Math.min(this.#slab.length * 2, BLIND_CACHE_LIMIT * BLIND_SIZE))
      grown.set(this.#slab)
      this.#slab = grown
    }
    this.#slab.set(blind, i * BLIND_SIZE)
    this.#at.set(id, i)
  }
}

/** A posting of seqs (P, A, U): the key alone for one seq (its key's own), else sealed seqs. */
function putPosting(ops: PlainSink, key: Buffer, seqs: readonly number[]): void {
  if (seqs.length === 1) ops.putKeyOnly(key)
  else ops.putPlain(key, u64List(seqs))
}

/**
 * The seqs (u64be each) a posting of seqs (P, A, U) lists: a key-only posting lists the seq
 * its key ends with; otherwise the sealed value, undefined when it fails authentication. A
 * view, not a copy, for the key-only form. An insider who adds a key-only posting gains what
 * adding any posting would: a query reads each entry and keeps only those of the patient
 * asked (query/select.ts), and the per-patient index built from postings is checked against
 * the entries after every scrub (a posting too many shows as a different root there).
 */
export function postingSeqs(cipher: ValueCipher, key: Buffer, value: Buffer): Buffer | undefined {
  return value.byteLength === 0 ? key.subarray(key.byteLength - 8) : cipher.open(key, value)
}

function pushTo<K>(groups: Map<K, number[]>, key: K, n: number): void {
  const list = groups.get(key)
  if (list) list.push(n)
  else groups.set(key, [n])
}

/** Numbers below 2^53 as u64be, end to end. */
function u64List(list: readonly number[]): Buffer {
  const plain = Buffer.allocUnsafe(list.length * 8)
  for (let i = 0; i < list.length; i++) writeU64(plain, i * 8, list[i]!)
  return plain
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
    // Time postings are never key-only: each seq comes with its time.
    const plain = timeFilter ? cipher.open(key, value) : postingSeqs(cipher, key, value)
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
