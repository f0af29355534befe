import type { FastifyInstance } from 'fastify'
import type { QueryAnswerJson } from '../core/query-answer.ts'
import type { QueryRequest, Session } from '../query/index.ts'
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
 * session, 403 outside the session's scope, 400 naming a bad parameter.
 */
export async function queryRoute(scope: FastifyInstance, opts: QueryRouteOptions): Promise<void> {
  scope.get(QUERY_PATH, async (request, reply) => {
    const session = requireSession(request, opts.auth)
    const { limit, cursor, ...filter } = (request.query ?? {}) as Record<string, unknown>
    const answer = await opts.query.answerAs(session, {
      filter,
      ...(limit === undefined ? {} : { limit }),
      ...(cursor === undefined ? {} : { cursor }),
      via: 'http',
    })
    // Patient data: never cached by a browser or proxy.
    reply.header('Cache-Control', 'no-store')
    return answer
  })
}
