import type { FastifyReply } from 'fastify'
import { EhrlogError, type ErrorCode, isEhrlogError } from '../core/errors.ts'

/** Every error the API answers has this body. `code` is the EhrlogError code: stable API. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; details: Record<string, unknown> }
}

/** An error turned into an answer: the HTTP status and the error that goes in the body. */
export interface HttpFailure {
  statusCode: number
  error: EhrlogError
  /** Not the client's fault: the cause is logged and the client sees only INTERNAL. */
  internal: boolean
}

const STATUS_BY_CODE: Partial<Record<ErrorCode, number>> = {
  EVENT_INVALID: 400,
  ARGUMENT_INVALID: 400,
  MESSAGE_INVALID: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  IDEMPOTENCY_CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  UNAVAILABLE: 503,
  // Membership changes (node/core/trust/membership-chain.ts): thrown for input only.
  SIGNER_UNKNOWN: 403,
  QUORUM_NOT_MET: 409,
  CHANGE_REPLAYED: 409,
  CHANGE_OUT_OF_ORDER: 409,
  MEMBER_CONFLICT: 409,
}

/**
 * Errors a route knows are about the request although their code can also mean damage
 * elsewhere (INVALID_PROOF of a submitted key, EQUIVOCATION of a second vote): their status.
 */
const CLIENT_FAULTS = new WeakMap<EhrlogError, number>()

/** Marks `err` as the client's (answered with `status`, default 400) and returns it. */
export function clientFault(err: EhrlogError, status = 400): EhrlogError {
  CLIENT_FAULTS.set(err, status)
  return err
}

/** Longest header value echoed back in a message. */
const ECHO_MAX = 100

export interface FailureContext {
  bodyLimitBytes: number
  contentType: string | undefined
}

/**
 * Maps anything thrown while answering a request to its HTTP answer. EhrlogErrors with a
 * client-facing code and Fastify's own 4xx errors (body too large, media type, bad URL) say
 * what was wrong; everything else is a 500 whose detail stays in the log.
 */
export function httpFailureOf(err: unknown, ctx: FailureContext): HttpFailure {
  if (isEhrlogError(err)) {
    const statusCode = CLIENT_FAULTS.get(err) ?? STATUS_BY_CODE[err.code]
    if (statusCode !== undefined) return { statusCode, error: err, internal: false }
    if (err.code === 'STORE_CLOSED')
      return { statusCode: 503, error: shuttingDown(), internal: false }
    // Damage found while reading (a flipped byte on disk): the integrity service repairs it
    // from peers; until then the answer is "not now", with the code, not a 500.
    if (err.code === 'STORE_CORRUPT')
      return {
        statusCode: 503,
        error: new EhrlogError(
          'STORE_CORRUPT',
          "part of this node's replica failed verification and is being repaired from its peers: retry later, or ask another node",
        ),
        internal: false,
      }
    return internalFailure()
  }
  const fastifyCode = (err as { code?: unknown } | null)?.code
  if (fastifyCode === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    const error = new EhrlogError(
      'PAYLOAD_TOO_LARGE',
      `request body is larger than the limit of ${ctx.bodyLimitBytes} bytes`,
      { details: { field: 'body', limitBytes: ctx.bodyLimitBytes } },
    )
    return { statusCode: 413, error, internal: false }
  }
  if (fastifyCode === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return { statusCode: 415, error: unsupportedMediaType(ctx.contentType), internal: false }
  }
  const statusCode = (err as { statusCode?: unknown } | null)?.statusCode
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    // Fastify's and Node's request errors (bad URL encoding, Content-Length mismatch): their
    // messages describe the request, never our internals.
    const message = err instanceof Error ? err.message : 'bad request'
    return { statusCode, error: new EhrlogError('ARGUMENT_INVALID', message), internal: false }
  }
  return internalFailure()
}

export function unsupportedMediaType(contentType: string | undefined): EhrlogError {
  const got = contentType === undefined ? 'none' : JSON.stringify(contentType.slice(0, ECHO_MAX))
  const charset = /;\s*charset\s*=/i.test(contentType ?? '') ? ' (charset utf-8, or none)' : ''
  return new EhrlogError(
    'ARGUMENT_INVALID',
    `Content-Type ${got} is not supported: want application/json${charset}`,
    { details: { field: 'Content-Type' } },
  )
}

function shuttingDown(): EhrlogError {
  return new EhrlogError('UNAVAILABLE', 'the node is shutting down: retry later')
}

function internalFailure(): HttpFailure {
  return { statusCode: 500, error: new EhrlogError('INTERNAL', 'internal error'), internal: true }
}

/** Sends `{ error: { code, message, details } }` with the failure's status. */
export function sendFailure(reply: FastifyReply, failure: HttpFailure): FastifyReply {
  const body: ErrorBody = { error: failure.error.toJSON() }
  if (failure.statusCode === 401) reply.header('WWW-Authenticate', 'Bearer realm="ehrlog"')
  return reply.code(failure.statusCode).type('application/json; charset=utf-8').send(body)
}

/**
 * The raw HTTP answer to a request Node's parser refused before Fastify saw it (a header block
 * over the limit, a malformed request line), in the API's error shape. The connection closes.
 */
export function clientErrorResponse(err: { code?: unknown }): string {
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW'
  const [status, reason] = tooLarge
    ? [431, 'Request Header Fields Too Large']
    : [400, 'Bad Request']
  const error = tooLarge
    ? new EhrlogError('PAYLOAD_TOO_LARGE', 'request headers are larger than the limit (16 KiB)', {
        details: { field: 'headers' },
      })
    : new EhrlogError('ARGUMENT_INVALID', 'malformed HTTP request', {
        details: { field: 'request' },
      })
  const body = JSON.stringify({ error: error.toJSON() })
  return `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
}
