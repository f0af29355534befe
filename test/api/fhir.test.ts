import { describe, expect, it } from 'vitest'
import type { Entry } from '../../node/core/entry.ts'
import type { AuditEvent } from '../../node/core/event.ts'
import { toFhirAuditEvent } from '../../node/core/fhir/index.ts'
import { exampleRest } from '../core/fhir/r4-examples.ts'
import {
  type Api,
  errorOf,
  eventInput,
  ORIGIN,
  type PostOptions,
  TOKEN,
  useApi,
} from './harness.ts'

const startApi = useApi()

/** POST /fhir/AuditEvent with the token and application/fhir+json unless overridden. */
function postFhir(api: Api, body: unknown, p: PostOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { ...p.headers }
  if (p.token !== null) headers.authorization = `Bearer ${p.token ?? TOKEN}`
  if (p.contentType !== null) headers['content-type'] = p.contentType ?? 'application/fhir+json'
  return fetch(`${api.url}/fhir/AuditEvent`, {
    method: 'POST',
    headers,
    body: p.raw ?? JSON.stringify(body),
  })
}

/** An AuditEvent as an EHR with its own FHIR export would send it. */
function resource(i: number): Record<string, unknown> {
  return {
    resourceType: 'AuditEvent',
    type: { system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110110' },
    action: 'R',
    period: { start: `2023-12-04T19:${String(i % 60).padStart(2, '0')}:00+01:00` },
    recorded: '2023-12-04T19:00:00Z',
    outcome: '0',
    agent: [{ who: { identifier: { value: `dr-${i}` }, display: 'Dr Grey' }, requestor: true }],
    source: { observer: { display: 'ehr' } },
    entity: [
      {
        what: { identifier: { value: `patient-${i}` }, display: 'anish' },
        role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '1' },
      },
      { what: { identifier: { value: `rx-${i}` } }, description: 'user_prescriptions' },
    ],
  }
}

/** What resource(i) is recorded as. */
function recorded(i: number): AuditEvent {
  return {
    patientId: `patient-${i}`,
    patientName: 'anish',
    actorId: `dr-${i}`,
    actorName: 'Dr Grey',
    action: 'read',
    resource: 'user_prescriptions',
    resourceId: `rx-${i}`,
    time: `2023-12-04T18:${String(i % 60).padStart(2, '0')}:00.000Z`,
    outcome: 'success',
  }
}

function bundle(resources: unknown[], type = 'batch'): Record<string, unknown> {
  return {
    resourceType: 'Bundle',
    type,
    entry: resources.map((r) => ({
      resource: r,
      ...(type === 'collection' ? {} : { request: { method: 'POST', url: 'AuditEvent' } }),
    })),
  }
}

describe('POST /fhir/AuditEvent: accepted', () => {
  it('records one AuditEvent with the mapped fields, 201 with its id and a Location', async () => {
    const api = await startApi()
    const res = await postFhir(api, resource(1))
    expect(res.status).toBe(201)
    expect(res.headers.get('location')).toBe(`/fhir/AuditEvent/${ORIGIN}.1`)
    expect(await res.json()).toEqual({ ids: [`${ORIGIN}:1`] })
    expect(await api.storedEvents()).toEqual([recorded(1)])
  })

  it('takes application/json too, with a charset', async () => {
    const api = await startApi()
    const res = await postFhir(api, resource(2), { contentType: 'application/json; charset=utf-8' })
    expect(res.status).toBe(201)
    expect(await api.storedEvents()).toEqual([recorded(2)])
  })

  it('records the R4 example-rest as a read of Patient/example by agent 95', async () => {
    const api = await startApi()
    expect((await postFhir(api, exampleRest)).status).toBe(201)
    expect(await api.storedEvents()).toEqual([
      {
        patientId: 'example',
        actorId: '95',
        actorName: 'Grahame Grieve',
        action: 'read',
        resource: 'Patient',
        resourceId: 'example',
        time: '2013-06-20T23:42:24.000Z',
        outcome: 'success',
      },
    ])
  })

  it('records every entry of a batch, transaction or collection Bundle, in order, without a Location', async () => {
    const api = await startApi()
    for (const [type, first] of [
      ['batch', 1],
      ['transaction', 4],
      ['collection', 7],
    ] as const) {
      const res = await postFhir(api, bundle([first, first + 1, first + 2].map(resource), type))
      expect(res.status).toBe(201)
      expect(res.headers.get('location')).toBeNull()
      expect(await res.json()).toEqual({
        ids: [first, first + 1, first + 2].map((seq) => `${ORIGIN}:${seq}`),
      })
    }
    expect(await api.storedEvents()).toEqual(Array.from({ length: 9 }, (_, i) => recorded(i + 1)))
  })

  it('records an exported entry again as the same event', async () => {
    const api = await startApi()
    expect(
      (await api.post(eventInput(3, { detail: 'allergies', outcome: 'failure' }))).status,
    ).toBe(201)
    const stored = await api.store.getEntry(ORIGIN, 1)
    const exported = toFhirAuditEvent(stored!.entry as Entry<AuditEvent>)
    const res = await postFhir(api, exported)
    expect(res.status).toBe(201)
    const [original, again] = await api.storedEvents()
    expect(again).toEqual(original)
  })
})

