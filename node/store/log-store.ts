import type { EncodedEntry } from '../core/entry.ts'
import { EhrlogError } from '../core/errors.ts'
import type { AuditEvent } from '../core/event.ts'
import { bytesEqual, toHex } from '../core/hex.ts'
import type { SignedTreeHead } from '../core/tree-head.ts'
import { type ClassicLevel, classicLevel } from './classic-level.ts'
import { type FeedState, loadFeedState, newFeedState } from './feed-state.ts'
import { feedTag, PREFIX, receiptKey } from './format/key-layout.ts'
import { ValueCipher } from './format/value-cipher.ts'
import { openError } from './open-error.ts'
import { CommitListeners, type CommittedBatch, PatientIndexStore } from './patient-index-store.ts'
import { EntryReader } from './read/entry-reader.ts'
import { FeedProofs } from './read/feed-proofs.ts'
import { TreeCache } from './read/tree-cache.ts'
import { type FeedRepair, type FeedRepairResult, repairFeed } from './repair/feed-repair.ts'
import { type ScrubView, scrubViewOf } from './repair/scrub-view.ts'
import { grantAccess, type StoreAccess } from './store-access.ts'
import {
  type AppendItem,
  LEVELDB_TUNING,
  type LogStoreOptions,
  type ProofRequest,
  type Receipt,
  type Signer,
  type StoredReceipt,
  type StoreKeys,
} from './store-types.ts'
import type { VerifyOptions, VerifyReport } from './verify/report.ts'
import { verifyReplica } from './verify/verify-replica.ts'
import { AppendHolds } from './write/append-holds.ts'
import { checkBatchHead } from './write/batch-check.ts'
import { type AcceptResult, type FeedBatch, MAX_BATCH_ENTRIES } from './write/feed-batch.ts'
import { FeedEncoder } from './write/feed-encoder.ts'
import { FeedWriter } from './write/feed-writer.ts'
import { type EntryRef, prefixRange, scanPostings, timeRange } from './write/indexes.ts'
import { SEAL_OFF_THREAD_FROM, SEAL_OWN_OFF_THREAD_FROM } from './write/seal-worker.ts'
import { ensureUserIndex } from './write/user-index.ts'

