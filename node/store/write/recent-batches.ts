import type { SignedTreeHead } from '../../core/tree-head.ts'
import type { FeedBatch } from './feed-batch.ts'

/** Entry bytes kept for all feeds together (~4,000 ATNA entries of ~2 KiB). */
export const RECENT_BATCHES_BYTES = 8 * 2 ** 20
/** A feed's batches are kept only while a peer pulled it this recently. */
export const RECENT_PULL_MS = 10_000

interface Recent {
  origin: string
  firstSeq: number
  entries: readonly Uint8Array[]
  head: SignedTreeHead
  bytes: number
}

/**
 * The batches this store committed last, per feed, as written: entry bytes and signed head.
 * Peers pull a feed's new batches right after they are written (sync), each of them: read
 * back from LevelDB that was an iterator and an AES-GCM open per entry per peer, ~15% of the
 * receiving node's main thread under syslog load (docs/performance.md). readBatches answers
 * from here what lies within these batches, exactly as the disk read would (whole batches
 * ending at signed heads, from `fromSeq`), and reads the disk for anything older.
 *
 * Per feed the batches are contiguous and end at the committed size: each is added when it
 * is on disk, in commit order; one that does not follow the last restarts the feed's list.
 * A repair of a feed forgets it (its records were rewritten). Only feeds that a peer pulled
 * in the last RECENT_PULL_MS are kept: holding entries costs GC work (~1 µs of main thread
 * and ~3 µs in all per appended entry, measured), worth it only while someone reads them.
 */
export class RecentBatches {
  readonly #maxBytes: number
  readonly #feeds = new Map<string, Recent[]>()
  /** Every kept batch, oldest first, from #oldest on: eviction order across feeds. */
  #order: Recent[] = []
  #oldest = 0
  #bytes = 0
  /** origin → when a peer last pulled it (performance.now()). */
  readonly #pulled = new Map<string, number>()
  readonly #now: () => number

  constructor(maxBytes = RECENT_BATCHES_BYTES, now: () => number = () => performance.now()) {
    this.#maxBytes = maxBytes
    this.#now = now
  }

  /** Bytes of entries kept (tests). */
  get bytes(): number {
    return this.#bytes
  }

  /** A batch now on disk: entries firstSeq..head.treeSize of `origin`, as stored. */
  add(
    origin: string,
    firstSeq: number,
    entries: readonly Uint8Array[],
    head: SignedTreeHead,
  ): void {
    const pulled = this.#pulled.get(origin)
    if (pulled === undefined || this.#now() - pulled > RECENT_PULL_MS) {
      this.#pulled.delete(origin)
      this.forget(origin)
      return
    }
    const last = this.#feeds.get(origin)?.at(-1)
    if (last && last.head.treeSize !== firstSeq - 1) this.forget(origin)
    if (entries.length !== head.treeSize - firstSeq + 1) {
      this.forget(origin)
      return
    }
    let bytes = 0
    for (const e of entries) bytes += e.byteLength
    let list = this.#feeds.get(origin)
    if (!list) {
      list = []
      this.#feeds.set(origin, list)
    }
    const recent: Recent = { origin, firstSeq, entries, head, bytes }
    list.push(recent)
    this.#order.push(recent)
    this.#bytes += bytes
    while (this.#bytes > this.#maxBytes && this.#oldest < this.#order.length) {
      const old = this.#order[this.#oldest++]!
      const feed = this.#feeds.get(old.origin)
      // Per feed, batches were added in the order of #order: the oldest kept is first.
      if (feed?.[0] === old) {
        feed.shift()
        this.#bytes -= old.bytes
        if (feed.length === 0) this.#feeds.delete(old.origin)
      }
    }
    if (this.#oldest > 1024 && this.#oldest * 2 > this.#order.length) {
      this.#order = this.#order.slice(this.#oldest)
      this.#oldest = 0
    }
  }

  /** Drops what is kept of `origin` (a repair rewrote its records). */
  forget(origin: string): void {
    const list = this.#feeds.get(origin)
    if (!list) return
    this.#feeds.delete(origin)
    for (const r of list) this.#bytes -= r.bytes
    // Their #order slots stay until evicted: they are no longer first of any feed list.
  }

  clear(): void {
    this.#feeds.clear()
    this.#pulled.clear()
    this.#order = []
    this.#oldest = 0
    this.#bytes = 0
  }

  /**
   * What LogStore.readBatches(origin, fromSeq, maxEntries) answers, if everything it would
   * read is kept here; undefined otherwise (read the disk). `committedSize`: the feed's size
   * on disk, which the kept batches must end at. A pull: the feed's next batches are kept.
   */
  read(
    origin: string,
    fromSeq: number,
    maxEntries: number,
    committedSize: number,
  ): FeedBatch[] | undefined {
    this.#pulled.set(origin, this.#now())
    const list = this.#feeds.get(origin)
    if (!list || list.length === 0 || fromSeq < list[0]!.firstSeq) return undefined
    if (list.at(-1)!.head.treeSize !== committedSize) return undefined
    if (fromSeq > committedSize) return []
    let lo = 0
    let hi = list.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (list[mid]!.head.treeSize < fromSeq) lo = mid + 1
      else hi = mid
    }
    const out: FeedBatch[] = []
    for (let i = lo; i < list.length; i++) {
      const { entries, head, firstSeq } = list[i]!
      out.push({ origin, entries: entries.slice(Math.max(0, fromSeq - firstSeq)), head })
      if (head.treeSize - fromSeq + 1 >= maxEntries) break
    }
    return out
  }
}
