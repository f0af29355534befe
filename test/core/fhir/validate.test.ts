import { describe, expect, it } from 'vitest'
import type { Entry } from '../../../node/core/entry.ts'
import { type AuditEvent, parseEvent } from '../../../node/core/event.ts'
import {
  toFhirAuditEvent,
  toFhirBundle,
  validateAuditEvent,
  validateAuditEventBundle,
} from '../../../node/core/fhir/index.ts'
import { GENESIS_PREV } from '../../../node/core/layout.ts'
import { exampleLogin, exampleRest } from './r4-examples.ts'

const event = parseEvent({
  patientId: '1',
  patientName: 'anish',
  actorId: '12',
  action: 'print',
  detail: 'prescription',
  resource: 'user_prescriptions',
  resourceId: 'rx-5',
  time: '2023-12-04T19:22:00Z',
  notes: 'Doctor printed the prescription',
})

const entry: Entry<AuditEvent> = {
  v: 1,
  origin: 'hospital-a',
  seq: 7,
  recorded: '2026-01-01T00:00:00.000Z',
  prev: GENESIS_PREV,
  kind: 'event',
  body: event,
}

// biome-ignore lint/suspicious/noExplicitAny: tests reach into resources at any depth to break them
type Json = Record<string, any>

/** Our resource for `entry`, as plain JSON to break. */
function ours(): Json {
  return JSON.parse(JSON.stringify(toFhirAuditEvent(entry)))
}

function fieldsOf(issues: Array<{ field: string }>): string[] {
  return issues.map((i) => i.field)
}

describe('validateAuditEvent', () => {
  it('accepts what we write', () => {
    expect(validateAuditEvent(ours())).toEqual([])
  })

  it('accepts the R4 examples example-login and example-rest', () => {
    expect(validateAuditEvent(exampleLogin)).toEqual([])
    expect(validateAuditEvent(exampleRest)).toEqual([])
  })

  const cases: Array<[string, (r: Json) => void, string, RegExp?]> = [
    ['no type', (r) => delete r.type, 'AuditEvent.type', /is missing/],
    ['no recorded', (r) => delete r.recorded, 'AuditEvent.recorded', /is missing/],
    ['a date for recorded', (r) => (r.recorded = '2023-12-04'), 'AuditEvent.recorded', /instant/],
    [
      'recorded without a time zone',
      (r) => (r.recorded = '2023-12-04T10:00:00'),
      'AuditEvent.recorded',
    ],
    [
      'recorded on 30 February',
      (r) => (r.recorded = '2023-02-30T10:00:00Z'),
      'AuditEvent.recorded',
      /not a real date/,
    ],
    ['no agent', (r) => delete r.agent, 'AuditEvent.agent', /is missing/],
    ['an empty agent array', (r) => (r.agent = []), 'AuditEvent.agent', /empty array/],
    ['an agent object', (r) => (r.agent = r.agent[0]), 'AuditEvent.agent', /must be an array/],
    [
      'no requestor',
      (r) => delete r.agent[0].requestor,
      'AuditEvent.agent[0].requestor',
      /is missing/,
    ],
    [
      'a string requestor',
      (r) => (r.agent[0].requestor = 'true'),
      'AuditEvent.agent[0].requestor',
      /want true or false/,
    ],
    ['no source', (r) => delete r.source, 'AuditEvent.source'],
    ['no observer', (r) => delete r.source.observer, 'AuditEvent.source.observer', /is missing/],
    [
      'an action outside the value set',
      (r) => (r.action = 'X'),
      'AuditEvent.action',
      /want one of C, R, U, D, E \(required binding\)/,
    ],
    ['our action name as the action', (r) => (r.action = 'print'), 'AuditEvent.action'],
    [
      'an outcome outside the value set',
      (r) => (r.outcome = '1'),
      'AuditEvent.outcome',
      /want one of 0, 4, 8, 12/,
    ],
    ['a numeric outcome', (r) => (r.outcome = 0), 'AuditEvent.outcome', /want a code string/],
    [
      'an unknown top-level element',
      (r) => (r.diagnosis = 'flu'),
      'AuditEvent.diagnosis',
      /not an element of AuditEvent in R4/,
    ],
    ['an R5 element', (r) => (r.category = []), 'AuditEvent.category'],
    [
      'an R3 agent.userId',
      (r) => (r.agent[0].userId = { value: '12' }),
      'AuditEvent.agent[0].userId',
    ],
    ['two types', (r) => (r.type = [r.type, r.type]), 'AuditEvent.type', /not an array/],
    ['a subtype object', (r) => (r.subtype = r.subtype[0]), 'AuditEvent.subtype'],
    ['another resourceType', (r) => (r.resourceType = 'Patient'), 'AuditEvent.resourceType'],
    ['an id with a colon', (r) => (r.id = 'hospital-a:7'), 'AuditEvent.id', /want an id/],
    [
      'an empty string',
      (r) => (r.entity[0].what.identifier.value = ''),
      'AuditEvent.entity[0].what.identifier.value',
      /empty string/,
    ],
    [
      'a control character',
      (r) => (r.entity[0].what.display = 'a\u0007b'),
      'AuditEvent.entity[0].what.display',
      /control character/,
    ],
    ['an empty object', (r) => (r.period = {}), 'AuditEvent.period', /ele-1/],
    [
      'a period that ends before it starts',
      (r) => (r.period = { start: '2023-12-05T00:00:00Z', end: '2023-12-04T00:00:00Z' }),
      'AuditEvent.period',
      /per-1/,
    ],
    [
      'an entity with name and query',
      (r) => Object.assign(r.entity[1], { name: 'q', query: 'cXVlcnk=' }),
      'AuditEvent.entity[1]',
      /sev-1/,
    ],
    [
      'an entity detail without a value',
      (r) => (r.entity[1].detail = [{ type: 'notes' }]),
      'AuditEvent.entity[1].detail[0].value[x]',
      /is missing/,
    ],
    [
      'an entity detail with two values',
      (r) => (r.entity[1].detail = [{ type: 't', valueString: 'a', valueBase64Binary: 'YQ==' }]),
      'AuditEvent.entity[1].detail[0].value[x]',
      /want one/,
    ],
    [
      'a network type outside the value set',
      (r) => (r.agent[0].network = { type: '9' }),
      'AuditEvent.agent[0].network.type',
    ],
    [
      'a modifier extension',
      (r) => (r.modifierExtension = [{ url: 'https://x.example/neg', valueBoolean: true }]),
      'AuditEvent.modifierExtension[0]',
      /not understood/,
    ],
    [
      'implicitRules',
      (r) => (r.implicitRules = 'https://x.example/rules'),
      'AuditEvent.implicitRules',
    ],
    ['an extension without url', (r) => delete r.extension[0].url, 'AuditEvent.extension[0].url'],
    [
      'an extension with a value and nested extensions',
      (r) => (r.extension[0].valueString = 'x'),
      'AuditEvent.extension[0]',
      /ext-1/,
    ],
    [
      'an extension value of no R4 type',
      (r) => (r.extension = [{ url: 'https://x.example/e', valueThing: 1 }]),
      'AuditEvent.extension[0].valueThing',
    ],
    [
      'a bad primitive extension',
      (r) => (r._recorded = 'x'),
      'AuditEvent._recorded',
      /id and extensions/,
    ],
    ['a primitive extension of a non-primitive', (r) => (r._agent = {}), 'AuditEvent._agent'],
  ]

  it.each(cases)('refuses %s', (_name, breakIt, field, problem) => {
    const resource = ours()
    breakIt(resource)
    const issues = validateAuditEvent(resource)
    expect(fieldsOf(issues)).toContain(field)
    if (problem) expect(issues.find((i) => i.field === field)?.problem).toMatch(problem)
  })

  it('accepts primitive extensions, contained resources and meta', () => {
    const r = ours()
    r._recorded = { extension: [{ url: 'https://x.example/precision', valueCode: 'ms' }] }
    r.contained = [{ resourceType: 'Device', id: 'ehr' }]
    r.meta = { lastUpdated: '2026-01-01T00:00:00Z', tag: [{ code: 'HTEST' }] }
    r.entity[1].detail = [{ type: 'query', valueBase64Binary: 'cXVlcnk=' }]
    expect(validateAuditEvent(r)).toEqual([])
  })

  it('reports every issue, not only the first', () => {
    const r = ours()
    delete r.type
    r.action = 'X'
    r.agent[0].requestor = 1
    expect(fieldsOf(validateAuditEvent(r))).toEqual([
      'AuditEvent.action',
      'AuditEvent.agent[0].requestor',
      'AuditEvent.type',
    ])
  })

  it('refuses what is not an object', () => {
    expect(validateAuditEvent([ours()])).toEqual([
      { field: 'AuditEvent', problem: 'must be a JSON object, got an array' },
    ])
  })
})

