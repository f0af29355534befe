import { describe, expect, it } from 'vitest'
import { type Checkpoint, checkpointId, cosignedToJson } from '../../node/core/checkpoint.ts'
import { toHex } from '../../node/core/hex.ts'
import { PatientIndex, verifyCompleteness } from '../../node/core/index/index.ts'
import { ReferenceIndexView } from '../../node/index/reference-index-view.ts'
import { encodeU64, PREFIX } from '../../node/store/format/key-layout.ts'
import { CheckpointLog } from '../../node/store/index.ts'
import { accessOf } from '../../node/store/store-access.ts'
import {
  makeEvent,
  makeSigner,
  makeStoreKeys,
  openStore,
  TEST_VRF_SECRET_KEY,
} from '../helpers/fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

const A = makeSigner('hospital-a')
const B = makeSigner('hospital-b')

/** The oracle: patient-{i % 7} of makeEvent(i), applied in feed order. */
function oracle(origin: string, patients: readonly string[]): Uint8Array {
  const index = new PatientIndex(TEST_VRF_SECRET_KEY)
  for (const [i, p] of patients.entries()) index.applyEntry(origin, i + 1, p)
  return index.indexRoot(origin)
}

const patientsOf = (from: number, n: number) =>
  Array.from({ length: n }, (_, i) => `patient-${(from + i) % 7}`)

describe('ReferenceIndexView on a real store', () => {
  const tempDir = useTempDirs()

  async function world() {
    const store = openStore(await tempDir(), makeStoreKeys(), [A, B])
    await store.open()
    await store.appendEvents(
      A,
      Array.from({ length: 10 }, (_, i) => makeEvent(i)),
    )
    await store.appendEvents(B, [makeEvent(3)])
    return store
  }

  it('gives the root of any size, rebuilding when asked below where it is', async () => {
    const store = await world()
    const view = new ReferenceIndexView(store, TEST_VRF_SECRET_KEY)
    expect(toHex(await view.rootAt('hospital-a', 10))).toBe(
      toHex(oracle('hospital-a', patientsOf(0, 10))),
    )
    expect(toHex(await view.rootAt('hospital-a', 4))).toBe(
      toHex(oracle('hospital-a', patientsOf(0, 4))),
    )
    expect(toHex(await view.rootAt('hospital-a', 0))).toBe(toHex(oracle('hospital-a', [])))
    await expect(view.rootAt('hospital-a', 11)).rejects.toMatchObject({ code: 'UNAVAILABLE' })
    await store.close()
  })

  it('proves at the committed cut while the feed moves on; refuses to commit a root its entries do not give', async () => {
    const store = await world()
    const view = new ReferenceIndexView(store, TEST_VRF_SECRET_KEY)
    const cutAt = async (a: number, b: number): Promise<Checkpoint> => ({
      networkId: new Uint8Array(32),
      membership: { version: 0, hash: new Uint8Array(32) },
      timeMs: Date.now(),
      feeds: [
        {
          origin: 'hospital-a',
          treeSize: a,
          root: await store.rootAt('hospital-a', a),
          indexRoot: await view.rootAt('hospital-a', a),
        },
        {
          origin: 'hospital-b',
          treeSize: b,
          root: await store.rootAt('hospital-b', b),
          indexRoot: await view.rootAt('hospital-b', b),
        },
      ],
    })
    const c = await cutAt(8, 1)
    await view.commit(c)
    await store.appendEvents(A, [makeEvent(10), makeEvent(1)]) // patient-3 and patient-1 again
    await view.rootAt('hospital-a', 12) // the working index moves on
    const proof = await view.prove('patient-1', c)
    const cut = new Map(c.feeds.map((f) => [f.origin, f]))
    const result = verifyCompleteness({
      vrfPublicKey: new PatientIndex(TEST_VRF_SECRET_KEY).vrfPublicKey,
      patientId: 'patient-1',
      cut,
      proof,
      entries: [{ origin: 'hospital-a', seq: 2, patientId: 'patient-1' }],
    })
    expect(result.origins.map((o) => [o.origin, o.count])).toEqual([
      ['hospital-a', 1],
      ['hospital-b', 0],
    ])
    const forged = { ...c, timeMs: c.timeMs + 1 }
    forged.feeds = [{ ...c.feeds[0]!, indexRoot: new Uint8Array(32) }, c.feeds[1]!]
    await expect(view.commit(forged)).rejects.toMatchObject({ code: 'STORE_CORRUPT' })
    // The committed cut is still the good one.
    expect((await view.prove('patient-1', c)).origins).toHaveLength(2)
    await store.close()
  })

  it('check() finds nothing on a sound index', async () => {
    const store = await world()
    const view = new ReferenceIndexView(store, TEST_VRF_SECRET_KEY)
    await view.rootAt('hospital-a', 10)
    expect(await view.check()).toEqual([])
    await store.close()
  })
})

describe('a checkpoint stored by an older version (v1: no indexRoot; v2: no membership)', () => {
  const tempDir = useTempDirs()

  it('is skipped as the latest, with the caller told; a v3 one stored after is the latest', async () => {
    const store = openStore(await tempDir(), makeStoreKeys(), [A])
    await store.open()
    const v3 = {
      checkpoint: {
        networkId: new Uint8Array(32),
        membership: { version: 0, hash: new Uint8Array(32) },
        timeMs: 2_000,
        feeds: [
          {
            origin: 'hospital-a',
            treeSize: 0,
            root: new Uint8Array(32),
            indexRoot: new Uint8Array(32),
          },
        ],
      },
      signers: Uint8Array.of(3),
      signature: new Uint8Array(96),
    }
    // As version 1 stored it: the same record without indexRoot in its feeds.
    const old = { ...v3, checkpoint: { ...v3.checkpoint, timeMs: 1_000 } }
    const json = cosignedToJson(old)
    for (const f of json.checkpoint.feeds) delete (f as { indexRoot?: string }).indexRoot
    const { db, cipher } = accessOf(store)
    const key = Buffer.concat([
      Buffer.of(PREFIX.checkpoint),
      encodeU64(1_000),
      Buffer.from(checkpointId(old.checkpoint).slice(0, 16), 'hex'),
    ])
    await db.put(key, cipher.seal(key, Buffer.from(JSON.stringify(json))))
    const log = new CheckpointLog(store)
    const told: { timeMs: number }[] = []
    expect(await log.latestRecord((o) => told.push(o))).toBeUndefined()
    expect(told).toMatchObject([{ timeMs: 1_000 }])
    await log.put(v3, ['hospital-a'])
    expect((await log.latest())?.checkpoint.timeMs).toBe(2_000)
    // As version 2 stored it: indexRoot in its feeds, but no membership version named.
    const older = cosignedToJson({ ...v3, checkpoint: { ...v3.checkpoint, timeMs: 3_000 } })
    delete (older.checkpoint as { membership?: unknown }).membership
    const key2 = Buffer.concat([Buffer.of(PREFIX.checkpoint), encodeU64(3_000), Buffer.alloc(8)])
    await db.put(key2, cipher.seal(key2, Buffer.from(JSON.stringify(older))))
    expect(await log.latestRecord((o) => told.push(o))).toBeUndefined()
    expect(told).toMatchObject([{ timeMs: 1_000 }, { timeMs: 3_000 }])
    await store.close()
  })
})
