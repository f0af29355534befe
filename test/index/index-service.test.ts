import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import type { Checkpoint } from '../../node/core/checkpoint.ts'
import { toHex } from '../../node/core/hex.ts'
import { PatientIndex, verifyCompleteness } from '../../node/core/index/index.ts'
import { IndexService, progressLine, type RebuildProgress } from '../../node/index/index.ts'
import type { LogStore, StoreKeys } from '../../node/store/index.ts'
import {
  makeEvent,
  makeSigner,
  makeStoreKeys,
  openStore,
  TEST_VRF_SECRET_KEY,
} from '../helpers/fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

const ORIGINS = ['alpha', 'bravo', 'charlie']
const signers = ORIGINS.map(makeSigner)
const tempDir = useTempDirs()
const opened: Array<{ close(): Promise<void> }> = []
afterEach(async () => {
  for (const o of opened.splice(0).reverse()) await o.close()
})

/** What a test appended: per origin, the patient of each seq (index seq - 1). */
type History = Map<string, string[]>

async function newStore(
  dir?: string,
  keys?: StoreKeys,
): Promise<{ store: LogStore; dir: string; keys: StoreKeys }> {
  const d = dir ?? (await tempDir())
  const k = keys ?? makeStoreKeys()
  const store = openStore(d, k, signers)
  await store.open()
  opened.push(store)
  return { store, dir: d, keys: k }
}

async function append(
  store: LogStore,
  history: History,
  origin: string,
  patients: number[],
): Promise<void> {
  const signer = signers[ORIGINS.indexOf(origin)]!
  const events = patients.map((p, i) => makeEvent(i, { patientId: `patient-${p}` }))
  await store.appendEvents(signer, events)
  const list = history.get(origin) ?? []
  for (const p of patients) list.push(`patient-${p}`)
  history.set(origin, list)
}

/** The reference: PatientIndex over each origin's first `cut` entries. */
function reference(history: History, cut: ReadonlyMap<string, number>): PatientIndex {
  const index = new PatientIndex(TEST_VRF_SECRET_KEY)
  for (const origin of ORIGINS) {
    const list = history.get(origin) ?? []
    for (let seq = 1; seq <= (cut.get(origin) ?? 0); seq++)
      index.applyEntry(origin, seq, list[seq - 1])
  }
  return index
}

function checkpointAt(history: History, ref: PatientIndex, timeMs: number): Checkpoint {
  return {
    networkId: new Uint8Array(32),
    membership: { version: 0, hash: new Uint8Array(32) },
    timeMs,
    feeds: ORIGINS.map((origin) => ({
      origin,
      treeSize: history.get(origin)?.length ?? 0,
      root: new Uint8Array(32),
      indexRoot: ref.indexRoot(origin),
    })),
  }
}

function sizes(history: History): Map<string, number> {
  return new Map(ORIGINS.map((o) => [o, history.get(o)?.length ?? 0]))
}

const step = fc.oneof(
  fc.record({
    kind: fc.constant('append' as const),
    origin: fc.constantFrom(...ORIGINS),
    patients: fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 6 }),
  }),
  fc.record({ kind: fc.constant('commit' as const) }),
  fc.record({
    kind: fc.constant('root' as const),
    origin: fc.constantFrom(...ORIGINS),
    at: fc.double({ min: 0, max: 1, noNaN: true }),
  }),
)

describe('IndexService against PatientIndex (the reference)', () => {
  it('gives the same roots (committed and overlays) and proofs over random feeds and commits', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(step, { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 0, max: 6 }),
        async (steps, asked) => {
          const { store } = await newStore()
          const service = await IndexService.open(store, TEST_VRF_SECRET_KEY)
          try {
            const history: History = new Map()
            let committed = new Map(ORIGINS.map((o) => [o, 0]))
            let checkpoint: Checkpoint | undefined
            let time = 1
            for (const s of steps) {
              if (s.kind === 'append') await append(store, history, s.origin, s.patients)
              else if (s.kind === 'commit') {
                checkpoint = checkpointAt(history, reference(history, sizes(history)), time++)
                await service.commit(checkpoint)
                committed = sizes(history)
              } else {
                const low = committed.get(s.origin)!
                const high = history.get(s.origin)?.length ?? 0
                const n = low + Math.floor(s.at * (high - low + 1 - 1e-9))
                const want = reference(history, new Map([[s.origin, n]])).indexRoot(s.origin)
                expect(toHex(await service.rootAt(s.origin, n))).toBe(toHex(want))
              }
            }
            if (!checkpoint) return
            const patientId = `patient-${asked}`
            const ref = reference(history, committed)
            const proof = await service.prove(patientId, checkpoint)
            expect(proof).toEqual(ref.prove(patientId, ORIGINS))
            const entries = ORIGINS.flatMap((origin) =>
              (history.get(origin) ?? [])
                .slice(0, committed.get(origin))
                .flatMap((p, i) => (p === patientId ? [{ origin, seq: i + 1, patientId }] : [])),
            )
            const result = verifyCompleteness({
              vrfPublicKey: service.vrfPublicKey,
              patientId,
              cut: new Map(checkpoint.feeds.map((f) => [f.origin, f])),
              proof,
              entries,
            })
            expect(result.origins.reduce((n, o) => n + o.count, 0)).toBe(entries.length)
          } finally {
            await service.close()
          }
        },
      ),
      { numRuns: 12 },
    )
  }, 240_000)
})

