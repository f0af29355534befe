import type { FastifyInstance, FastifyReply } from 'fastify'

const API_PATH = /^\/api(\/|\?|$)/

/**
 * No MIME sniffing of JSON into something executable, no Referer leaking URLs to other
 * sites, and API answers (which may hold patient data) never kept by a browser or proxy.
 */
export function setSecurityHeaders(url: string, reply: FastifyReply): void {
  reply.header('X-Content-Type-Options', 'nosniff')
  reply.header('Referrer-Policy', 'no-referrer')
  if (API_PATH.test(url)) reply.header('Cache-Control', 'no-store')
}

/** Sets the security headers on every response that goes through Fastify's hooks. */
export function addSecurityHeaders(app: FastifyInstance): void {
  app.addHook('onSend', async (request, reply, payload) => {
    setSecurityHeaders(request.url, reply)
    return payload
  })
}
