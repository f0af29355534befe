import { describe, expect, it } from 'vitest'
import { LIMITS } from '../../node/core/event.ts'
import { type Api, errorOf, eventInput, type PostOptions, TOKEN, useApi } from './harness.ts'

const startApi = useApi()

/** A started API that already holds one entry, so "nothing stored" is size 1, not 0. */
async function apiWithOneEntry(opts: { bodyLimitBytes?: number } = {}): Promise<Api> {
  const api = await startApi(opts)
  expect((await api.post(eventInput(0))).status).toBe(201)
  return api
}

interface Case {
  name: string
  body?: unknown
  opts?: PostOptions
  status: number
  code: string
  field?: string
  message?: RegExp
}

const { patientId: _dropped, ...withoutPatient } = eventInput(1)

const cases: Case[] = [
  {
    name: 'invalid JSON',
    opts: { raw: '{"patientId": "p-1", ' },
    status: 400,
    code: 'ARGUMENT_INVALID',
    field: 'body',
    message: /^request body is not valid JSON: /,
  },
  {
    name: 'a body that is not UTF-8',
    opts: { raw: new Uint8Array([0x22, 0xff, 0xfe, 0x22]) },
    status: 400,
    code: 'ARGUMENT_INVALID',
    field: 'body',
    message: /^request body is not valid JSON: it is not UTF-8/,
  },
  {
    name: 'an empty JSON body',
    opts: { raw: '' },
    status: 400,
    code: 'ARGUMENT_INVALID',
    field: 'body',
  },
  {
    name: 'a JSON number',
    body: 42,
    status: 400,
    code: 'EVENT_INVALID',
    field: 'body',
    message: /got a number/,
  },
  { name: 'JSON null', body: null, status: 400, code: 'EVENT_INVALID', field: 'body' },
  {
    name: 'a missing field',
    body: withoutPatient,
    status: 400,
    code: 'EVENT_INVALID',
    field: 'event.patientId',
  },
  {
    name: 'an unknown action in a batch',
    body: [eventInput(1), eventInput(2), eventInput(3, { action: 'peek' })],
    status: 400,
    code: 'EVENT_INVALID',
    field: 'events[2].action',
    message: /^events\[2\]\.action must be one of create, read/,
  },
  {
    name: 'a wrong type',
    body: eventInput(1, { patientId: 42 }),
    status: 400,
    code: 'EVENT_INVALID',
    field: 'event.patientId',
  },
  {
    name: 'an oversized field',
    body: eventInput(1, { notes: 'x'.repeat(LIMITS.notesLength + 1) }),
    status: 400,
    code: 'EVENT_INVALID',
    field: 'event.notes',
    message: /at most 2000 characters/,
  },
  {
    // JSON.stringify escapes it as \ud800: valid JSON, but not I-JSON (RFC 7493 §2.1)
    name: 'a lone surrogate in a text field',
    body: eventInput(1, { notes: 'cut off \ud83d' }),
    status: 400,
    code: 'EVENT_INVALID',
    field: 'event.notes',
    message: /lone surrogates or Unicode noncharacters/,
  },
  {
    name: 'a Unicode noncharacter in a batch',
    opts: {
      raw: `[${JSON.stringify(eventInput(1))},${JSON.stringify(eventInput(2)).replace('"patient-2"', '"patient-2\\ufdd0"')}]`,
    },
    status: 400,
    code: 'EVENT_INVALID',
    field: 'events[1].patientId',
  },
  {
    name: 'an impossible date',
    body: { events: [eventInput(1), eventInput(2, { time: '2023-02-30T10:00:00Z' })] },
    status: 400,
    code: 'EVENT_INVALID',
    field: 'events[1].time',
  },
  {
    name: 'an unknown event field',
    body: eventInput(1, { diagnosis: 'flu' }),
    status: 400,
    code: 'EVENT_INVALID',
    field: 'event',
    message: /unknown field\(s\) diagnosis/,
  },
  {
    name: 'a __proto__ key',
    opts: { raw: JSON.stringify(eventInput(1)).replace('{', '{"__proto__":{"isAdmin":true},') },
    status: 400,
    code: 'EVENT_INVALID',
    field: 'event',
  },
  { name: 'an empty array', body: [], status: 400, code: 'EVENT_INVALID', field: 'events' },
  {
    name: 'events that are not an array',
    body: { events: eventInput(1) },
    status: 400,
    code: 'EVENT_INVALID',
    field: 'events',
  },
  {
    name: 'a field next to events',
    body: { events: [eventInput(1)], origin: 'hospital-b' },
    status: 400,
    code: 'EVENT_INVALID',
    field: 'origin',
  },
  {
    name: 'too many events',
    body: { events: Array.from({ length: 1001 }, (_, i) => eventInput(i)) },
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
    field: 'events',
    message: /1001 events, the limit is 1000 per request/,
  },
  {
    name: 'a text/plain body',
    body: eventInput(1),
    opts: { contentType: 'text/plain' },
    status: 415,
    code: 'ARGUMENT_INVALID',
    field: 'Content-Type',
    message: /"text\/plain" is not supported: want application\/json/,
  },
  {
    name: 'a form body',
    opts: { raw: 'patientId=p-1', contentType: 'application/x-www-form-urlencoded' },
    status: 415,
    code: 'ARGUMENT_INVALID',
    field: 'Content-Type',
  },
  {
    name: 'a look-alike JSON type',
    body: eventInput(1),
    opts: { contentType: 'application/jsonp' },
    status: 415,
    code: 'ARGUMENT_INVALID',
    field: 'Content-Type',
  },
  {
    name: 'a body without Content-Type',
    opts: { raw: new TextEncoder().encode(JSON.stringify(eventInput(1))), contentType: null },
    status: 415,
    code: 'ARGUMENT_INVALID',
    field: 'Content-Type',
    message: /Content-Type none is not supported/,
  },
  {
    name: 'no body and no Content-Type',
    opts: { raw: new Uint8Array(0), contentType: null },
    status: 415,
    code: 'ARGUMENT_INVALID',
    field: 'Content-Type',
  },
  {
    name: 'an empty Idempotency-Key',
    body: eventInput(1),
    opts: { headers: { 'idempotency-key': '' } },
    status: 400,
    code: 'ARGUMENT_INVALID',
    field: 'Idempotency-Key',
  },
  {
    name: 'a 201-character Idempotency-Key',
    body: eventInput(1),
    opts: { headers: { 'idempotency-key': 'k'.repeat(201) } },
    status: 400,
    code: 'ARGUMENT_INVALID',
    field: 'Idempotency-Key',
  },
  {
    name: 'an Idempotency-Key with a non-ASCII character',
    body: eventInput(1),
    opts: { headers: { 'idempotency-key': 'caf\u00e9' } },
    status: 400,
    code: 'ARGUMENT_INVALID',
    field: 'Idempotency-Key',
  },
  {
    name: 'an Idempotency-Key with a tab',
    body: eventInput(1),
    opts: { headers: { 'idempotency-key': 'a\tb' } },
    status: 400,
    code: 'ARGUMENT_INVALID',
    field: 'Idempotency-Key',
  },
]

