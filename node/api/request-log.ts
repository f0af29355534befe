import { type FastifyReply, type FastifyRequest, LogController } from 'fastify'

/**
 * Fastify logs every request and response at info; an EHR posts events all day, so those
 * lines go to debug. Errors are logged by HttpServer's error handler, once, at a level
 * fitting their cause.
 */
export class DebugRequestLog extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ req: request }, 'incoming request')
  }

  override requestCompleted(
    error: Error | null | undefined,
    _request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    if (error) reply.log.warn({ res: reply, err: error }, 'request errored')
    else reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, 'request completed')
  }
}
