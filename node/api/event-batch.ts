import { EhrlogError } from '../core/errors.ts'
import { type AuditEvent, parseEvent } from '../core/event.ts'

/** Events one request may carry; larger loads are split by the client. */
export const MAX_EVENTS_PER_REQUEST = 1000

/**
 * Reads the ingest body: one event, an array of events, or `{ "events": [...] }`. Every
 * event is validated before anything is stored, so a batch is accepted whole or not at all.
 * Throws EVENT_INVALID naming the field (`event.action`, `events[3].time`), or
 * PAYLOAD_TOO_LARGE past MAX_EVENTS_PER_REQUEST.
 */
export function readEventBatch(body: unknown): AuditEvent[] {
  if (Array.isArray(body)) return parseAll(body)
  if (isObject(body))
    return Object.hasOwn(body, 'events')
      ? parseAll(envelopeEvents(body))
      : [parseEvent(body, 'event')]
  throw new EhrlogError(
    'EVENT_INVALID',
    `request body must be an event object, an array of events or {"events": [...]}, got ${kindOf(body)}`,
    { details: { field: 'body' } },
  )
}

function parseAll(items: unknown[]): AuditEvent[] {
  if (items.length === 0) {
    throw new EhrlogError('EVENT_INVALID', 'request has no events: want 1 or more', {
      details: { field: 'events' },
    })
  }
  // Checked before validation: validating an oversized batch would be wasted work.
  if (items.length > MAX_EVENTS_PER_REQUEST) {
    throw new EhrlogError(
      'PAYLOAD_TOO_LARGE',
      `request has ${items.length} events, the limit is ${MAX_EVENTS_PER_REQUEST} per request`,
      { details: { field: 'events', count: items.length, limit: MAX_EVENTS_PER_REQUEST } },
    )
  }
  return items.map((item, i) => parseEvent(item, `events[${i}]`))
}

function envelopeEvents(body: Record<string, unknown>): unknown[] {
  const extra = Object.keys(body).filter((key) => key !== 'events')
  if (extra.length > 0) {
    throw new EhrlogError(
      'EVENT_INVALID',
      `request body has unknown field(s) ${extra.join(', ')} next to "events"`,
      { details: { field: extra[0] } },
    )
  }
  if (!Array.isArray(body.events)) {
    throw new EhrlogError('EVENT_INVALID', `events must be an array, got ${kindOf(body.events)}`, {
      details: { field: 'events' },
    })
  }
  return body.events
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function kindOf(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`
}
