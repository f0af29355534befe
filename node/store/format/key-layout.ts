import { createHmac } from 'node:crypto'

/**
 * LevelDB key layout (docs/storage.md). Keys hold no patient id, actor id, name or note:
 * feeds appear as an 8-byte HMAC tag of the origin name, people as 16-byte HMAC blind
 * indexes, both under the node's blind-index key. Numbers are big-endian u64 so that byte
 * order is numeric order and range scans walk a feed in seq order.
 */
export const PREFIX = {
  /** F | feed → feed record {origin} */
  feed: 0x46,
  /** E | feed | seq → tree nodes finished at this leaf + entry bytes */
  entry: 0x45,
  /** H | feed | treeSize → signed tree head (root, signature) */
  head: 0x48,
  /** P | blind(patient) | feed | seq → (empty) */
  patient: 0x50,
  /** A | blind(actor) | feed | seq → (empty) */
  actor: 0x41,
  /** I | event time ms | feed | seq → (empty) */
  time: 0x49,
  /** M | name → store metadata (format version) */
  meta: 0x4d,
  /** C | u64 time ms | checkpoint id[8] → a cosigned checkpoint (JSON) */
  checkpoint: 0x43,
  /** U | feed | first seq → seqs of the user records among one batch's entries */
  userRecords: 0x55,
  /** R | blind(request key) → receipt of an idempotent append (origin, first seq, count, body hash) */
  receipt: 0x52,
  /** Q | u64 arrival number → events taken while the own feed was fenced (node/store/pending-log.ts) */
  pending: 0x51,
  /** V | blind(patient) → the patient's VRF output for the per-patient index (node/index) */
  indexBeta: 0x56,
} as const

export const FEED_TAG_SIZE = 8
export const BLIND_SIZE = 16

export type FeedTag = Buffer

/** The 8-byte tag of an origin's feed in keys. */
export function feedTag(indexKey: Uint8Array, origin: string): FeedTag {
  return createHmac('sha256', indexKey)
    .update(`feed\0${origin}`)
    .digest()
    .subarray(0, FEED_TAG_SIZE)
}

/** Blind index of a patient or actor id: equal ids give equal keys, nothing else is revealed. */
export function blindIndex(indexKey: Uint8Array, kind: 'patient' | 'actor', id: string): Buffer {
  return createHmac('sha256', indexKey).update(`${kind}\0${id}`).digest().subarray(0, BLIND_SIZE)
}

function u64(n: number): Buffer {
  const b = Buffer.allocUnsafe(8)
  writeU64(b, 0, n)
  return b
}

/** n (a safe integer >= 0) as u64be into b[at..at+8], unchecked: callers size b. */
export function writeU64(b: Uint8Array, at: number, n: number): void {
  const hi = Math.floor(n / 0x1_0000_0000)
  b[at] = hi >>> 24
  b[at + 1] = hi >>> 16
  b[at + 2] = hi >>> 8
  b[at + 3] = hi
  b[at + 4] = n >>> 24
  b[at + 5] = n >>> 16
  b[at + 6] = n >>> 8
  b[at + 7] = n
}

/** prefix | tag | u64 in one allocation: entry and head keys are made once per entry. */
function tagSeqKey(prefix: number, tag: FeedTag, n: number): Buffer {
  const b = Buffer.allocUnsafe(1 + FEED_TAG_SIZE + 8)
  b[0] = prefix
  b.set(tag, 1)
  writeU64(b, 1 + FEED_TAG_SIZE, n)
  return b
}

/** Reads a u64 below 2^53; by hand, since verify reads one per entry and a Buffer view per call showed up. */
export function readU64(buf: Uint8Array, offset: number): number {
  if (offset < 0 || offset + 8 > buf.length) throw new RangeError(`no u64 at offset ${offset}`)
  const hi =
    ((buf[offset]! << 24) |
      (buf[offset + 1]! << 16) |
      (buf[offset + 2]! << 8) |
      buf[offset + 3]!) >>>
    0
  const lo =
    ((buf[offset + 4]! << 24) |
      (buf[offset + 5]! << 16) |
      (buf[offset + 6]! << 8) |
      buf[offset + 7]!) >>>
    0
  return hi * 0x1_0000_0000 + lo
}

