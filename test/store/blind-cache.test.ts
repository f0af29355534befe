import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { blindIndex } from '../../node/store/format/key-layout.ts'
import { BLIND_CACHE_LIMIT, Indexes } from '../../node/store/write/indexes.ts'

describe('Indexes.blind: the blind indexes cached end to end in one array', () => {
  it('gives each id its HMAC blind index, and a blind given earlier never changes (growth, a full cache)', () => {
    const key = randomBytes(32)
    const indexes = new Indexes(key)
    const id = (i: number) => `patient-${i}`
    // Taken before the array grows (first at 1,024) and before the cache fills and restarts.
    const early = [0, 1, 1023, 1024, 5000].map((i) => [i, indexes.blind('patient', id(i))] as const)
    const copies = early.map(([, b]) => Buffer.from(b))
    // Taken from the full array just before the restart (a cached id: a view of the array).
    let late: Buffer | undefined
    for (let i = 0; i < BLIND_CACHE_LIMIT + 2_000; i++) {
      if (i === BLIND_CACHE_LIMIT) late = indexes.blind('patient', id(5))
      const blind = indexes.blind('patient', id(i))
      if (i % 997 === 0 || i >= BLIND_CACHE_LIMIT - 2) {
        expect(blind.equals(blindIndex(key, 'patient', id(i)))).toBe(true)
      }
    }
    early.forEach(([i, b], k) => {
      expect(b.equals(copies[k]!)).toBe(true)
      expect(b.equals(blindIndex(key, 'patient', id(i)))).toBe(true)
    })
    expect(late!.equals(blindIndex(key, 'patient', id(5)))).toBe(true)
    // After the restart, ids from before are computed again, the same.
    expect(indexes.blind('patient', id(7)).equals(blindIndex(key, 'patient', id(7)))).toBe(true)
    // Kinds are apart: an actor and a patient of one id have different blinds.
    expect(indexes.blind('actor', id(7)).equals(indexes.blind('patient', id(7)))).toBe(false)
    expect(indexes.blind('actor', id(7)).equals(blindIndex(key, 'actor', id(7)))).toBe(true)
  })
})
