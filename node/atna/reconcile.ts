import type { AuditEvent } from '../core/event.ts'
import { correlationIdsOf, parseAuditMessage } from './audit-message.ts'

/** An event as the reconciliation reads it: its entry id and body. */
export interface ReconcileInput {
  id: string
  event: AuditEvent
}

/** A correlation id one source recorded and the other did not. */
export interface Unmatched {
  correlationId: string
  /** The source that recorded it. */
  recordedBy: string
  /** The source that did not: the silent one. */
  silent: string
  entryIds: string[]
  time: string
}

export interface ReconcileReport {
  sources: [string, string]
  /** Correlation ids both sources recorded. */
  matched: number
  unmatched: Unmatched[]
  /** Events of the two sources whose original message carries no correlation id (not checked). */
  uncorrelated: number
}

/**
 * Double recording (BALP: client and server of one access both record it): for two audit
 * sources, every correlation id one recorded and the other did not, naming the silent
 * source. Reads the original messages kept with ATNA events; events without one (not from
 * ATNA) are not considered. Pure: the caller reads the events.
 */
export function reconcile(inputs: Iterable<ReconcileInput>, a: string, b: string): ReconcileReport {
  const seen = new Map<string, Map<string, { ids: string[]; time: string }>>([
    [a, new Map()],
    [b, new Map()],
  ])
  let uncorrelated = 0
  // One message gives one event per patient: the same original is parsed once.
  const parsed = new Map<string, string[]>()
  for (const { id, event } of inputs) {
    const bySource = event.source === undefined ? undefined : seen.get(event.source)
    if (!bySource || event.original === undefined || event.originalSha256 === undefined) continue
    let ids = parsed.get(event.originalSha256)
    if (!ids) {
      try {
        ids = correlationIdsOf(parseAuditMessage(Buffer.from(event.original, 'base64')))
      } catch {
        ids = [] // a kept original that no longer parses carries no id we can trust
      }
      parsed.set(event.originalSha256, ids)
    }
    if (ids.length === 0) uncorrelated++
    for (const c of ids) {
      const found = bySource.get(c)
      if (found) found.ids.push(id)
      else bySource.set(c, { ids: [id], time: event.time })
    }
  }
  const unmatched: Unmatched[] = []
  let matched = 0
  for (const [recordedBy, silent] of [
    [a, b],
    [b, a],
  ] as const) {
    const other = seen.get(silent)!
    for (const [correlationId, { ids, time }] of seen.get(recordedBy)!) {
      if (other.has(correlationId)) {
        if (recordedBy === a) matched++
      } else unmatched.push({ correlationId, recordedBy, silent, entryIds: ids, time })
    }
  }
  unmatched.sort(
    (x, y) => x.time.localeCompare(y.time) || x.correlationId.localeCompare(y.correlationId),
  )
  return { sources: [a, b], matched, unmatched, uncorrelated }
}
