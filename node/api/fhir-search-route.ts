import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { isEhrlogError } from '../core/errors.ts'
import { EHRLOG_FHIR_BASE } from '../core/fhir/codes.ts'
import { CURSOR_PARAM, groupParams, parseFhirSearch } from '../core/fhir/search-params.ts'
import type { QueryAnswerJson } from '../core/trust/index.ts'
import type { QueryRequest, Session } from '../query/index.ts'
import { FHIR_AUDIT_EVENT_PATH } from './fhir-route.ts'
import { toSearchBundle } from './fhir-search-bundle.ts'
import { httpFailureOf } from './http-errors.ts'
import { requireSession, type SessionAuthenticator } from './session.ts'

export interface FhirSearchRouteOptions {
  query: { answerAs(session: Session, request: QueryRequest): Promise<QueryAnswerJson> }
  auth: SessionAuthenticator
  bodyLimitBytes: number
}

/** The code system of ehrlog's error codes, in an OperationOutcome's `issue.details`. */
export const EHRLOG_ERROR_SYSTEM = `${EHRLOG_FHIR_BASE}/CodeSystem/error`

/** OperationOutcome issue types (R4 issue-type, a required binding) by ehrlog error code. */
const ISSUE_TYPES: Record<string, string> = {
  ARGUMENT_INVALID: 'invalid',
  UNAUTHORIZED: 'login',
  FORBIDDEN: 'forbidden',
  RATE_LIMITED: 'throttled',
  UNAVAILABLE: 'transient',
}

/**
 * `GET /fhir/AuditEvent?…` (IHE ITI-81): a FHIR search answered through the query path
 * (QueryService.answerAs), so it has the query's scopes, rate limit and audit record. The
 * answer is a searchset Bundle whose AuditEvents carry their inclusion proofs (docs/fhir.md,
 * "Search"); every failure is an OperationOutcome with the status of the error code.
 */
export async function fhirSearchRoute(
  scope: FastifyInstance,
  opts: FhirSearchRouteOptions,
): Promise<void> {
  // No HEAD: a search is recorded, so none runs without an answer (as on the query route).
  scope.get(FHIR_AUDIT_EVENT_PATH, { exposeHeadRoute: false }, async (request, reply) => {
    try {
      const session = requireSession(request, opts.auth)
      const url = new URL(request.url, 'http://ehrlog.invalid')
      const params = groupParams(url.searchParams)
      const search = parseFhirSearch(params)
      const answer = await opts.query.answerAs(session, {
        filter: search.filter,
        ...(search.count === undefined ? {} : { limit: search.count }),
        ...(search.cursor === undefined ? {} : { cursor: search.cursor }),
        via: 'http',
      })
      const base = `${request.protocol}://${request.headers.host ?? 'localhost'}/fhir`
      const self = `${base}/AuditEvent${url.search}`
      let next: string | undefined
      if (answer.next !== undefined) {
        const nextParams = new URLSearchParams(url.searchParams)
        nextParams.set(CURSOR_PARAM, answer.next)
        next = `${base}/AuditEvent?${nextParams}`
      }
      const bundle = toSearchBundle(answer, next === undefined ? { self } : { self, next }, {
        baseUrl: base,
        firstPage: search.cursor === undefined,
        ...(search.mapping === undefined ? {} : { mapping: search.mapping }),
      })
      reply.header('Cache-Control', 'no-store')
      return reply.type('application/fhir+json; charset=utf-8').send(bundle)
    } catch (err) {
      return sendOperationOutcome(request, reply, err, opts.bodyLimitBytes)
    }
  })
}

/** The failure as an R4 OperationOutcome, with the status the JSON API would give it. */
function sendOperationOutcome(
  request: FastifyRequest,
  reply: FastifyReply,
  err: unknown,
  bodyLimitBytes: number,
): FastifyReply {
  const failure = httpFailureOf(err, {
    bodyLimitBytes,
    contentType: request.headers['content-type'],
  })
  if (failure.internal) request.log.error({ err }, 'FHIR search failed')
  const { code, message, details } = failure.error
  if (isEhrlogError(err, 'RATE_LIMITED'))
    reply.header('Retry-After', String(err.details.retryAfterSeconds ?? 1))
  if (failure.statusCode === 401) reply.header('WWW-Authenticate', 'Session realm="ehrlog"')
  const field = typeof details.field === 'string' ? details.field : undefined
  const outcome = {
    resourceType: 'OperationOutcome',
    issue: [
      {
        severity: 'error',
        code: ISSUE_TYPES[code] ?? 'exception',
        details: { coding: [{ system: EHRLOG_ERROR_SYSTEM, code }], text: message },
        diagnostics: message,
        ...(field === undefined ? {} : { expression: [field] }),
      },
    ],
  }
  return reply.code(failure.statusCode).type('application/fhir+json; charset=utf-8').send(outcome)
}
