import { describe, expect, it, vi } from 'vitest'
import type { SignedTreeHead } from '../../node/core/tree-head.ts'
import type { FeedBatch } from '../../node/store/index.ts'
import { EntryReader } from '../../node/store/read/entry-reader.ts'
import { RECENT_PULL_MS, RecentBatches } from '../../node/store/write/recent-batches.ts'
import { makeEvent, makeSigner, makeStoreKeys, openStore } from '../helpers/fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

const A = makeSigner('hospital-a')
const B = makeSigner('hospital-b')

/** Batches as plain data, to compare an answer from memory with one read from disk. */
function plain(batches: FeedBatch[]): unknown {
  return batches.map((b) => ({
    origin: b.origin,
    entries: b.entries.map((e) => Buffer.from(e).toString('hex')),
    treeSize: b.head.treeSize,
    root: Buffer.from(b.head.root).toString('hex'),
    signature: Buffer.from(b.head.signature).toString('hex'),
  }))
}

/** Every fromSeq from 1 to size + 1, with limits that cut inside, at and across batches. */
function pulls(size: number): Array<[number, number]> {
  const out: Array<[number, number]> = []
  for (let from = 1; from <= size + 1; from++)
    for (const max of [1, 2, 3, 5, 7, 2000]) out.push([from, max])
  return out
}

describe('LogStore.readBatches from the batches just written', () => {
  const tempDir = useTempDirs()

  it('answers exactly what a read of the disk answers, for own appends and accepted batches', async () => {
    const dir = await tempDir()
    const keysA = makeStoreKeys()
    const keysR = makeStoreKeys()
    const sizes = [3, 1, 4, 2, 5]
    let origin = openStore(`${dir}/a`, keysA, [A])
    await origin.open()
    let replica = openStore(`${dir}/r`, keysR, [A, B])
    await replica.open()
    // Peers pull both (nothing yet): from now on their batches are kept.
    expect(await origin.readBatches('hospital-a', 1, 10)).toEqual([])
    expect(await replica.readBatches('hospital-a', 1, 10)).toEqual([])
    let n = 0
    for (const size of sizes)
      await origin.appendEvents(
        A,
        Array.from({ length: size }, () => makeEvent(n++)),
      )
    const fromOrigin = await origin.readBatches('hospital-a', 1, 2000)
    expect(fromOrigin.map((b) => b.head.treeSize)).toEqual([3, 4, 8, 10, 15])
    // An overlapping batch: the replica holds 1..4, then gets 1..8 as one (head 8) from a peer.
    for (const b of fromOrigin.slice(0, 2)) await replica.acceptBatch(b)
    const overlap = {
      ...fromOrigin[2]!,
      entries: [...fromOrigin[0]!.entries, ...fromOrigin[1]!.entries, ...fromOrigin[2]!.entries],
    }
    expect((await replica.acceptBatch(overlap)).status).toBe('stored')
    for (const b of fromOrigin.slice(3)) await replica.acceptBatch(b)

    const memory = new Map<string, unknown>()
    const diskReads = vi.spyOn(EntryReader.prototype, 'readBatches')
    for (const [store, name] of [
      [origin, 'a'],
      [replica, 'r'],
    ] as const)
      for (const [from, max] of pulls(n))
        memory.set(
          `${name} ${from} ${max}`,
          plain(await store.readBatches('hospital-a', from, max)),
        )
    expect(diskReads).not.toHaveBeenCalled() // all of it from memory
    diskReads.mockRestore()
    await Promise.all([origin.close(), replica.close()])
    // Reopened, nothing is kept in memory: every answer comes from the disk.
    origin = openStore(`${dir}/a`, keysA, [A])
    replica = openStore(`${dir}/r`, keysR, [A, B])
    await Promise.all([origin.open(), replica.open()])
    for (const [store, name] of [
      [origin, 'a'],
      [replica, 'r'],
    ] as const)
      for (const [from, max] of pulls(n)) {
        const disk = plain(await store.readBatches('hospital-a', from, max))
        expect(memory.get(`${name} ${from} ${max}`), `${name} from ${from} max ${max}`).toEqual(
          disk,
        )
      }
    expect(await origin.readBatches('hospital-b', 1, 10)).toEqual([])
    await Promise.all([origin.close(), replica.close()])
  })
})

function head(treeSize: number): SignedTreeHead {
  return {
    origin: 'x',
    treeSize,
    root: new Uint8Array(32),
    signature: new Uint8Array(64),
  } as unknown as SignedTreeHead
}

function entries(count: number, bytes: number): Uint8Array[] {
  return Array.from({ length: count }, () => new Uint8Array(bytes))
}

describe('RecentBatches', () => {
  it('keeps the newest batches within its byte limit and reads only what it holds', () => {
    const recent = new RecentBatches(1000)
    recent.read('x', 1, 1, 0) // pulled: keep x and y
    recent.read('y', 1, 1, 0)
    recent.add('x', 1, entries(2, 100), head(2)) // 200 bytes
    recent.add('y', 1, entries(3, 100), head(3)) // 500
    recent.add('x', 3, entries(4, 100), head(6)) // 900
    expect(recent.read('x', 1, 100, 6)?.map((b) => b.head.treeSize)).toEqual([2, 6])
    recent.add('x', 7, entries(3, 100), head(9)) // 1200: x's first batch goes
    expect(recent.bytes).toBe(1000)
    expect(recent.read('x', 1, 100, 9)).toBeUndefined() // 1..2 is no longer kept: read the disk
    expect(recent.read('x', 3, 100, 9)?.map((b) => b.entries.length)).toEqual([4, 3])
    expect(recent.read('x', 5, 2, 9)?.map((b) => [b.entries.length, b.head.treeSize])).toEqual([
      [2, 6],
    ])
    expect(recent.read('x', 10, 100, 9)).toEqual([]) // past the end, as the disk answers
    // Behind the disk (a batch committed that is not kept): read the disk.
    expect(recent.read('x', 3, 100, 12)).toBeUndefined()
    expect(recent.read('y', 2, 100, 3)?.map((b) => b.entries.length)).toEqual([2])
  })

  it('starts a feed over when a batch does not follow the last, and forgets a repaired feed', () => {
    const recent = new RecentBatches(10_000)
    recent.read('x', 1, 1, 0)
    recent.add('x', 1, entries(2, 10), head(2))
    recent.add('x', 5, entries(2, 10), head(6)) // 3..4 never added
    expect(recent.read('x', 1, 100, 6)).toBeUndefined()
    expect(recent.read('x', 5, 100, 6)?.map((b) => b.head.treeSize)).toEqual([6])
    expect(recent.bytes).toBe(20)
    recent.forget('x')
    expect(recent.read('x', 5, 100, 6)).toBeUndefined()
    expect(recent.bytes).toBe(0)
  })

  it('keeps a feed only while a peer pulls it', () => {
    let now = 0
    const recent = new RecentBatches(10_000, () => now)
    recent.add('x', 1, entries(2, 10), head(2)) // never pulled: not kept
    expect(recent.bytes).toBe(0)
    expect(recent.read('x', 1, 100, 2)).toBeUndefined()
    recent.add('x', 3, entries(2, 10), head(4))
    expect(recent.read('x', 3, 100, 4)?.map((b) => b.head.treeSize)).toEqual([4])
    now += RECENT_PULL_MS + 1
    recent.add('x', 5, entries(2, 10), head(6)) // the last pull is too old: dropped
    expect(recent.bytes).toBe(0)
    expect(recent.read('x', 3, 100, 6)).toBeUndefined()
  })
})
