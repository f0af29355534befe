import { afterEach, describe, expect, it } from 'vitest'
import { fenceQuorum, judgeFence, OwnTipFence } from '../../node/ingest/index.ts'
import { silentLogger } from '../../node/logger.ts'
import { captureLogger, type LogLine } from '../net/harness.ts'

const members = (n: number) => Array.from({ length: n }, (_, i) => `hospital-${'abcde'[i]}`)

describe('the own-feed fence rule', () => {
  it('needs a majority of the members, this node counted (as checkpoints do)', () => {
    expect([1, 2, 3, 4, 5].map(fenceQuorum)).toEqual([1, 2, 2, 3, 3])
  })

  it('opens only with a quorum of claims and the local feed at the largest claim', () => {
    // 3 members: one other member's claim makes a quorum.
    expect(judgeFence(3, new Map(), 5)).toEqual({ open: false, quorum: false, ahead: [] })
    expect(judgeFence(3, new Map([['hospital-b', 5]]), 5).open).toBe(true)
    expect(judgeFence(3, new Map([['hospital-b', 0]]), 5).open).toBe(true)
    // A member holding more of this node's feed than this node: closed until pulled back.
    expect(judgeFence(3, new Map([['hospital-b', 8]]), 5)).toEqual({
      open: false,
      quorum: true,
      ahead: [['hospital-b', 8]],
    })
    // The largest claim counts, not the first or the quorum's smallest.
    expect(
      judgeFence(
        3,
        new Map([
          ['hospital-b', 5],
          ['hospital-c', 9],
        ]),
        5,
      ).open,
    ).toBe(false)
    // 5 members: two others needed.
    expect(judgeFence(5, new Map([['hospital-b', 5]]), 5).open).toBe(false)
    expect(
      judgeFence(
        5,
        new Map([
          ['hospital-b', 5],
          ['hospital-c', 4],
        ]),
        5,
      ).open,
    ).toBe(true)
    // 2 members: the other one is needed.
    expect(judgeFence(2, new Map(), 0).open).toBe(false)
  })
})

describe('OwnTipFence', () => {
  const fences: OwnTipFence[] = []
  afterEach(async () => {
    await Promise.all(fences.splice(0).map((f) => f.stop()))
  })

  function fence(opts: { n: number; size: () => number; override?: string; lines?: LogLine[] }) {
    const f = new OwnTipFence({
      self: 'hospital-a',
      members: members(opts.n),
      localSize: opts.size,
      ...(opts.override !== undefined ? { override: opts.override } : {}),
      logger: opts.lines ? captureLogger(opts.lines) : silentLogger(),
      pollMs: 10,
      unservedLogMs: 50,
    })
    fences.push(f)
    return f
  }

  it('is open at start in a one-member network, closed in a larger one', async () => {
    const one = fence({ n: 1, size: () => 0 })
    await one.start()
    expect(one.isOpen).toBe(true)
    expect(one.opening).toEqual({ by: 'single-member' })
    const three = fence({ n: 3, size: () => 0 })
    await three.start()
    expect(three.isOpen).toBe(false)
    expect(await three.waitOpen(30)).toBe(false)
    await expect(three.assertOpen(10)).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringMatching(/confirmed by 0 of the 1 other members needed/),
    })
  })

  it('opens when a member told it the tip and the local feed has caught up to it', async () => {
    let size = 2
    const f = fence({ n: 3, size: () => size })
    await f.start()
    f.noteClaim('hospital-b', 5)
    expect(f.isOpen).toBe(false)
    expect(f.why()).toMatch(/hospital-b holds 5 entries of this node's feed, this node 2/)
    size = 5 // sync pulled entries 3..5 back
    expect(await f.waitOpen(2000)).toBe(true)
    expect(f.opening).toMatchObject({ by: 'quorum', size: 5 })
  })

  it('ignores claims of non-members and of itself, and counts claims made before its start', async () => {
    const f = fence({ n: 3, size: () => 0 })
    f.noteClaim('hospital-z', 0)
    f.noteClaim('hospital-a', 0)
    f.noteClaim(undefined, 0)
    expect(f.isOpen).toBe(false)
    f.noteClaim('hospital-c', 0)
    expect(f.isOpen).toBe(false) // not started yet
    await f.start()
    expect(f.isOpen).toBe(true)
  })

  it('stays closed, naming the member, when a claim is never served', async () => {
    const lines: LogLine[] = []
    const f = fence({ n: 3, size: () => 2, lines })
    await f.start()
    f.noteClaim('hospital-c', 7)
    await new Promise((r) => setTimeout(r, 150))
    expect(f.isOpen).toBe(false)
    const logged = lines.filter((l) => l.level === 50 && l.member === 'hospital-c')
    expect(logged).toHaveLength(1)
    expect(logged[0]).toMatchObject({ claimed: 7, have: 2 })
  })

  it("opens at once with the operator's override, logged at warn with the reason", async () => {
    const lines: LogLine[] = []
    const f = fence({ n: 3, size: () => 4, override: 'hospital-b and -c are gone', lines })
    await f.start()
    expect(f.opening).toEqual({ by: 'override', reason: 'hospital-b and -c are gone' })
    expect(lines.find((l) => l.level === 40)).toMatchObject({
      reason: 'hospital-b and -c are gone',
      size: 4,
    })
  })
})
