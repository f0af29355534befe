import { EhrlogError } from '../core/errors.ts'
import { WindowedCounts } from './windowed-counts.ts'

/** How failed logins are limited (docs/auth.md, "Failed sign-ins"). */
export interface LoginLimits {
  /** Failures of one account from one client address that lock that pair (default 5). */
  perAccountAndAddress: number
  /** Failures of one account from anywhere past which it is slowed down (default 5). */
  perAccount: number
  /** A slowed account takes one try per this long, from any address (default 60 s). */
  slowedTryEveryMs: number
  /** Failures from one address, any accounts, that lock the address (default 100). */
  perAddress: number
  /** How long a failure counts (default 15 minutes). */
  windowMs: number
  /** Keys kept per kind and tier (default 100,000; see WindowedCounts). */
  maxKeys: number
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = {
  perAccountAndAddress: 5,
  perAccount: 5,
  slowedTryEveryMs: 60_000,
  perAddress: 100,
  windowMs: 15 * 60_000,
  maxKeys: 100_000,
}

/** Why a login was refused before its signature was checked (`details.reason`). */
export type LoginLimitReason = 'account-and-address' | 'account-slowed' | 'address'

/**
 * Keeps online password guessing slow without letting one person lock others out. Failures
 * count per account and client address together (five typos lock that pair only), per
 * account (past the limit, one try per minute from anywhere: a guesser spread over many
 * addresses stays slow, the real user is delayed, not locked out), and per address (one
 * address spraying many usernames). The counts are the same for usernames that do not exist,
 * so a refusal tells nothing about which accounts exist. A success clears the account's own
 * counts, never an address's; an admin can clear an account's (`unlock`).
 */
export class FailureLimiter {
  readonly #limits: LoginLimits
  readonly #pairs: WindowedCounts
  readonly #accounts: WindowedCounts
  readonly #addresses: WindowedCounts

  constructor(limits: Partial<LoginLimits> = {}) {
    const l = { ...DEFAULT_LOGIN_LIMITS, ...limits }
    this.#limits = l
    const counts = (limit: number) =>
      new WindowedCounts({ limit, windowMs: l.windowMs, maxKeys: l.maxKeys })
    this.#pairs = counts(l.perAccountAndAddress)
    this.#accounts = counts(l.perAccount)
    this.#addresses = counts(l.perAddress)
  }

  /** RATE_LIMITED (with how long and why) when this account may not try from `client` now. */
  assertAllowed(account: string, client: string, now = Date.now()): void {
    const address = this.#addresses.waitMs(client, now)
    if (address !== undefined)
      throw limited(
        'address',
        address,
        `too many failed sign-ins from your address (${this.#limits.perAddress} in ${minutes(this.#limits.windowMs)})`,
      )
    const pair = this.#pairs.waitMs(pairKey(account, client), now)
    if (pair !== undefined)
      throw limited(
        'account-and-address',
        pair,
        `too many failed sign-ins for this username from your address (${this.#limits.perAccountAndAddress} in ${minutes(this.#limits.windowMs)})`,
      )
    const recent = this.#accounts.recent(account, now)
    if (recent.length >= this.#limits.perAccount) {
      const waitMs = recent.at(-1)! + this.#limits.slowedTryEveryMs - now
      if (waitMs > 0)
        throw limited(
          'account-slowed',
          waitMs,
          `this username had many failed sign-ins: it takes one try per ${Math.round(this.#limits.slowedTryEveryMs / 1000)} s for now`,
        )
    }
  }

  fail(account: string, client: string, now = Date.now()): void {
    this.#pairs.add(pairKey(account, client), now)
    this.#accounts.add(account, now)
    this.#addresses.add(client, now)
  }

  /** A successful login clears the account's counts (never the address's: it may be shared). */
  succeed(account: string, client: string): void {
    this.#accounts.delete(account)
    this.#pairs.delete(pairKey(account, client))
  }

  /** Clears every count of `account` (its own and per address); true if there was any. */
  unlock(account: string): boolean {
    const prefix = `${account}\u0000`
    const had = this.#accounts.recent(account, Date.now()).length > 0
    this.#accounts.delete(account)
    return this.#pairs.deleteWhere((key) => key.startsWith(prefix)) > 0 || had
  }

  /** Keys held by kind (tests and metrics: memory stays bounded). */
  get sizes(): Record<'pairs' | 'accounts' | 'addresses', { counting: number; atLimit: number }> {
    return {
      pairs: this.#pairs.size,
      accounts: this.#accounts.size,
      addresses: this.#addresses.size,
    }
  }
}

function pairKey(account: string, client: string): string {
  return `${account}\u0000${client}`
}

function minutes(ms: number): string {
  return `${Math.round(ms / 60_000)} minutes`
}

function limited(reason: LoginLimitReason, waitMs: number, why: string): EhrlogError {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000))
  const wait = seconds >= 120 ? `${Math.ceil(seconds / 60)} minutes` : `${seconds} s`
  return new EhrlogError('RATE_LIMITED', `${why}: try again in ${wait}`, {
    details: { field: 'login', reason, retryAfterSeconds: seconds },
  })
}