export function feedKey(tag: FeedTag): Buffer {
  return Buffer.concat([Buffer.of(PREFIX.feed), tag])
}

export function entryKey(tag: FeedTag, seq: number): Buffer {
  return tagSeqKey(PREFIX.entry, tag, seq)
}

export function headKey(tag: FeedTag, treeSize: number): Buffer {
  return tagSeqKey(PREFIX.head, tag, treeSize)
}

export function userRecordsKey(tag: FeedTag, firstSeq: number): Buffer {
  return tagSeqKey(PREFIX.userRecords, tag, firstSeq)
}

/** prefix | head | tag | u64 seq in one allocation: index keys are made per patient per batch. */
function postingKey(prefix: number, head: Uint8Array, tag: FeedTag, seq: number): Buffer {
  const b = Buffer.allocUnsafe(1 + head.byteLength + FEED_TAG_SIZE + 8)
  b[0] = prefix
  b.set(head, 1)
  b.set(tag, 1 + head.byteLength)
  writeU64(b, 1 + head.byteLength + FEED_TAG_SIZE, seq)
  return b
}

export function patientKey(blind: Buffer, tag: FeedTag, seq: number): Buffer {
  return postingKey(PREFIX.patient, blind, tag, seq)
}

export function actorKey(blind: Buffer, tag: FeedTag, seq: number): Buffer {
  return postingKey(PREFIX.actor, blind, tag, seq)
}

export function timeKey(timeMs: number, tag: FeedTag, seq: number): Buffer {
  return postingKey(PREFIX.time, u64(timeMs), tag, seq)
}

/** Key of the receipt of an idempotent request (its key blinded like a patient id). */
export function receiptKey(indexKey: Uint8Array, requestKey: string): Buffer {
  const blind = createHmac('sha256', indexKey)
    .update(`receipt\0${requestKey}`)
    .digest()
    .subarray(0, BLIND_SIZE)
  return Buffer.concat([Buffer.of(PREFIX.receipt), blind])
}

/** Key of a pending (durable, not yet sequenced) request: arrival order is key order. */
export function pendingKey(arrival: number): Buffer {
  return Buffer.concat([Buffer.of(PREFIX.pending), u64(arrival)])
}

/** Key of a patient's cached VRF output (the index's beta), under the patient's blind index. */
export function indexBetaKey(blind: Uint8Array): Buffer {
  return Buffer.concat([Buffer.of(PREFIX.indexBeta), blind])
}

export function metaKey(name: string): Buffer {
  return Buffer.concat([Buffer.of(PREFIX.meta), Buffer.from(name, 'utf8')])
}

/** [gte, lt) bounds covering every key that starts with `prefix`. */
export function prefixRange(prefix: Buffer): { gte: Buffer; lt: Buffer } {
  const lt = Buffer.from(prefix)
  for (let i = lt.length - 1; i >= 0; i--) {
    if (lt[i]! < 0xff) {
      lt[i]! += 1
      return { gte: prefix, lt: lt.subarray(0, i + 1) }
    }
  }
  throw new Error('prefix of all 0xff bytes has no upper bound')
}

/** The seq at the end of an entry or index key. */
export function seqOfKey(key: Uint8Array): number {
  return readU64(key, key.byteLength - 8)
}

/** The feed tag just before the seq at the end of an index key. */
export function tagOfIndexKey(key: Uint8Array): FeedTag {
  const b = Buffer.from(key.buffer, key.byteOffset, key.byteLength)
  return b.subarray(b.length - 8 - FEED_TAG_SIZE, b.length - 8)
}

export { u64 as encodeU64 }
