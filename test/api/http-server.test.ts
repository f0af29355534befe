import { createServer, type Server } from 'node:net'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { HttpServer, type NodeStatus } from '../../node/api/index.ts'
import { isEhrlogError } from '../../node/core/errors.ts'
import type { IngestQueue } from '../../node/ingest/index.ts'
import { errorOf, eventInput, ORIGIN, TOKEN, useApi } from './harness.ts'

const startApi = useApi()

function expectSecurityHeaders(res: Response, api = true): void {
  expect(res.headers.get('x-content-type-options')).toBe('nosniff')
  expect(res.headers.get('referrer-policy')).toBe('no-referrer')
  if (api) expect(res.headers.get('cache-control')).toBe('no-store')
}

describe('GET /api/v1/status', () => {
  it('answers the status callback without a token', async () => {
    const api = await startApi()
    await api.post([eventInput(1), eventInput(2)])
    const res = await fetch(`${api.url}/api/v1/status`)
    expect(res.status).toBe(200)
    expectSecurityHeaders(res)
    expect(await res.json()).toEqual({
      node: ORIGIN,
      peers: [],
      feeds: [{ origin: ORIGIN, size: 2, headSize: 2 }],
      uptimeSeconds: 1,
    })
  })

  it('serializes every field of NodeStatus and drops fields it does not define', async () => {
    const status: NodeStatus = {
      node: 'hospital-a',
      networkId: 'ab12',
      peers: [
        { name: 'hospital-b', peerId: '12D3KooWB', connected: true },
        { peerId: '12D3KooWC', connected: false },
      ],
      feeds: [
        { origin: 'hospital-a', size: 10, headSize: 10 },
        { origin: 'hospital-b', size: 4 },
      ],
      replicationLag: { 'hospital-b': 6 },
      uptimeSeconds: 12.5,
    }
    const api = await startApi({
      status: async () => ({ ...status, lastPatient: 'patient-7' }) as NodeStatus,
    })
    const res = await fetch(`${api.url}/api/v1/status`)
    expect(await res.json()).toEqual(status)
  })

  it('answers 500 INTERNAL when the callback fails, with the cause only in the log', async () => {
    const api = await startApi({
      status: () => {
        throw new Error('disk on fire at /var/lib/ehrlog')
      },
    })
    const res = await fetch(`${api.url}/api/v1/status`)
    expectSecurityHeaders(res)
    expect(await res.json()).toEqual({
      error: { code: 'INTERNAL', message: 'internal error', details: {} },
    })
    expect(res.status).toBe(500)
    const logged = api.logs.filter((l) => l.level === 50)
    expect(logged).toHaveLength(1)
    expect(JSON.stringify(logged[0])).toContain('disk on fire')
  })
})

describe('routing', () => {
  it('answers an unknown path with 404 JSON, whatever the body', async () => {
    const api = await startApi()
    for (const init of [
      {},
      { method: 'POST', body: 'hello', headers: { 'content-type': 'text/plain' } },
    ]) {
      const res = await fetch(`${api.url}/api/v2/events?x=1`, init)
      expectSecurityHeaders(res)
      const err = await errorOf(res)
      expect(err).toMatchObject({ status: 404, code: 'NOT_FOUND' })
      expect(err.details.path).toBe('/api/v2/events')
    }
    const root = await fetch(`${api.url}/`)
    expectSecurityHeaders(root, false)
    expect(root.headers.get('cache-control')).toBeNull()
    expect((await errorOf(root)).status).toBe(404)
  })

  it('answers a wrong method with 405 and Allow', async () => {
    const api = await startApi()
    const get = await fetch(`${api.url}/api/v1/events`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    })
    expect(get.headers.get('allow')).toBe('POST')
    expect(await errorOf(get)).toMatchObject({ status: 405, code: 'ARGUMENT_INVALID' })
    const del = await fetch(`${api.url}/api/v1/status`, { method: 'DELETE' })
    expect(del.headers.get('allow')).toBe('GET, HEAD')
    expect((await errorOf(del)).status).toBe(405)
    expect(api.size()).toBe(0)
  })

  it('answers a malformed URL with 400 JSON', async () => {
    const api = await startApi()
    const res = await fetch(`${api.url}/api/v1/%E0%A4%A`)
    expectSecurityHeaders(res)
    const err = await errorOf(res)
    expect(err.status).toBe(400)
    expect(err.code).toBe('ARGUMENT_INVALID')
  })

  it('logs requests at debug, not info', async () => {
    const api = await startApi()
    await api.post(eventInput(1))
    await fetch(`${api.url}/api/v1/status`)
    const info = api.logs.filter((l) => l.level >= 30)
    expect(info.map((l) => l.msg)).toEqual([`HTTP API listening at ${api.url}`])
    expect(api.logs.filter((l) => l.msg === 'request completed')).toHaveLength(2)
  })
})

describe('lifecycle', () => {
  const silent = pino({ level: 'silent' })
  // start() and stop() never touch the queue: a stand-in is enough for these tests.
  const noIngest = {} as IngestQueue
  const status = (): NodeStatus => ({ node: 'n', peers: [], feeds: [], uptimeSeconds: 0 })
  const make = (port = 0) =>
    new HttpServer({
      host: '127.0.0.1',
      port,
      apiToken: TOKEN,
      ingest: noIngest,
      status,
      logger: silent,
    })

  async function occupiedPort(): Promise<{ port: number; blocker: Server }> {
    const blocker = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    const address = blocker.address()
    if (address === null || typeof address === 'string') throw new Error('no port')
    return { port: address.port, blocker }
  }

  it('has no url before start, stops idempotently and frees the port', async () => {
    const server = make()
    expect(() => server.url).toThrow(/not listening/)
    await server.start()
    await server.start()
    const url = server.url
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect((await fetch(`${url}/api/v1/status`)).status).toBe(200)
    await Promise.all([server.stop(), server.stop()])
    await server.stop()
    expect(() => server.url).toThrow()
    await expect(fetch(`${url}/api/v1/status`)).rejects.toThrow()
    await expect(server.start()).rejects.toSatisfy((e) => isEhrlogError(e, 'UNAVAILABLE'))
  })

  it('stops before start, and a stop during start leaves nothing listening', async () => {
    await make().stop()
    const server = make()
    const starting = server.start()
    const stopping = server.stop()
    await starting
    await stopping
    expect(() => server.url).toThrow()
  })

  it('does no I/O in the constructor; start names a port in use', async () => {
    const { port, blocker } = await occupiedPort()
    try {
      const server = make(port)
      const err = await server.start().then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(isEhrlogError(err, 'UNAVAILABLE')).toBe(true)
      expect((err as Error).message).toContain(`127.0.0.1:${port}`)
      await server.stop()
    } finally {
      await new Promise((resolve) => blocker.close(resolve))
    }
  })

  it('refuses an empty token or a bad body limit at construction', () => {
    const base = { host: '127.0.0.1', port: 0, ingest: noIngest, status, logger: silent }
    expect(() => new HttpServer({ ...base, apiToken: '' })).toThrow(/token/)
    expect(() => new HttpServer({ ...base, apiToken: TOKEN, bodyLimitBytes: 0 })).toThrow(
      /bodyLimitBytes/,
    )
  })
})
