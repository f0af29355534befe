import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isEhrlogError } from '../../../node/core/errors.ts'
import {
  type AnsweredEntry,
  type CompletenessProof,
  decodeCompletenessProof,
  encodeCompletenessProof,
  type IndexCut,
  PatientIndex,
  verifyCompleteness,
} from '../../../node/core/index/index.ts'

const ORIGINS = ['hospital-a', 'hospital-b', 'hospital-c']
const VRF_KEY = new Uint8Array(32).fill(42)

/** A network's feeds: per origin, the patient id of each entry (undefined: not an event). */
type Feeds = Map<string, (string | undefined)[]>

function sampleFeeds(): Feeds {
  // Patient 9 has entries at a and b, none at c; the others are spread around.
  return new Map([
    ['hospital-a', ['9', '10', undefined, '9', '11', '9']],
    ['hospital-b', ['12', '9', '10']],
    ['hospital-c', ['10', '11', undefined]],
  ])
}

function indexOf(feeds: Feeds): PatientIndex {
  const index = new PatientIndex(VRF_KEY)
  for (const [origin, patients] of feeds) {
    patients.forEach((p, i) => {
      index.applyEntry(origin, i + 1, p)
    })
  }
  return index
}

function cutOf(index: PatientIndex, origins = ORIGINS): Map<string, IndexCut> {
  return new Map(
    origins.map((o) => [o, { treeSize: index.treeSize(o), indexRoot: index.indexRoot(o) }]),
  )
}

/** The honest answer: every event about `patientId`. */
function entriesOf(feeds: Feeds, patientId: string): AnsweredEntry[] {
  return [...feeds].flatMap(([origin, patients]) =>
    patients.flatMap((p, i) => (p === patientId ? [{ origin, seq: i + 1, patientId }] : [])),
  )
}

function refusal(fn: () => unknown): { reason: unknown; origin: unknown } | undefined {
  try {
    fn()
    return undefined
  } catch (err) {
    if (!isEhrlogError(err, 'INVALID_PROOF')) throw err
    return { reason: err.details.reason, origin: err.details.origin }
  }
}

describe('verifyCompleteness', () => {
  const feeds = sampleFeeds()
  const index = indexOf(feeds)
  const cut = cutOf(index)
  const vrfPublicKey = index.vrfPublicKey
  const check = (patientId: string, proof: CompletenessProof, entries: AnsweredEntry[]) =>
    refusal(() => verifyCompleteness({ vrfPublicKey, patientId, cut, proof, entries }))

  it('accepts the honest answer, through its bytes too, and says what it covers', () => {
    const proof = decodeCompletenessProof(encodeCompletenessProof(index.prove('9', ORIGINS)))
    const result = verifyCompleteness({
      vrfPublicKey,
      patientId: '9',
      cut,
      proof,
      entries: entriesOf(feeds, '9'),
    })
    expect(result.origins).toEqual([
      { origin: 'hospital-a', treeSize: 6, count: 3 },
      { origin: 'hospital-b', treeSize: 3, count: 1 },
      { origin: 'hospital-c', treeSize: 3, count: 0 },
    ])
  })

  it('accepts "no entries anywhere" for a patient with none', () => {
    expect(check('404', index.prove('404', ORIGINS), [])).toBeUndefined()
  })

  it('refuses an answer with an entry dropped', () => {
    const entries = entriesOf(feeds, '9').filter((e) => !(e.origin === 'hospital-a' && e.seq === 4))
    expect(check('9', index.prove('9', ORIGINS), entries)).toEqual({
      reason: 'entries-missing',
      origin: 'hospital-a',
    })
  })

  it("refuses an entry of another patient, whether labelled as that patient's or as P's", () => {
    const proof = index.prove('9', ORIGINS)
    const other = { origin: 'hospital-b', seq: 1, patientId: '12' }
    expect(check('9', proof, [...entriesOf(feeds, '9'), other])).toEqual({
      reason: 'entry-other-patient',
      origin: 'hospital-b',
    })
    // Relabelled (the caller checks each entry's event, but say it did not): the count is off.
    const relabelled = { ...other, patientId: '9' }
    expect(check('9', proof, [...entriesOf(feeds, '9'), relabelled])).toEqual({
      reason: 'entries-extra',
      origin: 'hospital-b',
    })
  })

  it('refuses a swapped entry: same count, other seqs', () => {
    const entries = entriesOf(feeds, '9').map((e) =>
      e.origin === 'hospital-a' && e.seq === 6 ? { ...e, seq: 5 } : e,
    )
    expect(check('9', index.prove('9', ORIGINS), entries)).toEqual({
      reason: 'entries-differ',
      origin: 'hospital-a',
    })
  })

  it("refuses an answer under another patient's key", () => {
    // Patient 10's complete answer and proof, presented as patient 9's.
    const proof10 = index.prove('10', ORIGINS)
    const as9 = entriesOf(feeds, '10').map((e) => ({ ...e, patientId: '9' }))
    expect(check('9', proof10, as9)?.reason).toBe('vrf-invalid')
    // 9's VRF proof with 10's tree proofs: the key of 9 is not where 10's leaves are.
    const mixed = { vrfProof: index.prove('9', ORIGINS).vrfProof, origins: proof10.origins }
    expect(check('9', mixed, as9)?.reason).toBe('index-proof-invalid')
  })

  it('refuses "no entries" at an origin where the patient has some', () => {
    const honest = index.prove('9', ORIGINS)
    // The proof a lying node would send: patient 404's absence path, and no opening for 9.
    const absent = index.prove('404', ORIGINS)
    const lie: CompletenessProof = {
      vrfProof: honest.vrfProof,
      origins: honest.origins.map((p, i) =>
        p.origin === 'hospital-b' ? { origin: p.origin, proof: absent.origins[i]!.proof } : p,
      ),
    }
    const entries = entriesOf(feeds, '9').filter((e) => e.origin !== 'hospital-b')
    expect(check('9', lie, entries)).toEqual({
      reason: 'absence-proof-invalid',
      origin: 'hospital-b',
    })
    // Dropping the leaf's opening but keeping its path fails the same way.
    const noOpening: CompletenessProof = {
      vrfProof: honest.vrfProof,
      origins: honest.origins.map((p) =>
        p.origin === 'hospital-b' ? { origin: p.origin, proof: p.proof } : p,
      ),
    }
    expect(check('9', noOpening, entries)?.reason).toBe('absence-proof-invalid')
  })

  it('refuses a proof leaving an origin out, entries after the cut, and duplicates', () => {
    const proof = index.prove('9', ORIGINS)
    const short = { ...proof, origins: proof.origins.filter((p) => p.origin !== 'hospital-c') }
    expect(check('9', short, entriesOf(feeds, '9'))).toEqual({
      reason: 'origin-missing',
      origin: 'hospital-c',
    })
    const late = [...entriesOf(feeds, '9'), { origin: 'hospital-a', seq: 7, patientId: '9' }]
    expect(check('9', proof, late)?.reason).toBe('entry-after-cut')
    const twice = [...entriesOf(feeds, '9'), entriesOf(feeds, '9')[0]!]
    expect(check('9', proof, twice)?.reason).toBe('entry-duplicate')
  })

  it('refuses a proof against an older cut: the insider deleted a posting and rebuilt', () => {
    // The node's index lacks entry a/6 (patient 9): its root differs from the cosigned one.
    const damaged = sampleFeeds()
    damaged.get('hospital-a')![5] = undefined
    const lying = indexOf(damaged)
    const entries = entriesOf(damaged, '9')
    expect(check('9', lying.prove('9', ORIGINS), entries)).toEqual({
      reason: 'index-proof-invalid',
      origin: 'hospital-a',
    })
  })
})

