import { verifyEntryBody } from '../../core/body.ts'
import {
  decodeEntry,
  type EncodedEntry,
  type Entry,
  entryId,
  makeEntry,
  readChainFields,
} from '../../core/entry.ts'
import { EhrlogError } from '../../core/errors.ts'
import type { AuditEvent } from '../../core/event.ts'
import { bytesEqual, toHex } from '../../core/hex.ts'
import { GENESIS_PREV } from '../../core/layout.ts'
import type { MerkleBuilder } from '../../core/merkle/index.ts'
import { type SignedTreeHead, signTreeHead } from '../../core/tree-head.ts'
import type { FeedState } from '../feed-state.ts'
import { entryKey, feedKey, headKey, receiptKey } from '../format/key-layout.ts'
import { encodeEntryRecord, encodeHeadRecord } from '../format/records.ts'
import type { AppendItem, Receipt, Signer, StoredReceipt } from '../store-types.ts'
import type { FeedBatch } from './feed-batch.ts'
import { type IndexedBatch, Indexes } from './indexes.ts'
import type { PlainSink } from './write-chain.ts'

/** A batch encoded into a sink: where the feed's tip moves once it is queued. */
export interface EncodedBatch {
  builder: MerkleBuilder
  lastHash: Uint8Array | undefined
  lastRecordedMs: number
  head: SignedTreeHead
  /** The batch's events by seq (for the store's committed-batch listeners). */
  events: IndexedBatch['events']
  /** The bytes of the entries stored, in seq order, ending at head.treeSize. */
  entryBytes: Uint8Array[]
}

/**
 * An entry of the own feed as appended: its bytes and hash, and the entry read back from the
 * bytes only if asked (callers want ids, which the signed head gives, and the bytes). So a
 * batch waiting for its write holds no event body: an ATNA event's (with its ~1.2 KiB
 * base64 original) survived young-generation collections until the write was on disk,
 * and was promoted (docs/performance.md, session 10).
 */
class AppendedEntry implements EncodedEntry {
  readonly bytes: Uint8Array
  readonly hash: Uint8Array
  #entry: Entry | undefined

  constructor(bytes: Uint8Array, hash: Uint8Array) {
    this.bytes = bytes
    this.hash = hash
  }

  /** The entry, parsed from the bytes this store just encoded (canonical, so no re-check). */
  get entry(): Entry {
    this.#entry ??= readChainFields(this.bytes)
    return this.#entry
  }
}

/**
 * Turns appends and accepted batches into the records of one LevelDB batch: entries (each
 * with the tree nodes its leaf completes), index postings, receipts and the signed head
 * (docs/storage.md). Pure encoding into a sink: it neither reads nor writes the database, and
 * leaves the feed state alone; LogStore moves the state once the batch is queued.
 */
export class FeedEncoder {
  readonly #indexKey: Uint8Array
  readonly #indexes: Indexes

  constructor(indexKey: Uint8Array) {
    this.#indexKey = indexKey
    this.#indexes = new Indexes(indexKey)
  }

  get indexes(): Indexes {
    return this.#indexes
  }

