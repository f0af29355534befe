import { readdir } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { makeEntry } from '../../node/core/entry.ts'
import { isEhrlogError } from '../../node/core/errors.ts'
import { MemoryTree, verifyConsistency, verifyInclusion } from '../../node/core/merkle/index.ts'
import { signTreeHead } from '../../node/core/tree-head.ts'
import { PREFIX, prefixRange } from '../../node/store/format/key-layout.ts'
import type { FeedBatch } from '../../node/store/index.ts'
import { USER_INDEX_MARKER } from '../../node/store/write/user-index.ts'
import { Tamperer } from '../../scripts/tamper.ts'
import { makeEvent, makeSigner, makeStoreKeys, openStore } from '../helpers/fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

const A = makeSigner('hospital-a')
const B = makeSigner('hospital-b')

describe('LogStore', () => {
  const tempDir = useTempDirs()

  it('appends batches, survives reopen, and proves every entry against any size', async () => {
    const path = await tempDir()
    const keys = makeStoreKeys()
    let store = openStore(path, keys, [A])
    await store.open()
    for (let b = 0; b < 4; b++) {
      const { entries, head } = await store.appendEvents(
        A,
        Array.from({ length: 9 }, (_, i) => makeEvent(b * 9 + i)),
      )
      expect(entries.map((e) => e.entry.seq)).toEqual(
        Array.from({ length: 9 }, (_, i) => b * 9 + i + 1),
      )
      expect(head.treeSize).toBe((b + 1) * 9)
    }
    await store.close()
    store = openStore(path, keys, [A])
    await store.open()
    expect(store.size('hospital-a')).toBe(36)
    const { entries } = await store.appendEvents(A, [makeEvent(36)])
    expect(entries[0]!.entry.seq).toBe(37)
    const prev = await store.getEntry('hospital-a', 36)
    expect(entries[0]!.entry.prev).toBe(Buffer.from(prev!.hash).toString('hex'))
    for (const size of [1, 2, 5, 16, 37]) {
      const root = await store.rootAt('hospital-a', size)
      for (let seq = 1; seq <= size; seq++) {
        const e = await store.getEntry('hospital-a', seq)
        verifyInclusion(
          e!.hash,
          seq - 1,
          size,
          await store.inclusionProof('hospital-a', seq, size),
          root,
        )
      }
      for (const old of [1, 3, size]) {
        if (old > size) continue
        const proof = await store.consistencyProof('hospital-a', old, size)
        verifyConsistency(old, size, await store.rootAt('hospital-a', old), root, proof)
      }
    }
    await store.close()
  })

  it('finds a patient trail, an actor and a time range through the indexes', async () => {
    const store = openStore(await tempDir(), makeStoreKeys(), [A])
    await store.open()
    await store.appendEvents(
      A,
      Array.from({ length: 70 }, (_, i) => makeEvent(i)),
    )
    const trail = await store.findByPatient('patient-3')
    expect(trail).toHaveLength(10)
    const entries = await store.getEntries(trail)
    expect(
      entries.every((e) => (e.entry.body as { patientId: string }).patientId === 'patient-3'),
    ).toBe(true)
    expect((await store.findByActor('dr-1')).length).toBe(23)
    const from = Date.UTC(2023, 11, 4, 19, 0, 10)
    const inRange = await store.findByTime(from, from + 5000)
    expect(inRange.map((r) => r.seq)).toEqual([11, 12, 13, 14, 15])
    expect(await store.findByPatient('nobody')).toEqual([])
    await store.close()
  })

  it('accepts a replica batch exactly as signed, and reports gaps and duplicates', async () => {
    const origin = openStore(await tempDir(), makeStoreKeys(), [B])
    const replica = openStore(await tempDir(), makeStoreKeys(), [A, B])
    await origin.open()
    await replica.open()
    const batches: FeedBatch[] = []
    for (let b = 0; b < 3; b++) {
      const { entries, head } = await origin.appendEvents(
        B,
        Array.from({ length: 4 }, (_, i) => makeEvent(i)),
      )
      batches.push({ origin: 'hospital-b', entries: entries.map((e) => e.bytes), head })
    }
    expect(await replica.acceptBatch(batches[1]!)).toEqual({ status: 'gap', have: 0, want: 4 })
    expect(await replica.acceptBatch(batches[0]!)).toEqual({ status: 'stored', treeSize: 4 })
    expect(await replica.acceptBatch(batches[0]!)).toEqual({ status: 'duplicate', treeSize: 4 })
    expect(await replica.acceptBatch(batches[1]!)).toEqual({ status: 'stored', treeSize: 8 })
    expect(await origin.readBatches('hospital-b', 9, 100)).toEqual([batches[2]])
    await replica.acceptBatch(batches[2]!)
    for (let seq = 1; seq <= 12; seq++) {
      const [ours, theirs] = [
        await replica.getEntry('hospital-b', seq),
        await origin.getEntry('hospital-b', seq),
      ]
      expect(Buffer.compare(ours!.bytes, theirs!.bytes)).toBe(0)
    }
    expect((await replica.verify()).ok).toBe(true)
    await origin.close()
    await replica.close()
  })

  it('rejects forged, foreign, mis-sequenced and unlinked batches and stores nothing', async () => {
    const path = await tempDir()
    const keys = makeStoreKeys()
    const replica = openStore(path, keys, [A, B])
    await replica.open()
    const good = (seq: number, prev?: Uint8Array) =>
      makeEntry('hospital-b', seq, prev, 'event', makeEvent(seq), new Date())
    const e1 = good(1)
    const e2 = good(2, e1.hash)
    const head = (signer: typeof B, entries: (typeof e1)[]) =>
      signTreeHead(
        signer.privateKey,
        'hospital-b',
        entries.length,
        new MemoryTree(entries.map((e) => e.hash)).root(),
      )
    const attempts: Array<[string, FeedBatch]> = [
      [
        'INVALID_SIGNATURE',
        {
          origin: 'hospital-b',
          entries: [e1.bytes, e2.bytes],
          head: head(A as typeof B, [e1, e2]),
        },
      ],
      [
        'ORIGIN_UNKNOWN',
        {
          origin: 'hospital-z',
          entries: [e1.bytes],
          head: { ...head(B, [e1]), origin: 'hospital-z' },
        },
      ],
      [
        'CHAIN_BROKEN',
        { origin: 'hospital-b', entries: [e1.bytes, good(2).bytes], head: head(B, [e1, good(2)]) },
      ],
      [
        'SEQ_MISMATCH',
        { origin: 'hospital-b', entries: [e2.bytes, e1.bytes], head: head(B, [e2, e1]) },
      ],
      [
        'ENTRY_INVALID',
        {
          origin: 'hospital-b',
          entries: [new TextEncoder().encode('{"v":1}')],
          head: head(B, [e1]),
        },
      ],
    ]
    for (const [code, batch] of attempts) {
      const err = await replica.acceptBatch(batch).catch((e: unknown) => e)
      expect(isEhrlogError(err, code as never), `${code}: ${String(err)}`).toBe(true)
    }
    expect(replica.size('hospital-b')).toBe(0)
    expect(await replica.getEntry('hospital-b', 1)).toBeUndefined()
    // After those rejections, a valid first batch still creates the feed for good.
    const fine: FeedBatch = {
      origin: 'hospital-b',
      entries: [e1.bytes, e2.bytes],
      head: head(B, [e1, e2]),
    }
    expect(await replica.acceptBatch(fine)).toEqual({ status: 'stored', treeSize: 2 })
    await replica.close()
    const reopened = openStore(path, keys, [A, B])
    await reopened.open()
    expect(reopened.size('hospital-b')).toBe(2)
    expect((await reopened.verify()).ok).toBe(true)
    await reopened.close()
    expect((await readdir(path)).length).toBeGreaterThan(0)
  })

  it('keeps receipts of idempotent appends in the same batch, across reopen', async () => {
    const path = await tempDir()
    const keys = makeStoreKeys()
    let store = openStore(path, keys, [A])
    await store.open()
    const items = [0, 1, 2, 3].map((i) => ({ kind: 'event' as const, body: makeEvent(i) }))
    await store.appendEntries(A, items, new Date(), [
      { requestKey: 'req-1', bodyHash: 'aa', firstItem: 0, count: 1 },
      { requestKey: 'req-2', bodyHash: 'bb', firstItem: 1, count: 3 },
    ])
    await store.close()
    store = openStore(path, keys, [A])
    await store.open()
    expect(await store.getReceipt('req-2')).toEqual({
      origin: 'hospital-a',
      firstSeq: 2,
      count: 3,
      bodyHash: 'bb',
    })
    expect(await store.getReceipt('req-1')).toMatchObject({ firstSeq: 1, count: 1 })
    expect(await store.getReceipt('req-3')).toBeUndefined()
    await store.close()
  })

  it("refuses a user record written by a node other than the user's home", async () => {
    const origin = openStore(await tempDir(), makeStoreKeys(), [B])
    const replica = openStore(await tempDir(), makeStoreKeys(), [A, B])
    await origin.open()
    await replica.open()
    const record = { op: 'revoke', username: 'anish@hospital-a', by: 'admin@hospital-a' }
    const { entries, head } = await origin.appendEntries(B, [{ kind: 'user', body: record }])
    const batch = { origin: 'hospital-b', entries: entries.map((e) => e.bytes), head }
    await expect(replica.acceptBatch(batch)).rejects.toMatchObject({ code: 'ENTRY_INVALID' })
    expect(replica.size('hospital-b')).toBe(0)
    await origin.close()
    await replica.close()
  })

  it('reads batches of stored bytes for sync: bounded, from mid-batch, ending at a damaged record', async () => {
    const path = await tempDir()
    const keys = makeStoreKeys()
    const store = openStore(path, keys, [B])
    await store.open()
    const batches: FeedBatch[] = []
    for (let b = 0; b < 3; b++) {
      const { entries, head } = await store.appendEvents(
        B,
        Array.from({ length: 4 }, (_, i) => makeEvent(b * 4 + i)),
      )
      batches.push({ origin: 'hospital-b', entries: entries.map((e) => e.bytes), head })
    }
    expect(await store.readBatches('hospital-b', 1, 5)).toEqual(batches.slice(0, 2))
    expect(await store.readBatches('hospital-b', 1, 100)).toEqual(batches)
    // From seq 3: the rest of the first batch, still ending at its signed head.
    const [partial] = await store.readBatches('hospital-b', 3, 1)
    expect(partial).toEqual({ ...batches[0]!, entries: batches[0]!.entries.slice(2) })
    expect(await store.readBatches('hospital-b', 13, 100)).toEqual([])
    await store.close()
    const tamper = new Tamperer(path, keys, 'hospital-b')
    await tamper.open()
    await tamper.flipByte(6)
    await tamper.close()
    const damaged = openStore(path, keys, [B])
    await damaged.open()
    expect(await damaged.readBatches('hospital-b', 1, 100)).toEqual([batches[0]])
    await damaged.close()
  })

  it('finds every user record through its index, also in a store written before the index', async () => {
    const path = await tempDir()
    const keys = makeStoreKeys()
    let store = openStore(path, keys, [A, B])
    await store.open()
    const user = (n: number) => ({
      kind: 'user' as const,
      body: { op: 'revoke', username: `u${n}@hospital-a`, by: 'admin@hospital-a' },
    })
    const event = (n: number) => ({ kind: 'event' as const, body: makeEvent(n) })
    await store.appendEntries(A, [event(0), user(1), event(2), user(3)])
    await store.appendEntries(A, [event(4), event(5)])
    await store.appendEntries(A, [user(6)])
    const origin = openStore(await tempDir(), makeStoreKeys(), [B])
    await origin.open()
    const b = await origin.appendEntries(B, [
      { kind: 'user', body: { op: 'revoke', username: 'x@hospital-b', by: 'admin@hospital-b' } },
      event(7),
    ])
    await store.acceptBatch({
      origin: 'hospital-b',
      entries: b.entries.map((e) => e.bytes),
      head: b.head,
    })
    await origin.close()
    const want = [
      { origin: 'hospital-a', seq: 2 },
      { origin: 'hospital-a', seq: 4 },
      { origin: 'hospital-a', seq: 7 },
      { origin: 'hospital-b', seq: 1 },
    ]
    const sorted = (refs: { origin: string; seq: number }[]) =>
      [...refs].sort((x, y) => x.origin.localeCompare(y.origin) || x.seq - y.seq)
    expect(sorted(await store.userRecordRefs())).toEqual(want)
    await store.close()
    // As an older store: no U postings and no marker. Opening it indexes them once.
    const tamper = new Tamperer(path, keys, 'hospital-a')
    await tamper.open()
    const postings = await tamper.db.keys(prefixRange(Buffer.of(PREFIX.userRecords))).all()
    expect(postings).toHaveLength(3) // one per batch with user records
    for (const key of [...postings, USER_INDEX_MARKER]) await tamper.db.del(key)
    await tamper.close()
    store = openStore(path, keys, [A, B])
    await store.open()
    expect(sorted(await store.userRecordRefs())).toEqual(want)
    expect((await store.verify()).ok).toBe(true)
    await store.close()
  })

  it('refuses empty and oversized appends, and a second process on the same store', async () => {
    const path = await tempDir()
    const store = openStore(path, makeStoreKeys(), [A])
    await store.open()
    await expect(store.appendEvents(A, [])).rejects.toMatchObject({ code: 'ARGUMENT_INVALID' })
    const second = openStore(path, makeStoreKeys(), [A])
    await expect(second.open()).rejects.toMatchObject({ code: 'STORE_LOCKED' })
    await store.close()
    await store.close() // idempotent
  })
})
