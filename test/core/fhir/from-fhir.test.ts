import { describe, expect, it } from 'vitest'
import { type EhrlogError, isEhrlogError } from '../../../node/core/errors.ts'
import {
  fromFhirAuditEvent,
  parseFhirAuditEvent,
  parseFhirAuditEvents,
  validateAuditEvent,
} from '../../../node/core/fhir/index.ts'
import { exampleLogin, exampleRest } from './r4-examples.ts'

// biome-ignore lint/suspicious/noExplicitAny: tests reach into resources at any depth to break them
type Json = Record<string, any>

const DCM = 'http://dicom.nema.org/resources/ontology/DCM'
const OBJECT_ROLE = 'http://terminology.hl7.org/CodeSystem/object-role'
const ACTION_SYSTEM = 'https://ehrlog.example/fhir/CodeSystem/action'

/** What another system might send: minimal R4, no ehrlog codes or extension. */
function foreign(): Json {
  return {
    resourceType: 'AuditEvent',
    type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' },
    subtype: [{ system: 'http://hl7.org/fhir/restful-interaction', code: 'read' }],
    action: 'R',
    recorded: '2024-03-01T10:00:05Z',
    period: { start: '2024-03-01T10:00:00+01:00' },
    agent: [
      { who: { reference: 'Device/ehr' }, requestor: false },
      { who: { identifier: { value: 'u-77' }, display: 'Nurse Joy' }, requestor: true },
    ],
    source: { observer: { display: 'EHR' } },
    entity: [
      { what: { reference: 'Observation/obs-1' } },
      { what: { identifier: { value: 'mrn-5' } }, role: { system: OBJECT_ROLE, code: '1' } },
    ],
  }
}

function errorOf(fn: () => unknown): EhrlogError {
  try {
    fn()
  } catch (err) {
    if (isEhrlogError(err)) return err
    throw err
  }
  throw new Error('expected an EhrlogError')
}

describe('the R4 spec examples', () => {
  it('example-rest (a vread of Patient/example) maps to a read of that Patient', () => {
    expect(fromFhirAuditEvent(exampleRest)).toEqual({
      patientId: 'example',
      actorId: '95',
      actorName: 'Grahame Grieve',
      action: 'read',
      resource: 'Patient',
      resourceId: 'example',
      time: '2013-06-20T23:42:24Z',
      outcome: 'success',
    })
  })

  it('example-login validates, but names no patient, which an ehrlog event needs', () => {
    expect(validateAuditEvent(exampleLogin)).toEqual([])
    const err = errorOf(() => fromFhirAuditEvent(exampleLogin))
    expect(err.code).toBe('EVENT_INVALID')
    expect(err.details.field).toBe('AuditEvent.entity')
    expect(err.message).toMatch(
      /^AuditEvent\.entity is missing: an ehrlog event is about a patient/,
    )
  })

  it('example-login with a patient maps to a login by agent 95 at its recorded time', () => {
    const withPatient = { ...exampleLogin, entity: [{ what: { reference: 'Patient/example' } }] }
    expect(parseFhirAuditEvent(withPatient)).toEqual({
      patientId: 'example',
      actorId: '95',
      actorName: 'Grahame Grieve',
      action: 'login',
      resource: 'Patient',
      resourceId: 'example',
      time: '2013-06-20T23:41:23.000Z',
      outcome: 'success',
    })
  })
})

