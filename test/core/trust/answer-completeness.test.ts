import { describe, expect, it } from 'vitest'
import { decodeEntry } from '../../../node/core/entry.ts'
import { EhrlogError } from '../../../node/core/errors.ts'
import { decodeCompletenessProof, encodeCompletenessProof } from '../../../node/core/index/index.ts'
import {
  type CheckedPage,
  checkAnswerCompleteness,
  checkNotOlder,
  completenessPatientOf,
  describeCompleteness,
  type QueryAnswerJson,
  type QueryFilter,
  verifyQueryAnswer,
} from '../../../node/core/trust/index.ts'
import { useQueryWorld } from '../../query/fixtures.ts'

/*
 * The client's completeness step against real stores, real BLS-cosigned checkpoints whose feed
 * cuts carry index roots computed by PatientIndex, and proofs made as a node makes them: the
 * accepted answer gives the statement; every way a node can leave out or slip in an entry is
 * refused with an INVALID_PROOF naming what is wrong.
 */

const P0 = { patient: 'patient-0' }

function entryOf(answer: QueryAnswerJson, i: number) {
  return decodeEntry(new Uint8Array(Buffer.from(answer.entries[i]!.bytes, 'base64'))).entry
}

/** The INVALID_PROOF error `run` throws: its reason and message. */
function refusalOf(run: () => unknown): { reason: unknown; message: string; details: object } {
  try {
    run()
  } catch (err) {
    expect(err).toBeInstanceOf(EhrlogError)
    const e = err as EhrlogError
    expect(e.code).toBe('INVALID_PROOF')
    return { reason: e.details.reason, message: e.message, details: e.details }
  }
  throw new Error('expected a refusal, got a statement')
}

