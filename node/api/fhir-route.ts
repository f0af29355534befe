import { errorCodes, type FastifyInstance, type FastifyRequest } from 'fastify'
import { parseEntryId } from '../core/entry.ts'
import { fhirIdOfEntry, parseFhirAuditEvents } from '../core/fhir/index.ts'
import type { IngestQueue } from '../ingest/index.ts'
import type { BearerToken } from './bearer-auth.ts'
import { MAX_EVENTS_PER_REQUEST } from './event-batch.ts'
import type { EventsResponse } from './events-route.ts'
import { readIdempotencyKey } from './idempotency-key.ts'
import { type JsonBody, parseJsonBody } from './json-body.ts'
import { KeySerializer } from './key-serializer.ts'

export const FHIR_AUDIT_EVENT_PATH = '/fhir/AuditEvent'

/** The FHIR JSON media type (R4 http.html#mime), and plain JSON for clients that send that. */
const MEDIA_TYPES = ['application/fhir+json', 'application/json'] as const

export interface FhirRouteOptions {
  ingest: IngestQueue
  token: BearerToken
}

/**
 * `POST /fhir/AuditEvent`: one R4 AuditEvent, or a Bundle (batch, transaction, collection)
 * of them, recorded as events; docs/fhir.md has the mapping. Same token, body limit,
 * Idempotency-Key and error bodies as POST /api/v1/events, and, like it, all or nothing: a
 * Bundle with one bad entry records none. Answers `{ ids }` with the entry ids, and a
 * Location for a single resource.
 */
export async function fhirRoute(scope: FastifyInstance, opts: FhirRouteOptions): Promise<void> {
  // One at a time per key, as in events-route.ts: a retry finds the first one's receipt.
  const sameKey = new KeySerializer()
  scope.removeAllContentTypeParsers()
  for (const mediaType of MEDIA_TYPES) {
    scope.addContentTypeParser<Buffer>(
      mediaType,
      { parseAs: 'buffer' },
      async (_request: FastifyRequest, body: Buffer) => parseJsonBody(body),
    )
  }

  scope.post(
    FHIR_AUDIT_EVENT_PATH,
    {
      onRequest: async (request) => {
        opts.token.check(request.headers.authorization)
      },
    },
    async (request, reply): Promise<EventsResponse> => {
      const key = readIdempotencyKey(request.headers['idempotency-key'])
      const body = request.body as JsonBody | undefined
      if (body === undefined) throw new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE()
      const { events, bundle } = parseFhirAuditEvents(body.value, {
        maxResources: MAX_EVENTS_PER_REQUEST,
      })
      const { ids, duplicate } =
        key === undefined
          ? await opts.ingest.submit(events)
          : await sameKey.run(key, () => opts.ingest.submit(events, { key, bodyHash: body.sha256 }))
      const location = bundle ? undefined : locationOf(ids[0])
      if (location !== undefined) reply.header('Location', location)
      if (duplicate) return reply.code(200).send({ ids, duplicate: true })
      return reply.code(201).send({ ids })
    },
  )
}

/** `/fhir/AuditEvent/hospital-a.7` for entry hospital-a:7 (a FHIR id has no colon). */
function locationOf(id: string | undefined): string | undefined {
  const entry = id === undefined ? undefined : parseEntryId(id)
  const fhirId = entry && fhirIdOfEntry(entry.origin, entry.seq)
  return fhirId === undefined ? undefined : `${FHIR_AUDIT_EVENT_PATH}/${fhirId}`
}
