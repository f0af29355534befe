import { describe, expect, it } from 'vitest'
import { EhrlogError } from '../../node/core/errors.ts'
import { QueryRateLimiter } from '../../node/query/index.ts'

/** The error `take` throws, or undefined if it let the query through. */
function refusal(limiter: QueryRateLimiter, user: string): EhrlogError | undefined {
  try {
    limiter.take(user)
    return undefined
  } catch (err) {
    return err as EhrlogError
  }
}

describe('QueryRateLimiter: a token bucket per user', () => {
  it('lets a burst through, then refuses with RATE_LIMITED and when to retry', () => {
    let now = 1_000_000
    const limiter = new QueryRateLimiter({ perMinute: 60, burst: 3 }, () => now)
    for (let i = 0; i < 3; i++) expect(refusal(limiter, 'a@h')).toBeUndefined()
    const err = refusal(limiter, 'a@h')
    expect(err).toBeInstanceOf(EhrlogError)
    expect(err?.code).toBe('RATE_LIMITED')
    expect(err?.details).toEqual({
      field: 'session',
      retryAfterSeconds: 1,
      perMinute: 60,
      burst: 3,
    })
    expect(err?.message).toBe(
      'a@h has run more queries than this node allows (60 a minute, 3 at once): retry in 1 s',
    )
    // Another user has their own bucket.
    expect(refusal(limiter, 'b@h')).toBeUndefined()
    // One query a second comes back, and no more than the burst.
    now += 999
    expect(refusal(limiter, 'a@h')?.code).toBe('RATE_LIMITED')
    now += 1
    expect(refusal(limiter, 'a@h')).toBeUndefined()
    expect(refusal(limiter, 'a@h')?.code).toBe('RATE_LIMITED')
    now += 3_600_000
    for (let i = 0; i < 3; i++) expect(refusal(limiter, 'a@h')).toBeUndefined()
    expect(refusal(limiter, 'a@h')?.code).toBe('RATE_LIMITED')
  })

  it('says how long until the next query at a slow rate, and refills nothing when the clock steps back', () => {
    let now = 0
    const limiter = new QueryRateLimiter({ perMinute: 2, burst: 1 }, () => now)
    limiter.take('a@h')
    expect(refusal(limiter, 'a@h')?.details.retryAfterSeconds).toBe(30)
    now += 20_000
    expect(refusal(limiter, 'a@h')?.details.retryAfterSeconds).toBe(10)
    now -= 60_000 // before the last query taken: as if no time had passed since it
    expect(refusal(limiter, 'a@h')?.details.retryAfterSeconds).toBe(30)
  })

  it('forgets users whose bucket is full again, so memory follows recent users only', () => {
    let now = 0
    const limiter = new QueryRateLimiter({ perMinute: 60, burst: 2 }, () => now)
    for (let i = 0; i < 1024; i++) limiter.take(`early-${i}@h`)
    expect(limiter.trackedUsers).toBe(1024) // swept at 1,024, but none was full yet
    now += 2_000 // the early buckets are full again
    for (let i = 0; i < 1024; i++) limiter.take(`late-${i}@h`)
    expect(limiter.trackedUsers).toBe(1024) // swept at 2,048: only the late ones are left
    // A forgotten user starts from a full bucket, which is what they had anyway.
    expect(refusal(limiter, 'early-1@h')).toBeUndefined()
    expect(refusal(limiter, 'early-1@h')).toBeUndefined()
    expect(refusal(limiter, 'early-1@h')?.code).toBe('RATE_LIMITED')
  })
})
