import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  ALERT_BODY_LIMITS,
  alertBodyOf,
  alertBodySchema,
  INCIDENT_KINDS,
  incidentId,
  normalizeIncident,
  subjectOf,
} from '../../node/alerts/index.ts'
import { canonicalJson } from '../../node/core/canonical-json.ts'
import { isEhrlogError } from '../../node/core/errors.ts'
import { makeIncident } from './fixtures.ts'

describe('incidentId', () => {
  it('is SHA-256 of the tag, a zero byte and the RFC 8785 JSON of kind, origin, sorted ids', () => {
    const expected = createHash('sha256')
      .update(
        'ehrlog/alert-incident/v1\u0000{"entryIds":["a:3","a:4"],"kind":"modified","origin":"a"}',
      )
      .digest('hex')
    expect(incidentId(makeIncident('modified'))).toBe(expected)
  })

  it('is the same for the same incident seen again: order, duplicates, time, node, evidence', () => {
    const first = makeIncident('modified')
    const again = makeIncident('modified', {
      entryIds: ['a:3', 'a:4', 'a:3'],
      reportingNode: 'c',
      detectedAt: '2024-06-01T00:00:00.000Z',
      summary: 'seen at the next scrub',
      evidence: { other: true },
      repaired: { from: 'c', entryIds: ['a:3', 'a:4'] },
    })
    expect(incidentId(again)).toBe(incidentId(first))
  })

  it('differs by kind, origin, entries and key', () => {
    const base = incidentId(makeIncident('diverged'))
    expect(incidentId(makeIncident('equivocation'))).not.toBe(base)
    expect(incidentId(makeIncident('diverged', { origin: 'c' }))).not.toBe(base)
    expect(incidentId(makeIncident('diverged', { entryIds: ['a:3'] }))).not.toBe(base)
    expect(incidentId(makeIncident('diverged', { key: 'tree-size-11' }))).not.toBe(base)
    // An optional key on modified tells a second tampering of the same entries apart.
    expect(incidentId(makeIncident('modified', { key: 'value-hash-1' }))).not.toBe(
      incidentId(makeIncident('modified')),
    )
  })
})

describe('subjects', () => {
  it.each([
    [
      'modified',
      '[Unauthorized Log Modifications] 2 entries of a modified in the replica on b (seq 3-4)',
    ],
    [
      'deleted',
      '[Unauthorized Log Deletions] 2 entries of a missing from the replica on b (seq 3-4)',
    ],
    ['diverged', '[Replica Divergence] replicas of a disagree, seen by b (seq 3-4)'],
    ['index-diverged', '[Index Divergence] the per-patient index of a disagrees, seen by b'],
    ['equivocation', '[Equivocation] a signed two different versions of its log (seq 3-4)'],
    ['invalid-checkpoint', '[Invalid Checkpoint] checkpoint for a refused by b'],
    [
      'quorum-degraded',
      '[Network Degraded] b: Entries a:3 and a:4 of a fail verification in the replica on b (quorum-degraded).',
    ],
    [
      'quorum-recovered',
      '[Network Recovered] b: Entries a:3 and a:4 of a fail verification in the replica on b (quorum-recovered).',
    ],
    [
      'rotated-out-key',
      '[Rotated-Out Key Used] a retired key of a signed its log, refused by b (seq 3-4)',
    ],
  ] as const)('%s → %s', (kind, subject) => {
    expect(subjectOf(normalizeIncident(makeIncident(kind)))).toBe(subject)
  })

  it('covers every kind', () => {
    expect(INCIDENT_KINDS).toHaveLength(9)
  })
})

