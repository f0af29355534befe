import { readFile } from 'node:fs/promises'
import { afterEach, describe, expect, it } from 'vitest'
import {
  entryBytesBound,
  IngestQueue,
  OwnFeed,
  OwnTipFence,
  PendingDrain,
} from '../../node/ingest/index.ts'
import { silentLogger } from '../../node/logger.ts'
import { type LogStore, PendingLog, type StoreKeys } from '../../node/store/index.ts'
import { makeEvent, makeSigner, makeStoreKeys, openStore, ownFeedOn } from '../helpers/fixtures.ts'
import { filesUnder, useTempDirs } from '../helpers/temp-dir.ts'

const A = makeSigner('hospital-a')

describe('events taken while the own feed is fenced', () => {
  const tempDir = useTempDirs()
  const running: Array<() => Promise<void>> = []
  afterEach(async () => {
    for (const stop of running.splice(0).reverse()) await stop()
  })

  /** A store with the fence, pending log and ingest queue of a 3-member node, as node-parts wires them. */
  async function startNode(path: string, keys: StoreKeys, maxBatchBytes?: number) {
    const store = openStore(path, keys, [A])
    await store.open()
    const fence = new OwnTipFence({
      self: A.origin,
      members: ['hospital-a', 'hospital-b', 'hospital-c'],
      localSize: () => store.size(A.origin),
      logger: silentLogger(),
      pollMs: 10,
    })
    const { feed, published } = ownFeedOn(store, A, { fence })
    const pending = new PendingDrain({
      opened: fence.opened,
      log: new PendingLog(store),
      feed,
      logger: silentLogger(),
      retryMs: 20,
      ...(maxBatchBytes !== undefined ? { maxBatchBytes } : {}),
    })
    await pending.start()
    await fence.start()
    const queue = new IngestQueue({ store, feed, gate: pending, pending, gateWaitMs: 20 })
    const stop = async () => {
      await queue.drain()
      await pending.stop()
      await fence.stop()
      await store.close()
    }
    running.push(stop)
    return { store, fence, queue, pending, stop, published }
  }

  async function pendingCount(store: LogStore): Promise<number> {
    const log = new PendingLog(store)
    await log.open()
    return log.size
  }

  it('are durable and encrypted, survive a restart, and are sequenced in arrival order once it opens', async () => {
    const path = await tempDir()
    const keys = makeStoreKeys()
    const first = await startNode(path, keys)
    const keyed = await first.queue.submit([makeEvent(1), makeEvent(2)], {
      key: 'k1',
      bodyHash: 'h1',
    })
    expect(keyed.ids).toEqual([])
    expect(keyed.pendingIds).toHaveLength(2)
    const bare = await first.queue.submit([makeEvent(3)])
    expect(bare.pendingIds).toHaveLength(1)
    // A retry while pending: the same pending ids; another body under the key is refused.
    const retry = await first.queue.submit([makeEvent(1), makeEvent(2)], {
      key: 'k1',
      bodyHash: 'h1',
    })
    expect(retry).toEqual({ ids: [], duplicate: true, pendingIds: keyed.pendingIds })
    await expect(
      first.queue.submit([makeEvent(9)], { key: 'k1', bodyHash: 'other' }),
    ).rejects.toMatchObject({
      code: 'IDEMPOTENCY_CONFLICT',
    })
    expect(first.store.size(A.origin)).toBe(0) // nothing signed
    await first.stop()
    running.pop()

    // Sealed like every value: no patient id or name in plaintext anywhere in the folder.
    for (const file of await filesUnder(path)) {
      const bytes = await readFile(file)
      expect(bytes.includes('patient-1'), file).toBe(false)
      expect(bytes.includes('Patient Name'), file).toBe(false)
    }

    const second = await startNode(path, keys)
    expect(await pendingCount(second.store)).toBe(2)
    second.fence.noteClaim('hospital-b', 0) // a quorum told it the tip: empty
    expect(await second.pending.waitReady(5000)).toBe(true)
    expect(second.store.size(A.origin)).toBe(3)
    const notes: unknown[] = []
    for await (const e of second.store.entries(A.origin))
      notes.push((e.entry.body as { notes: string }).notes)
    expect(notes).toEqual(['note number 1', 'note number 2', 'note number 3'])
    // The receipt was written with the entries: a retry now gets the entry ids.
    const after = await second.queue.submit([makeEvent(1), makeEvent(2)], {
      key: 'k1',
      bodyHash: 'h1',
    })
    expect(after).toEqual({ ids: ['hospital-a:1', 'hospital-a:2'], duplicate: true })
    // Deleted in the same write: never appended twice, however often the node restarts.
    expect(await pendingCount(second.store)).toBe(0)
    const direct = await second.queue.submit([makeEvent(4)])
    expect(direct).toEqual({ ids: ['hospital-a:4'], duplicate: false })
  })

  it('stay pending while the append fails, and are appended once it succeeds', async () => {
    const node = await startNode(await tempDir(), makeStoreKeys())
    await node.queue.submit([makeEvent(1)])
    node.store.holdAppends(A.origin, 'test', 'held by the test')
    node.fence.noteClaim('hospital-c', 0)
    await node.fence.opened
    await new Promise((r) => setTimeout(r, 100)) // several failed attempts
    expect(node.store.size(A.origin)).toBe(0)
    expect(await pendingCount(node.store)).toBe(1)
    // Requests meanwhile join the backlog rather than overtake it.
    const later = await node.queue.submit([makeEvent(2)])
    expect(later.pendingIds).toHaveLength(1)
    node.store.releaseAppends(A.origin, 'test')
    expect(await node.pending.waitReady(5000)).toBe(true)
    expect(node.store.size(A.origin)).toBe(2)
    expect((await node.store.getEntry(A.origin, 2))?.entry.body).toMatchObject({
      notes: 'note number 2',
    })
  })

  it('are appended in batches within the byte cap, whole requests in arrival order', async () => {
    const cap = 4 * entryBytesBound(makeEvent(10))
    const node = await startNode(await tempDir(), makeStoreKeys(), cap)
    for (let r = 0; r < 5; r++)
      await node.queue.submit([makeEvent(10 + 3 * r), makeEvent(11 + 3 * r), makeEvent(12 + 3 * r)])
    node.fence.noteClaim('hospital-b', 0)
    expect(await node.pending.waitReady(5000)).toBe(true)
    // One request of 3 per batch: a second would pass the cap of 4 events' bytes.
    expect(node.published.map((b) => b.entries.length)).toEqual([3, 3, 3, 3, 3])
    const notes: unknown[] = []
    for await (const e of node.store.entries(A.origin))
      notes.push((e.entry.body as { notes: string }).notes)
    expect(notes).toEqual(Array.from({ length: 15 }, (_, i) => `note number ${10 + i}`))
    expect(await pendingCount(node.store)).toBe(0)
  })

  it('internal appends wait for the fence and fail with UNAVAILABLE saying why', async () => {
    const node = await startNode(await tempDir(), makeStoreKeys())
    const feed = new OwnFeed({
      store: node.store,
      signer: A,
      gossip: { publish: () => {} },
      logger: silentLogger(),
      fence: node.fence,
      fenceWaitMs: 30,
    })
    await expect(feed.append([{ kind: 'event', body: makeEvent(1) }])).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringMatching(/hospital-a is not appending yet/),
    })
    expect(node.store.size(A.origin)).toBe(0)
  })
})
