import { expect } from 'vitest'
import type { AuditEvent } from '../../node/core/event.ts'
import { makeEvent } from '../helpers/fixtures.ts'
import type { Member } from './harness.ts'

/** A running node seen through its HTTP API: ingest, status, and waiting on status. */

export interface FeedStatus {
  origin: string
  size: number
  headSize?: number
}

export interface NodeStatusBody {
  node: string
  peers: Array<{ name?: string; peerId: string; connected: boolean }>
  feeds: FeedStatus[]
}

/** POST /api/v1/events with the member's token (or `opts.token`) and an optional key. */
export function postEvents(
  m: Member,
  body: unknown,
  opts: { key?: string; token?: string; raw?: string } = {},
): Promise<Response> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    authorization: `Bearer ${opts.token ?? m.apiToken}`,
  }
  if (opts.key !== undefined) headers['idempotency-key'] = opts.key
  return fetch(`${m.http}/api/v1/events`, {
    method: 'POST',
    headers,
    body: opts.raw ?? JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  })
}

/** POSTs events and expects 201; returns the ids. */
export async function appendEvents(m: Member, events: AuditEvent[]): Promise<string[]> {
  const res = await postEvents(m, events)
  const text = await res.text()
  expect(res.status, `POST to ${m.name}: ${text}`).toBe(201)
  const { ids } = JSON.parse(text) as { ids: string[] }
  expect(ids).toHaveLength(events.length)
  return ids
}

export async function getStatus(m: Member): Promise<NodeStatusBody> {
  const res = await fetch(`${m.http}/api/v1/status`, { signal: AbortSignal.timeout(5_000) })
  expect(res.status, `status of ${m.name}`).toBe(200)
  return (await res.json()) as NodeStatusBody
}

/** origin → size of every feed the node holds (absent feeds are 0). */
export async function feedSizes(m: Member): Promise<Map<string, number>> {
  const status = await getStatus(m)
  return new Map(status.feeds.map((f) => [f.origin, f.size]))
}

/**
 * Polls `probe` until it returns `{ done: true }`, or fails after `timeoutMs` with `what` and
 * the last value seen. A probe that throws counts as not done (a node may be restarting).
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<{ done: boolean; value: T }>,
  timeoutMs: number,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown = 'nothing yet'
  for (;;) {
    try {
      const { done, value } = await probe()
      if (done) return value
      last = value
    } catch (err) {
      last = err instanceof Error ? `${err.name}: ${err.message}` : err
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${show(last)}`)
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}

function show(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (v instanceof Map ? Object.fromEntries(v) : v))
}

/** Waits until every running member holds `expected` (origin → size), heads included. */
export async function waitForSizes(
  members: Member[],
  expected: Map<string, number>,
  timeoutMs: number,
): Promise<void> {
  await waitFor(
    `${members.map((m) => m.name).join(', ')} to hold ${show(expected)}`,
    async () => {
      const seen: Record<string, FeedStatus[]> = {}
      let done = true
      for (const m of members) {
        const { feeds } = await getStatus(m)
        seen[m.name] = feeds
        for (const [origin, size] of expected) {
          const feed = feeds.find((f) => f.origin === origin)
          if (feed?.size !== size || feed.headSize !== size) done = false
        }
        if (feeds.length !== expected.size) done = false
      }
      return { done, value: seen }
    },
    timeoutMs,
  )
}

/** `count` events numbered from `from`, each with a distinct note so duplicates show. */
export function eventRange(from: number, count: number): AuditEvent[] {
  return Array.from({ length: count }, (_, i) => makeEvent(from + i))
}
