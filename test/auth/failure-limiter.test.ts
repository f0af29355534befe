import { describe, expect, it } from 'vitest'
import { FailureLimiter, WindowedCounts } from '../../node/auth/index.ts'

const T0 = 1_700_000_000_000
const MINUTE = 60_000

function refusal(fn: () => void): { reason: string; retryAfterSeconds: number; message: string } {
  try {
    fn()
  } catch (err) {
    const e = err as { code: string; message: string; details: Record<string, unknown> }
    expect(e.code).toBe('RATE_LIMITED')
    return {
      reason: String(e.details.reason),
      retryAfterSeconds: Number(e.details.retryAfterSeconds),
      message: e.message,
    }
  }
  throw new Error('not refused')
}

describe('failed-login limits', () => {
  it('a flood of 110,000 made-up usernames from distinct addresses does not unlock a locked account', () => {
    const limiter = new FailureLimiter()
    for (let i = 0; i < 5; i++) limiter.fail('victim@hospital-a', '10.0.0.1', T0 + i)
    const before = refusal(() => limiter.assertAllowed('victim@hospital-a', '10.0.0.1', T0 + 10))
    expect(before.reason).toBe('account-and-address')
    for (let i = 0; i < 110_000; i++) {
      const address = `127.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`
      limiter.fail(`made-up-${i}@hospital-a`, address, T0 + 20 + Math.floor(i / 10))
    }
    const now = T0 + 20 + 11_000
    expect(refusal(() => limiter.assertAllowed('victim@hospital-a', '10.0.0.1', now)).reason).toBe(
      'account-and-address',
    )
    // From another address the account is slowed, not open to guessing at full speed.
    expect(refusal(() => limiter.assertAllowed('victim@hospital-a', '10.9.9.9', now)).reason).toBe(
      'account-slowed',
    )
    // Memory stayed bounded: every kind keeps at most 100,000 keys below the limit.
    const sizes = limiter.sizes
    for (const kind of Object.values(sizes)) expect(kind.counting).toBeLessThanOrEqual(100_000)
    expect(sizes.pairs.atLimit).toBe(1)
    expect(sizes.accounts.atLimit).toBe(1)
  })

  it("five typos by one patient behind a shared address do not lock out the hospital's admin", () => {
    const limiter = new FailureLimiter()
    const nat = '192.0.2.7'
    for (let i = 0; i < 5; i++) limiter.fail('anish@hospital-c', nat, T0 + i * 1000)
    expect(() => limiter.assertAllowed('admin@hospital-c', nat, T0 + 6000)).not.toThrow()
    const own = refusal(() => limiter.assertAllowed('anish@hospital-c', nat, T0 + 6000))
    expect(own.reason).toBe('account-and-address')
    expect(own.message).toMatch(
      /^too many failed sign-ins for this username from your address \(5 in 15 minutes\): try again in 15 minutes$/,
    )
    expect(own.retryAfterSeconds).toBe(15 * 60 - 6)
    // The same account from elsewhere waits a minute between tries, then may try again.
    const slowed = refusal(() =>
      limiter.assertAllowed('anish@hospital-c', '198.51.100.1', T0 + 6000),
    )
    expect(slowed).toMatchObject({ reason: 'account-slowed', retryAfterSeconds: 58 })
    expect(slowed.message).toMatch(/one try per 60 s for now: try again in 58 s$/)
    expect(() =>
      limiter.assertAllowed('anish@hospital-c', '198.51.100.1', T0 + 4000 + MINUTE),
    ).not.toThrow()
    // After the window, everything is forgotten.
    expect(() => limiter.assertAllowed('anish@hospital-c', nat, T0 + 16 * MINUTE)).not.toThrow()
  })

  it('one address spraying many usernames is locked after 100 failures; a success never clears an address', () => {
    const limiter = new FailureLimiter()
    for (let i = 0; i < 100; i++) limiter.fail(`guess${i}@hospital-a`, '203.0.113.9', T0 + i)
    const r = refusal(() => limiter.assertAllowed('anyone@hospital-a', '203.0.113.9', T0 + 200))
    expect(r.reason).toBe('address')
    limiter.succeed('anyone@hospital-a', '203.0.113.9')
    expect(
      refusal(() => limiter.assertAllowed('x@hospital-a', '203.0.113.9', T0 + 300)).reason,
    ).toBe('address')
    expect(() => limiter.assertAllowed('x@hospital-a', '203.0.113.10', T0 + 300)).not.toThrow()
  })

  it("an admin's unlock clears the account from every address; a success clears the account", () => {
    const limiter = new FailureLimiter()
    for (const ip of ['10.0.0.1', '10.0.0.2'])
      for (let i = 0; i < 5; i++) limiter.fail('anish@hospital-c', ip, Date.now())
    expect(() => limiter.assertAllowed('anish@hospital-c', '10.0.0.2')).toThrow()
    expect(limiter.unlock('anish@hospital-c')).toBe(true)
    for (const ip of ['10.0.0.1', '10.0.0.2', '10.0.0.3'])
      expect(() => limiter.assertAllowed('anish@hospital-c', ip)).not.toThrow()
    expect(limiter.unlock('anish@hospital-c')).toBe(false)
  })
})

describe('WindowedCounts', () => {
  it('evicts least recently used keys under the limit, expired keys first, never a key at its limit', () => {
    const counts = new WindowedCounts({ limit: 3, windowMs: MINUTE, maxKeys: 10 })
    for (let i = 0; i < 3; i++) counts.add('locked', T0)
    for (let i = 0; i < 50; i++) counts.add(`k${i}`, T0 + i)
    expect(counts.size).toEqual({ counting: 10, atLimit: 1 })
    expect(counts.waitMs('locked', T0 + 100)).toBe(MINUTE - 100)
    expect(counts.recent('k0', T0 + 100)).toEqual([])
    expect(counts.recent('k49', T0 + 100)).toEqual([T0 + 49])
    // Keys whose events left the window are dropped as new ones arrive.
    counts.add('late', T0 + 2 * MINUTE)
    counts.add('later', T0 + 2 * MINUTE)
    expect(counts.size.counting).toBeLessThan(10)
    expect(counts.waitMs('locked', T0 + 2 * MINUTE)).toBeUndefined()
  })
})
