import { randomBytes } from 'node:crypto'
import { describe, expect, it, vi } from 'vitest'
import { VALUE_OVERHEAD, ValueCipher } from '../../node/store/format/value-cipher.ts'
import {
  SEAL_OFF_THREAD_FROM,
  SEAL_OWN_OFF_THREAD_FROM,
  Sealer,
} from '../../node/store/write/seal-worker.ts'
import type { ChainedBatch } from '../../node/store/write/write-chain.ts'
import { makeEvent, makeSigner, makeStoreKeys, openStore } from '../helpers/fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

/** A stand-in for a LevelDB chained batch that records what was put (only put is used). */
function recordingBatch(): { batch: ChainedBatch; puts: Array<[Buffer, Buffer]> } {
  const puts: Array<[Buffer, Buffer]> = []
  const batch = { put: (key: Buffer, value: Buffer) => puts.push([key, Buffer.from(value)]) }
  return { batch: batch as unknown as ChainedBatch, puts }
}

function plainRecords(n: number): Array<[Buffer, Buffer]> {
  return Array.from({ length: n }, (_, i) => [
    Buffer.from(`E-key-${i}`),
    randomBytes(1 + ((i * 37) % 700)),
  ])
}

describe('ValueCipher', () => {
  it('never repeats a nonce, across pool refills and between seal and sealInto', () => {
    const cipher = new ValueCipher(randomBytes(32))
    const key = Buffer.from('E-key')
    const nonces = new Set<string>()
    const out = Buffer.alloc(10_000 * (5 + VALUE_OVERHEAD) + 3)
    let at = 3
    // 20,000 values: the pool of 4,096 nonces is refilled four times.
    for (let i = 0; i < 10_000; i++) {
      const sealed = cipher.seal(key, Buffer.from('hello'))
      nonces.add(sealed.subarray(0, 12).toString('hex'))
      const end = cipher.sealInto(key, Buffer.from('hello'), out, at)
      expect(end - at).toBe(5 + VALUE_OVERHEAD)
      nonces.add(out.subarray(at, at + 12).toString('hex'))
      expect(cipher.open(key, out.subarray(at, end))?.toString()).toBe('hello')
      at = end
    }
    expect(nonces.size).toBe(20_000)
    expect(out.subarray(0, 3)).toEqual(Buffer.alloc(3)) // nothing written before `at`
  })

  it('refuses a value sealed into a buffer once a byte of it changes', () => {
    const cipher = new ValueCipher(randomBytes(32))
    const key = Buffer.from('P-key')
    const plain = randomBytes(64)
    const out = Buffer.alloc(plain.length + VALUE_OVERHEAD)
    cipher.sealInto(key, plain, out, 0)
    expect(cipher.open(key, out)).toEqual(plain)
    for (const at of [0, 11, 12, 40, out.length - 1]) {
      const bad = Buffer.from(out)
      bad[at]! ^= 1
      expect(cipher.open(key, bad)).toBeUndefined()
    }
  })
})

describe('Sealer', () => {
  it('seals deferred records on the worker, in put order, each under its own key and nonce', async () => {
    const valueKey = randomBytes(32)
    const cipher = new ValueCipher(valueKey)
    const sealer = new Sealer(cipher, valueKey)
    try {
      const records = plainRecords(300)
      const { batch, puts } = recordingBatch()
      const { sink, fill } = sealer.deferred(batch)
      for (const [key, plain] of records) sink.putPlain(key, plain)
      expect(puts).toHaveLength(0) // nothing until filled
      await fill()
      expect(sealer.jobsOnWorker).toBe(1)
      expect(puts.map(([key]) => key)).toEqual(records.map(([key]) => key))
      puts.forEach(([key, sealed], i) => {
        expect(sealed.byteLength).toBe(records[i]![1].byteLength + VALUE_OVERHEAD)
        expect(cipher.open(key, sealed)).toEqual(records[i]![1])
        // Bound to its key: under another key it does not open.
        expect(cipher.open(puts[(i + 1) % puts.length]![0], sealed)).toBeUndefined()
      })
      const nonces = new Set(puts.map(([, sealed]) => sealed.subarray(0, 12).toString('hex')))
      expect(nonces.size).toBe(puts.length)
    } finally {
      await sealer.close()
    }
  })

  it('seals inline once the worker is gone, so no write is lost', async () => {
    const valueKey = randomBytes(32)
    const cipher = new ValueCipher(valueKey)
    const sealer = new Sealer(cipher, valueKey)
    await sealer.close()
    const records = plainRecords(20)
    const { batch, puts } = recordingBatch()
    const { sink, fill } = sealer.deferred(batch)
    for (const [key, plain] of records) sink.putPlain(key, plain)
    await fill()
    expect(sealer.jobsOnWorker).toBe(0)
    expect(puts.map(([key, sealed]) => cipher.open(key, sealed))).toEqual(records.map((r) => r[1]))
  })
})

