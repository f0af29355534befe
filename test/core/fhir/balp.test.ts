import { describe, expect, it } from 'vitest'
import type { Entry } from '../../../node/core/entry.ts'
import { type AuditEvent, parseEvent } from '../../../node/core/event.ts'
import {
  BALP_PROFILES,
  balpProfileOf,
  parseFhirAuditEvent,
  toBalpAuditEvent,
  toFhirAuditEvent,
  toFhirBundle,
  validateAuditEvent,
  validateAuditEventBundle,
} from '../../../node/core/fhir/index.ts'
import { GENESIS_PREV } from '../../../node/core/layout.ts'
import { balpPatientReadServer } from './balp-examples.ts'
import { BALP_RULES, balpProblems } from './balp-profiles.ts'

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T

describe('BALP PatientRead input (IHE example ex-auditBasicReadServer)', () => {
  it('is a valid R4 AuditEvent', () => {
    expect(validateAuditEvent(balpPatientReadServer)).toEqual([])
  })

  it('is read as one read of the patient, when its requesting user carries an id', () => {
    const r = clone(balpPatientReadServer)
    // The example's user is a display name only (from an OAuth token); with an identifier
    // (as the comprehensive OAuth example has) it is an ehrlog actor.
    ;(r.agent[2]!.who as Record<string, unknown>).identifier = { value: 'jsmith' }
    expect(parseFhirAuditEvent(r)).toMatchObject({
      patientId: 'ex-patient',
      actorId: 'jsmith',
      actorName: 'John Smith',
      action: 'read',
      resource: 'List',
      resourceId: 'ex-list',
      time: '2020-04-29T09:49:00.000Z',
      outcome: 'success',
    })
  })

  it('is refused as it stands: its requesting user has no id, and ehrlog records who', () => {
    expect(() => parseFhirAuditEvent(balpPatientReadServer)).toThrow(
      expect.objectContaining({
        code: 'EVENT_INVALID',
        details: expect.objectContaining({ field: 'AuditEvent.agent[2].who' }),
      }),
    )
  })
})

describe('the BALP profile checker these tests use', () => {
  it('passes the published PatientRead example and names what a broken one lacks', () => {
    expect(balpProblems('PatientRead', balpPatientReadServer)).toEqual([])
    const r = clone(balpPatientReadServer)
    r.entity = r.entity.filter((e) => e.role?.code !== '1')
    r.outcome = '4'
    expect(balpProblems('PatientRead', r)).toEqual([
      'outcome is 0 (success)',
      'entity:patient 1..1',
      'entity:patient.what 1..1, a Reference(Patient)',
    ])
  })
})

/** The seed row of docs/format.md, as an entry. */
const seed = parseEvent({
  patientId: '9',
  patientName: 'john_cena',
  actorId: '100',
  actorName: 'Dr. Jones',
  action: 'update',
  detail: 'bill',
  resource: 'user_bills',
  resourceId: 'bill-7',
  time: '2023-12-08T13:04:23Z',
  notes: 'User bill was modified',
})

function entryOf(fields: Partial<AuditEvent>, seq = 42): Entry<AuditEvent> {
  return {
    v: 1,
    origin: 'hospital-a',
    seq,
    recorded: '2026-01-01T00:00:00.000Z',
    prev: GENESIS_PREV,
    kind: 'event',
    body: parseEvent({ ...seed, ...fields }),
  }
}

const asJson = (r: unknown): Record<string, unknown> => JSON.parse(JSON.stringify(r))

