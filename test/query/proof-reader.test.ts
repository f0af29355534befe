import { join } from 'node:path'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { toHex } from '../../node/core/hex.ts'
import { hashLeaf, isInclusionValid } from '../../node/core/merkle/index.ts'
import { ProofReader } from '../../node/query/index.ts'
import { type LogStore, repairFeed } from '../../node/store/index.ts'
import { entryKey } from '../../node/store/key-layout.ts'
import { makeEvent, makeSigner, makeStoreKeys, openStore } from '../helpers/fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

const signer = makeSigner('hospital-a')
const tempDir = useTempDirs()
const stores: LogStore[] = []
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()))
})

/** A feed of 700 entries in batches of 1 to 150, so there are heads at many sizes. */
async function feedOf700(): Promise<LogStore> {
  const store = openStore(join(await tempDir(), 'db'), makeStoreKeys(), [signer])
  await store.open()
  stores.push(store)
  let i = 0
  for (const n of [1, 2, 5, 64, 150, 3, 100, 127, 128, 120]) {
    await store.appendEvents(
      signer,
      Array.from({ length: n }, () => makeEvent(i++)),
    )
  }
  expect(store.size('hospital-a')).toBe(700)
  return store
}

/** 1..60 (seq, treeSize) pairs in a feed of 700, repeats included. */
const requests = fc.array(
  fc
    .integer({ min: 1, max: 700 })
    .chain((treeSize) =>
      fc.record({ seq: fc.integer({ min: 1, max: treeSize }), treeSize: fc.constant(treeSize) }),
    ),
  { minLength: 1, maxLength: 60 },
)

describe('ProofReader: batched inclusion proofs with a cache of the upper tree levels', () => {
  it('gives the single-proof path for random sets of entries, cold and cached, and they verify', async () => {
    const store = await feedOf700()
    const roots = new Map<number, Uint8Array>()
    const rootAt = async (size: number) => {
      if (!roots.has(size)) roots.set(size, await store.rootAt('hospital-a', size))
      return roots.get(size)!
    }
    // Default bounds, every level cached, and a cache so small that it keeps raising its floor.
    const readers = [
      new ProofReader(store),
      new ProofReader(store, { minLevel: 1 }),
      new ProofReader(store, { minLevel: 1, maxBytes: 4096 }),
    ]
    await fc.assert(
      fc.asyncProperty(requests, async (asked) => {
        for (const reader of readers) {
          for (const pass of ['cold', 'cached']) {
            const batched = await reader.inclusionProofs('hospital-a', asked)
            expect(batched).toHaveLength(asked.length)
            for (const [i, { seq, treeSize }] of asked.entries()) {
              const single = await store.inclusionProof('hospital-a', seq, treeSize)
              expect(batched[i]!.map(toHex), `${pass}: ${seq} in ${treeSize}`).toEqual(
                single.map(toHex),
              )
              const entry = await store.getEntry('hospital-a', seq)
              const leaf = hashLeaf(entry!.bytes)
              expect(
                isInclusionValid(leaf, seq - 1, treeSize, batched[i]!, await rootAt(treeSize)),
              ).toBe(true)
            }
          }
        }
      }),
      { numRuns: 25 },
    )
    expect(readers[1]!.cache.bytes).toBeGreaterThan(0)
    expect(readers[2]!.cache.bytes).toBeLessThanOrEqual(4096)
    expect(readers[2]!.cache.floor).toBeGreaterThan(1)
    for (const [oldSize, newSize] of [
      [0, 700],
      [3, 700],
      [72, 222],
      [700, 700],
    ] as const) {
      expect(
        (await readers[1]!.consistencyProof('hospital-a', oldSize, newSize)).map(toHex),
      ).toEqual((await store.consistencyProof('hospital-a', oldSize, newSize)).map(toHex))
    }
  })

  it('proves only what is on disk: NOT_FOUND past the feed, or for a feed it does not hold', async () => {
    const store = await feedOf700()
    const reader = new ProofReader(store)
    await expect(
      reader.inclusionProofs('hospital-a', [{ seq: 1, treeSize: 701 }]),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' })
    await expect(
      reader.inclusionProofs('hospital-b', [{ seq: 1, treeSize: 1 }]),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' })
    await expect(reader.consistencyProof('hospital-a', 1, 800)).rejects.toMatchObject({
      code: 'NOT_FOUND',
    })
  })

  it("drops a feed's cached nodes after a repair of that feed", async () => {
    const store = await feedOf700()
    const reader = new ProofReader(store, { minLevel: 1 })
    const asked = [{ seq: 20, treeSize: 700 }]
    const honest = (await reader.inclusionProofs('hospital-a', asked))[0]!.map(toHex)
    // A wrong node in the cache, as if read from a record an insider had sealed wrong.
    const { feeds, db } = store.internals
    const tag = feeds.get('hospital-a')!.tag
    reader.cache.feed(tag).put(3, 3, new Uint8Array(32).fill(7)) // node over seqs 25..32
    expect((await reader.inclusionProofs('hospital-a', asked))[0]!.map(toHex)).not.toEqual(honest)

    // Repair entry 5 (deleted from disk) from a proof the replica gave before.
    const bytes = (await store.getEntry('hospital-a', 5))!.bytes
    const proof = await store.inclusionProof('hospital-a', 5, 700)
    await db.del(entryKey(tag, 5))
    const result = await repairFeed(store, {
      origin: 'hospital-a',
      trustedRoots: new Map([[700, await store.rootAt('hospital-a', 700)]]),
      entries: [{ seq: 5, bytes, treeSize: 700, proof }],
      heads: [],
      uncovered: [],
    })
    expect(result.entries).toEqual([5])
    expect((await reader.inclusionProofs('hospital-a', asked))[0]!.map(toHex)).toEqual(honest)
  })
})
