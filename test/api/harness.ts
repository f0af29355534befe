import { Writable } from 'node:stream'
import { pino } from 'pino'
import { afterEach } from 'vitest'
import { HttpServer, type HttpServerOptions, type NodeStatus } from '../../node/api/index.ts'
import type { AuditEvent } from '../../node/core/event.ts'
import { IngestQueue, OwnFeed } from '../../node/ingest/index.ts'
import { silentLogger } from '../../node/logger.ts'
import type { LogStore } from '../../node/store/index.ts'
import { makeSigner, makeStoreKeys, openStore } from '../helpers/fixtures.ts'
import { useTempDirs } from '../helpers/temp-dir.ts'

export const ORIGIN = 'hospital-a'
export const TOKEN = 'tok_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG'

export interface LogLine {
  level: number
  msg: string
  [key: string]: unknown
}

/** A running API on 127.0.0.1 over a real LevelDB store and ingest queue. */
export interface Api {
  server: HttpServer
  store: LogStore
  url: string
  /** Every log line of the server, parsed (debug and up). */
  logs: LogLine[]
  /** POST /api/v1/events with the token and `application/json` unless overridden. */
  post(body: unknown, opts?: PostOptions): Promise<Response>
  /** Entries in the node's own feed. */
  size(): number
  /** The stored event bodies of the node's own feed, in seq order. */
  storedEvents(): Promise<AuditEvent[]>
}

export interface PostOptions {
  /** Raw body: sent as is rather than JSON-encoded. */
  raw?: string | Uint8Array<ArrayBuffer>
  headers?: Record<string, string>
  /** null: no Authorization header. */
  token?: string | null
  /** null: no Content-Type header. */
  contentType?: string | null
}

export type StartApi = (
  opts?: Partial<Pick<HttpServerOptions, 'bodyLimitBytes' | 'status' | 'auth'>>,
) => Promise<Api>

/** Gives each test a way to start APIs; all are stopped and their stores closed after it. */
export function useApi(): StartApi {
  // Registered first, so (hooks run as a stack) the folders go after the stores close.
  const tempDir = useTempDirs()
  const cleanups: Array<() => Promise<void>> = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  })

  return async (opts = {}) => {
    const signer = makeSigner(ORIGIN)
    const store = openStore(await tempDir(), makeStoreKeys(), [signer])
    await store.open()
    const feed = new OwnFeed({
      store,
      signer,
      gossip: { publish: () => {} },
      logger: silentLogger(),
    })
    const ingest = new IngestQueue({ store, feed })
    const logs: LogLine[] = []
    const server = new HttpServer({
      host: '127.0.0.1',
      port: 0,
      apiToken: TOKEN,
      ingest,
      logger: captureLogger(logs),
      status: opts.status ?? (() => statusOf(store)),
      ...(opts.bodyLimitBytes === undefined ? {} : { bodyLimitBytes: opts.bodyLimitBytes }),
      ...(opts.auth === undefined ? {} : { auth: opts.auth }),
    })
    cleanups.push(async () => {
      await server.stop()
      await ingest.drain()
      await store.close()
    })
    await server.start()
    const url = server.url

    return {
      server,
      store,
      url,
      logs,
      post: (body, p = {}) => {
        const headers: Record<string, string> = { ...p.headers }
        if (p.token !== null) headers.authorization = `Bearer ${p.token ?? TOKEN}`
        if (p.contentType !== null) headers['content-type'] = p.contentType ?? 'application/json'
        return fetch(`${url}/api/v1/events`, {
          method: 'POST',
          headers,
          body: p.raw ?? JSON.stringify(body),
        })
      },
      size: () => store.size(ORIGIN),
      storedEvents: async () => {
        const out: AuditEvent[] = []
        for (let seq = 1; seq <= store.size(ORIGIN); seq++) {
          const stored = await store.getEntry(ORIGIN, seq)
          out.push(stored!.entry.body as AuditEvent)
        }
        return out
      },
    }
  }
}

function statusOf(store: LogStore): NodeStatus {
  return {
    node: ORIGIN,
    peers: [],
    feeds: [...store.sizes()].map(([origin, size]) => ({
      origin,
      size,
      headSize: store.latestHead(origin)?.treeSize ?? 0,
    })),
    uptimeSeconds: 1,
  }
}

function captureLogger(lines: LogLine[]) {
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const text of String(chunk).split('\n'))
        if (text) lines.push(JSON.parse(text) as LogLine)
      done()
    },
  })
  return pino({ level: 'debug' }, sink)
}

/** An event as a client sends it (outcome left to its default, time in a local zone). */
export function eventInput(
  i: number,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    patientId: `patient-${i}`,
    actorId: `dr-${i % 3}`,
    action: 'read',
    resource: 'user_prescriptions',
    time: `2023-12-04T19:${String(i % 60).padStart(2, '0')}:00+01:00`,
    notes: `note ${i}`,
    ...overrides,
  }
}

/** The `{ error }` body of a failed request, with its status. */
export async function errorOf(res: Response): Promise<{
  status: number
  code: string
  message: string
  details: Record<string, unknown>
}> {
  const body = (await res.json()) as {
    error: { code: string; message: string; details: Record<string, unknown> }
  }
  return { status: res.status, ...body.error }
}