describe('checkAnswerCompleteness: the patient trail, proven complete at the checkpoint cut', () => {
  const world = useQueryWorld()

  async function patientWorld() {
    const store = await world.open()
    await world.append(store, 0, 0, 21) // patient-0 at hospital-a:1, :8, :15
    await world.append(store, 1, 100, 14) // patient-0 at hospital-b:6, :13
    const checkpoint = await world.cosign(store, [0, 2])
    await world.append(store, 0, 21, 7) // patient-0 at hospital-a:22, after the checkpoint
    return { store, checkpoint }
  }

  function check(answers: unknown[], filter: QueryFilter = P0, patientId = 'patient-0') {
    const pages: CheckedPage[] = answers.map((answer) => ({
      answer,
      result: verifyQueryAnswer(answer, world.trust(filter)),
    }))
    return checkAnswerCompleteness({ keys: world.trust(filter).keys, patientId, pages })
  }

  it('an honest answer is proven complete: every origin, absence at hospital-c, one newer entry', async () => {
    const { store, checkpoint } = await patientWorld()
    const answer = await world.answer(store, checkpoint, P0)
    expect(answer.completeness?.patientId).toBe('patient-0')
    expect(verifyQueryAnswer(answer, world.trust(P0)).failures).toEqual([])
    const s = check([answer])
    expect(s.origins).toEqual([
      { origin: 'hospital-a', treeSize: 21, count: 3 },
      { origin: 'hospital-b', treeSize: 14, count: 2 },
      { origin: 'hospital-c', treeSize: 0, count: 0 },
    ])
    expect(s.newer).toEqual([{ origin: 'hospital-a', count: 1 }])
    const time = new Date(checkpoint.checkpoint.timeMs).toISOString()
    expect(describeCompleteness(s)).toEqual([
      `complete: every access to patient patient-0 recorded up to checkpoint ${time} (${s.checkpointId.slice(0, 12)}), cosigned by 2 of 3`,
      '1 newer entry signed by its origin, not yet proven complete (hospital-a: 1)',
    ])
  })

  it('pages are collected: the proof covers all of them, not any one page', async () => {
    const { store, checkpoint } = await patientWorld()
    const first = await world.answer(store, checkpoint, P0, { limit: 2 })
    const last = entryOf(first, 1)
    const second = await world.answer(store, checkpoint, P0, {
      limit: 100,
      after: { origin: last.origin, seq: last.seq },
    })
    const pages = [first, second].map((answer, i) => ({
      answer,
      result: verifyQueryAnswer(answer, {
        ...world.trust(P0),
        ...(i === 1 ? { cursor: first.next! } : {}),
      }),
    }))
    expect(pages.flatMap((p) => p.result.failures)).toEqual([])
    const keys = world.trust(P0).keys
    expect(checkAnswerCompleteness({ keys, patientId: 'patient-0', pages }).origins[0]!.count).toBe(
      3,
    )
    // The first page alone lacks hospital-a:15 and both hospital-b entries.
    const r = refusalOf(() =>
      checkAnswerCompleteness({ keys, patientId: 'patient-0', pages: pages.slice(0, 1) }),
    )
    expect(r.reason).toBe('entries-missing')
    expect(r.message).toBe("1 of patient patient-0's 3 entries at hospital-a up to 21 are missing")
  })

  it('refused: an entry dropped from the answer, naming the origin and how many', async () => {
    const { store, checkpoint } = await patientWorld()
    const answer = await world.answer(store, checkpoint, P0)
    answer.entries.splice(3, 1) // hospital-b:6 (entries are in origin, seq order; a:22 is index 3)
    expect(entryOf(answer, 3).origin).toBe('hospital-b')
    answer.entries.splice(3, 1)
    // Every entry left verifies: inclusion alone cannot see what is not there.
    expect(verifyQueryAnswer(answer, world.trust(P0)).failures).toEqual([])
    const r = refusalOf(() => check([answer]))
    expect(r.reason).toBe('entries-missing')
    expect(r.message).toBe("1 of patient patient-0's 2 entries at hospital-b up to 14 are missing")
    expect(r.details).toMatchObject({ origin: 'hospital-b', want: 2, got: 1 })
  })

  it('refused: an entry about another patient added to the answer, naming it', async () => {
    const { store, checkpoint } = await patientWorld()
    const answer = await world.answer(store, checkpoint, P0)
    const other = await world.answer(store, checkpoint, { patient: 'patient-1' })
    answer.entries.splice(1, 0, other.entries[0]!) // hospital-a:2, patient-1, a genuine entry
    // The filter check names it too; a verifier that widened its filter still gets a refusal.
    const failures = verifyQueryAnswer(answer, world.trust(P0)).failures
    expect(failures.map((f) => f.entryId)).toEqual(['hospital-a:2'])
    const r = refusalOf(() => check([answer], { kind: 'event' }))
    expect(r.reason).toBe('entry-other-patient')
    expect(r.message).toBe('entry hospital-a/2 is about patient patient-1, not patient-0')
  })

  it('refused: an answer under another patient (the proof is for patient-1 when patient-0 was asked)', async () => {
    const { store, checkpoint } = await patientWorld()
    const answer = await world.answer(store, checkpoint, { patient: 'patient-1' })
    const r = refusalOf(() => check([answer], { kind: 'event' }, 'patient-0'))
    expect(r.reason).toBe('other-patient')
    expect(r.message).toBe(
      'answered under another patient: the completeness proof is for patient patient-1, not patient-0',
    )
  })

  it("refused: a proof made for patient-1 relabelled patient-0 (the VRF proof is patient-1's)", async () => {
    const { store, checkpoint } = await patientWorld()
    const answer = await world.answer(store, checkpoint, P0)
    const forOne = await world.completenessAt(store, checkpoint, 'patient-1')
    answer.completeness = { patientId: 'patient-0', proof: forOne.proof }
    const r = refusalOf(() => check([answer]))
    expect(r.reason).toBe('vrf-invalid')
    expect(r.message).toBe(
      "the answer's index key is not patient patient-0's: its VRF proof does not verify",
    )
  })

  it('refused: "no entries at hospital-b" when the index holds a leaf there (absence claimed over a leaf)', async () => {
    const { store, checkpoint } = await patientWorld()
    const answer = await world.answer(store, checkpoint, P0)
    // Leave out both hospital-b entries and turn the membership proof into an absence claim.
    answer.entries = answer.entries.filter((_, i) => entryOf(answer, i).origin !== 'hospital-b')
    const proof = decodeCompletenessProof(Buffer.from(answer.completeness!.proof, 'base64'))
    proof.origins = proof.origins.map((o) =>
      o.origin === 'hospital-b' ? { origin: o.origin, proof: o.proof } : o,
    )
    answer.completeness!.proof = Buffer.from(encodeCompletenessProof(proof)).toString('base64')
    const r = refusalOf(() => check([answer]))
    expect(r.reason).toBe('absence-proof-invalid')
    expect(r.message).toBe(
      'the proof that patient patient-0 has no entries at hospital-b up to 14 does not verify',
    )
  })

  it('refused: a missing proof, a proof that does not decode, an answer with no checkpoint', async () => {
    const { store, checkpoint } = await patientWorld()
    const answer = await world.answer(store, checkpoint, P0)
    const proof = answer.completeness!.proof
    delete answer.completeness
    let r = refusalOf(() => check([answer]))
    expect(r.reason).toBe('proof-missing')
    expect(r.message).toBe('completeness: not proven (the node sent no proof)')
    answer.completeness = { patientId: 'patient-0', proof: proof.slice(0, 40) }
    r = refusalOf(() => check([answer]))
    expect(r.reason).toBe('proof-malformed')
    expect(r.message).toMatch(/^the completeness proof does not decode: /)
    const early = await world.answer(store, undefined, P0)
    expect(early.completeness).toBeUndefined()
    r = refusalOf(() => check([early]))
    expect(r.reason).toBe('no-checkpoint')
  })

  it('refused: an old checkpoint presented as the latest when a newer one is known, naming both times', async () => {
    const { store } = await patientWorld()
    const older = await world.cosign(store, [0, 1, 2], Date.parse('2026-01-01T10:00:00Z'))
    await world.append(store, 2, 300, 3)
    const newer = await world.cosign(store, [0, 1, 2], Date.parse('2026-01-01T11:00:00Z'))
    expect(() => checkNotOlder(undefined, older)).not.toThrow()
    expect(() => checkNotOlder(older, newer)).not.toThrow()
    expect(() => checkNotOlder(newer, newer)).not.toThrow()
    const r = refusalOf(() => checkNotOlder(newer, older))
    expect(r.reason).toBe('checkpoint-older')
    expect(r.message).toMatch(
      /^the answer's checkpoint of 2026-01-01T10:00:00.000Z \([0-9a-f]{12}\) is older than the checkpoint of 2026-01-01T11:00:00.000Z \([0-9a-f]{12}\) already verified/,
    )
  })

  it('which queries carry a proof: one patient, every event, all time (after scope)', () => {
    expect(completenessPatientOf({ patient: 'p' })).toBe('p')
    expect(completenessPatientOf({ patient: 'p', kind: 'event' })).toBe('p')
    expect(completenessPatientOf({}, { patientId: 'p' })).toBe('p')
    expect(completenessPatientOf({})).toBeUndefined()
    expect(completenessPatientOf({ patient: 'p', actor: 'dr-1' })).toBeUndefined()
    expect(
      completenessPatientOf({ patient: 'p', from: '2026-01-01T00:00:00.000Z' }),
    ).toBeUndefined()
    expect(completenessPatientOf({ patient: 'p', kind: 'all' })).toBeUndefined()
    expect(completenessPatientOf({ patient: 'q' }, { patientId: 'p' })).toBeUndefined()
  })
})
