import type { FeedTag } from '../format/key-layout.ts'

/** Defaults of TreeCache (docs/performance.md, "Queries"). */
export const TREE_CACHE_DEFAULTS = {
  /** At most this many bytes of hashes and presence flags, across all feeds. */
  maxBytes: 16 * 2 ** 20,
  /** Lowest level kept: one hash per 2^minLevel leaves, so ~64 / 2^minLevel bytes per entry. */
  minLevel: 4,
}

/** One level of one feed: dense, since every node below the right edge is wanted sooner or later. */
interface Level {
  hashes: Buffer
  /** 1 where `hashes` holds the node. */
  present: Uint8Array
}

const HASH = 32
/** Bytes a level of `capacity` nodes costs. */
const cost = (capacity: number) => capacity * (HASH + 1)

/**
 * The upper levels of each feed's RFC 9162 tree, in memory. A complete node's hash never
 * changes once its last leaf is written (entries are append-only and each record is
 * authenticated), so nothing here goes stale: only nodes read from records that passed
 * AES-GCM are put. Levels below `floor` are not kept; when a put would pass `maxBytes`, the
 * lowest kept level of every feed is dropped and the floor rises, so the levels closest to
 * the root, which every proof needs, are the last to go. A repair that rewrites a feed's
 * records should `forget` that feed (an insider could have sealed a wrong node that was read).
 */
export class TreeCache {
  readonly maxBytes: number
  #floor: number
  #bytes = 0
  /** feed tag (hex) → level → nodes. */
  readonly #feeds = new Map<string, Level[]>()

  constructor(opts: Partial<typeof TREE_CACHE_DEFAULTS> = {}) {
    this.maxBytes = opts.maxBytes ?? TREE_CACHE_DEFAULTS.maxBytes
    this.#floor = Math.max(1, opts.minLevel ?? TREE_CACHE_DEFAULTS.minLevel)
  }

  /** The lowest level kept now. */
  get floor(): number {
    return this.#floor
  }

  /** Bytes allocated now (at most maxBytes). */
  get bytes(): number {
    return this.#bytes
  }

  /** The levels of one feed, to look up many nodes with one key conversion. */
  feed(tag: FeedTag): FeedTreeCache {
    const key = Buffer.from(tag).toString('hex')
    return {
      get: (level, index) => this.#get(key, level, index),
      put: (level, index, hash) => this.#put(key, level, index, hash),
    }
  }

  /** Drops one feed's nodes (after a repair rewrote its records), or every feed's. */
  forget(tag?: FeedTag): void {
    const keys = tag ? [Buffer.from(tag).toString('hex')] : [...this.#feeds.keys()]
    for (const key of keys) {
      for (const level of this.#feeds.get(key) ?? [])
        if (level) this.#bytes -= cost(level.present.length)
      this.#feeds.delete(key)
    }
  }

  #get(key: string, level: number, index: number): Uint8Array | undefined {
    const at = this.#feeds.get(key)?.[level]
    if (!at || index >= at.present.length || at.present[index] !== 1) return undefined
    // A copy: callers may keep or pass on the hash, the slab must not change under them.
    return new Uint8Array(at.hashes.subarray(index * HASH, (index + 1) * HASH))
  }

  #put(key: string, level: number, index: number, hash: Uint8Array): void {
    let levels = this.#feeds.get(key)
    if (!levels) {
      levels = []
      this.#feeds.set(key, levels)
    }
    let at = levels[level]
    if (!at || index >= at.present.length) {
      // Grown by a quarter: at most 25% unused, and O(1) amortized copying per node.
      const capacity = Math.max(index + 1, Math.ceil((at?.present.length ?? 0) * 1.25), 64)
      // Raising the floor may drop this very level: look again after each drop.
      for (;;) {
        if (level < this.#floor) return
        at = levels[level]
        const more = cost(capacity) - cost(at?.present.length ?? 0)
        if (this.#bytes + more <= this.maxBytes) {
          this.#bytes += more
          break
        }
        if (!this.#dropFloor()) return
      }
      const grown: Level = {
        hashes: Buffer.alloc(capacity * HASH),
        present: new Uint8Array(capacity),
      }
      if (at) {
        at.hashes.copy(grown.hashes)
        grown.present.set(at.present)
      }
      levels[level] = grown
      at = grown
    }
    at.hashes.set(hash, index * HASH)
    at.present[index] = 1
  }

  /** Drops every feed's level at the floor and raises it; false when nothing is left to drop. */
  #dropFloor(): boolean {
    if (this.#bytes === 0) return false
    for (const levels of this.#feeds.values()) {
      const at = levels[this.#floor]
      if (at) this.#bytes -= cost(at.present.length)
      delete levels[this.#floor]
    }
    this.#floor++
    return true
  }
}

/** One feed's view of a TreeCache. */
export interface FeedTreeCache {
  get(level: number, index: number): Uint8Array | undefined
  put(level: number, index: number, hash: Uint8Array): void
}
