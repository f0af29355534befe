import type { KeyObject } from 'node:crypto'
import { ClassicLevel } from 'classic-level'
import { verifyEntryBody } from '../core/body.ts'
import {
  decodeEntry,
  type EncodedEntry,
  type EntryKind,
  entryId,
  makeEntry,
} from '../core/entry.ts'
import { EhrlogError } from '../core/errors.ts'
import type { AuditEvent } from '../core/event.ts'
import { bytesEqual, toHex } from '../core/hex.ts'
import { GENESIS_PREV } from '../core/layout.ts'
import { EMPTY_ROOT, type MerkleBuilder } from '../core/merkle/index.ts'
import { isTreeHeadSignatureValid, type SignedTreeHead, signTreeHead } from '../core/tree-head.ts'
import { type AcceptResult, type FeedBatch, MAX_BATCH_ENTRIES } from './feed-batch.ts'
import { type FeedState, loadFeedState, newFeedState } from './feed-state.ts'
import {
  type EntryRef,
  type IndexedEvent,
  Indexes,
  prefixRange,
  scanPostings,
  timeRange,
} from './indexes.ts'
import {
  entryKey,
  type FeedTag,
  feedKey,
  feedTag,
  headKey,
  PREFIX,
  receiptKey,
  seqOfKey,
} from './key-layout.ts'
import {
  decodeEntryRecord,
  decodeHeadRecord,
  encodeEntryRecord,
  encodeHeadRecord,
} from './records.ts'
import { TreeReader } from './tree-reader.ts'
import { ValueCipher } from './value-cipher.ts'
import { type VerifyOptions, type VerifyReport, verifyReplica } from './verify-replica.ts'
import { type BatchSink, WriteChain } from './write-chain.ts'

export type { EntryRef }

export interface StoreKeys {
  valueKey: Uint8Array
  indexKey: Uint8Array
}

export interface LogStoreOptions {
  /** Folder of the LevelDB database. */
  path: string
  keys: StoreKeys
  /** An origin's Ed25519 tree-head key (from identity or membership); undefined: not a member. */
  originKey: (origin: string) => Uint8Array | undefined
  /** fsync each batch (default true), so an acknowledged append survives power loss too. */
  sync?: boolean
  /** Overrides of LEVELDB_TUNING (benchmarks, experiments). */
  leveldb?: Partial<typeof LEVELDB_TUNING>
}

/**
 * LevelDB sizes, chosen to bound memory (docs/performance.md). RSS counts the memtables (up
 * to two of writeBufferSize), the block cache, and every page LevelDB has read of the table
 * files it keeps mmapped: those in its table cache, maxOpenFiles - 10 tables (74 is
 * LevelDB's floor) of up to maxFileSize each, plus level-0 files, each a memtable's size.
 * With LevelDB's defaults (1,000 open files) every table page a verify reads stays mapped:
 * ~190 MB of RSS after verifying 300k entries, growing with the store.
 */
export const LEVELDB_TUNING = {
  writeBufferSize: 4 * 2 ** 20,
  maxFileSize: 2 ** 20,
  maxOpenFiles: 74,
  cacheSize: 8 * 2 ** 20,
}

/** Who appends to its own feed: the origin name and its tree-head signing key. */
export interface Signer {
  origin: string
  privateKey: KeyObject
}

export interface AppendItem {
  kind: EntryKind
  body: unknown
}

/**
 * Proof that a client request was appended, written in the same batch as its entries, so a
 * retried request (same idempotency key) after a crash finds it and is not appended twice.
 */
export interface Receipt {
  requestKey: string
  /** SHA-256 of the request body, hex: a key reused with another body is refused. */
  bodyHash: string
  /** Index of the request's first item in the append, and how many items it has. */
  firstItem: number
  count: number
}

export interface StoredReceipt {
  origin: string
  firstSeq: number
  count: number
  bodyHash: string
}

/** Internals that verify-replica.ts reads; not exported from the folder. */
export interface StoreInternals {
  db: ClassicLevel<Buffer, Buffer>
  cipher: ValueCipher
  /** For verify's worker threads, which seal nothing: they only open values. */
  valueKey: Uint8Array
  originKey: (origin: string) => Uint8Array | undefined
  feeds: ReadonlyMap<string, { origin: string; tag: FeedTag; committed: { size: number } }>
}

