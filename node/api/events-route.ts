import { readEventBatch } from './event-batch.ts'
import { ingestRoute } from './ingest-route.ts'

export type { EventsResponse, IngestRouteOptions as EventsRouteOptions } from './ingest-route.ts'

export const EVENTS_PATH = '/api/v1/events'

/** `POST /api/v1/events`: one event or a batch of them (event-batch.ts). */
export const eventsRoute = ingestRoute({
  path: EVENTS_PATH,
  mediaTypes: ['application/json'],
  read: (value) => ({ events: readEventBatch(value) }),
})
