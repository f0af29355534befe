/** Tuning of a WindowedCounts. */
export interface WindowedCountsOptions {
  /** Events per key that make the key "at its limit". */
  limit: number
  /** How long an event counts. */
  windowMs: number
  /** Keys kept below the limit, and separately at it (default 100,000 each). */
  maxKeys?: number
}

/**
 * Recent events per key (failed logins of an account, registrations of an address) in a
 * sliding window, in bounded memory. Memory is bounded without forgetting the keys that
 * matter: keys that reached their limit (the locks) live apart from keys still counting, so
 * a flood of made-up keys evicts only other counting keys, least recently used first, never
 * a lock. A lock is evicted only when `maxKeys` other keys reached the limit after it (each
 * needing `limit` events), and keys whose events all left the window go first.
 */
export class WindowedCounts {
  readonly limit: number
  readonly windowMs: number
  readonly maxKeys: number
  // Map iteration follows insertion order; a key is re-inserted when touched, so the first
  // entries are the least recently used. Each holds at most `limit` times, oldest first.
  readonly #counting = new Map<string, number[]>()
  readonly #atLimit = new Map<string, number[]>()

  constructor(opts: WindowedCountsOptions) {
    this.limit = opts.limit
    this.windowMs = opts.windowMs
    this.maxKeys = opts.maxKeys ?? 100_000
  }

  /** Times of `key`'s events still in the window, oldest first (at most `limit`). */
  recent(key: string, now: number): number[] {
    const times = this.#atLimit.get(key) ?? this.#counting.get(key)
    return times ? times.filter((t) => t > now - this.windowMs) : []
  }

  /** Whether `key` has `limit` events in the window; if so, the ms until the oldest leaves it. */
  waitMs(key: string, now: number): number | undefined {
    const recent = this.recent(key, now)
    return recent.length >= this.limit ? recent[0]! + this.windowMs - now : undefined
  }

  /** Counts one event of `key` at `now`; returns the key's recent times after it. */
  add(key: string, now: number): number[] {
    const times = [...this.recent(key, now), now].slice(-this.limit)
    this.#counting.delete(key)
    this.#atLimit.delete(key)
    const into = times.length >= this.limit ? this.#atLimit : this.#counting
    into.set(key, times)
    this.#trim(into, now)
    return times
  }

  delete(key: string): void {
    this.#counting.delete(key)
    this.#atLimit.delete(key)
  }

  /** Deletes every key for which `match` holds (an admin clearing an account's limits). */
  deleteWhere(match: (key: string) => boolean): number {
    let n = 0
    for (const map of [this.#counting, this.#atLimit])
      for (const key of map.keys())
        if (match(key)) {
          map.delete(key)
          n++
        }
    return n
  }

  /** Keys held, below and at the limit. */
  get size(): { counting: number; atLimit: number } {
    return { counting: this.#counting.size, atLimit: this.#atLimit.size }
  }

  #trim(map: Map<string, number[]>, now: number): void {
    // Drop a few expired keys from the old end on every add, so quiet keys do not pile up.
    let budget = 2
    for (const [key, times] of map) {
      if (budget-- === 0 || times.at(-1)! > now - this.windowMs) break
      map.delete(key)
    }
    while (map.size > this.maxKeys) map.delete(map.keys().next().value as string)
  }
}