describe('PatientIndex', () => {
  it('is a deterministic function of the feeds: same roots for any interleaving of origins', () => {
    const feed = fc.array(
      fc.option(fc.constantFrom('1', '2', '3', '4', '5', '6'), { nil: undefined }),
      {
        maxLength: 25,
      },
    )
    fc.assert(
      fc.property(
        fc.tuple(feed, feed),
        fc.array(fc.boolean(), { maxLength: 60 }),
        ([a, b], order) => {
          const sequential = indexOf(
            new Map([
              ['hospital-a', a],
              ['hospital-b', b],
            ]),
          )
          const mixed = new PatientIndex(VRF_KEY)
          let i = 0
          let j = 0
          for (const takeA of order) {
            if (takeA && i < a.length) mixed.applyEntry('hospital-a', i + 1, a[i++])
            else if (j < b.length) mixed.applyEntry('hospital-b', j + 1, b[j++])
          }
          while (i < a.length) mixed.applyEntry('hospital-a', i + 1, a[i++])
          while (j < b.length) mixed.applyEntry('hospital-b', j + 1, b[j++])
          for (const o of ['hospital-a', 'hospital-b']) {
            expect(mixed.indexRoot(o)).toEqual(sequential.indexRoot(o))
          }
          // And every patient's honest answer verifies.
          const feeds: Feeds = new Map([
            ['hospital-a', a],
            ['hospital-b', b],
          ])
          const cut = cutOf(sequential, ['hospital-a', 'hospital-b'])
          for (const p of ['1', '2', '6']) {
            verifyCompleteness({
              vrfPublicKey: sequential.vrfPublicKey,
              patientId: p,
              cut,
              proof: sequential.prove(p, ['hospital-a', 'hospital-b']),
              entries: entriesOf(feeds, p),
            })
          }
        },
      ),
      { numRuns: 25 },
    )
  })

  it('refuses entries out of order or twice (SEQ_MISMATCH), changing nothing', () => {
    const index = indexOf(sampleFeeds())
    const before = index.indexRoot('hospital-a')
    for (const seq of [6, 8, 0]) {
      expect(() => index.applyEntry('hospital-a', seq, '9')).toThrow(
        expect.objectContaining({ code: 'SEQ_MISMATCH' }),
      )
    }
    expect(index.indexRoot('hospital-a')).toEqual(before)
    expect(index.treeSize('hospital-a')).toBe(6)
  })
})

describe('completeness proof bytes', () => {
  const index = indexOf(sampleFeeds())
  const bytes = encodeCompletenessProof(index.prove('9', ORIGINS))
  const code = (b: Uint8Array) => {
    try {
      decodeCompletenessProof(b)
      return 'accepted'
    } catch (err) {
      return isEhrlogError(err) ? err.code : 'other'
    }
  }

  it('round-trip, and are refused (MESSAGE_INVALID) cut, extended, unsorted or mislabelled', () => {
    expect(encodeCompletenessProof(decodeCompletenessProof(bytes))).toEqual(bytes)
    expect(code(bytes.subarray(0, bytes.length - 1))).toBe('MESSAGE_INVALID')
    expect(code(new Uint8Array([...bytes, 0]))).toBe('MESSAGE_INVALID')
    expect(code(bytes.subarray(0, 50))).toBe('MESSAGE_INVALID')
    const proof = index.prove('9', ORIGINS)
    const unsorted = { ...proof, origins: [...proof.origins].reverse() }
    expect(code(encodeCompletenessProof(unsorted))).toBe('MESSAGE_INVALID')
    const badFlag = bytes.slice()
    badFlag[80 + 2 + 1 + 'hospital-a'.length] = 7
    expect(code(badFlag)).toBe('MESSAGE_INVALID')
  })
})
