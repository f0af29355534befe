import { errorCodes, type FastifyInstance, type FastifyRequest } from 'fastify'
import type { AuditEvent } from '../core/event.ts'
import type { IngestQueue } from '../ingest/index.ts'
import type { BearerToken } from './bearer-auth.ts'
import { readIdempotencyKey } from './idempotency-key.ts'
import { type JsonBody, parseJsonBody } from './json-body.ts'
import { KeySerializer } from './key-serializer.ts'

export interface IngestRouteOptions {
  ingest: IngestQueue
  token: BearerToken
}

/**
 * 201 for new entries; a retry with a known Idempotency-Key gets 200 and the first ids. 202
 * while the own feed is fenced (after a restore, before a quorum told the node its tip): the
 * events are durable, not yet sequenced; a retry with the same key later gets the entry ids.
 */
export type EventsResponse =
  | { ids: string[] }
  | { ids: string[]; duplicate: true }
  | { pending: true; pendingIds: string[]; duplicate?: true; message: string }

const PENDING_MESSAGE =
  'durable, not yet sequenced: this node is learning its feed tip from the other members; retry with the same Idempotency-Key to get the entry ids'

/** What differs between the ingest paths: where, which media types, how a body reads. */
export interface IngestRouteSpec {
  path: string
  mediaTypes: readonly string[]
  /**
   * The events of a parsed JSON body, all or nothing (an EhrlogError naming the field for
   * bad input), and the Location of what was created, if the path has one.
   */
  read: (value: unknown) => {
    events: AuditEvent[]
    locationOf?: (ids: string[]) => string | undefined
  }
}

/**
 * A POST route that records events, in its own plugin scope so that its JSON parser, which
 * keeps the raw body's hash, applies to this route only. The token is checked in onRequest,
 * before a byte of the body is read. With an Idempotency-Key, a retry gets the first ids.
 */
export function ingestRoute(spec: IngestRouteSpec) {
  return async (scope: FastifyInstance, opts: IngestRouteOptions): Promise<void> => {
    // IngestQueue.submit looks up a key's receipt before it marks the key as running, so two
    // concurrent submits with one key could both append; same-key requests go one at a time.
    const sameKey = new KeySerializer()
    scope.removeAllContentTypeParsers()
    for (const mediaType of spec.mediaTypes) {
      scope.addContentTypeParser<Buffer>(
        mediaType,
        { parseAs: 'buffer' },
        async (request: FastifyRequest, body: Buffer) =>
          parseJsonBody(body, request.headers['content-type']),
      )
    }

    scope.post(
      spec.path,
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
        const { events, locationOf } = spec.read(body.value)
        const { ids, duplicate, pendingIds } =
          key === undefined
            ? await opts.ingest.submit(events)
            : await sameKey.run(key, () =>
                opts.ingest.submit(events, { key, bodyHash: body.sha256 }),
              )
        if (pendingIds) {
          return reply.code(202).send({
            pending: true,
            pendingIds,
            ...(duplicate ? { duplicate: true } : {}),
            message: PENDING_MESSAGE,
          })
        }
        const location = locationOf?.(ids)
        if (location !== undefined) reply.header('Location', location)
        if (duplicate) return reply.code(200).send({ ids, duplicate: true })
        return reply.code(201).send({ ids })
      },
    )
  }
}
