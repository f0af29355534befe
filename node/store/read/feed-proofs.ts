import type { ClassicLevel } from 'classic-level'
import { EhrlogError } from '../../core/errors.ts'
import { EMPTY_ROOT } from '../../core/merkle/index.ts'
import type { FeedState } from '../feed-state.ts'
import type { ValueCipher } from '../format/value-cipher.ts'
import type { ProofRequest } from '../store-types.ts'
import type { TreeCache } from './tree-cache.ts'
import { TreeReader } from './tree-reader.ts'

/**
 * Roots and RFC 9162 proofs of the feeds, over what is durably on disk (each feed's committed
 * size): LogStore's proof readers. Reads only: it is handed the feeds, never changes them.
 */
export class FeedProofs {
  readonly #db: ClassicLevel<Buffer, Buffer>
  readonly #cipher: ValueCipher
  readonly #cache: TreeCache
  readonly #feed: (origin: string) => FeedState | undefined

  constructor(
    db: ClassicLevel<Buffer, Buffer>,
    cipher: ValueCipher,
    cache: TreeCache,
    feed: (origin: string) => FeedState | undefined,
  ) {
    this.#db = db
    this.#cipher = cipher
    this.#cache = cache
    this.#feed = feed
  }

  async rootAt(origin: string, treeSize: number): Promise<Uint8Array> {
    if (treeSize === 0) return EMPTY_ROOT
    const feed = this.#require(origin, treeSize)
    if (treeSize === feed.committed.size) return feed.committed.root
    return this.#tree(feed).rangeHash(0, treeSize)
  }

  async inclusionProof(origin: string, seq: number, treeSize: number): Promise<Uint8Array[]> {
    return this.#tree(this.#require(origin, treeSize)).inclusionProof(seq - 1, treeSize)
  }

  async inclusionProofs(
    origin: string,
    requests: readonly ProofRequest[],
  ): Promise<Uint8Array[][]> {
    const feed = this.#require(origin, Math.max(0, ...requests.map((r) => r.treeSize)))
    return this.#tree(feed).inclusionProofs(
      requests.map((r) => ({ index: r.seq - 1, treeSize: r.treeSize })),
    )
  }

  async consistencyProof(origin: string, oldSize: number, newSize: number): Promise<Uint8Array[]> {
    return this.#tree(this.#require(origin, newSize)).consistencyProof(oldSize, newSize)
  }

  /** Reads the cached upper levels of `feeds` until `stop` (LogStore.warmTreeCache). */
  async warm(feeds: Iterable<FeedState>, stop: () => boolean): Promise<void> {
    for (const feed of feeds)
      await this.#tree(feed).warm(feed.committed.size, this.#cache.floor, stop)
  }

  #tree(feed: FeedState): TreeReader {
    return new TreeReader(this.#db, this.#cipher, feed.tag, this.#cache)
  }

  /** NOT_FOUND unless the feed is held with at least `treeSize` entries on disk. */
  #require(origin: string, treeSize: number): FeedState {
    const feed = this.#feed(origin)
    if (!feed) throw new EhrlogError('NOT_FOUND', `this store holds no feed of ${origin}`)
    if (treeSize > feed.committed.size || treeSize < 0) {
      throw new EhrlogError(
        'NOT_FOUND',
        `feed ${origin} has ${feed.committed.size} entries, not ${treeSize}`,
      )
    }
    return feed
  }
}