describe('POST /fhir/AuditEvent: like /api/v1/events', () => {
  const withKey = (key: string) => ({ headers: { 'idempotency-key': key } })

  it('answers a retry with the same Idempotency-Key with the first ids, and records once', async () => {
    const api = await startApi()
    const first = await postFhir(api, resource(1), withKey('fhir-1'))
    expect(first.status).toBe(201)
    const retry = await postFhir(api, resource(1), withKey('fhir-1'))
    expect(retry.status).toBe(200)
    expect(retry.headers.get('location')).toBe(`/fhir/AuditEvent/${ORIGIN}.1`)
    expect(await retry.json()).toEqual({ ids: [`${ORIGIN}:1`], duplicate: true })
    const other = await errorOf(await postFhir(api, resource(2), withKey('fhir-1')))
    expect(other).toMatchObject({ status: 409, code: 'IDEMPOTENCY_CONFLICT' })
    expect(api.size()).toBe(1)
  })

  it('refuses a request without the token with 401, recording nothing', async () => {
    const api = await startApi()
    const err = await errorOf(await postFhir(api, resource(1), { token: null }))
    expect(err).toMatchObject({ status: 401, code: 'UNAUTHORIZED' })
    expect(api.size()).toBe(0)
  })

  it('answers 405 with Allow: GET, POST to a PUT (GET is the search, fhir-search.test.ts)', async () => {
    const api = await startApi()
    const res = await fetch(`${api.url}/fhir/AuditEvent`, { method: 'PUT' })
    expect(res.status).toBe(405)
    expect(res.headers.get('allow')).toBe('GET, POST')
  })
})

/** A started API that already holds one entry, so "nothing stored" is size 1, not 0. */
async function apiWithOneEntry(opts: { bodyLimitBytes?: number } = {}): Promise<Api> {
  const api = await startApi(opts)
  expect((await postFhir(api, resource(0))).status).toBe(201)
  return api
}

type Json = Record<string, unknown>
const broken = (change: (r: Json & { agent: Json[]; entity: Json[] }) => void) => {
  const r = resource(1) as Json & { agent: Json[]; entity: Json[] }
  change(r)
  return r
}

describe('POST /fhir/AuditEvent: refused, naming the element, recording nothing', () => {
  const cases: Array<{
    name: string
    body?: unknown
    opts?: PostOptions
    status: number
    code: string
    field: string
    message?: RegExp
    bodyLimitBytes?: number
  }> = [
    {
      name: 'an agent without requestor',
      body: broken((r) => delete r.agent[0]!.requestor),
      status: 400,
      code: 'EVENT_INVALID',
      field: 'AuditEvent.agent[0].requestor',
      message: /^AuditEvent\.agent\[0\]\.requestor is missing/,
    },
    {
      name: 'an action outside AuditEventAction',
      body: broken((r) => (r.action = 'read')),
      status: 400,
      code: 'EVENT_INVALID',
      field: 'AuditEvent.action',
    },
    {
      name: 'no patient',
      body: broken((r) => r.entity.shift()),
      status: 400,
      code: 'EVENT_INVALID',
      field: 'AuditEvent.entity',
    },
    {
      name: 'a patient id over 128 characters',
      body: broken((r) => (r.entity[0]!.what = { identifier: { value: 'p'.repeat(129) } })),
      status: 400,
      code: 'EVENT_INVALID',
      field: 'AuditEvent.entity[0].what.identifier.value',
      message: /at most 128 characters/,
    },
    {
      name: 'a bad entry after a good one in a batch',
      body: bundle([resource(1), broken((r) => (r.recorded = '2023-12-04'))]),
      status: 400,
      code: 'EVENT_INVALID',
      field: 'Bundle.entry[1].resource.recorded',
    },
    {
      name: 'a searchset Bundle',
      body: { ...bundle([resource(1)], 'collection'), type: 'searchset' },
      status: 400,
      code: 'EVENT_INVALID',
      field: 'Bundle.type',
    },
    {
      name: 'another resource type',
      body: { resourceType: 'Patient', id: 'p1' },
      status: 400,
      code: 'EVENT_INVALID',
      field: 'resourceType',
    },
    {
      name: 'a Bundle of 1001',
      body: bundle(Array.from({ length: 1001 }, () => ({}))),
      status: 413,
      code: 'PAYLOAD_TOO_LARGE',
      field: 'Bundle.entry',
    },
    {
      name: 'invalid JSON',
      opts: { raw: '{"resourceType": "AuditEvent", ' },
      status: 400,
      code: 'ARGUMENT_INVALID',
      field: 'body',
    },
    {
      name: 'a text/plain body',
      body: resource(1),
      opts: { contentType: 'text/plain' },
      status: 415,
      code: 'ARGUMENT_INVALID',
      field: 'Content-Type',
    },
    {
      name: 'XML',
      opts: {
        raw: '<AuditEvent xmlns="http://hl7.org/fhir"/>',
        contentType: 'application/fhir+xml',
      },
      status: 415,
      code: 'ARGUMENT_INVALID',
      field: 'Content-Type',
    },
    {
      name: 'a body over the limit',
      body: broken((r) => (r.outcomeDesc = 'x'.repeat(3000))),
      bodyLimitBytes: 2048,
      status: 413,
      code: 'PAYLOAD_TOO_LARGE',
      field: 'body',
    },
  ]

  for (const c of cases) {
    it(`refuses ${c.name} with ${c.status} ${c.code} naming ${c.field}`, async () => {
      const api = await apiWithOneEntry(
        c.bodyLimitBytes === undefined ? {} : { bodyLimitBytes: c.bodyLimitBytes },
      )
      const err = await errorOf(await postFhir(api, c.body, c.opts))
      expect(err).toMatchObject({ status: c.status, code: c.code })
      expect(err.details.field).toBe(c.field)
      if (c.message) expect(err.message).toMatch(c.message)
      expect(api.size()).toBe(1)
    })
  }
})