describe('alert body', () => {
  it('holds ids, range, time and summary only, and passes alertBodySchema', () => {
    const incident = normalizeIncident(
      makeIncident('modified', {
        evidence: { patientName: 'Anish', patientId: 'patient-1', notes: 'prescription' },
        repaired: { from: 'c', entryIds: ['a:3', 'a:4'] },
      }),
    )
    const body = alertBodyOf(incident, incidentId(incident))
    expect(body).toEqual({
      incidentId: incidentId(incident),
      kind: 'modified',
      origin: 'a',
      entryIds: ['a:3', 'a:4'],
      entryCount: 2,
      seqFrom: 3,
      seqTo: 4,
      detectedAt: '2024-05-01T10:00:00.000Z',
      summary: incident.summary,
      repairedFrom: 'c',
    })
    expect(alertBodySchema.parse(body)).toEqual(body)
    // The evidence (here with patient data) never reaches the replicated feed.
    expect(JSON.stringify(body)).not.toMatch(/Anish|patient|prescription/)
    // Entry bodies must be canonicalizable: no floats.
    expect(() => canonicalJson(body)).not.toThrow()
  })

  it('caps entry ids and counts them all', () => {
    const ids = Array.from({ length: 250 }, (_, i) => `a:${i + 1}`)
    const incident = normalizeIncident(makeIncident('deleted', { entryIds: ids }))
    const body = alertBodyOf(incident, incidentId(incident))
    expect(body.entryIds).toHaveLength(ALERT_BODY_LIMITS.entryIds)
    expect(body.entryIds.at(-1)).toBe('a:100')
    expect(body.entryCount).toBe(250)
    expect(body).toMatchObject({ seqFrom: 1, seqTo: 250 })
  })

  it('refuses patient fields, unknown kinds and malformed ids', () => {
    const body = alertBodyOf(normalizeIncident(makeIncident()), 'ab'.repeat(32))
    expect(alertBodySchema.safeParse({ ...body, patientName: 'Anish' }).success).toBe(false)
    expect(alertBodySchema.safeParse({ ...body, kind: 'inserted' }).success).toBe(false)
    expect(alertBodySchema.safeParse({ ...body, entryIds: ['a:03'] }).success).toBe(false)
    expect(alertBodySchema.safeParse({ ...body, entryCount: 1 }).success).toBe(false)
    expect(alertBodySchema.safeParse({ ...body, seqFrom: 5, seqTo: 4 }).success).toBe(false)
    expect(alertBodySchema.safeParse({ ...body, detectedAt: '2024-05-01' }).success).toBe(false)
  })

  it('keeps the summary on one line and within the limit', () => {
    const long = `line one\nline two ${'x'.repeat(600)}`
    const incident = normalizeIncident(makeIncident('modified', { summary: long }))
    expect(incident.summary.startsWith('line one line two')).toBe(true)
    const body = alertBodyOf(incident, incidentId(incident))
    expect(body.summary).toHaveLength(ALERT_BODY_LIMITS.summaryLength)
  })

  it('keeps the summary I-JSON: lone surrogates and noncharacters become U+FFFD, a cut keeps pairs whole', () => {
    const odd = normalizeIncident(
      makeIncident('modified', { summary: 'peer said \uD800 and \uFFFE, kept 𝒜' }),
    )
    expect(odd.summary).toBe('peer said \uFFFD and \uFFFD, kept 𝒜')
    expect(() => alertBodyOf(odd, incidentId(odd))).not.toThrow()
    // The cut at the limit falls between the two halves of 𝒜 (U+1D49C).
    const cut = `${'x'.repeat(ALERT_BODY_LIMITS.summaryLength - 2)}𝒜 and more`
    const incident = normalizeIncident(makeIncident('modified', { summary: cut }))
    const body = alertBodyOf(incident, incidentId(incident))
    expect(body.summary).toBe(`${'x'.repeat(ALERT_BODY_LIMITS.summaryLength - 2)}\u2026`)
  })
})

describe('normalizeIncident', () => {
  it('rejects what cannot be fixed with ARGUMENT_INVALID naming the field', () => {
    const cases = [
      [makeIncident('modified', { detectedAt: 'yesterday' }), 'detectedAt'],
      [makeIncident('modified', { reportingNode: 'Not A Node' }), 'reportingNode'],
      [makeIncident('modified', { origin: 'A!' }), 'origin'],
      [makeIncident('modified', { entryIds: ['nonsense'] }), 'entryIds.0'],
      [makeIncident('modified', { summary: ' \n ' }), 'summary'],
    ] as const
    for (const [incident, field] of cases) {
      let caught: unknown
      try {
        normalizeIncident(incident)
      } catch (err) {
        caught = err
      }
      expect(isEhrlogError(caught, 'ARGUMENT_INVALID'), field).toBe(true)
      expect((caught as { details: { field: string } }).details.field).toBe(field)
    }
  })

  it('sorts ids by origin and numeric seq, and normalizes the time', () => {
    const incident = normalizeIncident(
      makeIncident('deleted', {
        entryIds: ['a:10', 'a:9', 'a:10'],
        detectedAt: '2024-05-01T12:00:00+02:00',
      }),
    )
    expect(incident.entryIds).toEqual(['a:9', 'a:10'])
    expect(incident.detectedAt).toBe('2024-05-01T10:00:00.000Z')
  })
})