describe('toBalpAuditEvent: BALP profiles where a pattern describes the event', () => {
  const cases: Array<[string, Partial<AuditEvent>]> = [
    ['PatientCreate', { action: 'create' }],
    ['PatientRead', { action: 'read' }],
    ['PatientUpdate', { action: 'update' }],
    ['PatientDelete', { action: 'delete' }],
    ['PatientQuery', { action: 'query', resourceId: undefined }],
    // ehrlog's own record of a search of the audit log (QueryService), about one patient
    [
      'PatientQuery',
      {
        action: 'query',
        resource: 'audit_log',
        resourceId: undefined,
        actorId: 'auditor@hospital-a',
        notes: 'via http, filter {"patient":"9"}',
      },
    ],
    // ... and not about one patient (patient '*': an auditor's search across patients)
    [
      'Query',
      {
        action: 'query',
        patientId: '*',
        patientName: undefined,
        resource: 'audit_log',
        resourceId: undefined,
        notes: 'via http, filter {"action":"read"}',
      },
    ],
  ]

  it.each(cases)('%s: meets the profile, is valid R4, names it in meta.profile', (name, fields) => {
    const resource = asJson(toBalpAuditEvent(entryOf(fields)))
    expect(validateAuditEvent(resource)).toEqual([])
    expect(balpProblems(name, resource)).toEqual([])
    expect(resource.meta).toEqual({ profile: [BALP_PROFILES[profileKey(name)]] })
    // and no other profile's rules pass by accident (the checker discriminates)
    for (const other of Object.keys(BALP_RULES).filter((n) => n !== name))
      expect(balpProblems(other, resource), other).not.toEqual([])
    // the ehrlog mapping of the same entry meets no BALP profile (it claims none)
    expect(balpProblems(name, asJson(toFhirAuditEvent(entryOf(fields))))).not.toEqual([])
  })

  it('writes one patient entity per AuditEvent, the patient as a typed logical Reference', () => {
    const resource = toBalpAuditEvent(entryOf({ action: 'read' }), {
      patientIdSystem: 'urn:oid:2.16.756.5.30.1.127.3.10.3',
    })
    const patients = resource.entity!.filter((e) => e.role?.code === '1')
    expect(patients).toEqual([
      {
        what: {
          type: 'Patient',
          identifier: { system: 'urn:oid:2.16.756.5.30.1.127.3.10.3', value: '9' },
          display: 'john_cena',
        },
        type: { system: ENTITY_TYPE, code: '1', display: 'Person' },
        role: { system: ROLE, code: '1', display: 'Patient' },
      },
    ])
  })

  it('writes the PatientRead pattern as this resource: what is unknown is data-absent, never made up', () => {
    const resource = asJson(toBalpAuditEvent(entryOf({ action: 'read' })))
    const absent = { extension: [{ url: DAR, valueCode: 'unknown' }] }
    expect(resource).toMatchObject({
      type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' },
      subtype: [
        { system: 'http://hl7.org/fhir/restful-interaction', code: 'read', display: 'read' },
        { system: 'https://ehrlog.example/fhir/CodeSystem/action', code: 'read' },
      ],
      action: 'R',
      outcome: '0',
      agent: [
        {
          type: { coding: [{ system: DCM, code: '110152', display: 'Destination Role ID' }] },
          who: absent,
          requestor: false,
          network: absent,
        },
        {
          type: { coding: [{ system: DCM, code: '110153', display: 'Source Role ID' }] },
          who: { identifier: { value: 'hospital-a' }, display: 'hospital-a' },
          requestor: false,
          network: absent,
        },
        {
          type: { coding: [{ code: 'IRCP' }] },
          who: { identifier: { value: '100' }, display: 'Dr. Jones' },
          requestor: true,
        },
      ],
      entity: [
        { what: { type: 'Patient', identifier: { value: '9' } } },
        {
          what: { identifier: { value: 'bill-7' } },
          type: { code: '2' },
          role: { code: '4' },
          description: 'user_bills',
        },
      ],
    })
    // A record without a resourceId: entity:data.what is still there, as data absent.
    const noId = toBalpAuditEvent(entryOf({ action: 'read', resourceId: undefined }))
    expect(noId.entity![1]!.what).toEqual(absent)
    expect(balpProblems('PatientRead', asJson(noId))).toEqual([])
  })

  it('puts the search into entity:query as base64: ehrlog records the filter it ran', () => {
    const notes = 'via http, filter {"patient":"9"} – ü'
    const resource = toBalpAuditEvent(
      entryOf({ action: 'query', resource: 'audit_log', resourceId: undefined, notes }),
    )
    const query = resource.entity!.find((e) => e.role?.code === '24')!
    expect(
      new TextDecoder().decode(Uint8Array.from(atob(query.query!), (c) => c.charCodeAt(0))),
    ).toBe(notes)
    expect(resource.subtype![0]!.code).toBe('search-type')
    const ehr = toBalpAuditEvent(entryOf({ action: 'query', resourceId: 'saved-search-3' }))
    expect(atob(ehr.entity!.find((e) => e.role?.code === '24')!.query!)).toBe('saved-search-3')
    expect(ehr.subtype![0]!.code).toBe('search')
  })

  it('claims no profile where BALP has no pattern: failures, print, export, login, logout, other', () => {
    const none: Array<Partial<AuditEvent>> = [
      { action: 'read', outcome: 'failure' },
      { action: 'query', outcome: 'failure' },
      { action: 'print' },
      { action: 'export' },
      { action: 'login' },
      { action: 'logout' },
      { action: 'other' },
    ]
    for (const fields of none) {
      const entry = entryOf(fields)
      expect(balpProfileOf(entry.body)).toBeUndefined()
      expect(toBalpAuditEvent(entry)).toEqual(toFhirAuditEvent(entry))
    }
  })

  it('is read back by POST /fhir/AuditEvent as the same event (patient-specific patterns)', () => {
    const events: Array<Partial<AuditEvent>> = [
      { action: 'create' },
      { action: 'read', resourceId: undefined, patientName: undefined, actorName: undefined },
      { action: 'update' },
      { action: 'delete', notes: undefined, detail: undefined },
      { action: 'query', resourceId: undefined },
    ]
    for (const fields of events) {
      const entry = entryOf(fields)
      expect(parseFhirAuditEvent(asJson(toBalpAuditEvent(entry)))).toEqual(entry.body)
    }
  })
})

describe('toFhirBundle with mapping balp', () => {
  it('writes a collection that validates, each entry in its BALP profile or in the ehrlog mapping', () => {
    const entries = [
      entryOf({ action: 'create' }, 1),
      entryOf({ action: 'read', outcome: 'failure' }, 2),
    ]
    const bundle = asJson(toFhirBundle(entries, { mapping: 'balp' }))
    expect(validateAuditEventBundle(bundle)).toEqual([])
    const [created, failed] = (bundle.entry as Array<{ resource: Record<string, unknown> }>).map(
      (e) => e.resource,
    )
    expect(balpProblems('PatientCreate', created!)).toEqual([])
    expect(failed).toEqual(asJson(toFhirAuditEvent(entries[1]!)))
  })
})

function profileKey(name: string): keyof typeof BALP_PROFILES {
  return (name[0]!.toLowerCase() + name.slice(1)) as keyof typeof BALP_PROFILES
}

const DCM = 'http://dicom.nema.org/resources/ontology/DCM'
const DAR = 'http://hl7.org/fhir/StructureDefinition/data-absent-reason'
const ENTITY_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-entity-type'
const ROLE = 'http://terminology.hl7.org/CodeSystem/object-role'
