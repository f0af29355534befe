import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { makeEntry } from '../../node/core/entry.ts'
import { entryBytesBound, IngestQueue } from '../../node/ingest/index.ts'
import { encodeBatchRecord, GOSSIP_HEADER_BYTES } from '../../node/net/batch-codec.ts'
import { LIMITS } from '../../node/net/protocol.ts'
import { makeEvent, makeSigner, makeStoreKeys, openStore, ownFeedOn } from '../helpers/fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

/** An event as ATNA ingest makes it: a ~1.3 KiB message kept whole, base64 (~1.8 KiB). */
function atnaEvent(i: number, name = `Patient Name ${i % 7}`) {
  const xml = randomBytes(1300 + (i % 200))
  return makeEvent(i, {
    patientName: name,
    source: `ehr-${i % 5}.hospital-a.example`,
    originalSha256: 'ab'.repeat(32),
    original: xml.toString('base64'),
  })
}

describe('entryBytesBound', () => {
  it('bounds the entry bytes (with their length) tightly, for any text an event may hold', () => {
    const names = ['Müller', 'O"Brien \\ Jr', '山田 太郎', 'emoji 🩺 pair', 'x'.repeat(200)]
    for (const [i, name] of names.entries()) {
      for (const origin of ['a', 'h'.repeat(63)]) {
        const event = atnaEvent(i, name)
        const entry = makeEntry(origin, 2 ** 40 + i, undefined, 'event', event, new Date())
        const actual = entry.bytes.byteLength + 4
        expect(entryBytesBound(event)).toBeGreaterThanOrEqual(actual)
        expect(entryBytesBound(event)).toBeLessThanOrEqual(actual + 300)
      }
    }
    // A body that is not an event is bounded too.
    const odd = { list: ['ä', 1, true], n: 12 }
    const entry = makeEntry('a', 1, undefined, 'event', odd, new Date())
    expect(entryBytesBound(odd)).toBeGreaterThanOrEqual(entry.bytes.byteLength + 4)
  })
})

describe('IngestQueue batch byte cap', () => {
  const tempDir = useTempDirs()
  const A = makeSigner('hospital-a')

  async function run(maxBatchBytes?: number) {
    const store = openStore(await tempDir(), makeStoreKeys(), [A])
    await store.open()
    const { feed, published } = ownFeedOn(store, A)
    const queue = new IngestQueue({
      store,
      feed,
      maxDelayMs: 5,
      ...(maxBatchBytes !== undefined ? { maxBatchBytes } : {}),
    })
    // 3000 ATNA events in requests of 1-9 (one syslog read each), all queued at once: far
    // more than one batch's bytes wait while the first two batches are written.
    const requests = Array.from({ length: 500 }, (_, r) =>
      Array.from({ length: 1 + (r % 9) }, (_, k) => atnaEvent(r * 10 + k)),
    )
    const answers = await Promise.all(requests.map((events) => queue.submit(events)))
    return { store, published, requests, answers }
  }

  it('keeps every batch of ATNA events within one gossip message, losing and reordering nothing', async () => {
    const { store, published, requests, answers } = await run()
    const sent = requests.flat()
    expect(published.length).toBeGreaterThan(2)
    for (const batch of published) {
      const bytes = encodeBatchRecord(batch).byteLength + GOSSIP_HEADER_BYTES
      expect(bytes).toBeLessThanOrEqual(LIMITS.maxGossipMessageBytes)
    }
    // Batches filled up to the cap, not cut far below it.
    const largest = Math.max(...published.map((b) => encodeBatchRecord(b).byteLength))
    expect(largest).toBeGreaterThan(0.9 * LIMITS.maxGossipMessageBytes)
    // Every event once, in submission order, each request answered with its own ids.
    expect(published.map((b) => b.head.treeSize)).toEqual(
      published.map((_, i) => published.slice(0, i + 1).reduce((n, b) => n + b.entries.length, 0)),
    )
    expect(store.size('hospital-a')).toBe(sent.length)
    const stored = []
    for await (const e of store.entries('hospital-a', 1, sent.length)) stored.push(e)
    expect(stored.map((e) => (e.entry.body as { original: string }).original)).toEqual(
      sent.map((e) => e.original),
    )
    let seq = 1
    for (const [r, answer] of answers.entries()) {
      expect(answer.ids).toEqual(requests[r]!.map(() => `hospital-a:${seq++}`))
    }
    expect((await store.verify()).ok).toBe(true)
    await store.close()
  })

  it('without the cap (maxBatch alone) the same load makes batches over the limit', async () => {
    const { store, published } = await run(Number.POSITIVE_INFINITY)
    const largest = Math.max(...published.map((b) => encodeBatchRecord(b).byteLength))
    expect(largest + GOSSIP_HEADER_BYTES).toBeGreaterThan(LIMITS.maxGossipMessageBytes)
    await store.close()
  })
})
