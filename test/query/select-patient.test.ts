import { describe, expect, it, vi } from 'vitest'
import { entryId } from '../../node/core/entry.ts'
import type { AuditEvent } from '../../node/core/event.ts'
import type { Position } from '../../node/core/trust/index.ts'
import { selectEntries } from '../../node/query/select.ts'
import type { LogStore } from '../../node/store/index.ts'
import { makeEvent, makeSigner, makeStoreKeys, openStore } from '../helpers/fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

const SIGNERS = ['hospital-c', 'hospital-a', 'hospital-b'].map(makeSigner)

/** Every page of a query, followed by its cursor: the entry ids in the order answered. */
async function allPages(
  store: LogStore,
  filter: Parameters<typeof selectEntries>[1],
  limit: number,
): Promise<string[]> {
  const ids: string[] = []
  let after: Position | undefined
  for (let pages = 0; pages < 1000; pages++) {
    const { entries, through } = await selectEntries(store, filter, after, limit)
    for (const e of entries) ids.push(entryId(e.entry.origin, e.entry.seq))
    if (!through) return ids
    after = through
  }
  throw new Error('no end of pages')
}

/** What the answer must be: the matching entries in (origin, seq) order, read one by one. */
async function expected(store: LogStore, match: (e: AuditEvent) => boolean): Promise<string[]> {
  const ids: string[] = []
  for (const origin of store.origins().sort()) {
    for await (const e of store.entries(origin, 1)) {
      if (e.entry.kind === 'event' && match(e.entry.body as AuditEvent))
        ids.push(entryId(origin, e.entry.seq))
    }
  }
  return ids
}

describe('selecting a patient trail (postings read feed by feed, as far as the page needs)', () => {
  const tempDir = useTempDirs()

  it('answers every page as the whole sorted trail would, for any page size, origin and filter', async () => {
    const store = openStore(await tempDir(), makeStoreKeys(), SIGNERS)
    await store.open()
    const eager = vi.spyOn(store, 'findByPatient')
    try {
      // Batches of varied sizes over three feeds: a patient has one posting per batch, so
      // trails span many postings in every feed, some of them with several seqs.
      let i = 0
      for (let b = 0; b < 30; b++) {
        const signer = SIGNERS[(b * 7) % 3]!
        const n = 1 + ((b * 5) % 11)
        await store.appendEvents(
          signer,
          Array.from({ length: n }, () => {
            i++
            return makeEvent(i, { action: i % 3 === 0 ? 'update' : 'read' })
          }),
        )
      }
      for (const patient of ['patient-1', 'patient-4', 'nobody']) {
        const want = await expected(store, (e) => e.patientId === patient)
        if (patient !== 'nobody') expect(want.length).toBeGreaterThan(10)
        for (const limit of [1, 2, 3, 7, 100]) {
          expect(await allPages(store, { patient }, limit)).toEqual(want)
        }
        const updates = await expected(
          store,
          (e) => e.patientId === patient && e.action === 'update',
        )
        for (const limit of [1, 4, 100]) {
          expect(await allPages(store, { patient, action: 'update' }, limit)).toEqual(updates)
        }
        const inB = want.filter((id) => id.startsWith('hospital-b:'))
        expect(await allPages(store, { patient, origin: 'hospital-b' }, 2)).toEqual(inB)
        expect(await allPages(store, { patient, origin: 'hospital-z' }, 2)).toEqual([])
      }
      expect(eager).not.toHaveBeenCalled() // every answer above came from the lazy path

      // A first page of one entry reads the first feed's first postings, not the whole trail.
      const refsIn = store.patientIndex.refsIn.bind(store.patientIndex)
      let yielded = 0
      vi.spyOn(store.patientIndex, 'refsIn').mockImplementation(async function* (p, o) {
        for await (const refs of refsIn(p, o)) {
          yielded += refs.length
          yield refs
        }
      })
      const trail = await expected(store, (e) => e.patientId === 'patient-1')
      const first = await selectEntries(store, { patient: 'patient-1' }, undefined, 1)
      expect(first.entries.map((e) => entryId(e.entry.origin, e.entry.seq))).toEqual([trail[0]])
      expect(yielded).toBeGreaterThan(0)
      expect(yielded).toBeLessThan(trail.length / 2)
    } finally {
      await store.close()
    }
  })
})
