import { EhrlogError } from '../core/errors.ts'
import { type LogStore, repairCount } from '../store/index.ts'
// Until LogStore offers batched proofs itself (it is being split), these two are reached
// directly rather than through node/store/index.ts.
import { type TREE_CACHE_DEFAULTS, TreeCache } from '../store/tree-cache.ts'
import { TreeReader } from '../store/tree-reader.ts'

/** One proof asked for: entry `seq` (1-based) of a feed, in its tree of `treeSize` entries. */
export interface ProofRequest {
  seq: number
  treeSize: number
}

/**
 * Inclusion and consistency proofs for answers: the proofs of one answer are built together
 * (each tree node read once, `TreeReader.inclusionProofs`), and the upper levels of every
 * feed's tree stay in a bounded TreeCache across queries. Same proofs as LogStore's.
 */
export class ProofReader {
  readonly #store: LogStore
  readonly cache: TreeCache
  /** origin → the feed's repair count when its cached nodes were read. */
  readonly #repairs = new Map<string, number>()

  constructor(store: LogStore, cache: Partial<typeof TREE_CACHE_DEFAULTS> = {}) {
    this.#store = store
    this.cache = new TreeCache(cache)
  }

  /** One proof per request, in order. NOT_FOUND if the replica holds fewer than treeSize. */
  async inclusionProofs(
    origin: string,
    requests: readonly ProofRequest[],
  ): Promise<Uint8Array[][]> {
    for (const r of requests) this.#requireSize(origin, r.treeSize)
    return (await this.#reader(origin)).inclusionProofs(
      requests.map((r) => ({ index: r.seq - 1, treeSize: r.treeSize })),
    )
  }

  async consistencyProof(origin: string, oldSize: number, newSize: number): Promise<Uint8Array[]> {
    this.#requireSize(origin, newSize)
    return (await this.#reader(origin)).consistencyProof(oldSize, newSize)
  }

  async #reader(origin: string): Promise<TreeReader> {
    const { db, cipher, feeds } = this.#store.internals
    const tag = feeds.get(origin)!.tag
    // A repair rewrites records, maybe one whose nodes an insider had sealed wrong and that
    // were cached: every repair is counted in the store (in its own batch), so a changed
    // count drops the feed's cached nodes.
    const repairs = await repairCount(this.#store, origin)
    const known = this.#repairs.get(origin)
    if (known !== undefined && known !== repairs) this.cache.forget(tag)
    this.#repairs.set(origin, repairs)
    return new TreeReader(db, cipher, tag, this.cache)
  }

  /** Only what is durably on disk (the committed size) is proven, as LogStore does. */
  #requireSize(origin: string, treeSize: number): void {
    const size = this.#store.size(origin)
    if (size === 0 || treeSize > size || treeSize < 0)
      throw new EhrlogError('NOT_FOUND', `feed ${origin} has ${size} entries, not ${treeSize}`)
  }
}
