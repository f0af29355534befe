// What the network benchmark sends: audit events of ~300 bytes of JSON shaped like the
// seed's rows, prebuilt into request bodies (making events is not what is timed), and the
// HTTP client that POSTs them to a node.
import { parseEntryId } from '../../node/core/entry.ts'
import type { AuditEvent } from '../../node/core/event.ts'
import { seedEvent } from './seed-events.ts'

/** Events per request of the ingest and catch-up phases. */
export const REQUEST_EVENTS = 500

/** Events `offset .. offset + count - 1`, patients spread as in seed-events.ts. */
function makeEvents(offset: number, count: number): AuditEvent[] {
  return Array.from({ length: count }, (_, j) => {
    const i = offset + j
    return seedEvent(i, `patient-${(Math.floor(i / 8) * 7919) % 50_000}`)
  })
}

const POOL = Array.from({ length: 32 }, (_, r) => makeEvents(r * REQUEST_EVENTS, REQUEST_EVENTS))
/** JSON bodies of REQUEST_EVENTS events each, cycled. */
export const BODIES = POOL.map((events) => JSON.stringify({ events }))
/** JSON bodies of `n` events each (the latency phase's small requests). */
export function smallBodies(n: number): string[] {
  return POOL.map((events) => JSON.stringify({ events: events.slice(0, n) }))
}

/** POSTs bodies to `http`'s /api/v1/events; resolves to the last seq of the request. */
export function eventPoster(http: string, apiToken: string): (body: string) => Promise<number> {
  const url = `${http}/api/v1/events`
  const headers = { authorization: `Bearer ${apiToken}`, 'content-type': 'application/json' }
  return async (body) => {
    const res = await fetch(url, { method: 'POST', headers, body })
    const text = await res.text()
    if (res.status !== 201) throw new Error(`POST ${url}: ${res.status} ${text.slice(0, 200)}`)
    const { ids } = JSON.parse(text) as { ids: string[] }
    return parseEntryId(ids.at(-1)!)!.seq
  }
}