describe('POST /api/v1/events: bad input', () => {
  for (const c of cases) {
    it(`refuses ${c.name} with ${c.status} ${c.code} and stores nothing`, async () => {
      const api = await apiWithOneEntry()
      const res = await api.post(c.body, c.opts)
      expect(res.headers.get('content-type')).toMatch(/^application\/json/)
      const err = await errorOf(res)
      expect(err).toMatchObject({ status: c.status, code: c.code })
      if (c.field !== undefined) expect(err.details.field).toBe(c.field)
      if (c.message !== undefined) expect(err.message).toMatch(c.message)
      expect(api.size()).toBe(1)
    })
  }

  it('refuses a body over the default 1 MiB limit with 413', async () => {
    const api = await apiWithOneEntry()
    const huge = eventInput(1, { notes: 'x'.repeat(1024 * 1024) })
    const err = await errorOf(await api.post(huge))
    expect(err).toMatchObject({ status: 413, code: 'PAYLOAD_TOO_LARGE' })
    expect(err.details).toEqual({ field: 'body', limitBytes: 1024 * 1024 })
    expect(err.message).toBe('request body is larger than the limit of 1048576 bytes')
    expect(api.size()).toBe(1)
  })

  it('applies bodyLimitBytes, also to a chunked body without Content-Length', async () => {
    const api = await apiWithOneEntry({ bodyLimitBytes: 4096 })
    const events = Array.from({ length: 40 }, (_, i) => eventInput(i))
    const bytes = new TextEncoder().encode(JSON.stringify(events))
    expect(bytes.length).toBeGreaterThan(4096)
    const byLength = await errorOf(await api.post(events))
    expect(byLength).toMatchObject({ status: 413, code: 'PAYLOAD_TOO_LARGE' })
    expect(byLength.details.limitBytes).toBe(4096)

    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let at = 0; at < bytes.length; at += 1000)
          controller.enqueue(bytes.slice(at, at + 1000))
        controller.close()
      },
    })
    const res = await fetch(`${api.url}/api/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: stream,
      duplex: 'half',
    } as RequestInit)
    expect(await errorOf(res)).toMatchObject({ status: 413, code: 'PAYLOAD_TOO_LARGE' })
    expect(api.size()).toBe(1)
  })

  it('keeps refused bodies out of the log', async () => {
    const api = await apiWithOneEntry()
    await api.post([
      eventInput(1, { patientId: 'PATIENT-SECRET-7' }),
      eventInput(2, { action: 'x' }),
    ])
    await api.post(undefined, { raw: '{"patientId": "PATIENT-SECRET-7", oops' })
    const refused = api.logs.filter((l) => l.msg === 'request refused')
    expect(refused.map((l) => l.code)).toEqual(['EVENT_INVALID', 'ARGUMENT_INVALID'])
    expect(refused.map((l) => l.field)).toEqual(['events[1].action', 'body'])
    expect(JSON.stringify(api.logs)).not.toContain('PATIENT-SECRET-7')
  })
})