describe('validateAuditEventBundle', () => {
  function bundle(): Json {
    return JSON.parse(JSON.stringify(toFhirBundle([entry, { ...entry, seq: 8 }])))
  }

  it('accepts a collection of ours, and a batch of AuditEvent creates', () => {
    expect(validateAuditEventBundle(bundle())).toEqual([])
    const batch = bundle()
    batch.type = 'batch'
    for (const e of batch.entry) e.request = { method: 'POST', url: 'AuditEvent' }
    expect(validateAuditEventBundle(batch)).toEqual([])
  })

  const cases: Array<[string, (b: Json) => void, string, RegExp?]> = [
    ['no type', (b) => delete b.type, 'Bundle.type', /is missing/],
    ['an unknown type', (b) => (b.type = 'bogus'), 'Bundle.type', /required binding/],
    ['a batch without requests', (b) => (b.type = 'batch'), 'Bundle.entry[0].request', /bdl-3/],
    [
      'a request in a collection',
      (b) => (b.entry[1].request = { method: 'POST', url: 'AuditEvent' }),
      'Bundle.entry[1].request',
      /bdl-3/,
    ],
    ['a total on a collection', (b) => (b.total = 2), 'Bundle.total', /bdl-1/],
    [
      'a repeated fullUrl',
      (b) => {
        b.entry[0].fullUrl = 'urn:uuid:1'
        b.entry[1].fullUrl = 'urn:uuid:1'
      },
      'Bundle.entry[1].fullUrl',
      /bdl-7/,
    ],
    ['an empty entry', (b) => (b.entry[1] = {}), 'Bundle.entry[1]'],
    [
      'a Patient entry',
      (b) => (b.entry[0].resource = { resourceType: 'Patient', id: 'p' }),
      'Bundle.entry[0].resource',
      /want AuditEvent/,
    ],
    [
      'a bad AuditEvent inside',
      (b) => delete b.entry[1].resource.recorded,
      'Bundle.entry[1].resource.recorded',
    ],
    ['an extension on Bundle, a Resource', (b) => (b.extension = []), 'Bundle.extension'],
    ['another resourceType', (b) => (b.resourceType = 'AuditEvent'), 'Bundle.resourceType'],
  ]

  it.each(cases)('refuses %s', (_name, breakIt, field, problem) => {
    const b = bundle()
    breakIt(b)
    const issues = validateAuditEventBundle(b)
    expect(fieldsOf(issues)).toContain(field)
    if (problem) expect(issues.find((i) => i.field === field)?.problem).toMatch(problem)
  })
})