describe('fromFhirAuditEvent on other systems’ resources', () => {
  it('takes the requesting agent, the patient entity and the first other entity', () => {
    expect(parseFhirAuditEvent(foreign())).toEqual({
      patientId: 'mrn-5',
      actorId: 'u-77',
      actorName: 'Nurse Joy',
      action: 'read',
      resource: 'Observation',
      resourceId: 'obs-1',
      time: '2024-03-01T09:00:00.000Z',
      outcome: 'success',
    })
  })

  const actions: Array<[string, (r: Json) => void, string]> = [
    [
      'a REST search (E)',
      (r) => {
        r.subtype = [{ system: 'http://hl7.org/fhir/restful-interaction', code: 'search-type' }]
        r.action = 'E'
      },
      'query',
    ],
    [
      'a REST patch',
      (r) =>
        Object.assign(r, {
          subtype: [{ system: 'http://hl7.org/fhir/restful-interaction', code: 'patch' }],
          action: 'U',
        }),
      'update',
    ],
    [
      'a DICOM Export (R)',
      (r) => Object.assign(r, { type: { system: DCM, code: '110106' }, subtype: undefined }),
      'export',
    ],
    [
      'a DICOM Query (E)',
      (r) =>
        Object.assign(r, {
          type: { system: DCM, code: '110112' },
          subtype: undefined,
          action: 'E',
        }),
      'query',
    ],
    [
      'a DICOM logout',
      (r) =>
        Object.assign(r, {
          type: { system: DCM, code: '110114' },
          subtype: [{ system: DCM, code: '110123' }],
          action: undefined,
        }),
      'logout',
    ],
    [
      'an action code alone: C',
      (r) => Object.assign(r, { subtype: undefined, action: 'C' }),
      'create',
    ],
    [
      'an action code alone: D',
      (r) => Object.assign(r, { subtype: undefined, action: 'D' }),
      'delete',
    ],
    [
      'an action code alone: E',
      (r) => Object.assign(r, { subtype: undefined, action: 'E' }),
      'other',
    ],
    ['a REST read whose action code disagrees (C)', (r) => (r.action = 'C'), 'create'],
    [
      'our subtype, exact',
      (r) => (r.subtype = [{ system: ACTION_SYSTEM, code: 'print' }]),
      'print',
    ],
  ]
  it.each(actions)('reads %s as %s', (_name, change, action) => {
    const r = foreign()
    change(r)
    for (const key of Object.keys(r)) if (r[key] === undefined) delete r[key]
    expect(parseFhirAuditEvent(r).action).toBe(action)
  })

  it('reads outcomes 4, 8 and 12 as failure, and no outcome as the default, success', () => {
    for (const outcome of ['4', '8', '12']) {
      expect(parseFhirAuditEvent({ ...foreign(), outcome }).outcome).toBe('failure')
    }
    expect(parseFhirAuditEvent({ ...foreign(), outcome: '0' }).outcome).toBe('success')
    expect(fromFhirAuditEvent(foreign())).not.toHaveProperty('outcome')
  })

  it('keeps a whole who.reference as the actor id, and takes agent.name for the name', () => {
    const r = foreign()
    r.agent[1] = { who: { reference: 'Practitioner/12' }, name: 'Dr Quinn', requestor: true }
    expect(parseFhirAuditEvent(r)).toMatchObject({
      actorId: 'Practitioner/12',
      actorName: 'Dr Quinn',
    })
  })

  it('takes the time from period.end, or from recorded when there is no period', () => {
    expect(
      parseFhirAuditEvent({ ...foreign(), period: { end: '2024-03-01T08:00:00Z' } }).time,
    ).toBe('2024-03-01T08:00:00.000Z')
    const { period: _, ...noPeriod } = foreign()
    expect(parseFhirAuditEvent(noPeriod).time).toBe('2024-03-01T10:00:05.000Z')
  })

  it('ignores the entryId of a resource exported from another node', () => {
    const r = foreign()
    r.extension = [
      {
        url: 'https://ehrlog.example/fhir/StructureDefinition/ehrlog-event',
        extension: [
          { url: 'entryId', valueString: 'hospital-b:9' },
          { url: 'notes', valueString: 'copied' },
        ],
      },
    ]
    expect(parseFhirAuditEvent(r)).toMatchObject({ notes: 'copied' })
    expect(parseFhirAuditEvent(r)).not.toHaveProperty('entryId')
  })

  const refusals: Array<[string, (r: Json) => void, string, RegExp]> = [
    [
      'no requesting agent',
      (r) => (r.agent[1].requestor = false),
      'AuditEvent.agent',
      /no agent with requestor true/,
    ],
    [
      'two requesting agents',
      (r) => (r.agent[0].requestor = true),
      'AuditEvent.agent[1].requestor',
      /and so is agent\[0\]/,
    ],
    ['an actor without who', (r) => delete r.agent[1].who, 'AuditEvent.agent[1].who', /is missing/],
    [
      'an actor named only by display',
      (r) => (r.agent[1].who = { display: 'X' }),
      'AuditEvent.agent[1].who',
      /names no actor id/,
    ],
    [
      'two patients',
      (r) => (r.entity[0].what = { reference: 'Patient/p2' }),
      'AuditEvent.entity[1]',
      /second patient/,
    ],
    [
      'no patient among entities',
      (r) => delete r.entity[1].role,
      'AuditEvent.entity',
      /names no patient/,
    ],
    [
      'a patient without an id',
      (r) => (r.entity[1].what = { display: 'Ann' }),
      'AuditEvent.entity[1].what',
      /names no patient id/,
    ],
    [
      'an entity that names nothing',
      (r) => (r.entity[0] = { type: { code: '2' } }),
      'AuditEvent.entity[0]',
      /names no resource/,
    ],
    [
      'no action anywhere',
      (r) => {
        delete r.action
        delete r.subtype
      },
      'AuditEvent.action',
      /is missing/,
    ],
    [
      'our subtype with an unknown action',
      (r) => (r.subtype = [{ system: ACTION_SYSTEM, code: 'peek' }]),
      'AuditEvent.subtype[0].code',
      /want one of create, read/,
    ],
    [
      'our subtype disagreeing with the action code',
      (r) => (r.subtype = [{ system: ACTION_SYSTEM, code: 'delete' }]),
      'AuditEvent.action',
      /is "R", but AuditEvent\.subtype\[0\]\.code is delete, which is "D"/,
    ],
    [
      'an unknown part of our extension',
      (r) =>
        (r.extension = [
          {
            url: 'https://ehrlog.example/fhir/StructureDefinition/ehrlog-event',
            extension: [{ url: 'diagnosis', valueString: 'flu' }],
          },
        ]),
      'AuditEvent.extension[0].extension[0].url',
      /want one of entryId, detail, notes/,
    ],
    [
      'our extension with a value',
      (r) =>
        (r.extension = [
          { url: 'https://ehrlog.example/fhir/StructureDefinition/ehrlog-event', valueString: 'x' },
        ]),
      'AuditEvent.extension[0]',
      /has a value/,
    ],
    ['invalid R4', (r) => (r.action = 'read'), 'AuditEvent.action', /required binding/],
  ]
  it.each(refusals)('refuses %s', (_name, change, field, message) => {
    const r = foreign()
    change(r)
    const err = errorOf(() => fromFhirAuditEvent(r))
    expect(err.code).toBe('EVENT_INVALID')
    expect(err.details.field).toBe(field)
    expect(err.message).toMatch(message)
  })

  it('names the FHIR element when the mapped event is invalid', () => {
    const cases: Array<[(r: Json) => void, string, RegExp]> = [
      [
        (r) => (r.entity[1].what.identifier.value = 'x'.repeat(129)),
        'AuditEvent.entity[1].what.identifier.value',
        /at most 128/,
      ],
      [(r) => (r.period.start = '2024-03'), 'AuditEvent.period.start', /time zone/],
      [
        (r) => (r.agent[1].who.display = 'y'.repeat(201)),
        'AuditEvent.agent[1].who.display',
        /at most 200/,
      ],
      [
        (r) => (r.entity[0] = { description: '  ' }),
        'AuditEvent.entity[0].description',
        /must not be empty/,
      ],
    ]
    for (const [change, field, message] of cases) {
      const r = foreign()
      change(r)
      expect(fromFhirAuditEvent(r)).toBeDefined()
      const err = errorOf(() => parseFhirAuditEvent(r))
      expect(err.details.field).toBe(field)
      expect(err.message).toMatch(message)
    }
  })
})

