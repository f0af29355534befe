import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { describe, expect, it } from 'vitest'
import type { AuditEvent } from '../../node/core/event.ts'
import { IngestQueue, OwnFeed } from '../../node/ingest/index.ts'
import { silentLogger } from '../../node/logger.ts'
import { makeEvent, makeSigner, makeStoreKeys, openStore, ownFeedOn } from '../helpers/fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

const A = makeSigner('hospital-a')

describe('IngestQueue', () => {
  const tempDir = useTempDirs()

  async function setup() {
    const store = openStore(await tempDir(), makeStoreKeys(), [A])
    await store.open()
    const { feed, published } = ownFeedOn(store, A)
    const queue = new IngestQueue({ store, feed, maxDelayMs: 5 })
    return { store, queue, published }
  }

  it('groups concurrent requests into shared batches and answers each with its own ids', async () => {
    const { store, queue, published } = await setup()
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => queue.submit([makeEvent(2 * i), makeEvent(2 * i + 1)])),
    )
    const ids = answers.flatMap((a) => a.ids)
    expect(new Set(ids).size).toBe(100)
    expect(answers[0]!.ids).toEqual(['hospital-a:1', 'hospital-a:2'])
    expect(store.size('hospital-a')).toBe(100)
    expect(published.length).toBeLessThan(50) // shared batches, not one per request
    expect(published.reduce((n, b) => n + b.entries.length, 0)).toBe(100)
    await store.close()
  })

  it('a key submitted many times at once appends once; a reused key with another body is refused', async () => {
    const { store, queue } = await setup()
    const request = { key: 'k-1', bodyHash: 'h1' }
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => queue.submit([makeEvent(1), makeEvent(2)], request)),
    )
    expect(new Set(answers.map((a) => a.ids.join()))).toEqual(
      new Set(['hospital-a:1,hospital-a:2']),
    )
    expect(answers.filter((a) => !a.duplicate)).toHaveLength(1)
    expect(store.size('hospital-a')).toBe(2)
    const later = await queue.submit([makeEvent(1), makeEvent(2)], request)
    expect(later).toEqual({ ids: ['hospital-a:1', 'hospital-a:2'], duplicate: true })
    await expect(
      queue.submit([makeEvent(3)], { key: 'k-1', bodyHash: 'other' }),
    ).rejects.toMatchObject({ code: 'IDEMPOTENCY_CONFLICT' })
    expect(store.size('hospital-a')).toBe(2)
    await queue.drain()
    await store.close()
  })

  it('splits more events than one batch holds and refuses an empty request', async () => {
    const { store, queue } = await setup()
    const big = Array.from({ length: 2500 }, (_, i) => makeEvent(i))
    const [a, b] = await Promise.all([
      queue.submit(big.slice(0, 1500)),
      queue.submit(big.slice(1500)),
    ])
    expect(a.ids).toHaveLength(1500)
    expect(b.ids[0]).toBe('hospital-a:1501')
    await expect(queue.submit([])).rejects.toMatchObject({ code: 'EVENT_INVALID' })
    expect((await store.verify()).ok).toBe(true)
    await store.close()
  })
})

describe('IngestQueue: what a batch waiting for its write keeps', () => {
  const tempDir = useTempDirs()

  it('lets go of the events once they are encoded, before the batch is on disk', async () => {
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    const store = openStore(await tempDir(), makeStoreKeys(), [A])
    await store.open()
    const feed = new OwnFeed({
      store,
      signer: A,
      gossip: { publish: () => {} },
      logger: silentLogger(),
    })
    const queue = new IngestQueue({ store, feed, maxBatch: 50 })
    // The events are made, and watched, in a task of their own (a WeakRef made in the current
    // task keeps its target until the task ends); the queue is the only one to hold them.
    let events: AuditEvent[] | undefined = Array.from({ length: 50 }, (_, i) => makeEvent(i))
    const watched = events.map((e) => new WeakRef(e))
    await new Promise((resolve) => setImmediate(resolve))
    let durable = false
    const submit = () => {
      const submitted = queue.submit(events!)
      events = undefined
      return submitted
    }
    const done = submit().then((r) => {
      durable = true
      return r
    })
    // A full batch is appended at once; its encoding takes microtasks (the fence, the store's
    // checks), the write to disk a task of LevelDB's: none ran yet when this looks.
    for (let i = 0; i < 20; i++) await null
    gc()
    const alive = watched.filter((w) => w.deref() !== undefined).length
    expect(durable).toBe(false)
    expect(alive).toBe(0)
    expect((await done).ids).toHaveLength(50)
    expect(store.size('hospital-a')).toBe(50)
    await store.close()
  })
})
