import { ORIGIN_PATTERN } from '../core/layout.ts'
import type { SignedTreeHead } from '../core/tree-head.ts'
import { ByteReader, ByteWriter } from './bytes.ts'
import { GOSSIP_VERSION, LIMITS } from './protocol.ts'
import type { FeedBatch } from './replica-store.ts'

/**
 * Binary layouts of signed heads, batch records and gossip messages (docs/protocol.md,
 * "Gossip"). All integers are big-endian; every variable field is length-prefixed.
 */

/** head := u8 len | origin | u64 treeSize | root[32] | signature[64] */
export function writeHead(w: ByteWriter, head: SignedTreeHead): void {
  w.shortString(head.origin).u64(head.treeSize).bytes(head.root).bytes(head.signature)
}

/** u8 len | origin: a member name (a DNS label), checked before anything looks it up. */
export function readOrigin(r: ByteReader): string {
  const origin = r.shortString('origin')
  if (!ORIGIN_PATTERN.test(origin))
    throw r.invalid(`origin ${JSON.stringify(origin)} is not a node name`)
  return origin
}

export function readHead(r: ByteReader): SignedTreeHead {
  const origin = readOrigin(r)
  const treeSize = r.u64('treeSize')
  if (treeSize < 1) throw r.invalid('treeSize is 0')
  const root = r.bytes(32, 'root')
  const signature = r.bytes(64, 'signature')
  return { origin, treeSize, root, signature }
}

/** entries := u32 count | (u32 len | bytes){count} */
export function writeEntries(w: ByteWriter, entries: readonly Uint8Array[]): void {
  w.u32(entries.length)
  for (const e of entries) w.u32(e.byteLength).bytes(e)
}

/** Entries are views into `r`'s buffer, not copies. */
export function readEntries(r: ByteReader, maxCount: number): Uint8Array[] {
  const count = r.u32('entry count')
  if (count > maxCount) throw r.invalid(`${count} entries, at most ${maxCount} allowed`)
  // Each entry takes at least 5 bytes: refuse a count the message cannot hold before allocating.
  if (count * 5 > r.remaining)
    throw r.invalid(`${count} entries cannot fit in ${r.remaining} bytes`)
  const entries: Uint8Array[] = new Array(count)
  for (let i = 0; i < count; i++) {
    const n = r.u32('entry length')
    if (n === 0 || n > LIMITS.maxEntryBytes) {
      throw r.invalid(`entry ${i} has ${n} bytes, want 1..${LIMITS.maxEntryBytes}`)
    }
    entries[i] = r.bytes(n, `entry ${i}`)
  }
  return entries
}

/**
 * record := head | entries. A record with no entries is an announcement: "this head exists",
 * sent when a batch is too large for one gossip message (receivers pull it by sync).
 */
export function encodeBatchRecord(batch: FeedBatch): Uint8Array {
  const head = new ByteWriter()
  writeHead(head, batch.head)
  const headBytes = head.finish()
  // The entries (a batch of the own feed is up to ~1 MiB) are written once, into one buffer,
  // as writeEntries lays them out.
  let size = headBytes.byteLength + 4
  for (const e of batch.entries) size += 4 + e.byteLength
  const out = exactBuffer(size)
  out.set(headBytes, 0)
  let at = out.writeUInt32BE(batch.entries.length, headBytes.byteLength)
  for (const e of batch.entries) {
    at = out.writeUInt32BE(e.byteLength, at)
    out.set(e, at)
    at += e.byteLength
  }
  return new Uint8Array(out.buffer, 0, size)
}

/** message := u8 version | u16 recordCount | record{recordCount} */
export function encodeGossipMessage(records: readonly Uint8Array[]): Uint8Array {
  let size = GOSSIP_HEADER_BYTES
  for (const r of records) size += r.byteLength
  const out = exactBuffer(size)
  out.writeUInt8(GOSSIP_VERSION, 0)
  let at = out.writeUInt16BE(records.length, 1)
  for (const r of records) {
    out.set(r, at)
    at += r.byteLength
  }
  return new Uint8Array(out.buffer, 0, size)
}

/** A Buffer of `size` bytes that owns its ArrayBuffer (not Node's shared pool), not zeroed. */
function exactBuffer(size: number): Buffer {
  if (!Number.isSafeInteger(size) || size > 0xffff_ffff)
    throw new RangeError(`message of ${size} bytes`)
  return Buffer.allocUnsafeSlow(size)
}

/** Bytes a message adds around its records. */
export const GOSSIP_HEADER_BYTES = 3

/** Parses an untrusted gossip message; throws ARGUMENT_INVALID on any malformation. */
export function decodeGossipMessage(data: Uint8Array): FeedBatch[] {
  const r = new ByteReader(data, 'gossip message')
  const version = r.u8('version')
  if (version !== GOSSIP_VERSION) throw r.invalid(`version ${version}, want ${GOSSIP_VERSION}`)
  const count = r.u16('record count')
  if (count === 0 || count > LIMITS.maxRecordsPerMessage) {
    throw r.invalid(`${count} records, want 1..${LIMITS.maxRecordsPerMessage}`)
  }
  const batches: FeedBatch[] = []
  for (let i = 0; i < count; i++) {
    const head = readHead(r)
    const entries = readEntries(r, LIMITS.maxBatchEntries)
    if (entries.length > head.treeSize) {
      throw r.invalid(`record ${i} has ${entries.length} entries for tree size ${head.treeSize}`)
    }
    batches.push({ origin: head.origin, entries, head })
  }
  r.end()
  return batches
}
