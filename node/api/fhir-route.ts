import { parseEntryId } from '../core/entry.ts'
import { fhirIdOfEntry, parseFhirAuditEvents } from '../core/fhir/index.ts'
import { MAX_EVENTS_PER_REQUEST } from './event-batch.ts'
import { ingestRoute } from './ingest-route.ts'

export type { IngestRouteOptions as FhirRouteOptions } from './ingest-route.ts'

export const FHIR_AUDIT_EVENT_PATH = '/fhir/AuditEvent'

/**
 * `POST /fhir/AuditEvent`: one R4 AuditEvent, or a Bundle (batch, transaction, collection)
 * of them, recorded as events; docs/fhir.md has the mapping. Same token, body limit,
 * Idempotency-Key and error bodies as POST /api/v1/events, and, like it, all or nothing: a
 * Bundle with one bad entry records none. Answers `{ ids }` with the entry ids, and a
 * Location for a single resource. Media types: FHIR JSON (R4 http.html#mime), and plain
 * JSON for clients that send that.
 */
export const fhirRoute = ingestRoute({
  path: FHIR_AUDIT_EVENT_PATH,
  mediaTypes: ['application/fhir+json', 'application/json'],
  read: (value) => {
    const { events, bundle } = parseFhirAuditEvents(value, { maxResources: MAX_EVENTS_PER_REQUEST })
    return { events, ...(bundle ? {} : { locationOf: (ids: string[]) => locationOf(ids[0]) }) }
  },
})

/** `/fhir/AuditEvent/hospital-a.7` for entry hospital-a:7 (a FHIR id has no colon). */
function locationOf(id: string | undefined): string | undefined {
  const entry = id === undefined ? undefined : parseEntryId(id)
  const fhirId = entry && fhirIdOfEntry(entry.origin, entry.seq)
  return fhirId === undefined ? undefined : `${FHIR_AUDIT_EVENT_PATH}/${fhirId}`
}
