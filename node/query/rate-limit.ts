import { EhrlogError } from '../core/errors.ts'

/** How many queries one user may run at one node: `burst` at once, refilled at `perMinute`. */
export interface QueryRateLimit {
  perMinute: number
  burst: number
}

/** The defaults of config.json's `query.rateLimit` (docs/query.md). */
export const DEFAULT_QUERY_RATE_LIMIT: QueryRateLimit = { perMinute: 60, burst: 30 }

/** Buckets kept before full ones are swept (a full bucket is the same as none). */
const SWEEP_AT = 1024

interface Bucket {
  tokens: number
  atMs: number
}

/**
 * A token bucket per user (the session's `sub`, so logging in again or asking over another
 * transport gives no more): each query takes one token, tokens come back at `perMinute`, up
 * to `burst`. Every query costs an audit entry and proofs, so this bounds what one account
 * can make a node write and compute. Memory: one bucket per user seen lately.
 */
export class QueryRateLimiter {
  readonly #limit: QueryRateLimit
  readonly #now: () => number
  readonly #buckets = new Map<string, Bucket>()
  #sweepAt = SWEEP_AT

  constructor(limit: QueryRateLimit = DEFAULT_QUERY_RATE_LIMIT, now: () => number = Date.now) {
    this.#limit = limit
    this.#now = now
  }

  /** Users with a bucket now: those who queried lately (full buckets are swept). */
  get trackedUsers(): number {
    return this.#buckets.size
  }

  /**
   * Takes one query from `user`'s bucket. Throws RATE_LIMITED with
   * `details.retryAfterSeconds` (when the next token is back) if the bucket is empty.
   */
  take(user: string): void {
    const { perMinute, burst } = this.#limit
    const now = this.#now()
    const bucket = this.#refilled(this.#buckets.get(user), now)
    if (bucket.tokens < 1) {
      // Less a hair: (1 - 2/3) · 30 must be 10 s, not 11 (floating point).
      const retryAfterSeconds = Math.max(
        1,
        Math.ceil(((1 - bucket.tokens) * 60) / perMinute - 1e-9),
      )
      throw new EhrlogError(
        'RATE_LIMITED',
        `${user} has run more queries than this node allows (${perMinute} a minute, ${burst} at once): retry in ${retryAfterSeconds} s`,
        { details: { field: 'session', retryAfterSeconds, perMinute, burst } },
      )
    }
    bucket.tokens -= 1
    this.#buckets.set(user, bucket)
    if (this.#buckets.size >= this.#sweepAt) this.#sweep(now)
  }

  #refilled(bucket: Bucket | undefined, now: number): Bucket {
    const { perMinute, burst } = this.#limit
    if (!bucket) return { tokens: burst, atMs: now }
    // A clock that steps back refills nothing rather than taking tokens away.
    const elapsedMs = Math.max(0, now - bucket.atMs)
    return { tokens: Math.min(burst, bucket.tokens + (elapsedMs * perMinute) / 60_000), atMs: now }
  }

  /** Drops buckets that have refilled; sweeps again when the map has doubled. */
  #sweep(now: number): void {
    for (const [user, bucket] of this.#buckets)
      if (this.#refilled(bucket, now).tokens >= this.#limit.burst) this.#buckets.delete(user)
    this.#sweepAt = Math.max(SWEEP_AT, this.#buckets.size * 2)
  }
}
