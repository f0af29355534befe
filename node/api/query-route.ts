import type { FastifyInstance } from 'fastify'
import { EhrlogError, isEhrlogError } from '../core/errors.ts'
import type { QueryAnswerJson } from '../core/trust/index.ts'
import type { QueryRequest, Session } from '../query/index.ts'
import { sendFailure } from './http-errors.ts'
import { requireSession, type SessionAuthenticator } from './session.ts'

export const QUERY_PATH = '/api/v1/query'

export interface QueryRouteOptions {
  /** Called at request time: node.ts owns it (and tests may wrap it). */
  query: { answerAs(session: Session, request: QueryRequest): Promise<QueryAnswerJson> }
  auth: SessionAuthenticator
}

/**
 * `GET /api/v1/query?patient=…&actor=…&action=…&resource=…&from=…&to=…&origin=…&limit=…&cursor=…`
 * with a session (`Authorization: Session <token>` or the portal's cookie). Answers the
 * query-answer JSON of docs/query.md, which the client verifies itself; 401 without a valid
 * session, 403 outside the session's scope, 400 naming a bad parameter, 429 with
 * `Retry-After` past the user's query rate.
 */
export async function queryRoute(scope: FastifyInstance, opts: QueryRouteOptions): Promise<void> {
  // No HEAD: Fastify would run the GET handler for it, and every query run is recorded as
  // an audit entry, so a HEAD would be a query without an answer. It gets 405 instead.
  scope.get(QUERY_PATH, { exposeHeadRoute: false }, async (request, reply) => {
    const session = requireSession(request, opts.auth)
    const { limit, cursor, ...filter } = (request.query ?? {}) as Record<string, unknown>
    let answer: QueryAnswerJson
    try {
      answer = await opts.query.answerAs(session, {
        filter,
        ...(limit === undefined ? {} : { limit }),
        ...(cursor === undefined ? {} : { cursor }),
        via: 'http',
      })
    } catch (err) {
      // RFC 9110 §10.2.3: seconds until the user's next query is allowed.
      if (isEhrlogError(err, 'RATE_LIMITED'))
        reply.header('Retry-After', String(err.details.retryAfterSeconds ?? 1))
      throw err
    }
    // Patient data: never cached by a browser or proxy.
    reply.header('Cache-Control', 'no-store')
    return answer
  })
  scope.head(QUERY_PATH, async (_request, reply) => {
    reply.header('Allow', 'GET')
    const error = new EhrlogError(
      'ARGUMENT_INVALID',
      `method HEAD is not allowed on ${QUERY_PATH}: want GET (every query is recorded, so none runs without an answer)`,
      { details: { field: 'method', allowed: ['GET'] } },
    )
    return sendFailure(reply, { statusCode: 405, error, internal: false })
  })
}
