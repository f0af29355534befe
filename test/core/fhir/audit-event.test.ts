import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { Entry } from '../../../node/core/entry.ts'
import { ACTIONS, type AuditEvent, parseEvent } from '../../../node/core/event.ts'
import {
  entryOfFhirId,
  fhirIdOfEntry,
  parseFhirAuditEvent,
  toFhirAuditEvent,
  toFhirBundle,
  validateAuditEvent,
  validateAuditEventBundle,
} from '../../../node/core/fhir/index.ts'
import { GENESIS_PREV } from '../../../node/core/layout.ts'

/** The seed row of docs/format.md. */
const seed = parseEvent({
  patientId: '9',
  patientName: 'john_cena',
  actorId: '100',
  action: 'update',
  detail: 'bill',
  resource: 'user_bills',
  time: '2023-12-08T13:04:23Z',
  notes: 'User bill was modified',
})

function entryOf(body: AuditEvent, seq = 42, origin = 'hospital-a'): Entry<AuditEvent> {
  return {
    v: 1,
    origin,
    seq,
    recorded: '2026-01-01T00:00:00.000Z',
    prev: GENESIS_PREV,
    kind: 'event',
    body,
  }
}

const DCM = 'http://dicom.nema.org/resources/ontology/DCM'
const ACTION_SYSTEM = 'https://ehrlog.example/fhir/CodeSystem/action'

describe('toFhirAuditEvent', () => {
  it('writes the seed row as this R4 AuditEvent', () => {
    expect(toFhirAuditEvent(entryOf(seed))).toEqual({
      resourceType: 'AuditEvent',
      id: 'hospital-a.42',
      extension: [
        {
          url: 'https://ehrlog.example/fhir/StructureDefinition/ehrlog-event',
          extension: [
            { url: 'entryId', valueString: 'hospital-a:42' },
            { url: 'detail', valueString: 'bill' },
            { url: 'notes', valueString: 'User bill was modified' },
          ],
        },
      ],
      type: { system: DCM, code: '110110', display: 'Patient Record' },
      subtype: [{ system: ACTION_SYSTEM, code: 'update', display: 'update' }],
      action: 'U',
      period: { start: '2023-12-08T13:04:23.000Z', end: '2023-12-08T13:04:23.000Z' },
      recorded: '2026-01-01T00:00:00.000Z',
      outcome: '0',
      agent: [{ who: { identifier: { value: '100' } }, requestor: true }],
      source: {
        observer: {
          identifier: { system: 'https://ehrlog.example/fhir/sid/node', value: 'hospital-a' },
          display: 'hospital-a',
        },
        type: [
          {
            system: 'http://terminology.hl7.org/CodeSystem/security-source-type',
            code: '4',
            display: 'Application Server',
          },
        ],
      },
      entity: [
        {
          what: { identifier: { value: '9' }, display: 'john_cena' },
          type: {
            system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type',
            code: '1',
            display: 'Person',
          },
          role: {
            system: 'http://terminology.hl7.org/CodeSystem/object-role',
            code: '1',
            display: 'Patient',
          },
        },
        {
          type: {
            system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type',
            code: '2',
            display: 'System Object',
          },
          role: {
            system: 'http://terminology.hl7.org/CodeSystem/object-role',
            code: '4',
            display: 'Domain Resource',
          },
          description: 'user_bills',
        },
      ],
    })
  })

  const cases: Array<[AuditEvent['action'], string, string, string[]]> = [
    ['create', 'C', '110110', []],
    ['read', 'R', '110110', []],
    ['update', 'U', '110110', []],
    ['delete', 'D', '110110', []],
    ['print', 'R', '110110', []],
    ['export', 'R', '110106', []],
    ['query', 'E', '110112', []],
    ['login', 'E', '110114', ['110122']],
    ['logout', 'E', '110114', ['110123']],
    ['other', 'E', '110110', []],
  ]
  it.each(cases)('maps %s to action %s, DICOM type %s', (action, code, type, dicomSubtypes) => {
    const resource = toFhirAuditEvent(entryOf({ ...seed, action }))
    expect(resource.action).toBe(code)
    expect(resource.type).toMatchObject({ system: DCM, code: type })
    expect(resource.subtype).toEqual([
      ...dicomSubtypes.map((c) => expect.objectContaining({ system: DCM, code: c })),
      { system: ACTION_SYSTEM, code: action, display: action },
    ])
  })

  it('maps failure to outcome 4 and names, resource ids and id systems where given', () => {
    const event = { ...seed, outcome: 'failure' as const, actorName: 'Dr Who', resourceId: 'b-7' }
    const resource = toFhirAuditEvent(entryOf(event), {
      patientIdSystem: 'urn:oid:1.2.3',
      actorIdSystem: 'https://ehr.example/users',
    })
    expect(resource.outcome).toBe('4')
    expect(resource.agent[0]?.who).toEqual({
      identifier: { system: 'https://ehr.example/users', value: '100' },
      display: 'Dr Who',
    })
    expect(resource.entity?.[0]?.what?.identifier).toEqual({ system: 'urn:oid:1.2.3', value: '9' })
    expect(resource.entity?.[1]?.what).toEqual({ identifier: { value: 'b-7' } })
    expect(validateAuditEvent(resource)).toEqual([])
  })

  it('leaves out an id longer than FHIR allows and keeps the entry id in the extension', () => {
    const origin = 'a'.repeat(60)
    const resource = toFhirAuditEvent(entryOf(seed, 123_456, origin))
    expect(resource.id).toBeUndefined()
    expect(resource.extension?.[0]?.extension?.[0]).toEqual({
      url: 'entryId',
      valueString: `${origin}:123456`,
    })
    expect(validateAuditEvent(resource)).toEqual([])
  })
})

