import { describe, expect, it } from 'vitest'
import { TreeCache } from '../../node/store/read/tree-cache.ts'

const tagA = Buffer.from('aaaaaaaa')
const tagB = Buffer.from('bbbbbbbb')
const hash = (n: number) => new Uint8Array(32).fill(n)

describe('TreeCache: upper tree levels in bounded memory', () => {
  it('keeps nodes at or above its floor, per feed, and hands out copies', () => {
    const cache = new TreeCache({ minLevel: 4 })
    const a = cache.feed(tagA)
    a.put(3, 0, hash(1)) // below the floor: not kept
    a.put(4, 7, hash(2))
    a.put(20, 0, hash(3))
    expect(a.get(3, 0)).toBeUndefined()
    expect(a.get(4, 7)).toEqual(hash(2))
    expect(a.get(4, 6)).toBeUndefined()
    expect(a.get(20, 0)).toEqual(hash(3))
    expect(cache.feed(tagB).get(4, 7)).toBeUndefined()
    const got = a.get(4, 7)!
    got.fill(9)
    expect(a.get(4, 7)).toEqual(hash(2))
    cache.forget(tagA)
    expect(a.get(4, 7)).toBeUndefined()
    expect(cache.bytes).toBe(0)
  })

  it('never passes maxBytes: it drops its lowest level and raises the floor, keeping the top', () => {
    const cache = new TreeCache({ minLevel: 1, maxBytes: 64 * 1024 })
    const feeds = [cache.feed(tagA), cache.feed(tagB)]
    // Every node of a 2^14-leaf tree, top level first as proofs meet them, in two feeds.
    for (let level = 14; level >= 1; level--)
      for (let index = 0; index < 2 ** (14 - level); index++)
        for (const feed of feeds) {
          feed.put(level, index, hash(level))
          expect(cache.bytes).toBeLessThanOrEqual(64 * 1024)
        }
    expect(cache.floor).toBeGreaterThan(1)
    for (const feed of feeds) {
      expect(feed.get(14, 0)).toEqual(hash(14))
      expect(feed.get(cache.floor, 0)).toEqual(hash(cache.floor))
      expect(feed.get(cache.floor - 1, 0)).toBeUndefined()
    }
  })

  it('keeps nothing when even one level does not fit', () => {
    const cache = new TreeCache({ minLevel: 1, maxBytes: 100 })
    cache.feed(tagA).put(5, 0, hash(1))
    expect(cache.feed(tagA).get(5, 0)).toBeUndefined()
    expect(cache.bytes).toBe(0)
  })
})
