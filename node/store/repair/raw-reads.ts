import { HASH_SIZE } from '../../core/merkle/index.ts'
import {
  entryKey,
  type FeedTag,
  headKey,
  metaKey,
  PREFIX,
  prefixRange,
  seqOfKey,
} from '../format/key-layout.ts'
import { decodeEntryRecord } from '../format/records.ts'
import type { LogStore, StoreInternals } from '../log-store.ts'

/*
 * What node/integrity reads of a feed's records without trusting them: head sizes from keys
 * alone, stored values still sealed (to fingerprint damage), and the repair count that
 * repair.ts keeps in the same batches as its repairs.
 */

/** How many repairs this store wrote to the feed (kept in the same batches as the repairs). */
export async function repairCount(store: LogStore, origin: string): Promise<number> {
  const internals = store.internals
  const feed = internals.feeds.get(origin)
  if (!feed) return 0
  const plain = await readPlain(internals, repairCountKey(feed.tag))
  return plain?.length === 8 ? Number(plain.readBigUInt64BE(0)) : 0
}

/** Sizes of the head records of a feed from `fromSize` on, ascending, keys only (unverified). */
export async function headSizes(
  store: LogStore,
  origin: string,
  fromSize: number,
  limit: number,
): Promise<number[]> {
  const feed = store.internals.feeds.get(origin)
  if (!feed) return []
  const { lt } = prefixRange(Buffer.concat([Buffer.of(PREFIX.head), feed.tag]))
  const keys = await store.internals.db.keys({ gte: headKey(feed.tag, fromSize), lt, limit }).all()
  return keys.map(seqOfKey)
}

/** Size of the last head record below `treeSize` (keys only, unverified); 0 when none. */
export async function headSizeBefore(
  store: LogStore,
  origin: string,
  treeSize: number,
): Promise<number> {
  const feed = store.internals.feeds.get(origin)
  if (!feed) return 0
  const gte = headKey(feed.tag, 0)
  const lt = headKey(feed.tag, treeSize)
  const last = await store.internals.db.keys({ gte, lt, reverse: true, limit: 1 }).all()
  return last[0] ? seqOfKey(last[0]) : 0
}

/** The entry bytes in a sealed value read earlier from the record of `seq`; undefined if it does not open. */
export function entryBytesOfValue(
  store: LogStore,
  origin: string,
  seq: number,
  value: Buffer,
): Uint8Array | undefined {
  const feed = store.internals.feeds.get(origin)
  const plain = feed && store.internals.cipher.open(entryKey(feed.tag, seq), value)
  if (!plain || plain.length < 1 || plain.length < 1 + plain[0]! * HASH_SIZE) return undefined
  return decodeEntryRecord(plain).entryBytes
}

/** Stored values (still sealed) of entry and head records, undefined where absent. */
export async function rawRecords(
  store: LogStore,
  origin: string,
  seqs: readonly number[],
  treeSizes: readonly number[],
): Promise<Array<Buffer | undefined>> {
  const feed = store.internals.feeds.get(origin)
  if (!feed) return []
  const keys = [
    ...seqs.map((s) => entryKey(feed.tag, s)),
    ...treeSizes.map((t) => headKey(feed.tag, t)),
  ]
  return store.internals.db.getMany(keys)
}

/** Size of the feed's last head record on disk (keys only, unverified); 0 when none. */
export async function lastHeadSize(store: LogStore, origin: string): Promise<number> {
  const feed = store.internals.feeds.get(origin)
  return feed ? lastHeadSizeOf(store.internals, feed.tag) : 0
}

export async function lastHeadSizeOf(internals: StoreInternals, tag: FeedTag): Promise<number> {
  const range = prefixRange(Buffer.concat([Buffer.of(PREFIX.head), tag]))
  const last = await internals.db.keys({ ...range, reverse: true, limit: 1 }).all()
  return last[0] ? seqOfKey(last[0]) : 0
}

export async function readPlain(
  internals: StoreInternals,
  key: Buffer,
): Promise<Buffer | undefined> {
  const value = await internals.db.get(key)
  return value === undefined ? undefined : internals.cipher.open(key, value)
}

/** M ‖ "repairs" 0x00 ‖ feed tag: no origin name in keys (docs/storage.md). */
export function repairCountKey(tag: FeedTag): Buffer {
  return Buffer.concat([metaKey('repairs\0'), tag])
}