/**
 * The encrypted replica: every feed this node holds (its own and the other origins'), in
 * LevelDB. Each append batch is one atomic write of entries, tree nodes, indexes and the
 * signed tree head. Batches are encoded in call order and written in that order; reads see
 * only what is on disk.
 */
export class LogStore {
  readonly #opts: LogStoreOptions
  readonly #db: ClassicLevel<Buffer, Buffer>
  readonly #cipher: ValueCipher
  readonly #indexes: Indexes
  readonly #writes: WriteChain
  readonly #feeds = new Map<string, FeedState>()
  readonly #originByTag = new Map<string, string>()
  #status: 'new' | 'open' | 'closed' = 'new'

  constructor(opts: LogStoreOptions) {
    this.#opts = opts
    // Values are ciphertext, which does not compress: snappy would only cost CPU.
    this.#db = new ClassicLevel<Buffer, Buffer>(opts.path, {
      keyEncoding: 'buffer',
      valueEncoding: 'buffer',
      compression: false,
      ...LEVELDB_TUNING,
      ...opts.leveldb,
    })
    this.#cipher = new ValueCipher(opts.keys.valueKey)
    this.#indexes = new Indexes(opts.keys.indexKey, this.#cipher)
    this.#writes = new WriteChain(this.#db, opts.sync ?? true)
  }

  async open(): Promise<void> {
    if (this.#status === 'open') return
    if (this.#status === 'closed') throw new EhrlogError('STORE_CLOSED', 'store was closed')
    try {
      await this.#db.open()
    } catch (cause) {
      const text = `${(cause as Error).message} ${String((cause as { cause?: unknown }).cause ?? '')}`
      if (/lock/i.test(text)) {
        throw new EhrlogError(
          'STORE_LOCKED',
          `the store at ${this.#opts.path} is in use by another process (a running node?)`,
          { cause },
        )
      }
      throw new EhrlogError('STORE_CORRUPT', `cannot open the store at ${this.#opts.path}`, {
        cause,
      })
    }
    this.#status = 'open'
    for await (const [key, value] of this.#db.iterator(prefixRange(Buffer.of(PREFIX.feed)))) {
      const plain = this.#cipher.open(key, value)
      if (!plain) continue // reported by verifyReplica
      const origin = plain.toString('utf8')
      this.#track(
        await loadFeedState(
          this.#db,
          this.#cipher,
          origin,
          feedTag(this.#opts.keys.indexKey, origin),
        ),
      )
    }
  }

  /** Waits for queued writes, then closes. Idempotent. */
  async close(): Promise<void> {
    const wasOpen = this.#status === 'open'
    this.#status = 'closed'
    if (!wasOpen) return
    await this.#writes.idle()
    await this.#db.close()
  }

  get internals(): StoreInternals {
    this.#assertOpen()
    return {
      db: this.#db,
      cipher: this.#cipher,
      valueKey: this.#opts.keys.valueKey,
      originKey: this.#opts.originKey,
      feeds: this.#feeds,
    }
  }

  /** Streams through every feed and names each damaged entry (see verify-replica.ts). */
  verify(opts: VerifyOptions = {}): Promise<VerifyReport> {
    return verifyReplica(this.internals, opts)
  }

  /** Origins this store holds a feed for. */
  origins(): string[] {
    return [...this.#feeds.values()]
      .filter((f) => f.committed.size > 0)
      .map((f) => f.origin)
      .sort()
  }

  /** origin → number of entries on disk. */
  sizes(): Map<string, number> {
    const out = new Map<string, number>()
    for (const feed of this.#feeds.values())
      if (feed.committed.size > 0) out.set(feed.origin, feed.committed.size)
    return out
  }

  size(origin: string): number {
    return this.#feeds.get(origin)?.committed.size ?? 0
  }

  latestHead(origin: string): SignedTreeHead | undefined {
    return this.#feeds.get(origin)?.committed.head
  }

  /** Damage found at open (the feed's tail or latest head unreadable), if any. */
  damageOf(origin: string): string | undefined {
    return this.#feeds.get(origin)?.damage
  }

  /** Validated audit events → entries of the signer's own feed, one atomic batch. */
  appendEvents(
    signer: Signer,
    events: readonly AuditEvent[],
    now?: Date,
  ): Promise<{ entries: EncodedEntry[]; head: SignedTreeHead }> {
    return this.appendEntries(
      signer,
      events.map((body) => ({ kind: 'event' as const, body })),
      now,
    )
  }

  /**
   * Appends items to the signer's own feed and signs the new tree head, all in one LevelDB
   * batch: after a crash the batch is there whole or not at all. Resolves once it is on disk.
   */
  async appendEntries(
    signer: Signer,
    items: readonly AppendItem[],
    now: Date = new Date(),
    receipts: readonly Receipt[] = [],
  ): Promise<{ entries: EncodedEntry[]; head: SignedTreeHead }> {
    if (items.length === 0 || items.length > MAX_BATCH_ENTRIES) {
      throw new EhrlogError(
        'ARGUMENT_INVALID',
        `an append takes 1 to ${MAX_BATCH_ENTRIES} entries, got ${items.length}`,
      )
    }
    this.#assertOpen()
    this.#writes.assertHealthy()
    // From here to the write call nothing awaits: batches are encoded one at a time, in order.
    const feed = this.#feedFor(signer.origin)
    if (feed.damage)
      throw new EhrlogError('STORE_CORRUPT', `feed ${signer.origin} is damaged: ${feed.damage}`)
    const builder = feed.tip.builder.clone()
    const recordedMs = Math.max(now.getTime(), feed.tip.lastRecordedMs)
    const recorded = new Date(recordedMs).toISOString()
    let prev = feed.tip.lastHash
    const entries: EncodedEntry[] = []
    const indexed: IndexedEvent[] = []
    const batch = this.#writes.begin()
    let head: SignedTreeHead
    try {
      this.#putFeedRecord(batch, feed)
      for (const item of items) {
        const encoded = makeEntry(
          signer.origin,
          builder.size + 1,
          prev,
          item.kind,
          item.body,
          recorded,
        )
        this.#putEntry(batch, feed.tag, builder, encoded, indexed)
        entries.push(encoded)
        prev = encoded.hash
      }
      this.#indexes.addBatchOps(batch, feed.tag, indexed)
      for (const r of receipts) {
        const stored: StoredReceipt = {
          origin: signer.origin,
          firstSeq: entries[r.firstItem]!.entry.seq,
          count: r.count,
          bodyHash: r.bodyHash,
        }
        const key = receiptKey(this.#opts.keys.indexKey, r.requestKey)
        batch.put(key, this.#cipher.seal(key, Buffer.from(JSON.stringify(stored))))
      }
      head = signTreeHead(signer.privateKey, signer.origin, builder.size, builder.root())
      this.#putHead(batch, feed, head)
    } catch (err) {
      this.#writes.discard(batch)
      throw err
    }
    await this.#commit(feed, batch, builder, prev, recordedMs, head)
    return { entries, head }
  }

  /**
   * Verifies a batch from another node (membership key, signature, seqs, chain, root, body
   * schema) and stores it exactly as signed. Nothing is written unless all of it holds.
   */
  async acceptBatch(batch: FeedBatch): Promise<AcceptResult> {
    const { origin, head } = batch
    const count = batch.entries.length
    if (count === 0 || count > MAX_BATCH_ENTRIES) {
      throw new EhrlogError(
        'ENTRY_INVALID',
        `a batch carries 1 to ${MAX_BATCH_ENTRIES} entries, got ${count}`,
      )
    }
    if (head.origin !== origin || head.treeSize < count) {
      throw new EhrlogError(
        'ENTRY_INVALID',
        `batch head (${head.origin}, size ${head.treeSize}) does not fit ${count} entries of ${origin}`,
      )
    }
    const publicKey = this.#opts.originKey(origin)
    if (!publicKey)
      throw new EhrlogError('ORIGIN_UNKNOWN', `origin ${origin} is not a member of this network`)
    if (!isTreeHeadSignatureValid(head, publicKey)) {
      throw new EhrlogError(
        'INVALID_SIGNATURE',
        `tree head of ${origin} at size ${head.treeSize} has a bad signature`,
        { details: { origin, treeSize: head.treeSize } },
      )
    }
    this.#assertOpen()
    let feed = this.#feedFor(origin)
    if (head.treeSize <= feed.tip.builder.size) {
      await this.#writes.idle() // compare against what is on disk
      const ours = await this.rootAt(origin, head.treeSize)
      if (bytesEqual(ours, head.root)) return { status: 'duplicate', treeSize: this.size(origin) }
      throw new EhrlogError(
        'EQUIVOCATION',
        `${origin} signed root ${toHex(head.root)} at size ${head.treeSize}, this replica holds ${toHex(ours)}`,
        {
          details: { origin, treeSize: head.treeSize, theirs: toHex(head.root), ours: toHex(ours) },
        },
      )
    }
    this.#writes.assertHealthy()
    feed = this.#feedFor(origin) // the await above may have let other batches through
    const have = feed.tip.builder.size
    const firstSeq = head.treeSize - count + 1
    if (firstSeq > have + 1) return { status: 'gap', have, want: firstSeq - 1 }
    const builder = feed.tip.builder.clone()
    let prev = feed.tip.lastHash
    let lastRecordedMs = feed.tip.lastRecordedMs
    const indexed: IndexedEvent[] = []
    const writes = this.#writes.begin()
    try {
      this.#putFeedRecord(writes, feed)
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
        if (entry.prev !== (prev ? toHex(prev) : GENESIS_PREV)) {
          throw new EhrlogError(
            'CHAIN_BROKEN',
            `entry ${entryId(origin, seq)} does not link to the entry before it`,
            { details: { origin, seq } },
          )
        }
        verifyEntryBody(entry.kind, entry.body, origin)
        this.#putEntry(writes, feed.tag, builder, encoded, indexed)
        prev = encoded.hash
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
      this.#indexes.addBatchOps(writes, feed.tag, indexed)
      this.#putHead(writes, feed, head)
    } catch (err) {
      this.#writes.discard(writes)
      throw err
    }
    await this.#commit(feed, writes, builder, prev, lastRecordedMs, head)
    return { status: 'stored', treeSize: head.treeSize }
  }

  /** The receipt of an earlier idempotent append with this request key, if any. */
  async getReceipt(requestKey: string): Promise<StoredReceipt | undefined> {
    this.#assertOpen()
    const key = receiptKey(this.#opts.keys.indexKey, requestKey)
    const value = await this.#db.get(key)
    const plain = value && this.#cipher.open(key, value)
    if (!plain) return undefined
    return JSON.parse(plain.toString('utf8')) as StoredReceipt
  }

  /** One entry, decrypted and decoded; undefined when absent. Throws STORE_CORRUPT if unreadable. */
  async getEntry(origin: string, seq: number): Promise<EncodedEntry | undefined> {
    const feed = this.#feeds.get(origin)
    if (!feed || seq < 1 || seq > feed.committed.size) return undefined
    const key = entryKey(feed.tag, seq)
    const value = await this.#db.get(key)
    return value === undefined ? undefined : this.#decodeStored(key, value)
  }

  /** Entries [fromSeq, toSeq] of a feed in seq order. */
  async *entries(
    origin: string,
    fromSeq = 1,
    toSeq = Number.MAX_SAFE_INTEGER,
  ): AsyncGenerator<EncodedEntry> {
    const feed = this.#feeds.get(origin)
    if (!feed || feed.committed.size === 0) return
    const range = {
      gte: entryKey(feed.tag, Math.max(1, fromSeq)),
      lte: entryKey(feed.tag, Math.min(toSeq, feed.committed.size)),
    }
    for await (const [key, value] of this.#db.iterator(range)) yield this.#decodeStored(key, value)
  }

  /** Many entries by reference, in the order asked; absent ones are skipped. */
  async getEntries(refs: readonly EntryRef[]): Promise<EncodedEntry[]> {
    const keys: Buffer[] = []
    for (const ref of refs) {
      const feed = this.#feeds.get(ref.origin)
      if (feed && ref.seq <= feed.committed.size) keys.push(entryKey(feed.tag, ref.seq))
    }
    const values = await this.#db.getMany(keys)
    const out: EncodedEntry[] = []
    values.forEach((value, i) => {
      if (value !== undefined) out.push(this.#decodeStored(keys[i]!, value))
    })
    return out
  }

  /** Signed heads of a feed with fromSize <= treeSize <= its size on disk, in size order. */
  async *heads(origin: string, fromSize = 1): AsyncGenerator<SignedTreeHead> {
    const feed = this.#feeds.get(origin)
    if (!feed || feed.committed.size === 0) return
    const range = { gte: headKey(feed.tag, fromSize), lte: headKey(feed.tag, feed.committed.size) }
    for await (const [key, value] of this.#db.iterator(range)) {
      const plain = this.#cipher.open(key, value)
      if (!plain)
        throw new EhrlogError('STORE_CORRUPT', `a signed head of ${origin} fails authentication`)
      const { root, signature } = decodeHeadRecord(plain)
      yield {
        origin,
        treeSize: seqOfKey(key),
        root: new Uint8Array(root),
        signature: new Uint8Array(signature),
      }
    }
  }

  /**
   * Batches of about `maxEntries` entries from `fromSeq` on, each ending at a signed head
   * this store holds, so the receiver can verify each batch on its own.
   */
  async readBatches(origin: string, fromSeq: number, maxEntries: number): Promise<FeedBatch[]> {
    const batches: FeedBatch[] = []
    let next = fromSeq
    let total = 0
    for await (const head of this.heads(origin, fromSeq)) {
      const entries: Uint8Array[] = []
      for await (const e of this.entries(origin, next, head.treeSize)) entries.push(e.bytes)
      if (entries.length !== head.treeSize - next + 1) break // damaged locally: send only what verifies
      batches.push({ origin, entries, head })
      total += entries.length
      next = head.treeSize + 1
      if (total >= maxEntries) break
    }
    return batches
  }

  /** RFC 9162 root of the first `treeSize` entries of a feed. */
  async rootAt(origin: string, treeSize: number): Promise<Uint8Array> {
    if (treeSize === 0) return EMPTY_ROOT
    const feed = this.#requireFeed(origin, treeSize)
    if (treeSize === feed.committed.size) return feed.committed.root
    return this.#tree(feed).rangeHash(0, treeSize)
  }

  /** Inclusion proof of entry `seq` in the tree of size `treeSize` (RFC 9162 2.1.3.1). */
  inclusionProof(origin: string, seq: number, treeSize: number): Promise<Uint8Array[]> {
    return this.#tree(this.#requireFeed(origin, treeSize)).inclusionProof(seq - 1, treeSize)
  }

  /** Consistency proof between two sizes of a feed (RFC 9162 2.1.4.1). */
  consistencyProof(origin: string, oldSize: number, newSize: number): Promise<Uint8Array[]> {
    return this.#tree(this.#requireFeed(origin, newSize)).consistencyProof(oldSize, newSize)
  }

  /** Entries about one patient, per feed in seq order, found through the blind index. */
  findByPatient(patientId: string, limit = 10_000): Promise<EntryRef[]> {
    return scanPostings(
      this.#db,
      this.#cipher,
      prefixRange(this.#indexes.patientPrefix(patientId)),
      limit,
      this.#originOfTag,
    )
  }

  /** Entries by one actor (clinician, staff, system), through the blind index. */
  findByActor(actorId: string, limit = 10_000): Promise<EntryRef[]> {
    return scanPostings(
      this.#db,
      this.#cipher,
      prefixRange(this.#indexes.actorPrefix(actorId)),
      limit,
      this.#originOfTag,
    )
  }

  /** Entries whose event time lies in [fromMs, toMs), by minute of event time. */
  findByTime(fromMs: number, toMs: number, limit = 10_000): Promise<EntryRef[]> {
    return scanPostings(
      this.#db,
      this.#cipher,
      timeRange(fromMs, toMs),
      limit,
      this.#originOfTag,
      (t) => t >= fromMs && t < toMs,
    )
  }

  // Index keys of entries still being written are not yet readable as entries: skip them.
  readonly #originOfTag = (tagHex: string): string | undefined => this.#originByTag.get(tagHex)

  /** The feed record (F), with the first batch of a feed. */
  #putFeedRecord(batch: BatchSink, feed: FeedState): void {
    if (!feed.isNew) return
    const key = feedKey(feed.tag)
    batch.put(key, this.#cipher.seal(key, Buffer.from(feed.origin, 'utf8')))
  }

  #putEntry(
    batch: BatchSink,
    tag: FeedTag,
    builder: MerkleBuilder,
    encoded: EncodedEntry,
    indexed: IndexedEvent[],
  ): void {
    const seq = builder.size + 1
    const upper: Uint8Array[] = []
    for (const node of builder.append(encoded.hash)) if (node.level > 0) upper.push(node.hash)
    const key = entryKey(tag, seq)
    batch.put(key, this.#cipher.seal(key, encodeEntryRecord(upper, encoded.bytes)))
    if (encoded.entry.kind === 'event')
      indexed.push({ seq, event: encoded.entry.body as AuditEvent })
  }

  #putHead(batch: BatchSink, feed: FeedState, head: SignedTreeHead): void {
    const key = headKey(feed.tag, head.treeSize)
    batch.put(key, this.#cipher.seal(key, encodeHeadRecord(head.root, head.signature)))
  }

  /** Queues the batch; moves the feed's tip now and its committed state once it is on disk. */
  #commit(
    feed: FeedState,
    batch: ReturnType<WriteChain['begin']>,
    builder: MerkleBuilder,
    lastHash: Uint8Array | undefined,
    lastRecordedMs: number,
    head: SignedTreeHead,
  ): Promise<void> {
    // Only now: a batch whose encoding failed must not leave a new feed without its record.
    feed.isNew = false
    feed.tip = { builder, lastHash, lastRecordedMs }
    return this.#writes.write(batch, () => {
      feed.committed = { size: head.treeSize, root: head.root, head }
    })
  }

  #decodeStored(key: Buffer, value: Buffer): EncodedEntry {
    const plain = this.#cipher.open(key, value)
    if (!plain)
      throw new EhrlogError(
        'STORE_CORRUPT',
        'a stored entry fails authentication (modified on disk); run `ehrlog verify`',
      )
    return decodeEntry(new Uint8Array(decodeEntryRecord(plain).entryBytes))
  }

  #tree(feed: FeedState): TreeReader {
    return new TreeReader(this.#db, this.#cipher, feed.tag)
  }

  #requireFeed(origin: string, treeSize: number): FeedState {
    const feed = this.#feeds.get(origin)
    if (!feed) throw new EhrlogError('NOT_FOUND', `this store holds no feed of ${origin}`)
    if (treeSize > feed.committed.size || treeSize < 0) {
      throw new EhrlogError(
        'NOT_FOUND',
        `feed ${origin} has ${feed.committed.size} entries, not ${treeSize}`,
      )
    }
    return feed
  }

  /** A feed's state; a feed not found at open is new (every stored feed is loaded at open). */
  #feedFor(origin: string): FeedState {
    return (
      this.#feeds.get(origin) ??
      this.#track(newFeedState(origin, feedTag(this.#opts.keys.indexKey, origin)))
    )
  }

  #track(feed: FeedState): FeedState {
    this.#feeds.set(feed.origin, feed)
    this.#originByTag.set(feed.tag.toString('hex'), feed.origin)
    return feed
  }

  #assertOpen(): void {
    if (this.#status !== 'open') throw new EhrlogError('STORE_CLOSED', 'the store is not open')
  }

  /**
   * Re-reads a feed's state from disk after repair.ts rewrote its records. Loads only while
   * no batch of the feed is being encoded or written, and updates the state object in place,
   * so no append or accepted batch is lost or rewound.
   */
  async reloadFeed(origin: string): Promise<void> {
    this.#assertOpen()
    const tag = feedTag(this.#opts.keys.indexKey, origin)
    for (;;) {
      await this.#writes.idle()
      const before = this.#feeds.get(origin)
      const tipSize = before?.tip.builder.size
      const loaded = await loadFeedState(this.#db, this.#cipher, origin, tag)
      const now = this.#feeds.get(origin)
      if (now !== before || now?.tip.builder.size !== tipSize) continue // a batch came in: again
      // A feed unknown until now (its F record was unreadable at open) rewrites F with its next batch.
      if (!now) this.#track({ ...loaded, isNew: true })
      else
        Object.assign(now, { tip: loaded.tip, committed: loaded.committed, damage: loaded.damage })
      return
    }
  }
}
