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
import type { StoreAccess } from '../store-access.ts'

/*
 * What node/integrity reads of a feed's records without trusting them (through ScrubView,
 * scrub-view.ts): head sizes from keys alone, stored values still sealed (to fingerprint
 * damage), and the repair count that feed-repair.ts keeps in the same batches as its repairs.
 */

/** How many repairs this store wrote to the feed (kept in the same batches as the repairs). */
export async function repairCount(access: StoreAccess, origin: string): Promise<number> {
  const feed = access.feeds.get(origin)
  if (!feed) return 0
  const plain = await readPlain(access, repairCountKey(feed.tag))
  return plain?.length === 8 ? Number(plain.readBigUInt64BE(0)) : 0
}

/** Sizes of the head records of a feed from `fromSize` on, ascending, keys only (unverified). */
export async function headSizes(
  access: StoreAccess,
  origin: string,
  fromSize: number,
  limit: number,
): Promise<number[]> {
  const feed = access.feeds.get(origin)
  if (!feed) return []
  const { lt } = prefixRange(Buffer.concat([Buffer.of(PREFIX.head), feed.tag]))
  const keys = await access.db.keys({ gte: headKey(feed.tag, fromSize), lt, limit }).all()
  return keys.map(seqOfKey)
}

/** Size of the last head record below `treeSize` (keys only, unverified); 0 when none. */
export async function headSizeBefore(
  access: StoreAccess,
  origin: string,
  treeSize: number,
): Promise<number> {
  const feed = access.feeds.get(origin)
  if (!feed) return 0
  const gte = headKey(feed.tag, 0)
  const lt = headKey(feed.tag, treeSize)
  const last = await access.db.keys({ gte, lt, reverse: true, limit: 1 }).all()
  return last[0] ? seqOfKey(last[0]) : 0
}

/** The entry bytes in a sealed value read earlier from the record of `seq`; undefined if it does not open. */
export function entryBytesOfValue(
  access: StoreAccess,
  origin: string,
  seq: number,
  value: Buffer,
): Uint8Array | undefined {
  const feed = access.feeds.get(origin)
  const plain = feed && access.cipher.open(entryKey(feed.tag, seq), value)
  if (!plain || plain.length < 1 || plain.length < 1 + plain[0]! * HASH_SIZE) return undefined
  return decodeEntryRecord(plain).entryBytes
}

/** Stored values (still sealed) of entry and head records, undefined where absent. */
export async function rawRecords(
  access: StoreAccess,
  origin: string,
  seqs: readonly number[],
  treeSizes: readonly number[],
): Promise<Array<Buffer | undefined>> {
  const feed = access.feeds.get(origin)
  if (!feed) return []
  const keys = [
    ...seqs.map((s) => entryKey(feed.tag, s)),
    ...treeSizes.map((t) => headKey(feed.tag, t)),
  ]
  return access.db.getMany(keys)
}

/** Size of the feed's last head record on disk (keys only, unverified); 0 when none. */
export async function lastHeadSize(access: StoreAccess, origin: string): Promise<number> {
  const feed = access.feeds.get(origin)
  return feed ? lastHeadSizeOf(access, feed.tag) : 0
}

export async function lastHeadSizeOf(access: StoreAccess, tag: FeedTag): Promise<number> {
  const range = prefixRange(Buffer.concat([Buffer.of(PREFIX.head), tag]))
  const last = await access.db.keys({ ...range, reverse: true, limit: 1 }).all()
  return last[0] ? seqOfKey(last[0]) : 0
}

export async function readPlain(access: StoreAccess, key: Buffer): Promise<Buffer | undefined> {
  const value = await access.db.get(key)
  return value === undefined ? undefined : access.cipher.open(key, value)
}

/** M ‖ "repairs" 0x00 ‖ feed tag: no origin name in keys (docs/storage.md). */
export function repairCountKey(tag: FeedTag): Buffer {
  return Buffer.concat([metaKey('repairs\0'), tag])
}
