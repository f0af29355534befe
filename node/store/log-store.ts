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
import { EMPTY_ROOT, MerkleBuilder } from '../core/merkle/index.ts'
import { isTreeHeadSignatureValid, type SignedTreeHead, signTreeHead } from '../core/tree-head.ts'
import { type AcceptResult, type FeedBatch, MAX_BATCH_ENTRIES } from './feed-batch.ts'
import {
  actorKey,
  blindIndex,
  entryKey,
  type FeedTag,
  feedKey,
  feedTag,
  headKey,
  PREFIX,
  patientKey,
  prefixRange,
  timeKey,
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

export interface EntryRef {
  origin: string
  seq: number
}

/** In-memory state of one feed, rebuilt from disk at open. */
interface FeedState {
  origin: string
  tag: FeedTag
  builder: MerkleBuilder
  lastHash: Uint8Array | undefined
  lastRecordedMs: number
  latestHead: SignedTreeHead | undefined
  /** Set when open found the feed's tail unreadable; appends wait for verify and repair. */
  damage: string | undefined
}

type Op = { type: 'put'; key: Buffer; value: Buffer }

/** Internals that verify-replica.ts reads; not exported from the folder. */
export interface StoreInternals {
  db: ClassicLevel<Buffer, Buffer>
  cipher: ValueCipher
  originKey: (origin: string) => Uint8Array | undefined
  feeds: ReadonlyMap<string, { origin: string; tag: FeedTag }>
}

/**
 * The encrypted replica: every feed this node holds (its own and the other origins'),
 * in LevelDB, each append batch one atomic write of entries, tree nodes, indexes and the
 * signed tree head. Appends are serialized; reads run freely.
 */
export class LogStore {
  readonly #opts: LogStoreOptions
  readonly #db: ClassicLevel<Buffer, Buffer>
  readonly #cipher: ValueCipher
  readonly #feeds = new Map<string, FeedState>()
  readonly #originByTag = new Map<string, string>()
  #queue: Promise<unknown> = Promise.resolve()
  #status: 'new' | 'open' | 'closed' = 'new'

  constructor(opts: LogStoreOptions) {
    this.#opts = opts
    this.#db = new ClassicLevel<Buffer, Buffer>(opts.path, {
      keyEncoding: 'buffer',
      valueEncoding: 'buffer',
    })
    this.#cipher = new ValueCipher(opts.keys.valueKey)
  }

  async open(): Promise<void> {
    if (this.#status === 'open') return
    if (this.#status === 'closed') throw new EhrlogError('STORE_CLOSED', 'store was closed')
    try {
      await this.#db.open()
    } catch (cause) {
      const locked = String((cause as { cause?: { code?: string } })?.cause?.code ?? '')
      if (/LOCK/.test(String((cause as Error).message)) || locked === 'LEVEL_LOCKED') {
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
      if (!plain) continue // reported by verifyReplica; the feed's entries still carry its tag
      await this.#loadFeed(plain.toString('utf8'))
    }
  }

  async close(): Promise<void> {
    if (this.#status !== 'open') {
      this.#status = 'closed'
      return
    }
    this.#status = 'closed'
    await this.#queue.catch(() => {})
    await this.#db.close()
  }

  get internals(): StoreInternals {
    this.#assertOpen()
    return {
      db: this.#db,
      cipher: this.#cipher,
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
    return [...this.#feeds.keys()].sort()
  }

  /** origin → number of entries held. */
  sizes(): Map<string, number> {
    const out = new Map<string, number>()
    for (const [origin, feed] of this.#feeds) out.set(origin, feed.builder.size)
    return out
  }

  size(origin: string): number {
    return this.#feeds.get(origin)?.builder.size ?? 0
  }

  latestHead(origin: string): SignedTreeHead | undefined {
    return this.#feeds.get(origin)?.latestHead
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
   * Appends items to the signer's own feed and signs the new tree head, all in one
   * LevelDB batch: after a crash the batch is there whole or not at all.
   */
  async appendEntries(
    signer: Signer,
    items: readonly AppendItem[],
    now: Date = new Date(),
  ): Promise<{ entries: EncodedEntry[]; head: SignedTreeHead }> {
    if (items.length === 0 || items.length > MAX_BATCH_ENTRIES) {
      throw new EhrlogError(
        'ARGUMENT_INVALID',
        `an append takes 1 to ${MAX_BATCH_ENTRIES} entries, got ${items.length}`,
      )
    }
    return this.#exclusive(async () => {
      const feed = await this.#feedFor(signer.origin)
      if (feed.damage) {
        throw new EhrlogError('STORE_CORRUPT', `feed ${signer.origin} is damaged: ${feed.damage}`)
      }
      const builder = feed.builder.clone()
      const ops: Op[] = []
      if (builder.size === 0 && !feed.latestHead) ops.push(this.#feedOp(feed))
      const recordedMs = Math.max(now.getTime(), feed.lastRecordedMs)
      const recorded = new Date(recordedMs)
      let prev = feed.lastHash
      const entries: EncodedEntry[] = []
      for (const item of items) {
        const encoded = makeEntry(
          signer.origin,
          builder.size + 1,
          prev,
          item.kind,
          item.body,
          recorded,
        )
        this.#entryOps(ops, feed.tag, builder, encoded)
        entries.push(encoded)
        prev = encoded.hash
      }
      const head = signTreeHead(signer.privateKey, signer.origin, builder.size, builder.root())
      ops.push(this.#headOp(feed.tag, head))
      await this.#db.batch(ops, { sync: this.#opts.sync ?? true })
      Object.assign(feed, { builder, lastHash: prev, lastRecordedMs: recordedMs, latestHead: head })
      return { entries, head }
    })
  }

  /**
   * Verifies a batch from another node (membership key, signature, seqs, chain, root,
   * body schema) and stores it exactly as signed. Nothing is written unless all of it holds.
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
    if (!publicKey) {
      throw new EhrlogError('ORIGIN_UNKNOWN', `origin ${origin} is not a member of this network`)
    }
    if (!isTreeHeadSignatureValid(head, publicKey)) {
      throw new EhrlogError(
        'INVALID_SIGNATURE',
        `tree head of ${origin} at size ${head.treeSize} has a bad signature`,
        {
          details: { origin, treeSize: head.treeSize },
        },
      )
    }
    return this.#exclusive(async () => {
      const feed = await this.#feedFor(origin)
      const have = feed.builder.size
      const firstSeq = head.treeSize - count + 1
      if (firstSeq > have + 1) return { status: 'gap', have, want: firstSeq - 1 }
      if (head.treeSize <= have) {
        const ours = await this.rootAt(origin, head.treeSize)
        if (bytesEqual(ours, head.root)) return { status: 'duplicate', treeSize: have }
        throw new EhrlogError(
          'EQUIVOCATION',
          `${origin} signed root ${toHex(head.root)} at size ${head.treeSize}, this replica holds ${toHex(ours)}`,
          {
            details: {
              origin,
              treeSize: head.treeSize,
              theirs: toHex(head.root),
              ours: toHex(ours),
            },
          },
        )
      }
      const builder = feed.builder.clone()
      const ops: Op[] = []
      if (have === 0 && !feed.latestHead) ops.push(this.#feedOp(feed))
      let prev = feed.lastHash
      let lastRecordedMs = feed.lastRecordedMs
      // Entries this replica already holds (an overlapping batch) are skipped after the root check.
      for (let i = have - firstSeq + 1; i < count; i++) {
        const encoded = decodeEntry(batch.entries[i]!)
        const { entry } = encoded
        const seq = builder.size + 1
        if (entry.origin !== origin || entry.seq !== seq) {
          throw new EhrlogError(
            'SEQ_MISMATCH',
            `entry ${entryId(entry.origin, entry.seq)} arrived where ${entryId(origin, seq)} belongs`,
            {
              details: { origin, seq },
            },
          )
        }
        if (entry.prev !== (prev ? toHex(prev) : '0'.repeat(64))) {
          throw new EhrlogError(
            'CHAIN_BROKEN',
            `entry ${entryId(origin, seq)} does not link to the entry before it`,
            {
              details: { origin, seq },
            },
          )
        }
        verifyEntryBody(entry.kind, entry.body)
        this.#entryOps(ops, feed.tag, builder, encoded)
        prev = encoded.hash
        lastRecordedMs = Date.parse(entry.recorded)
      }
      const root = builder.root()
      if (!bytesEqual(root, head.root)) {
        throw new EhrlogError(
          'INVALID_PROOF',
          `entries of ${origin} up to ${head.treeSize} give root ${toHex(root)}, the signed head says ${toHex(head.root)}`,
          {
            details: { origin, treeSize: head.treeSize },
          },
        )
      }
      ops.push(this.#headOp(feed.tag, head))
      await this.#db.batch(ops, { sync: this.#opts.sync ?? true })
      Object.assign(feed, { builder, lastHash: prev, lastRecordedMs, latestHead: head })
      return { status: 'stored', treeSize: builder.size }
    })
  }

  /** One entry, decrypted and decoded; undefined when absent. Throws STORE_CORRUPT if unreadable. */
  async getEntry(origin: string, seq: number): Promise<EncodedEntry | undefined> {
    const feed = this.#feeds.get(origin)
    if (!feed) return undefined
    const key = entryKey(feed.tag, seq)
    const value = await this.#db.get(key)
    if (value === undefined) return undefined
    return this.#decodeStored(key, value)
  }

  /** Entries [fromSeq, toSeq] of a feed in seq order. */
  async *entries(
    origin: string,
    fromSeq = 1,
    toSeq = Number.MAX_SAFE_INTEGER,
  ): AsyncGenerator<EncodedEntry> {
    const feed = this.#feeds.get(origin)
    if (!feed) return
    const range = {
      gte: entryKey(feed.tag, fromSeq),
      lte: entryKey(feed.tag, Math.min(toSeq, feed.builder.size)),
    }
    for await (const [key, value] of this.#db.iterator(range)) yield this.#decodeStored(key, value)
  }

  /** Many entries by reference, in the order asked; absent ones are skipped. */
  async getEntries(refs: readonly EntryRef[]): Promise<EncodedEntry[]> {
    const keys: Buffer[] = []
    for (const ref of refs) {
      const feed = this.#feeds.get(ref.origin)
      if (feed) keys.push(entryKey(feed.tag, ref.seq))
    }
    const values = await this.#db.getMany(keys)
    const out: EncodedEntry[] = []
    values.forEach((value, i) => {
      if (value !== undefined) out.push(this.#decodeStored(keys[i]!, value))
    })
    return out
  }

  /** Signed heads of a feed with treeSize >= fromSize, in size order. */
  async *heads(origin: string, fromSize = 1): AsyncGenerator<SignedTreeHead> {
    const feed = this.#feeds.get(origin)
    if (!feed) return
    const { lt } = prefixRange(Buffer.concat([Buffer.of(PREFIX.head), feed.tag]))
    for await (const [key, value] of this.#db.iterator({ gte: headKey(feed.tag, fromSize), lt })) {
      yield this.#decodeHead(origin, key, value)
    }
  }

  /**
   * Batches of at most about `maxEntries` entries starting at `fromSeq`, each ending at a
   * signed head this store holds, so the receiver can verify each batch on its own.
   */
  async readBatches(origin: string, fromSeq: number, maxEntries: number): Promise<FeedBatch[]> {
    const batches: FeedBatch[] = []
    let next = fromSeq
    let total = 0
    for await (const head of this.heads(origin, fromSeq)) {
      const entries: Uint8Array[] = []
      for await (const e of this.entries(origin, next, head.treeSize)) entries.push(e.bytes)
      if (entries.length !== head.treeSize - next + 1) break // damaged locally: send what verifies
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
    if (treeSize === feed.builder.size) return feed.builder.root()
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

  /** Entries about one patient, oldest first per feed, found through the blind index. */
  findByPatient(patientId: string, limit = 10_000): Promise<EntryRef[]> {
    return this.#scanIndex(
      Buffer.concat([
        Buffer.of(PREFIX.patient),
        blindIndex(this.#opts.keys.indexKey, 'patient', patientId),
      ]),
      limit,
    )
  }

  /** Entries by one actor (clinician, staff, system), through the blind index. */
  findByActor(actorId: string, limit = 10_000): Promise<EntryRef[]> {
    return this.#scanIndex(
      Buffer.concat([
        Buffer.of(PREFIX.actor),
        blindIndex(this.#opts.keys.indexKey, 'actor', actorId),
      ]),
      limit,
    )
  }

  /** Entries whose event time lies in [fromMs, toMs), in time order. */
  async findByTime(fromMs: number, toMs: number, limit = 10_000): Promise<EntryRef[]> {
    const refs: EntryRef[] = []
    const range = {
      gte: Buffer.concat([Buffer.of(PREFIX.time), u64Key(fromMs)]),
      lt: Buffer.concat([Buffer.of(PREFIX.time), u64Key(toMs)]),
      limit,
    }
    for await (const key of this.#db.keys(range)) refs.push(this.#refOfIndexKey(key))
    return refs
  }

  async #scanIndex(prefix: Buffer, limit: number): Promise<EntryRef[]> {
    const refs: EntryRef[] = []
    for await (const key of this.#db.keys({ ...prefixRange(prefix), limit }))
      refs.push(this.#refOfIndexKey(key))
    return refs
  }

  #refOfIndexKey(key: Buffer): EntryRef {
    const tag = key.subarray(key.length - 16, key.length - 8)
    const origin = this.#originByTag.get(tag.toString('hex')) ?? `unknown-${tag.toString('hex')}`
    return {
      origin,
      seq: key.readUInt32BE(key.length - 8) * 0x1_0000_0000 + key.readUInt32BE(key.length - 4),
    }
  }

  #entryOps(ops: Op[], tag: FeedTag, builder: MerkleBuilder, encoded: EncodedEntry): void {
    const seq = builder.size + 1
    const nodes = builder.append(encoded.hash)
    const upper: Uint8Array[] = []
    for (const node of nodes) if (node.level > 0) upper.push(node.hash)
    const key = entryKey(tag, seq)
    ops.push({
      type: 'put',
      key,
      value: this.#cipher.seal(key, encodeEntryRecord(upper, encoded.bytes)),
    })
    if (encoded.entry.kind === 'event') {
      const event = encoded.entry.body as AuditEvent
      const indexKey = this.#opts.keys.indexKey
      const empty = Buffer.alloc(0)
      ops.push({
        type: 'put',
        key: patientKey(blindIndex(indexKey, 'patient', event.patientId), tag, seq),
        value: empty,
      })
      ops.push({
        type: 'put',
        key: actorKey(blindIndex(indexKey, 'actor', event.actorId), tag, seq),
        value: empty,
      })
      ops.push({ type: 'put', key: timeKey(Date.parse(event.time), tag, seq), value: empty })
    }
  }

  #headOp(tag: FeedTag, head: SignedTreeHead): Op {
    const key = headKey(tag, head.treeSize)
    return {
      type: 'put',
      key,
      value: this.#cipher.seal(key, encodeHeadRecord(head.root, head.signature)),
    }
  }

  #feedOp(feed: FeedState): Op {
    const key = feedKey(feed.tag)
    return { type: 'put', key, value: this.#cipher.seal(key, Buffer.from(feed.origin, 'utf8')) }
  }

  #decodeStored(key: Buffer, value: Buffer): EncodedEntry {
    const plain = this.#cipher.open(key, value)
    if (!plain) {
      throw new EhrlogError(
        'STORE_CORRUPT',
        'a stored entry fails authentication (modified on disk); run `ehrlog verify`',
      )
    }
    return decodeEntry(new Uint8Array(decodeEntryRecord(plain).entryBytes))
  }

  #decodeHead(origin: string, key: Buffer, value: Buffer): SignedTreeHead {
    const plain = this.#cipher.open(key, value)
    if (!plain)
      throw new EhrlogError('STORE_CORRUPT', `a signed head of ${origin} fails authentication`)
    const { root, signature } = decodeHeadRecord(plain)
    const treeSize =
      key.readUInt32BE(key.length - 8) * 0x1_0000_0000 + key.readUInt32BE(key.length - 4)
    return { origin, treeSize, root: new Uint8Array(root), signature: new Uint8Array(signature) }
  }

  #tree(feed: FeedState): TreeReader {
    return new TreeReader(this.#db, this.#cipher, feed.tag)
  }

  #requireFeed(origin: string, treeSize: number): FeedState {
    const feed = this.#feeds.get(origin)
    if (!feed) throw new EhrlogError('NOT_FOUND', `this store holds no feed of ${origin}`)
    if (treeSize > feed.builder.size || treeSize < 0) {
      throw new EhrlogError(
        'NOT_FOUND',
        `feed ${origin} has ${feed.builder.size} entries, not ${treeSize}`,
      )
    }
    return feed
  }

  async #feedFor(origin: string): Promise<FeedState> {
    this.#assertOpen()
    const existing = this.#feeds.get(origin)
    if (existing) return existing
    return this.#loadFeed(origin)
  }

  /** Rebuilds a feed's state from its latest signed head and the stored tree nodes. */
  async #loadFeed(origin: string): Promise<FeedState> {
    const tag = feedTag(this.#opts.keys.indexKey, origin)
    const feed: FeedState = {
      origin,
      tag,
      builder: new MerkleBuilder(),
      lastHash: undefined,
      lastRecordedMs: 0,
      latestHead: undefined,
      damage: undefined,
    }
    this.#feeds.set(origin, feed)
    this.#originByTag.set(tag.toString('hex'), origin)
    const { lt } = prefixRange(Buffer.concat([Buffer.of(PREFIX.head), tag]))
    const last = await this.#db
      .iterator({ gte: headKey(tag, 0), lt, reverse: true, limit: 1 })
      .all()
    if (last.length === 0) return feed
    const [key, value] = last[0]!
    try {
      const head = this.#decodeHead(origin, key, value)
      feed.latestHead = head
      const tree = this.#tree(feed)
      feed.builder = MerkleBuilder.fromFrontier(head.treeSize, await tree.frontier(head.treeSize))
      if (!bytesEqual(feed.builder.root(), head.root))
        throw new Error('stored tree does not match the latest signed head')
      const tail = await this.getEntry(origin, head.treeSize)
      if (!tail) throw new Error(`entry ${entryId(origin, head.treeSize)} is missing`)
      feed.lastHash = tail.hash
      feed.lastRecordedMs = Date.parse(tail.entry.recorded)
    } catch (err) {
      feed.damage = err instanceof Error ? err.message : String(err)
    }
    return feed
  }

  #assertOpen(): void {
    if (this.#status !== 'open') throw new EhrlogError('STORE_CLOSED', 'the store is not open')
  }

  #exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task, task)
    this.#queue = run.catch(() => {})
    return run
  }
}

function u64Key(n: number): Buffer {
  const b = Buffer.alloc(8)
  b.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(n))))
  return b
}
