import { join } from 'node:path'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { toHex } from '../../node/core/hex.ts'
import { hashLeaf, isInclusionValid, MemoryTree } from '../../node/core/merkle/index.ts'
import { entryKey } from '../../node/store/format/key-layout.ts'
import { LogStore, type LogStoreOptions } from '../../node/store/index.ts'
import { accessOf } from '../../node/store/store-access.ts'
import { makeEvent, makeSigner, makeStoreKeys, openStore } from '../helpers/fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

const signer = makeSigner('hospital-a')
const tempDir = useTempDirs()
const stores: LogStore[] = []
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()))
})

/**
 * A feed of 700 entries in batches of 1 to 150, so there are heads at many sizes, in a store
 * whose tree cache has the given bounds (default: the store's defaults).
 */
async function feedOf700(treeCache?: LogStoreOptions['treeCache']): Promise<LogStore> {
  const path = join(await tempDir(), 'db')
  const store = treeCache
    ? new LogStore({ path, keys: makeStoreKeys(), originKey: () => signer.publicKey, treeCache })
    : openStore(path, makeStoreKeys(), [signer])
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

describe('LogStore.inclusionProofs: proofs built together, upper tree levels cached', () => {
  it('gives the RFC 9162 proofs for random sets of entries, cold and cached, and they verify', async () => {
    // Default bounds, every level cached, and a cache so small that it keeps raising its floor.
    const stores = [
      await feedOf700(),
      await feedOf700({ minLevel: 1 }),
      await feedOf700({ minLevel: 1, maxBytes: 4096 }),
    ]
    // The reference: an in-memory tree of each store's leaf hashes (core, no cache, no disk).
    const references = await Promise.all(
      stores.map(async (store) => {
        const leaves: Uint8Array[] = []
        for await (const e of store.entries('hospital-a')) leaves.push(hashLeaf(e.bytes))
        return { leaves, tree: new MemoryTree(leaves) }
      }),
    )
    await fc.assert(
      fc.asyncProperty(requests, async (asked) => {
        for (const [k, store] of stores.entries()) {
          const { leaves, tree: reference } = references[k]!
          for (const pass of ['cold', 'cached']) {
            const batched = await store.inclusionProofs('hospital-a', asked)
            expect(batched).toHaveLength(asked.length)
            for (const [i, { seq, treeSize }] of asked.entries()) {
              const want = reference.inclusionProof(seq - 1, treeSize).map(toHex)
              expect(batched[i]!.map(toHex), `${pass}: ${seq} in ${treeSize}`).toEqual(want)
              const single = await store.inclusionProof('hospital-a', seq, treeSize)
              expect(single.map(toHex)).toEqual(want)
              expect(
                isInclusionValid(
                  leaves[seq - 1]!,
                  seq - 1,
                  treeSize,
                  batched[i]!,
                  reference.root(treeSize),
                ),
              ).toBe(true)
            }
          }
        }
      }),
      { numRuns: 25 },
    )
    expect(stores[1]!.treeCache.bytes).toBeGreaterThan(0)
    expect(stores[2]!.treeCache.bytes).toBeLessThanOrEqual(4096)
    expect(stores[2]!.treeCache.floor).toBeGreaterThan(1)
    for (const [oldSize, newSize] of [
      [0, 700],
      [3, 700],
      [72, 222],
      [700, 700],
    ] as const) {
      expect(
        (await stores[1]!.consistencyProof('hospital-a', oldSize, newSize)).map(toHex),
      ).toEqual(references[1]!.tree.consistencyProof(oldSize, newSize).map(toHex))
      expect(toHex(await stores[1]!.rootAt('hospital-a', newSize))).toBe(
        toHex(references[1]!.tree.root(newSize)),
      )
    }
  })

  it('warms the cache with every complete node of the kept levels, as the tree has them', async () => {
    const store = await feedOf700({ minLevel: 4 })
    const leaves: Uint8Array[] = []
    for await (const e of store.entries('hospital-a')) leaves.push(hashLeaf(e.bytes))
    expect(store.treeCache.bytes).toBe(0)
    await store.warmTreeCache()
    const cache = store.treeCache.feed(accessOf(store).feeds.get('hospital-a')!.tag)
    for (let level = 4; 2 ** level <= 700; level++) {
      const width = 2 ** level
      for (let index = 0; (index + 1) * width <= 700; index++) {
        const want = new MemoryTree(leaves.slice(index * width, (index + 1) * width)).root()
        expect(toHex(cache.get(level, index)!), `node (${level}, ${index})`).toBe(toHex(want))
      }
    }
    expect(cache.get(3, 0)).toBeUndefined() // below the floor
    // Aborted before it starts: nothing read.
    const other = await feedOf700()
    const abort = new AbortController()
    abort.abort()
    await other.warmTreeCache(abort.signal)
    expect(other.treeCache.bytes).toBe(0)
  })

  it('proves only what is on disk: NOT_FOUND past the feed, or for a feed it does not hold', async () => {
    const reader = await feedOf700()
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
    const store = await feedOf700({ minLevel: 1 })
    const reader = store
    const asked = [{ seq: 20, treeSize: 700 }]
    const honest = (await reader.inclusionProofs('hospital-a', asked))[0]!.map(toHex)
    // A wrong node in the cache, as if read from a record an insider had sealed wrong.
    const { feeds, db } = accessOf(store)
    const tag = feeds.get('hospital-a')!.tag
    store.treeCache.feed(tag).put(3, 3, new Uint8Array(32).fill(7)) // node over seqs 25..32
    expect((await reader.inclusionProofs('hospital-a', asked))[0]!.map(toHex)).not.toEqual(honest)

    // Repair entry 5 (deleted from disk) from a proof the replica gave before.
    const bytes = (await store.getEntry('hospital-a', 5))!.bytes
    const proof = await store.inclusionProof('hospital-a', 5, 700)
    await db.del(entryKey(tag, 5))
    const result = await store.repairFeed({
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