describe('LogStore sealing accepted batches off-thread', () => {
  const tempDir = useTempDirs()
  const A = makeSigner('hospital-a')

  it('stores large batches passed back to back, in call order, as verifiable records', async () => {
    const dir = await tempDir()
    const keys = makeStoreKeys()
    const origin = openStore(`${dir}/origin`, makeStoreKeys(), [A])
    await origin.open()
    const size = SEAL_OFF_THREAD_FROM + 44
    for (let b = 0; b < 4; b++) {
      await origin.appendEvents(
        A,
        Array.from({ length: size }, (_, i) => makeEvent(b * size + i)),
      )
    }
    const batches = await origin.readBatches('hospital-a', 1, 10 * size)
    expect(batches).toHaveLength(4)
    let replica = openStore(`${dir}/replica`, keys, [A])
    await replica.open()
    const deferred = vi.spyOn(Sealer.prototype, 'deferred')
    try {
      // Not awaited one by one: each is verified against the ones passed before it.
      const results = await Promise.all(batches.map((b) => replica.acceptBatch(b)))
      expect(results.map((r) => r.status)).toEqual(['stored', 'stored', 'stored', 'stored'])
      expect(deferred).toHaveBeenCalledTimes(4)
    } finally {
      deferred.mockRestore()
    }
    expect(replica.size('hospital-a')).toBe(4 * size)
    await replica.close()
    replica = openStore(`${dir}/replica`, keys, [A])
    await replica.open()
    const report = await replica.verify()
    expect(report.ok).toBe(true)
    expect(report.entriesChecked).toBe(4 * size)
    for (const seq of [1, size, 3 * size + 7, 4 * size]) {
      expect((await replica.getEntry('hospital-a', seq))?.bytes).toEqual(
        (await origin.getEntry('hospital-a', seq))?.bytes,
      )
    }
    expect(await replica.findByPatient(makeEvent(5).patientId)).toEqual(
      await origin.findByPatient(makeEvent(5).patientId),
    )
    await Promise.all([replica.close(), origin.close()])
  })
})

describe('LogStore sealing own appends off-thread', () => {
  const tempDir = useTempDirs()
  const A = makeSigner('hospital-a')

  it('seals group-commit sized appends on the worker, small ones inline, all in call order', async () => {
    const dir = await tempDir()
    const keys = makeStoreKeys()
    let store = openStore(`${dir}/store`, keys, [A])
    await store.open()
    const big = SEAL_OWN_OFF_THREAD_FROM + 8
    const sizes = [big, 1, big, SEAL_OWN_OFF_THREAD_FROM - 1, big]
    const deferred = vi.spyOn(Sealer.prototype, 'deferred')
    let next = 0
    try {
      // Not awaited one by one: a small inline batch queued behind a big one on the worker
      // must still be written after it.
      const heads = await Promise.all(
        sizes.map((n) =>
          store.appendEvents(
            A,
            Array.from({ length: n }, () => makeEvent(next++)),
          ),
        ),
      )
      expect(heads.map((h) => h.head.treeSize)).toEqual([40, 41, 81, 112, 152])
      expect(deferred).toHaveBeenCalledTimes(3)
    } finally {
      deferred.mockRestore()
    }
    await store.close()
    store = openStore(`${dir}/store`, keys, [A])
    await store.open()
    const report = await store.verify()
    expect(report.ok).toBe(true)
    expect(report.entriesChecked).toBe(next)
    expect((await store.getEntry('hospital-a', 100))?.entry.body).toEqual(makeEvent(99))
    expect(await store.findByPatient(makeEvent(45).patientId)).toContainEqual({
      origin: 'hospital-a',
      seq: 46,
    })
    await store.close()
  })
})