describe('IndexService state', () => {
  it('keeps betas across a restart: identical roots with zero VRF calls, progress told', async () => {
    const { store, dir, keys } = await newStore()
    const history: History = new Map()
    const first = await IndexService.open(store, TEST_VRF_SECRET_KEY)
    await append(store, history, 'alpha', [0, 1, 2, 1])
    await append(store, history, 'bravo', [3, 3, 0])
    await append(store, history, 'alpha', [4])
    const c = checkpointAt(history, reference(history, sizes(history)), 1)
    await first.commit(c)
    expect(first.vrfCalls).toBe(5) // one per patient, ever
    const roots = await Promise.all(
      ORIGINS.map((o) => first.rootAt(o, history.get(o)?.length ?? 0)),
    )
    await first.close()
    await store.close()

    const { store: again } = await newStore(dir, keys)
    const progress: RebuildProgress[] = []
    const second = await IndexService.open(again, TEST_VRF_SECRET_KEY, {
      checkpoint: c,
      onProgress: (p) => progress.push(p),
    })
    opened.push(second)
    const after = await Promise.all(
      ORIGINS.map((o) => second.rootAt(o, history.get(o)?.length ?? 0)),
    )
    expect(after.map(toHex)).toEqual(roots.map(toHex))
    expect(after.map(toHex)).toEqual(
      ORIGINS.map((o) => toHex(c.feeds.find((f) => f.origin === o)!.indexRoot)),
    )
    expect(second.vrfCalls).toBe(0)
    expect(progress.at(-1)).toEqual({ done: 8, total: 8, phase: 'done' })
    expect(progress.map((p) => p.phase)).toContain('betas')
    expect(progressLine(progress.at(-1)!)).toBe(
      `index [${'#'.repeat(30)}] 100 % done 8 / 8 entries`,
    )
    expect(progressLine({ done: 1, total: 3, phase: 'postings' })).toBe(
      `index [${'#'.repeat(10)}${'-'.repeat(20)}]  33 % postings 1 / 3 entries`,
    )
  }, 60_000)

  it('a rebuild decrypts entries only for patients without a cached beta and matches the reference', async () => {
    const { store } = await newStore()
    const history: History = new Map()
    // No service follows these appends: their betas are not cached.
    await append(store, history, 'charlie', [1, 2, 1, 2, 5])
    await append(store, history, 'alpha', [2])
    const c = checkpointAt(history, reference(history, sizes(history)), 1)
    const service = await IndexService.open(store, TEST_VRF_SECRET_KEY, { checkpoint: c })
    opened.push(service)
    expect(service.vrfCalls).toBe(3)
    expect(toHex(await service.rootAt('charlie', 5))).toBe(toHex(c.feeds[2]!.indexRoot))
    // Appends after the cut: an overlay root, and the committed proof stays at the cut.
    await append(store, history, 'charlie', [1, 6])
    const ref7 = reference(history, sizes(history))
    expect(toHex(await service.rootAt('charlie', 7))).toBe(toHex(ref7.indexRoot('charlie')))
    expect(await service.prove('patient-1', c)).toEqual(
      reference(
        history,
        new Map([
          ['charlie', 5],
          ['alpha', 1],
        ]),
      ).prove('patient-1', ORIGINS),
    )
  }, 60_000)

  it('before any checkpoint a root far above the tree moves it there; roots and the first commit below it go back', async () => {
    const { store } = await newStore()
    const history: History = new Map()
    // advanceFrom 3: what 50,000 pending entries do in a node, with a few.
    const service = await IndexService.open(store, TEST_VRF_SECRET_KEY, { advanceFrom: 3 })
    opened.push(service)
    await append(store, history, 'alpha', [0, 1, 0, 2, 3, 1])
    await append(store, history, 'bravo', [4, 4])
    const at = (n: number) => reference(history, new Map([['alpha', n]])).indexRoot('alpha')
    // Moved to 6, then an overlay above it (7), then below it: rebuilt at 4, moved on to 6.
    expect(toHex(await service.rootAt('alpha', 6))).toBe(toHex(at(6)))
    await append(store, history, 'alpha', [5])
    expect(toHex(await service.rootAt('alpha', 7))).toBe(toHex(at(7)))
    expect(toHex(await service.rootAt('alpha', 4))).toBe(toHex(at(4)))
    expect(toHex(await service.rootAt('alpha', 2))).toBe(toHex(at(2)))
    expect(toHex(await service.rootAt('alpha', 6))).toBe(toHex(at(6)))
    expect(toHex(await service.rootAt('bravo', 2))).toBe(
      toHex(reference(history, sizes(history)).indexRoot('bravo')),
    )
    // The first checkpoint cuts alpha at 5, below the tree (6): the commit goes back to it.
    const cut = new Map([
      ['alpha', 5],
      ['bravo', 2],
    ])
    const ref = reference(history, cut)
    const c: Checkpoint = {
      networkId: new Uint8Array(32),
      membership: { version: 0, hash: new Uint8Array(32) },
      timeMs: 1,
      feeds: ORIGINS.map((origin) => ({
        origin,
        treeSize: cut.get(origin) ?? 0,
        root: new Uint8Array(32),
        indexRoot: ref.indexRoot(origin),
      })),
    }
    await service.commit(c)
    expect(await service.prove('patient-1', c)).toEqual(ref.prove('patient-1', ORIGINS))
    // From the first checkpoint on, the tree stays at cuts: an overlay above, nothing below.
    expect(toHex(await service.rootAt('alpha', 7))).toBe(toHex(at(7)))
    expect(await service.prove('patient-1', c)).toEqual(ref.prove('patient-1', ORIGINS))
    await expect(service.rootAt('alpha', 4)).rejects.toMatchObject({ code: 'NOT_FOUND' })
    expect(await service.check()).toEqual([])
    // Opened without a checkpoint over entries held, a service moves its trees there in the
    // background; roots and a first commit below still come back to the cut.
    const restarted = await IndexService.open(store, TEST_VRF_SECRET_KEY, { advanceFrom: 3 })
    opened.push(restarted)
    expect(toHex(await restarted.rootAt('alpha', 7))).toBe(toHex(at(7)))
    expect(toHex(await restarted.rootAt('alpha', 4))).toBe(toHex(at(4)))
    await restarted.commit(c)
    expect(await restarted.prove('patient-1', c)).toEqual(ref.prove('patient-1', ORIGINS))
  }, 60_000)

  it('check() finds a state that disagrees with the postings, names it and rebuilds it', async () => {
    const { store } = await newStore()
    const history: History = new Map()
    const service = await IndexService.open(store, TEST_VRF_SECRET_KEY)
    opened.push(service)
    await append(store, history, 'alpha', [0, 1])
    expect(await service.check()).toEqual([])
    // A hook that lies: seq 3 reported under another patient before the store reports it.
    const writing = append(store, history, 'alpha', [2])
    service.onBatch({ origin: 'alpha', entries: [{ seq: 3, patientId: 'patient-9' }] })
    await writing
    const c = checkpointAt(history, reference(history, sizes(history)), 1)
    await service.commit(c)
    expect(toHex(await service.rootAt('alpha', 3))).not.toBe(toHex(c.feeds[0]!.indexRoot))
    expect(await service.check()).toEqual([{ origin: 'alpha', treeSize: 3 }])
    expect(toHex(await service.rootAt('alpha', 3))).toBe(toHex(c.feeds[0]!.indexRoot))
    expect(await service.check()).toEqual([])
  }, 60_000)

  it('check() compares the entries after the committed cut too (overlay roots)', async () => {
    const { store } = await newStore()
    const history: History = new Map()
    const service = await IndexService.open(store, TEST_VRF_SECRET_KEY)
    opened.push(service)
    await append(store, history, 'bravo', [0])
    const writing = append(store, history, 'bravo', [1, 2])
    service.onBatch({ origin: 'bravo', entries: [{ seq: 2, patientId: 'patient-2' }] })
    await writing
    const want = reference(history, sizes(history)).indexRoot('bravo')
    expect(toHex(await service.rootAt('bravo', 3))).not.toBe(toHex(want))
    expect(await service.check()).toEqual([{ origin: 'bravo', treeSize: 0 }])
    expect(toHex(await service.rootAt('bravo', 3))).toBe(toHex(want))
  }, 60_000)

  it('a gap in the batches told starts a check that rebuilds the origin', async () => {
    const { store } = await newStore()
    const history: History = new Map()
    const service = await IndexService.open(store, TEST_VRF_SECRET_KEY)
    opened.push(service)
    await append(store, history, 'alpha', [0])
    const writing = append(store, history, 'alpha', [1])
    service.onBatch({ origin: 'alpha', entries: [{ seq: 2, patientId: 'patient-9' }] }) // a lie
    await writing
    service.onBatch({ origin: 'alpha', entries: [{ seq: 9, patientId: 'patient-9' }] }) // a gap
    await new Promise((resolve) => setImmediate(resolve))
    const want = reference(history, sizes(history)).indexRoot('alpha')
    expect(toHex(await service.rootAt('alpha', 2))).toBe(toHex(want))
  }, 60_000)

  it('refuses roots outside what it holds and proofs at another cut', async () => {
    const { store } = await newStore()
    const history: History = new Map()
    const service = await IndexService.open(store, TEST_VRF_SECRET_KEY)
    opened.push(service)
    await append(store, history, 'alpha', [0])
    await expect(service.rootAt('alpha', 2)).rejects.toMatchObject({ code: 'NOT_FOUND' })
    const c = checkpointAt(history, reference(history, sizes(history)), 1)
    await expect(service.prove('patient-0', c)).rejects.toMatchObject({ code: 'NOT_FOUND' })
  }, 60_000)
})