  /** Items → entries of the signer's own feed, with their receipts and the new signed head. */
  encodeAppend(
    sink: PlainSink,
    feed: FeedState,
    signer: Signer,
    items: readonly AppendItem[],
    now: Date,
    receipts: readonly Receipt[],
  ): EncodedBatch & { entries: EncodedEntry[] } {
    const builder = feed.tip.builder.clone()
    const firstSeq = builder.size + 1
    const recordedMs = Math.max(now.getTime(), feed.tip.lastRecordedMs)
    const recorded = new Date(recordedMs).toISOString()
    let prev = feed.tip.lastHash
    const entries: EncodedEntry[] = []
    const entryBytes: Uint8Array[] = []
    const indexed: IndexedBatch = { events: [], userSeqs: [] }
    this.#putFeedRecord(sink, feed)
    for (const item of items) {
      const encoded = makeEntry(
        signer.origin,
        builder.size + 1,
        prev,
        item.kind,
        item.body,
        recorded,
      )
      this.#putEntry(sink, feed, builder, encoded, indexed)
      entries.push(new AppendedEntry(encoded.bytes, encoded.hash))
      entryBytes.push(encoded.bytes)
      prev = encoded.hash
    }
    this.#indexes.addBatchOps(sink, feed.tag, indexed)
    for (const r of receipts) {
      const stored: StoredReceipt = {
        origin: signer.origin,
        firstSeq: firstSeq + r.firstItem,
        count: r.count,
        bodyHash: r.bodyHash,
      }
      const key = receiptKey(this.#indexKey, r.requestKey)
      sink.putPlain(key, Buffer.from(JSON.stringify(stored)))
    }
    const head = signTreeHead(signer.privateKey, signer.origin, builder.size, builder.root())
    this.#putHead(sink, feed, head)
    return {
      builder,
      lastHash: prev,
      lastRecordedMs: recordedMs,
      head,
      entries,
      events: indexed.events,
      entryBytes,
    }
  }

  /**
   * Verifies the entries of another node's batch after the ones this replica holds (seq,
   * chain link, body schema, and the root against the signed head, whose signature the
   * caller checked) and encodes them exactly as signed. Throws at the first that fails.
   */
  encodeAccepted(sink: PlainSink, feed: FeedState, batch: FeedBatch): EncodedBatch {
    const { origin, head } = batch
    const count = batch.entries.length
    const have = feed.tip.builder.size
    const firstSeq = head.treeSize - count + 1
    const builder = feed.tip.builder.clone()
    let prev = feed.tip.lastHash
    // The link each entry must carry, as hex: decodeEntry hands each entry's hash in hex too.
    let prevHex = prev ? toHex(prev) : GENESIS_PREV
    let lastRecordedMs = feed.tip.lastRecordedMs
    const indexed: IndexedBatch = { events: [], userSeqs: [] }
    const entryBytes: Uint8Array[] = []
    this.#putFeedRecord(sink, feed)
    // Entries this replica already holds (an overlapping batch) are skipped: the root check covers them.
    for (let i = have - firstSeq + 1; i < count; i++) {
      const encoded = decodeEntry(batch.entries[i]!)
      const { entry } = encoded
      const seq = builder.size + 1
      if (entry.origin !== origin || entry.seq !== seq) {
        throw new EhrlogError(
          'SEQ_MISMATCH',
          `entry ${entryId(entry.origin, entry.seq)} arrived where ${entryId(origin, seq)} belongs`,
          { details: { origin, seq } },
        )
      }
      if (entry.prev !== prevHex) {
        throw new EhrlogError(
          'CHAIN_BROKEN',
          `entry ${entryId(origin, seq)} does not link to the entry before it`,
          { details: { origin, seq } },
        )
      }
      verifyEntryBody(entry.kind, entry.body, origin)
      this.#putEntry(sink, feed, builder, encoded, indexed)
      entryBytes.push(encoded.bytes)
      prev = encoded.hash
      prevHex = encoded.hashHex ?? toHex(encoded.hash)
      lastRecordedMs = Date.parse(entry.recorded)
    }
    const root = builder.root()
    if (!bytesEqual(root, head.root)) {
      throw new EhrlogError(
        'INVALID_PROOF',
        `entries of ${origin} up to ${head.treeSize} give root ${toHex(root)}, the signed head says ${toHex(head.root)}`,
        { details: { origin, treeSize: head.treeSize } },
      )
    }
    this.#indexes.addBatchOps(sink, feed.tag, indexed)
    this.#putHead(sink, feed, head)
    return { builder, lastHash: prev, lastRecordedMs, head, events: indexed.events, entryBytes }
  }

  /** The feed record (F), with the first batch of a feed. */
  #putFeedRecord(sink: PlainSink, feed: FeedState): void {
    if (!feed.isNew) return
    const key = feedKey(feed.tag)
    sink.putPlain(key, Buffer.from(feed.origin, 'utf8'))
  }

  #putEntry(
    sink: PlainSink,
    feed: FeedState,
    builder: MerkleBuilder,
    encoded: EncodedEntry,
    indexed: IndexedBatch,
  ): void {
    const seq = builder.size + 1
    const upper: Uint8Array[] = []
    for (const node of builder.append(encoded.hash)) if (node.level > 0) upper.push(node.hash)
    const key = entryKey(feed.tag, seq)
    sink.putPlain(key, encodeEntryRecord(upper, encoded.bytes))
    const { kind, body } = encoded.entry
    if (kind === 'event') {
      // The fields the indexes and commit listeners read, not the body (indexes.ts IndexedFields).
      const { patientId, actorId, time } = body as AuditEvent
      indexed.events.push({ seq, event: { patientId, actorId, time } })
    } else if (kind === 'user') indexed.userSeqs.push(seq)
  }

  #putHead(sink: PlainSink, feed: FeedState, head: SignedTreeHead): void {
    const key = headKey(feed.tag, head.treeSize)
    sink.putPlain(key, encodeHeadRecord(head.root, head.signature))
  }
}