describe('parseFhirAuditEvents', () => {
  const opts = { maxResources: 3 }
  const batch = (n: number, change: (e: Json) => void = () => {}) => ({
    resourceType: 'Bundle',
    type: 'batch',
    entry: Array.from({ length: n }, () => {
      const e: Json = { resource: foreign(), request: { method: 'POST', url: 'AuditEvent' } }
      change(e)
      return e
    }),
  })

  it('reads one resource, or every entry of a batch, transaction or collection', () => {
    expect(parseFhirAuditEvents(foreign(), opts)).toMatchObject({ bundle: false, events: [{}] })
    expect(parseFhirAuditEvents(batch(3), opts).events).toHaveLength(3)
    expect(parseFhirAuditEvents({ ...batch(2), type: 'transaction' }, opts).events).toHaveLength(2)
    const collection = {
      resourceType: 'Bundle',
      type: 'collection',
      entry: [{ resource: foreign() }],
    }
    expect(parseFhirAuditEvents(collection, opts)).toMatchObject({ bundle: true })
  })

  const refusals: Array<[string, unknown, string, string?]> = [
    ['an array', [foreign()], 'body'],
    ['a Patient', { resourceType: 'Patient' }, 'resourceType'],
    ['a searchset', { ...batch(1), type: 'searchset' }, 'Bundle.type'],
    ['an empty batch', { resourceType: 'Bundle', type: 'batch' }, 'Bundle.entry'],
    ['too many entries', batch(4), 'Bundle.entry', 'PAYLOAD_TOO_LARGE'],
    ['a PUT', batch(1, (e) => (e.request.method = 'PUT')), 'Bundle.entry[0].request.method'],
    [
      'a post to Patient',
      batch(1, (e) => (e.request.url = 'Patient')),
      'Bundle.entry[0].request.url',
    ],
    [
      'a conditional create',
      batch(1, (e) => (e.request.ifNoneExist = 'identifier=1')),
      'Bundle.entry[0].request.ifNoneExist',
    ],
    ['an entry without resource', batch(1, (e) => delete e.resource), 'Bundle.entry[0].resource'],
    [
      'an entry naming no patient',
      batch(2, (e) => delete e.resource.entity),
      'Bundle.entry[0].resource.entity',
    ],
  ]
  it.each(refusals)('refuses %s', (_name, body, field, code = 'EVENT_INVALID') => {
    const err = errorOf(() => parseFhirAuditEvents(body, opts))
    expect(err.code).toBe(code)
    expect(err.details.field).toBe(field)
  })
})
