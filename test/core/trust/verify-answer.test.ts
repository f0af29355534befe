import { describe, expect, it } from 'vitest'
import { canonicalJson } from '../../../node/core/canonical-json.ts'
import type { CosignedCheckpoint } from '../../../node/core/checkpoint.ts'
import { decodeEntry } from '../../../node/core/entry.ts'
import {
  crossCheckAnswers,
  decodeCursor,
  encodeCursor,
  parseQueryFilter,
  type QueryAnswerJson,
  verifyQueryAnswer,
} from '../../../node/core/trust/index.ts'
import { useQueryWorld } from '../../query/fixtures.ts'

const P0 = { patient: 'patient-0' }

function cosignedSignatureOf(c: CosignedCheckpoint): string {
  return Buffer.from(c.signature).toString('hex')
}

function entryBody(answer: QueryAnswerJson, i: number) {
  return decodeEntry(new Uint8Array(Buffer.from(answer.entries[i]!.bytes, 'base64'))).entry
}

function rewrite(answer: QueryAnswerJson, i: number, change: (e: Record<string, unknown>) => void) {
  const entry = entryBody(answer, i) as unknown as Record<string, unknown>
  change(entry)
  answer.entries[i]!.bytes = Buffer.from(canonicalJson(entry)).toString('base64')
}

