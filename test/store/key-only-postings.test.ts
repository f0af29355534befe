import { describe, expect, it } from 'vitest'
import { toHex } from '../../node/core/hex.ts'
import { IndexService } from '../../node/index/index.ts'
import { selectEntries } from '../../node/query/select.ts'
import {
  actorKey,
  blindIndex,
  feedTag,
  PREFIX,
  patientKey,
  prefixRange,
} from '../../node/store/format/key-layout.ts'
import type { LogStore, StoreKeys } from '../../node/store/index.ts'
import { accessOf } from '../../node/store/store-access.ts'
import {
  makeEvent,
  makeSigner,
  makeStoreKeys,
  openStore,
  TEST_VRF_SECRET_KEY,
} from '../helpers/fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

/*
 * A posting of one seq (patient, actor or user records) is stored as its key alone: the key
 * ends in that seq, so a sealed value would only repeat it, at ~3 µs of AES-GCM per posting
 * on every node (docs/storage.md "Key-only postings"). Postings of several seqs stay sealed,
 * and postings of one seq written sealed (stores from before) read as they always did.
 */
const A = makeSigner('hospital-a')
const ORIGIN = 'hospital-a'

/** Seqs 1 and 2 are p-two's, seq 3 is p-one's; the actors are dr-0, dr-1 and dr-2 once each. */
async function storeWithThree(
  dir: string,
): Promise<{ store: LogStore; keys: StoreKeys; tag: Buffer }> {
  const keys = makeStoreKeys()
  const store = openStore(dir, keys, [A])
  await store.open()
  await store.appendEvents(A, [
    makeEvent(0, { patientId: 'p-two' }),
    makeEvent(1, { patientId: 'p-two' }),
    makeEvent(2, { patientId: 'p-one' }),
  ])
  return { store, keys, tag: feedTag(keys.indexKey, ORIGIN) }
}

/** Every key under `prefix` with its value's length. */
async function valueLengths(store: LogStore, prefix: number): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  for await (const [key, value] of accessOf(store).db.iterator(prefixRange(Buffer.of(prefix))))
    out.set(key.toString('hex'), value.byteLength)
  return out
}

const seqsOf = (refs: Array<{ seq: number }>) => refs.map((r) => r.seq)

describe('key-only postings', () => {
  const tempDir = useTempDirs()

  it('stores a posting of one seq as its key alone and one of several sealed; both read back', async () => {
    const { store, keys, tag } = await storeWithThree(await tempDir())
    const blind = (id: string) => blindIndex(keys.indexKey, 'patient', id)
    const patients = await valueLengths(store, PREFIX.patient)
    expect(patients.size).toBe(2)
    expect(patients.get(patientKey(blind('p-one'), tag, 3).toString('hex'))).toBe(0)
    // Two u64 seqs, sealed: nonce 12 + 16 + tag 16.
    expect(patients.get(patientKey(blind('p-two'), tag, 1).toString('hex'))).toBe(44)
    const actors = await valueLengths(store, PREFIX.actor)
    expect([...actors.values()]).toEqual([0, 0, 0])
    expect(
      actors.has(actorKey(blindIndex(keys.indexKey, 'actor', 'dr-2'), tag, 3).toString('hex')),
    ).toBe(true)

    expect(seqsOf(await store.findByPatient('p-one'))).toEqual([3])
    expect(seqsOf(await store.findByPatient('p-two'))).toEqual([1, 2])
    expect(seqsOf(await store.findByActor('dr-2'))).toEqual([3])
    const lazily: number[] = []
    for await (const refs of store.patientIndex.refsIn('p-one', ORIGIN))
      lazily.push(...seqsOf(refs))
    expect(lazily).toEqual([3])
    const all: Array<[string, string]> = []
    for await (const p of store.patientIndex.postings())
      all.push([p.blind.toString('hex'), p.seqs.toString('hex')])
    expect(all.sort()).toEqual(
      [
        [blind('p-one').toString('hex'), '0000000000000003'],
        [blind('p-two').toString('hex'), '00000000000000010000000000000002'],
      ].sort(),
    )
    await store.close()
  })

  it('reads a posting of one seq written sealed (a store from before), and skips one changed', async () => {
    const { store, keys, tag } = await storeWithThree(await tempDir())
    const access = accessOf(store)
    const key = patientKey(blindIndex(keys.indexKey, 'patient', 'p-one'), tag, 3)
    const sealed = access.cipher.seal(key, Buffer.from('0000000000000003', 'hex'))
    await access.db.put(key, sealed)
    expect(seqsOf(await store.findByPatient('p-one'))).toEqual([3])
    sealed[sealed.length - 1]! ^= 1
    await access.db.put(key, sealed)
    expect(await store.findByPatient('p-one')).toEqual([])
    const damaged = { count: 0 }
    for await (const _ of store.patientIndex.postings(damaged)) {
      // counted
    }
    expect(damaged.count).toBe(1)
    await store.close()
  })

  it('a key-only posting an insider adds is kept out of answers and caught by the index check', async () => {
    const { store, keys, tag } = await storeWithThree(await tempDir())
    const clean = await IndexService.open(store, TEST_VRF_SECRET_KEY)
    const cleanRoot = toHex(await clean.rootAt(ORIGIN, 3))
    await clean.close()
    // Whoever can write the store's files (no keys needed) claims p-one's seq 3 for a patient
    // with no entries. A build from the postings takes a seq's last posting in key order
    // (blind order): the forger's blind must sort after p-one's to take the entry from it.
    const blind = (id: string) => blindIndex(keys.indexKey, 'patient', id)
    const forged = Array.from({ length: 64 }, (_, i) => `x-${i}`).find(
      (id) => Buffer.compare(blind(id), blind('p-one')) > 0,
    )!
    await accessOf(store).db.put(patientKey(blind(forged), tag, 3), Buffer.alloc(0))
    expect(seqsOf(await store.findByPatient(forged))).toEqual([3])
    // A query reads each entry and keeps only the patient's: nothing of p-one's leaks.
    const { entries } = await selectEntries(store, { patient: forged }, undefined, 100)
    expect(entries).toEqual([])

    // Built from the postings, the index gives seq 3 to the forger, whose beta it cannot know
    // (the entry names p-one): a leaf that is no patient's, so the root differs; check()
    // compares with the entries, names the feed and rebuilds it from them.
    const service = await IndexService.open(store, TEST_VRF_SECRET_KEY)
    expect(toHex(await service.rootAt(ORIGIN, 3))).not.toBe(cleanRoot)
    expect(await service.check()).toEqual([{ origin: ORIGIN, treeSize: 0 }])
    expect(toHex(await service.rootAt(ORIGIN, 3))).toBe(cleanRoot)
    // p-one's beta was not cached under the forger's blind.
    expect(await store.patientIndex.getBetas([blind(forged)])).toEqual([undefined])
    await service.close()
    await store.close()
  })
})
