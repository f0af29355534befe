import { describe, expect, it } from 'vitest'
import { PullWindow } from '../../node/net/pull-window.ts'

const tick = () => new Promise((resolve) => setImmediate(resolve))

describe('PullWindow', () => {
  it('lets the reader run at most `size` responses ahead of the writer, in order', async () => {
    const window = new PullWindow<number>(2)
    let reserved = 0
    const reader = (async () => {
      for (let i = 0; i < 5; i++) {
        await window.reserve()
        reserved++
        window.push(i)
      }
      window.close()
    })()
    await tick()
    expect(reserved).toBe(2) // the third PULL waits for a stored response
    const taken: number[] = []
    for (let r = await window.take(); r !== undefined; r = await window.take()) {
      taken.push(r)
      window.done()
      await tick()
      expect(reserved - taken.length).toBeLessThanOrEqual(2)
    }
    await reader
    expect(taken).toEqual([0, 1, 2, 3, 4])
  })

  it("a failure on one side ends the other side's wait with that error", async () => {
    const window = new PullWindow<number>(1)
    await window.reserve()
    const blocked = window.reserve()
    const failure = new Error('peer left')
    window.fail(failure)
    await expect(blocked).rejects.toBe(failure)
    await expect(window.take()).rejects.toBe(failure)
    expect(() => window.push(1)).toThrow(failure)
  })
})