describe('FHIR ids of entries', () => {
  it('turns origin:seq into origin.seq and back', () => {
    expect(fhirIdOfEntry('hospital-a', 42)).toBe('hospital-a.42')
    expect(entryOfFhirId('hospital-a.42')).toEqual({ origin: 'hospital-a', seq: 42 })
    expect(fhirIdOfEntry('a'.repeat(47), Number.MAX_SAFE_INTEGER)).toHaveLength(64)
    expect(fhirIdOfEntry('a'.repeat(48), Number.MAX_SAFE_INTEGER)).toBeUndefined()
  })

  it.each(['example-rest', 'hospital-a.0', 'hospital-a.01', 'Hospital-a.1', 'a.b.1', '.1', 'a.'])(
    'reads %s as no entry of ours',
    (id) => {
      expect(entryOfFhirId(id)).toBeUndefined()
    },
  )
})

// Event text as parseEvent leaves it: trimmed, 1..max code units, no control characters.
const text = (max: number) =>
  fc
    .string({ unit: 'grapheme', minLength: 1, maxLength: max })
    .map((s) => s.replace(/[\u0000-\u001f\u007f]/g, '').trim())
    .filter((s) => s.length > 0 && s.length <= max)
const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined })

const eventArb = fc
  .record({
    patientId: text(128),
    patientName: optional(text(200)),
    actorId: text(128),
    actorName: optional(text(200)),
    action: fc.constantFrom(...ACTIONS),
    detail: optional(text(200)),
    resource: text(128),
    resourceId: optional(text(128)),
    time: fc
      .date({ min: new Date(0), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true })
      .map((d) => d.toISOString()),
    outcome: fc.constantFrom('success' as const, 'failure' as const),
    notes: optional(text(2000)),
  })
  .map((e) => parseEvent(Object.fromEntries(Object.entries(e).filter(([, v]) => v !== undefined))))

describe('round trip', () => {
  it('gives back the same event, through JSON, from a resource that validates, for any event', () => {
    fc.assert(
      fc.property(eventArb, fc.integer({ min: 1, max: 2 ** 40 }), (event, seq) => {
        const resource = JSON.parse(JSON.stringify(toFhirAuditEvent(entryOf(event, seq))))
        expect(validateAuditEvent(resource)).toEqual([])
        expect(parseFhirAuditEvent(resource)).toEqual(event)
      }),
      { numRuns: 300 },
    )
  })
})

describe('toFhirBundle', () => {
  it('writes a collection that validates, with fullUrls under the base when given', () => {
    const entries = ACTIONS.map((action, i) => entryOf({ ...seed, action }, i + 1))
    const bundle = toFhirBundle(entries, { baseUrl: 'https://node.example/fhir' })
    expect(bundle.type).toBe('collection')
    expect(bundle.entry).toHaveLength(ACTIONS.length)
    expect(bundle.entry?.[2]?.fullUrl).toBe('https://node.example/fhir/AuditEvent/hospital-a.3')
    expect(validateAuditEventBundle(JSON.parse(JSON.stringify(bundle)))).toEqual([])
    expect(bundle.entry?.map((e) => parseFhirAuditEvent(e.resource))).toEqual(
      entries.map((e) => e.body),
    )
  })

  it('writes no entry element for no entries', () => {
    const bundle = toFhirBundle([])
    expect(bundle).toEqual({ resourceType: 'Bundle', type: 'collection' })
    expect(validateAuditEventBundle(bundle)).toEqual([])
    expect(toFhirBundle([entryOf(seed)]).entry?.[0]).not.toHaveProperty('fullUrl')
  })
})
