import { EhrlogError } from '../core/errors.ts'

/**
 * Counts failures per key (a username, a client address) in a sliding window and refuses
 * further attempts past the limit: online password guessing stays slow, and a user's
 * successful login clears their own count (never a client's).
 */
export class FailureLimiter {
  readonly #maxFailures: number
  readonly #windowMs: number
  readonly #failures = new Map<string, number[]>()

  constructor(opts: { maxFailures: number; windowMs: number }) {
    this.#maxFailures = opts.maxFailures
    this.#windowMs = opts.windowMs
  }

  assertAllowed(keys: readonly string[], now = Date.now()): void {
    for (const key of keys) {
      const recent = this.#recent(key, now)
      if (recent.length >= this.#maxFailures) {
        const retryMs = recent[0]! + this.#windowMs - now
        throw new EhrlogError(
          'RATE_LIMITED',
          `too many failed logins: try again in ${Math.ceil(retryMs / 60_000)} minute(s)`,
          {
            details: { retryAfterSeconds: Math.ceil(retryMs / 1000) },
          },
        )
      }
    }
  }

  fail(keys: readonly string[], now = Date.now()): void {
    for (const key of keys) {
      const recent = this.#recent(key, now)
      recent.push(now)
      this.#failures.set(key, recent)
    }
    if (this.#failures.size > 100_000) this.#failures.clear() // bounded memory under a flood
  }

  succeed(key: string): void {
    this.#failures.delete(key)
  }

  #recent(key: string, now: number): number[] {
    return (this.#failures.get(key) ?? []).filter((t) => t > now - this.#windowMs)
  }
}
