import { describe, expect, it, vi } from 'vitest'
import type { Position, QueryAnswerJson } from '../../node/core/trust/index.ts'
import {
  checkAnswerCompleteness,
  decodeCursor,
  encodeCursor,
  verifyQueryAnswer,
} from '../../node/core/trust/index.ts'
import { IndexService } from '../../node/index/index.ts'
import { QueryService, type Session } from '../../node/query/index.ts'
import type { LogStore } from '../../node/store/index.ts'
import { TEST_VRF_SECRET_KEY } from '../helpers/fixtures.ts'
import { useQueryWorld } from './fixtures.ts'

const SESSION: Session = {
  v: 1,
  sub: 'audit@hospital-a',
  role: 'auditor',
  iss: 'hospital-a',
  sid: '0'.repeat(32),
  iat: 0,
  exp: Number.MAX_SAFE_INTEGER,
  status: 'active',
}

/** What one answer read of the store: postings, entries and inclusion proofs. */
interface Work {
  postings: number
  entries: number
  proofs: number
}

/** Counts what each answer of `service` reads of `store`, by spying on the store's reads. */
function counting(store: LogStore): { take(): Work } {
  let work: Work = { postings: 0, entries: 0, proofs: 0 }
  const refsIn = store.patientIndex.refsIn.bind(store.patientIndex)
  vi.spyOn(store.patientIndex, 'refsIn').mockImplementation(async function* (p, o, from) {
    for await (const refs of refsIn(p, o, from)) {
      work.postings += refs.length
      yield refs
    }
  })
  const getEntries = store.getEntries.bind(store)
  vi.spyOn(store, 'getEntries').mockImplementation((refs) => {
    work.entries += refs.length
    return getEntries(refs)
  })
  const inclusionProofs = store.inclusionProofs.bind(store)
  vi.spyOn(store, 'inclusionProofs').mockImplementation((origin, requests) => {
    work.proofs += requests.length
    return inclusionProofs(origin, requests)
  })
  return {
    take() {
      const done = work
      work = { postings: 0, entries: 0, proofs: 0 }
      return done
    },
  }
}

describe('a long trail is answered page by page with page-sized work', () => {
  const world = useQueryWorld()

  it('reads, proves and answers the same for the first page of a 12-entry and a 400-entry trail, and for its later pages', async () => {
    const store = await world.open()
    // patient-short: 12 entries; patient-long: the same 12 and then 388 more, one append
    // each (one posting each, as the records of queries about a patient are): a trail read
    // often. Other patients' entries between them.
    for (let i = 0; i < 12; i++) {
      await world.append(store, i % 2, 100 * i, 3)
      await world.append(store, i % 2, 100 * i + 50, 1, { patientId: 'patient-short' })
      await world.append(store, i % 2, 100 * i + 60, 1, { patientId: 'patient-long' })
    }
    for (let i = 0; i < 388; i++)
      await world.append(store, 2, 10_000 + i, 1, { patientId: 'patient-long' })
    const cosigned = await world.cosign(store)
    const index = await IndexService.open(store, TEST_VRF_SECRET_KEY, {
      checkpoint: cosigned.checkpoint,
    })
    try {
      const service = new QueryService({
        node: 'hospital-a',
        store,
        checkpoints: { latest: () => cosigned },
        auth: { authenticate: () => SESSION },
        rateLimit: { perMinute: 1e9, burst: 1e9 },
        record: async () => {},
        index,
      })
      const work = counting(store)
      const ask = (patient: string, cursor?: string) =>
        service.answerAs(SESSION, {
          filter: { patient },
          limit: 10,
          via: 'http',
          ...(cursor === undefined ? {} : { cursor }),
        })

      const short = await ask('patient-short')
      const shortWork = work.take()
      const long = await ask('patient-long')
      const longWork = work.take()
      expect(short.entries).toHaveLength(10)
      expect(long.entries).toHaveLength(10)
      // The same work for the first page, whatever the length of the trail behind it.
      expect(longWork).toEqual(shortWork)
      expect(longWork.proofs).toBe(10)
      expect(longWork.entries).toBe(10) // none read past the page
      expect(longWork.postings).toBeLessThanOrEqual(12)

      // Every later page: one proof per entry answered, postings and entries read about a
      // page's worth (a chunk of postings read ahead), not the pages before it.
      const pages: QueryAnswerJson[] = [long]
      const perPage: Work[] = []
      for (let next = long.next; next !== undefined; ) {
        const page = await ask('patient-long', next)
        perPage.push(work.take())
        pages.push(page)
        next = page.next
      }
      expect(pages.reduce((n, p) => n + p.entries.length, 0)).toBe(400)
      for (const [i, w] of perPage.entries()) {
        expect(w.proofs).toBe(pages[i + 1]!.entries.length)
        expect(w.entries).toBeLessThanOrEqual(10)
        expect(w.postings).toBeLessThanOrEqual(2 * 10 + 16)
      }

      // Nothing a verifying client needs is left out: each page verifies, and the pages
      // together are the whole trail under the completeness proof each of them carries.
      const trust = world.trust({ patient: 'patient-long' })
      const checked = pages.map((answer, i) => {
        const cursor = i === 0 ? undefined : pages[i - 1]!.next
        const result = verifyQueryAnswer(answer, { ...trust, ...(cursor ? { cursor } : {}) })
        expect(result.failures).toEqual([])
        expect(answer.completeness).toBeDefined()
        return { answer, result }
      })
      const statement = checkAnswerCompleteness({
        keys: trust.keys,
        patientId: 'patient-long',
        pages: checked,
      })
      expect(statement.origins.reduce((n, o) => n + o.count, 0)).toBe(400)
      // ...and the pages without the last that holds entries are refused as incomplete.
      const held = checked.filter((p) => p.answer.entries.length > 0)
      expect(() =>
        checkAnswerCompleteness({
          keys: trust.keys,
          patientId: 'patient-long',
          pages: held.slice(0, -1),
        }),
      ).toThrow(/missing/)

      // A cursor in the middle of a posting of several seqs (one append of 4 of the
      // patient's events) still answers from the next seq on.
      await world.append(store, 2, 20_000, 4, { patientId: 'patient-batch' })
      const size = store.size('hospital-c')
      const after: Position = { origin: 'hospital-c', seq: size - 2 }
      const tail = await service.answerAs(SESSION, {
        filter: { patient: 'patient-batch' },
        cursor: encodeCursor(after),
        via: 'http',
      })
      expect(tail.entries.map((e) => decodeEntrySeq(e.bytes))).toEqual([size - 1, size])
      expect(decodeCursor(encodeCursor(after))).toEqual(after)
    } finally {
      await index.close()
    }
  }, 60_000)
})

function decodeEntrySeq(bytes: string): number {
  return (JSON.parse(Buffer.from(bytes, 'base64').toString('utf8')) as { seq: number }).seq
}
