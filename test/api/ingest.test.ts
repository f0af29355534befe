import { describe, expect, it } from 'vitest'
import { parseEvent } from '../../node/core/event.ts'
import { errorOf, eventInput, ORIGIN, TOKEN, useApi } from './harness.ts'

const startApi = useApi()

describe('POST /api/v1/events: accepted', () => {
  it('stores a single event and answers 201 with its entry id', async () => {
    const api = await startApi()
    const res = await api.post(eventInput(1))
    expect(res.status).toBe(201)
    expect(res.headers.get('content-type')).toMatch(/^application\/json/)
    expect(await res.json()).toEqual({ ids: [`${ORIGIN}:1`] })
    expect(api.size()).toBe(1)
    expect(await api.storedEvents()).toEqual([parseEvent(eventInput(1))])
  })

  it('stores an array of events in order', async () => {
    const api = await startApi()
    const events = [1, 2, 3].map((i) => eventInput(i))
    const res = await api.post(events)
    expect(res.status).toBe(201)
    expect(await res.json()).toEqual({ ids: [1, 2, 3].map((seq) => `${ORIGIN}:${seq}`) })
    expect(await api.storedEvents()).toEqual(events.map((e) => parseEvent(e)))
  })

  it('stores the { events: [...] } form', async () => {
    const api = await startApi()
    const events = [4, 5].map((i) => eventInput(i))
    const res = await api.post({ events })
    expect(res.status).toBe(201)
    expect(await res.json()).toEqual({ ids: [`${ORIGIN}:1`, `${ORIGIN}:2`] })
    expect(await api.storedEvents()).toEqual(events.map((e) => parseEvent(e)))
  })

  it('accepts a charset parameter and exactly 1000 events', async () => {
    const api = await startApi()
    const events = Array.from({ length: 1000 }, (_, i) => eventInput(i))
    const res = await api.post(events, { contentType: 'application/json; charset=utf-8' })
    expect(res.status).toBe(201)
    expect(((await res.json()) as { ids: string[] }).ids).toHaveLength(1000)
    expect(api.size()).toBe(1000)
  })

  it('gives concurrent requests distinct ids covering every entry', async () => {
    const api = await startApi()
    const answers = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const res = await api.post([eventInput(2 * i), eventInput(2 * i + 1)])
        expect(res.status).toBe(201)
        return ((await res.json()) as { ids: string[] }).ids
      }),
    )
    const ids = answers.flat()
    expect(new Set(ids).size).toBe(40)
    expect(api.size()).toBe(40)
    expect(ids.sort()).toEqual(Array.from({ length: 40 }, (_, i) => `${ORIGIN}:${i + 1}`).sort())
  })
})

describe('POST /api/v1/events: authorization', () => {
  const cases: Array<[string, string | null, Record<string, string>]> = [
    ['no Authorization header', null, {}],
    ['a wrong token', 'not-the-token', {}],
    ['the token with a suffix', `${TOKEN}x`, {}],
    ['a prefix of the token', TOKEN.slice(0, -1), {}],
    ['another scheme', null, { authorization: `Basic ${TOKEN}` }],
    ['an empty bearer', null, { authorization: 'Bearer ' }],
  ]
  for (const [name, token, headers] of cases) {
    it(`refuses ${name} with 401 and stores nothing`, async () => {
      const api = await startApi()
      const res = await api.post(eventInput(1), { token, headers })
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="ehrlog"')
      const err = await errorOf(res)
      expect(err).toMatchObject({ status: 401, code: 'UNAUTHORIZED' })
      expect(err.details.field).toBe('Authorization')
      expect(api.size()).toBe(0)
    })
  }

  it('checks the token before reading the body', async () => {
    const api = await startApi()
    const res = await api.post(undefined, { token: 'wrong', raw: '{not json' })
    expect((await errorOf(res)).code).toBe('UNAUTHORIZED')
  })

  it('accepts the scheme in any case', async () => {
    const api = await startApi()
    const res = await api.post(eventInput(1), {
      token: null,
      headers: { authorization: `bearer ${TOKEN}` },
    })
    expect(res.status).toBe(201)
  })

  it('logs refused tokens without the token', async () => {
    const api = await startApi()
    await api.post(eventInput(1), { token: 'secret-guess-123' })
    const warned = api.logs.filter((l) => l.level === 40)
    expect(warned.map((l) => l.msg)).toEqual(['request without a valid API token'])
    expect(JSON.stringify(api.logs)).not.toContain('secret-guess-123')
  })
})