export type { PatientPosting } from './read/index-postings.ts'
export type {
  AppendItem,
  CommittedBatch,
  EntryRef,
  LogStoreOptions,
  ProofRequest,
  Receipt,
  Signer,
  StoredReceipt,
  StoreKeys,
}
export { LEVELDB_TUNING }

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
  readonly #encoder: FeedEncoder
  readonly #reader: EntryReader
  readonly #writer: FeedWriter
  /** Upper levels of every feed's tree, shared by all proofs and roots (read/tree-cache.ts). */
  readonly treeCache: TreeCache
  /** What node/integrity reads to scrub, repair and prove (repair/scrub-view.ts). */
  readonly scrubView: ScrubView
  /** What the per-patient index reads and writes here (patient-index-store.ts). */
  readonly patientIndex: PatientIndexStore
  readonly #feeds = new Map<string, FeedState>()
  readonly #originByTag = new Map<string, string>()
  /** Own feeds that must not grow, per holder, with why (holdAppends). */
  readonly #holds = new AppendHolds()
  readonly #proofs: FeedProofs
  #status: 'new' | 'open' | 'closed' = 'new'
  readonly #committed = new CommitListeners()

  constructor(opts: LogStoreOptions) {
    this.#opts = opts
    // Values are ciphertext, which does not compress: snappy would only cost CPU.
    this.#db = new (classicLevel())<Buffer, Buffer>(opts.path, {
      keyEncoding: 'buffer',
      valueEncoding: 'buffer',
      compression: false,
      ...LEVELDB_TUNING,
      ...opts.leveldb,
    })
    this.#cipher = new ValueCipher(opts.keys.valueKey)
    this.#encoder = new FeedEncoder(opts.keys.indexKey)
    this.#reader = new EntryReader(this.#db, this.#cipher, (origin) => this.#feeds.get(origin))
    const { valueKey } = opts.keys
    this.#writer = new FeedWriter(
      this.#db,
      opts.sync ?? true,
      this.#cipher,
      valueKey,
      this.#committed,
    )
    this.treeCache = new TreeCache(opts.treeCache)
    this.#proofs = new FeedProofs(this.#db, this.#cipher, this.treeCache, (o) => this.#feeds.get(o))
    this.scrubView = scrubViewOf(this, () => this.#access())
    this.patientIndex = new PatientIndexStore({
      access: () => this.#access(),
      reader: this.#reader,
      originOfTag: this.#originOfTag,
      blind: (id) => this.#encoder.indexes.blind('patient', id),
      size: (origin) => this.size(origin),
    })
    grantAccess(this, () => this.#access())
  }

  async open(): Promise<void> {
    if (this.#status === 'open') return
    if (this.#status === 'closed') throw new EhrlogError('STORE_CLOSED', 'store was closed')
    await this.#db.open().catch((cause: unknown) => {
      throw openError(this.#opts.path, cause)
    })
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
    await ensureUserIndex(this.#access(), this.#encoder.indexes)
  }

  /** Waits for queued writes, then closes. Idempotent. */
  async close(): Promise<void> {
    const wasOpen = this.#status === 'open'
    this.#status = 'closed'
    if (!wasOpen) return
    await this.#writer.close()
    await this.#db.close()
  }

  /** For the store's own modules (store-access.ts); STORE_CLOSED unless open. */
  #access(): StoreAccess {
    this.#assertOpen()
    return {
      db: this.#db,
      cipher: this.#cipher,
      valueKey: this.#opts.keys.valueKey,
      originKey: this.#opts.originKey,
      feeds: this.#feeds,
    }
  }

  /** Streams through every feed and names each damaged entry (see verify/verify-replica.ts). */
  verify(opts: VerifyOptions = {}): Promise<VerifyReport> {
    return verifyReplica(this.#access(), opts)
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

  /**
   * Refuses appends to `origin` (UNAVAILABLE, naming every hold's reason) until `holder`
   * releases it and no other holder holds it (write/append-holds.ts): e.g. a node whose own
   * feed is shorter than what the network cosigned would sign a second history at the seqs it
   * lost. Batches of the feed from peers are still accepted, which is how it heals.
   */
  holdAppends(origin: string, holder: string, reason: string): void {
    this.#holds.hold(origin, holder, reason)
  }

  /** Lifts `holder`'s hold on `origin` only (others stay); returns whether it held. */
  releaseAppends(origin: string, holder: string): boolean {
    return this.#holds.release(origin, holder)
  }

  /** Why appends to `origin` are held ("holder: reason; …"), or undefined when they are not. */
  appendHoldOf(origin: string): string | undefined {
    return this.#holds.reasonOf(origin)
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
   * `removals`: keys deleted in that same write (pending events it sequences, pending-log.ts).
   */
  appendEntries(
    signer: Signer,
    items: readonly AppendItem[],
    now: Date = new Date(),
    receipts: readonly Receipt[] = [],
    removals: readonly Buffer[] = [],
  ): Promise<{ entries: EncodedEntry[]; head: SignedTreeHead }> {
    // The items (event bodies) go in a box that is emptied once they are encoded: a suspended
    // async function keeps its arguments, and would keep them until the batch is on disk
    // (docs/performance.md, session 10).
    return this.#appendEntries(signer, { items }, now, receipts, removals)
  }

  async #appendEntries(
    signer: Signer,
    box: { items: readonly AppendItem[] },
    now: Date,
    receipts: readonly Receipt[],
    removals: readonly Buffer[],
  ): Promise<{ entries: EncodedEntry[]; head: SignedTreeHead }> {
    if (box.items.length === 0 || box.items.length > MAX_BATCH_ENTRIES) {
      throw new EhrlogError(
        'ARGUMENT_INVALID',
        `an append takes 1 to ${MAX_BATCH_ENTRIES} entries, got ${box.items.length}`,
      )
    }
    this.#assertOpen()
    this.#writer.writes.assertHealthy()
    // From here to the write call nothing awaits: batches are encoded one at a time, in order.
    this.#holds.assertFree(signer.origin)
    const feed = this.#feedFor(signer.origin)
    if (feed.damage)
      throw new EhrlogError('STORE_CORRUPT', `feed ${signer.origin} is damaged: ${feed.damage}`)
    const offThread = box.items.length >= SEAL_OWN_OFF_THREAD_FROM
    const { entries, head } = await this.#writer.commit(
      feed,
      (sink) => {
        const batch = box.items
        box.items = []
        return this.#encoder.encodeAppend(sink, feed, signer, batch, now, receipts)
      },
      offThread,
      removals,
    )
    return { entries, head }
  }

  /**
   * Verifies a batch from another node (membership key, signature, seqs, chain, root, body
   * schema) and stores it exactly as signed. Nothing is written unless all of it holds.
   */
  async acceptBatch(batch: FeedBatch): Promise<AcceptResult> {
    const { origin, head } = batch
    const count = batch.entries.length
    checkBatchHead(batch, this.#opts)
    this.#assertOpen()
    let feed = this.#feedFor(origin)
    if (head.treeSize <= feed.tip.builder.size) {
      await this.#writer.writes.idle() // compare against what is on disk
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
    this.#writer.writes.assertHealthy()
    feed = this.#feedFor(origin) // the await above may have let other batches through
    const have = feed.tip.builder.size
    const firstSeq = head.treeSize - count + 1
    if (firstSeq > have + 1) return { status: 'gap', have, want: firstSeq - 1 }
    const accepted = feed
    await this.#writer.commit(
      feed,
      (sink) => this.#encoder.encodeAccepted(sink, accepted, batch),
      count >= SEAL_OFF_THREAD_FROM,
    )
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
  getEntry(origin: string, seq: number): Promise<EncodedEntry | undefined> {
    return this.#reader.getEntry(origin, seq)
  }

  /** Entries [fromSeq, toSeq] of a feed in seq order. */
  entries(origin: string, fromSeq?: number, toSeq?: number): AsyncGenerator<EncodedEntry> {
    return this.#reader.entries(origin, fromSeq, toSeq)
  }

  /** Many entries by reference, in the order asked; absent ones are skipped. */
  getEntries(refs: readonly EntryRef[]): Promise<EncodedEntry[]> {
    return this.#reader.getEntries(refs)
  }

  /** Signed heads of a feed with fromSize <= treeSize <= its size on disk, in size order. */
  heads(origin: string, fromSize?: number): AsyncGenerator<SignedTreeHead> {
    return this.#reader.heads(origin, fromSize)
  }

  /**
   * Batches of stored entry bytes ending at signed heads, for sync (read/entry-reader.ts);
   * the last ones written come from memory (write/recent-batches.ts).
   */
  async readBatches(origin: string, fromSeq: number, maxEntries: number): Promise<FeedBatch[]> {
    const size = this.size(origin)
    const recent = this.#writer.recent.read(origin, fromSeq, maxEntries, size)
    return recent ?? this.#reader.readBatches(origin, fromSeq, maxEntries)
  }

  /** RFC 9162 root of the first `treeSize` entries of a feed (read/feed-proofs.ts). */
  rootAt(origin: string, treeSize: number): Promise<Uint8Array> {
    return this.#proofs.rootAt(origin, treeSize)
  }

  /** Inclusion proof of entry `seq` in the tree of size `treeSize` (RFC 9162 2.1.3.1). */
  inclusionProof(origin: string, seq: number, treeSize: number): Promise<Uint8Array[]> {
    return this.#proofs.inclusionProof(origin, seq, treeSize)
  }

  /**
   * Inclusion proofs of many entries of a feed, one per request in order, built together:
   * each tree node is read once (and the upper levels come from the tree cache).
   */
  inclusionProofs(origin: string, requests: readonly ProofRequest[]): Promise<Uint8Array[][]> {
    return this.#proofs.inclusionProofs(origin, requests)
  }

  /**
   * Reads the upper tree levels of every feed into the tree cache, so the first queries after
   * a start are as fast as later ones: one record in 2^floor (~62,500 for 1M entries at the
   * default floor of 4), in chunks. Stops at a damaged record (the scrub names it).
   */
  warmTreeCache(signal?: AbortSignal): Promise<void> {
    return this.#proofs.warm(this.#feeds.values(), () => signal?.aborted || this.#status !== 'open')
  }

  /** Consistency proof between two sizes of a feed (RFC 9162 2.1.4.1). */
  consistencyProof(origin: string, oldSize: number, newSize: number): Promise<Uint8Array[]> {
    return this.#proofs.consistencyProof(origin, oldSize, newSize)
  }

  /** Entries about one patient, per feed in seq order, found through the blind index. */
  findByPatient(patientId: string, limit = 10_000): Promise<EntryRef[]> {
    return this.#scan(prefixRange(this.#encoder.indexes.patientPrefix(patientId)), limit)
  }

  /** Entries by one actor (clinician, staff, system), through the blind index. */
  findByActor(actorId: string, limit = 10_000): Promise<EntryRef[]> {
    return this.#scan(prefixRange(this.#encoder.indexes.actorPrefix(actorId)), limit)
  }

  /** Entries whose event time lies in [fromMs, toMs), by minute of event time. */
  findByTime(fromMs: number, toMs: number, limit = 10_000): Promise<EntryRef[]> {
    return this.#scan(timeRange(fromMs, toMs), limit, (t) => t >= fromMs && t < toMs)
  }

  /**
   * Where the user records of every feed are (per feed in seq order), through the U postings:
   * so a starting node rebuilds its user directory without reading every entry.
   */
  userRecordRefs(): Promise<EntryRef[]> {
    this.#assertOpen()
    return this.#scan(prefixRange(Buffer.of(PREFIX.userRecords)), Number.MAX_SAFE_INTEGER)
  }

  #scan(
    range: { gte: Buffer; lt: Buffer },
    limit: number,
    keepTime?: (ms: number) => boolean,
  ): Promise<EntryRef[]> {
    return scanPostings(this.#db, this.#cipher, range, limit, this.#originOfTag, keepTime)
  }

  // Index keys of entries still being written are not yet readable as entries: skip them.
  readonly #originOfTag = (tagHex: string): string | undefined => this.#originByTag.get(tagHex)

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
   * Calls `listener` after each batch is durably committed (own appends, accepted batches,
   * repairs), synchronously in the write's completion, so that when an append resolves or
   * size() shows a seq, the listener has heard of it. Listeners must only queue (the per-patient
   * index does). Returns the function that removes it.
   */
  onCommitted(listener: (batch: CommittedBatch) => void): () => void {
    return this.#committed.add(listener)
  }

  /**
   * Restores authentic records of one feed from proven data, in one batch (repair/feed-repair.ts);
   * throws, writing nothing, if any entry fails its proof. Callers keep other writers of the feed
   * out meanwhile (node/integrity's gate).
   */
  async repairFeed(repair: FeedRepair): Promise<FeedRepairResult> {
    this.#writer.recent.forget(repair.origin)
    const result = await repairFeed(this.#access(), repair, (origin) => this.#reloadFeed(origin))
    this.#writer.recent.forget(repair.origin) // also what came in while it ran: read the disk
    this.#committed.tell({ origin: repair.origin, entries: [], repaired: true })
    return result
  }

  /**
   * Re-reads a feed's state from disk after repair/feed-repair.ts rewrote its records. Loads
   * only while no batch of the feed is being encoded or written, and updates the state object
   * in place, so no append or accepted batch is lost or rewound.
   */
  async #reloadFeed(origin: string): Promise<void> {
    this.#assertOpen()
    const tag = feedTag(this.#opts.keys.indexKey, origin)
    for (;;) {
      await this.#writer.writes.idle()
      const before = this.#feeds.get(origin)
      const tipSize = before?.tip.builder.size
      const loaded = await loadFeedState(this.#db, this.#cipher, origin, tag)
      // Records were rewritten: cached nodes may have come from one an insider sealed wrong.
      this.treeCache.forget(tag)
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