describe('query answers: built by a node, verified by the client alone', () => {
  const world = useQueryWorld()

  async function patientWorld() {
    const store = await world.open()
    await world.append(store, 0, 0, 21) // patient-0 at hospital-a:1, :8, :15
    await world.append(store, 1, 100, 14) // patient-0 at hospital-b:6, :13
    const checkpoint = await world.cosign(store)
    await world.append(store, 0, 21, 7) // patient-0 at hospital-a:22, after the checkpoint
    return { store, checkpoint }
  }

  it('an honest answer verifies: cosigned up to the cut, signed-not-cosigned after it', async () => {
    const { store, checkpoint } = await patientWorld()
    const answer = await world.answer(store, checkpoint, P0)
    const result = verifyQueryAnswer(answer, world.trust(P0))
    expect(result.failures).toEqual([])
    expect(result.verified.map((v) => `${v.id} ${v.integrity}`)).toEqual([
      'hospital-a:1 cosigned',
      'hospital-a:8 cosigned',
      'hospital-a:15 cosigned',
      'hospital-a:22 signed',
      'hospital-b:6 cosigned',
      'hospital-b:13 cosigned',
    ])
    expect(result.cosignedBy).toMatchObject({ count: 3, of: 3 })
    expect(answer.heads).toHaveLength(1) // one head for the entry past the cut, with consistency
    expect(answer.heads[0]!.consistency.length).toBeGreaterThan(0)
  })

  it('names an altered, an invented and a moved entry, and a wrong proof', async () => {
    const { store, checkpoint } = await patientWorld()
    const answer = await world.answer(store, checkpoint, P0)
    rewrite(answer, 0, (e) => {
      ;(e.body as Record<string, unknown>).notes = 'nothing to see here'
    })
    rewrite(answer, 1, (e) => {
      e.recorded = '2020-01-01T00:00:00.000Z'
    })
    answer.entries[4]!.treeSize -= 1
    answer.entries[5]!.proof[0] = '00'.repeat(32)
    const invented = entryBody(answer, 2) as unknown as Record<string, unknown>
    invented.seq = 16
    answer.entries.splice(3, 0, {
      bytes: Buffer.from(canonicalJson(invented)).toString('base64'),
      treeSize: answer.entries[2]!.treeSize,
      proof: answer.entries[2]!.proof,
    })
    const result = verifyQueryAnswer(answer, world.trust(P0))
    expect(result.verified.map((v) => v.id)).toEqual(['hospital-a:15', 'hospital-a:22'])
    expect(result.failures.map((f) => f.entryId)).toEqual([
      'hospital-a:1',
      'hospital-a:8',
      'hospital-a:16',
      'hospital-b:6',
      'hospital-b:13',
    ])
    expect(result.failures[0]!.reason).toMatch(/inclusion proof .* gives root/)
    expect(result.failures[3]!.reason).toMatch(/no signed head of hospital-b at tree size 13/)
  })

  it('names entries outside the filter or the scope, out of order, or repeated', async () => {
    const { store, checkpoint } = await patientWorld()
    const honest = await world.answer(store, checkpoint, P0)
    const other = await world.answer(store, checkpoint, { patient: 'patient-1' })
    const answer = { ...honest, entries: [...honest.entries] }
    answer.entries.splice(1, 0, other.entries[0]!) // hospital-a:2, about patient-1, proof valid
    answer.entries.push(honest.entries[0]!) // a repeat, out of order
    const result = verifyQueryAnswer(answer, world.trust(P0))
    expect(result.failures.map((f) => [f.entryId, f.reason])).toEqual([
      ['hospital-a:2', 'has another patientId than the filter'],
      ['hospital-a:1', 'is out of (origin, seq) order, repeated, or before the cursor'],
    ])
    const scoped = verifyQueryAnswer(other, world.trust({}, { patientId: 'patient-0' }))
    expect(scoped.verified).toEqual([])
    expect(scoped.failures[0]!.reason).toBe("is about another patient than the session's")
  })

  it('a checkpoint without a quorum, or from another network, fails and takes the cut proofs with it', async () => {
    const { store } = await patientWorld()
    const weak = await world.cosign(store, [1]) // one of three: below quorum
    const answer = await world.answer(store, weak, P0)
    const result = verifyQueryAnswer(answer, world.trust(P0))
    expect(result.cosignedBy).toBeUndefined()
    expect(result.failures[0]).toMatchObject({ entryId: 'checkpoint' })
    expect(result.failures[0]!.reason).toMatch(/1 cosigners, the quorum is 2 of 3/)
    expect(result.verified).toEqual([])
    const bent = await world.answer(store, await world.cosign(store), P0)
    bent.checkpoint!.checkpoint.networkId = '11'.repeat(32)
    expect(verifyQueryAnswer(bent, world.trust(P0)).failures[0]!.reason).toMatch(/not this one/)
  })

  it('catches a forked feed: an origin that signed another history than the one cosigned', async () => {
    const { store, checkpoint } = await patientWorld()
    const fork = await world.open()
    await world.append(fork, 0, 1000, 30) // same origin key, other entries
    await world.append(fork, 1, 100, 14)
    const answer = await world.answer(fork, checkpoint, {})
    const result = verifyQueryAnswer(answer, world.trust({}))
    const a = result.failures.filter((f) => f.entryId.startsWith('hospital-a:'))
    expect(a).toHaveLength(30)
    expect(a[0]!.reason).toMatch(/inclusion proof|does not extend the cosigned checkpoint/)
    expect(a.at(-1)!.reason).toMatch(/does not extend the cosigned checkpoint/)
    expect(result.verified.every((v) => v.entry.entry.origin === 'hospital-b')).toBe(true)
    expect(store.size('hospital-a')).toBe(28)
  })

  it('a checkpoint verified once is not verified again, but a changed signature is', async () => {
    const { store, checkpoint } = await patientWorld()
    const answer = await world.answer(store, checkpoint, P0)
    const verifiedCheckpoints = new Map<string, number[]>()
    const trust = { ...world.trust(P0), verifiedCheckpoints }
    expect(verifyQueryAnswer(answer, trust).failures).toEqual([])
    expect(verifiedCheckpoints.size).toBe(1)
    expect(verifyQueryAnswer(answer, trust).verified).toHaveLength(6)
    const other = await world.cosign(store, [0, 2], checkpoint.checkpoint.timeMs)
    answer.checkpoint!.signature = cosignedSignatureOf(other)
    expect(verifyQueryAnswer(answer, trust).failures[0]).toMatchObject({ entryId: 'checkpoint' })
    expect(verifiedCheckpoints.size).toBe(1)
  })

  it('forged head signatures fail the entries proven by them', async () => {
    const { store, checkpoint } = await patientWorld()
    const answer = await world.answer(store, checkpoint, P0)
    // The last byte changed whatever it was (a fixed "00" left 1 signature in 256 intact).
    const signature = answer.heads[0]!.signature
    const last = (Number.parseInt(signature.slice(-2), 16) ^ 0xff).toString(16).padStart(2, '0')
    answer.heads[0]!.signature = `${signature.slice(0, -2)}${last}`
    const result = verifyQueryAnswer(answer, world.trust(P0))
    expect(result.failures.map((f) => [f.entryId, f.reason])).toEqual([
      ['hospital-a:22', 'the head of hospital-a at tree size 28 is not signed by hospital-a'],
    ])
  })

  it('pages in (origin, seq) order with a cursor; the pages add up to the whole answer', async () => {
    const { store, checkpoint } = await patientWorld()
    const first = await world.answer(store, checkpoint, P0, { limit: 4 })
    expect(first.through).toBe('hospital-a:22')
    const after = decodeCursor(first.next!)
    const second = await world.answer(store, checkpoint, P0, { after })
    expect(second.next).toBeUndefined()
    const ids = [first, second].flatMap(
      (a, i) =>
        verifyQueryAnswer(a, world.trust(P0, {}, i === 1 ? first.next : undefined)).verified,
    )
    expect(ids.map((v) => v.id)).toEqual([
      'hospital-a:1',
      'hospital-a:8',
      'hospital-a:15',
      'hospital-a:22',
      'hospital-b:6',
      'hospital-b:13',
    ])
    // A page that repeats what came before the cursor is caught.
    const replay = verifyQueryAnswer(first, world.trust(P0, {}, encodeCursor(after)))
    expect(replay.verified).toEqual([])
  })

  it('cross-check: an entry one node left out is "dropped by" it, but only where both answers are complete', async () => {
    const { store, checkpoint } = await patientWorld()
    const full = await world.answer(store, checkpoint, P0)
    const dropped = await world.answer(store, checkpoint, P0)
    dropped.entries.splice(4, 1) // hospital-b:6, covered by the checkpoint
    dropped.entries.splice(3, 1) // hospital-a:22, past the checkpoint: not comparable
    const a = { node: 'hospital-a', result: verifyQueryAnswer(full, world.trust(P0)) }
    const b = { node: 'hospital-b', result: verifyQueryAnswer(dropped, world.trust(P0)) }
    expect(b.result.failures).toEqual([]) // every entry it did send verifies
    expect(crossCheckAnswers(a, b).map((f) => [f.entryId, f.reason])).toEqual([
      [
        'hospital-b:6',
        "dropped by hospital-b: hospital-a returned it, and both nodes' cosigned checkpoints cover it",
      ],
    ])
    // An older checkpoint covers less: what only the newer one covers is not compared.
    const early = await world.open()
    await world.append(early, 0, 0, 21)
    const older = await world.answer(early, await world.cosign(early, [0, 1, 2], 1), P0)
    const c = { node: 'hospital-c', result: verifyQueryAnswer(older, world.trust(P0)) }
    expect(c.result.failures).toEqual([])
    expect(crossCheckAnswers(a, c)).toEqual([])
    // A page that ends early is compared only up to its end.
    const page = await world.answer(store, checkpoint, P0, { limit: 2 })
    const d = { node: 'hospital-d', result: verifyQueryAnswer(page, world.trust(P0)) }
    expect(crossCheckAnswers(a, d)).toEqual([])
  })

  it('filters are checked at the edge and times normalized', () => {
    expect(parseQueryFilter({ from: '2023-12-04T19:00+01:00', action: 'read' })).toEqual({
      from: '2023-12-04T18:00:00.000Z',
      action: 'read',
    })
    const code = (input: unknown) => {
      try {
        parseQueryFilter(input)
      } catch (err) {
        return (err as { details: { field: string } }).details.field
      }
    }
    expect(code({ patientId: 'x' })).toBe('patientId')
    expect(code({ action: 'peek' })).toBe('action')
    expect(code({ from: '2023-12-05T00:00Z', to: '2023-12-04T00:00Z' })).toBe('to')
    expect(code({ actor: ['a', 'b'] })).toBe('actor')
    expect(code({ patient: 'x'.repeat(129) })).toBe('patient')
    expect(() => decodeCursor('not a cursor!')).toThrow(/cursor/)
  })
})
