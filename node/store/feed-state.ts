import type { ClassicLevel } from 'classic-level'
import { entryId, readChainFields } from '../core/entry.ts'
import { bytesEqual } from '../core/hex.ts'
import { EMPTY_ROOT, hashLeaf, MerkleBuilder } from '../core/merkle/index.ts'
import type { SignedTreeHead } from '../core/tree-head.ts'
import {
  entryKey,
  type FeedTag,
  headKey,
  PREFIX,
  prefixRange,
  seqOfKey,
} from './format/key-layout.ts'
import { decodeEntryRecord, decodeHeadRecord } from './format/records.ts'
import type { ValueCipher } from './format/value-cipher.ts'
import { TreeReader } from './read/tree-reader.ts'

/** Where the next append of a feed continues: may run ahead of the disk by queued writes. */
export interface FeedTip {
  builder: MerkleBuilder
  lastHash: Uint8Array | undefined
  lastRecordedMs: number
}

/** What is durably on disk: reads and proofs use only this. */
export interface FeedCommitted {
  size: number
  root: Uint8Array
  head: SignedTreeHead | undefined
}

export interface FeedState {
  origin: string
  tag: FeedTag
  tip: FeedTip
  committed: FeedCommitted
  /** The feed record (F) is not written yet. */
  isNew: boolean
  /** Set when open found the feed's tail unreadable; appends wait for verify and repair. */
  damage: string | undefined
}

export function newFeedState(origin: string, tag: FeedTag): FeedState {
  return {
    origin,
    tag,
    tip: { builder: new MerkleBuilder(), lastHash: undefined, lastRecordedMs: 0 },
    committed: { size: 0, root: EMPTY_ROOT, head: undefined },
    isNew: true,
    damage: undefined,
  }
}

/**
 * Rebuilds a stored feed's state from its latest signed head and the tree nodes stored with
 * the entries: O(log n) reads, whatever the feed's size. Damage found here is recorded on the
 * state (the full check is verifyReplica's).
 */
export async function loadFeedState(
  db: ClassicLevel<Buffer, Buffer>,
  cipher: ValueCipher,
  origin: string,
  tag: FeedTag,
): Promise<FeedState> {
  const feed = newFeedState(origin, tag)
  feed.isNew = false
  const { lt } = prefixRange(Buffer.concat([Buffer.of(PREFIX.head), tag]))
  const last = await db.iterator({ gte: headKey(tag, 0), lt, reverse: true, limit: 1 }).all()
  if (last.length === 0) return feed
  const [key, value] = last[0]!
  try {
    const plain = cipher.open(key, value)
    if (!plain) throw new Error('the latest signed head fails authentication')
    const { root, signature } = decodeHeadRecord(plain)
    const treeSize = seqOfKey(key)
    const head = {
      origin,
      treeSize,
      root: new Uint8Array(root),
      signature: new Uint8Array(signature),
    }
    const builder = MerkleBuilder.fromFrontier(
      treeSize,
      await new TreeReader(db, cipher, tag).frontier(treeSize),
    )
    if (!bytesEqual(builder.root(), head.root))
      throw new Error('the stored tree does not give the latest signed root')
    const tailKey = entryKey(tag, treeSize)
    const tailValue = await db.get(tailKey)
    const tailPlain = tailValue && cipher.open(tailKey, tailValue)
    if (!tailPlain) throw new Error(`entry ${entryId(origin, treeSize)} is missing or modified`)
    const tailBytes = decodeEntryRecord(tailPlain).entryBytes
    feed.tip = {
      builder,
      lastHash: hashLeaf(tailBytes),
      lastRecordedMs: Date.parse(readChainFields(tailBytes).recorded),
    }
    feed.committed = { size: treeSize, root: head.root, head }
  } catch (err) {
    feed.damage = err instanceof Error ? err.message : String(err)
  }
  return feed
}
