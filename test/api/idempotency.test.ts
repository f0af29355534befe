import { describe, expect, it } from 'vitest'
import { errorOf, eventInput, ORIGIN, useApi } from './harness.ts'

const startApi = useApi()

const batch = [eventInput(1), eventInput(2), eventInput(3)]
const ids = [1, 2, 3].map((seq) => `${ORIGIN}:${seq}`)
const withKey = (key: string) => ({ headers: { 'idempotency-key': key } })

describe('Idempotency-Key', () => {
  it('answers a sequential retry with the first ids and duplicate: true', async () => {
    const api = await startApi()
    const first = await api.post(batch, withKey('req-1'))
    expect(first.status).toBe(201)
    expect(await first.json()).toEqual({ ids })
    const retry = await api.post(batch, withKey('req-1'))
    expect(retry.status).toBe(200)
    expect(await retry.json()).toEqual({ ids, duplicate: true })
    expect(api.size()).toBe(3)
  })

  it('appends concurrent retries once', async () => {
    const api = await startApi()
    const answers = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const res = await api.post(batch, withKey('req-concurrent'))
        return { status: res.status, body: await res.json() }
      }),
    )
    expect(answers.filter((a) => a.status === 201)).toEqual([{ status: 201, body: { ids } }])
    expect(answers.filter((a) => a.status === 200)).toHaveLength(7)
    for (const a of answers.filter((a) => a.status === 200))
      expect(a.body).toEqual({ ids, duplicate: true })
    expect(api.size()).toBe(3)
  })

  it('lets one of concurrent same-key requests with different bodies in, refusing the rest', async () => {
    const api = await startApi()
    const answers = await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        const res = await api.post([eventInput(i)], withKey('req-race'))
        return { status: res.status, body: (await res.json()) as Record<string, unknown> }
      }),
    )
    expect(answers.map((a) => a.status).sort()).toEqual([201, 409, 409, 409, 409, 409])
    expect(answers.find((a) => a.status === 201)?.body).toEqual({ ids: [`${ORIGIN}:1`] })
    expect(api.size()).toBe(1)
  })

  it('refuses the same key with another body with 409 and stores nothing more', async () => {
    const api = await startApi()
    expect((await api.post(batch, withKey('req-2'))).status).toBe(201)
    const other = await api.post([eventInput(1), eventInput(2), eventInput(4)], withKey('req-2'))
    const err = await errorOf(other)
    expect(err).toMatchObject({ status: 409, code: 'IDEMPOTENCY_CONFLICT' })
    expect(err.details.field).toBe('Idempotency-Key')
    expect(api.size()).toBe(3)
  })

  it('treats the same events in other bytes as another body', async () => {
    const api = await startApi()
    expect((await api.post(batch, withKey('req-3'))).status).toBe(201)
    const spaced = await api.post(undefined, {
      ...withKey('req-3'),
      raw: JSON.stringify(batch, null, 2),
    })
    expect((await errorOf(spaced)).status).toBe(409)
    expect(api.size()).toBe(3)
  })

  it('appends the same body twice under different keys, and without a key', async () => {
    const api = await startApi()
    expect((await api.post(batch, withKey('req-a'))).status).toBe(201)
    expect((await api.post(batch, withKey('req-b'))).status).toBe(201)
    expect((await api.post(batch)).status).toBe(201)
    expect(api.size()).toBe(9)
  })

  it('does not burn the key on a refused request', async () => {
    const api = await startApi()
    const bad = await api.post([eventInput(1, { action: 'peek' })], withKey('req-4'))
    expect((await errorOf(bad)).status).toBe(400)
    const fixed = await api.post([eventInput(1)], withKey('req-4'))
    expect(fixed.status).toBe(201)
    expect(api.size()).toBe(1)
  })
})
