import { errorCodes, type FastifyInstance, type FastifyRequest } from 'fastify'
import type { IngestQueue } from '../ingest/index.ts'
import type { BearerToken } from './bearer-auth.ts'
import { readEventBatch } from './event-batch.ts'
import { readIdempotencyKey } from './idempotency-key.ts'
import { type JsonBody, parseJsonBody } from './json-body.ts'
import { KeySerializer } from './key-serializer.ts'

export const EVENTS_PATH = '/api/v1/events'

export interface EventsRouteOptions {
  ingest: IngestQueue
  token: BearerToken
}

/** 201 for new entries; a retry with a known Idempotency-Key gets 200 and the first ids. */
export type EventsResponse = { ids: string[] } | { ids: string[]; duplicate: true }

/**
 * `POST /api/v1/events`, in its own plugin scope so that its JSON parser, which keeps the
 * raw body's hash, applies to this route only. The token is checked in onRequest, before a
 * byte of the body is read.
 */
export async function eventsRoute(scope: FastifyInstance, opts: EventsRouteOptions): Promise<void> {
  // IngestQueue.submit looks up a key's receipt before it marks the key as running, so two
  // concurrent submits with one key could both append; same-key requests go one at a time.
  const sameKey = new KeySerializer()
  scope.removeAllContentTypeParsers()
  scope.addContentTypeParser<Buffer>(
    'application/json',
    { parseAs: 'buffer' },
    async (_request: FastifyRequest, body: Buffer) => parseJsonBody(body),
  )

  scope.post(
    EVENTS_PATH,
    {
      onRequest: async (request) => {
        opts.token.check(request.headers.authorization)
      },
    },
    async (request, reply): Promise<EventsResponse> => {
      const key = readIdempotencyKey(request.headers['idempotency-key'])
      // No Content-Type and no body: Fastify skips the parsers and leaves body undefined.
      const body = request.body as JsonBody | undefined
      if (body === undefined) throw new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE()
      const events = readEventBatch(body.value)
      const { ids, duplicate } =
        key === undefined
          ? await opts.ingest.submit(events)
          : await sameKey.run(key, () => opts.ingest.submit(events, { key, bodyHash: body.sha256 }))
      if (duplicate) return reply.code(200).send({ ids, duplicate: true })
      return reply.code(201).send({ ids })
    },
  )
}
