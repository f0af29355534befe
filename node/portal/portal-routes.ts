import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { AuthenticatedSession } from '../api/session.ts'
import { sessionTokenOf } from '../api/session.ts'
import type { AuthService } from '../auth/index.ts'
import { bundlePortalScript } from './bundle.ts'
import { homePage, loginPage, logoutPage, registerPage } from './pages.ts'
import { PORTAL_CSS } from './style.ts'

export const PORTAL_PATHS = {
  root: '/',
  login: '/login',
  register: '/register',
  home: '/home',
  logout: '/logout',
  script: '/portal/app.js',
  style: '/portal/style.css',
  network: '/api/v1/network',
} as const

/**
 * What the portal tells browsers about the network: network.json (public keys, PeerIds and
 * addresses of the members) and its id, the SHA-256 of its canonical JSON.
 */
export interface PortalNetwork {
  networkId: string
  networkJson: unknown
}

export interface PortalOptions {
  auth: AuthService
  node: string
  network: PortalNetwork
}

/**
 * Only this origin's one script and stylesheet, no inline code, no framing, no plugins, forms
 * post only here: an entry's notes holding markup can never run (they are also escaped, and
 * the script writes them with textContent).
 */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ')

function sendPage(reply: FastifyReply, body: string): FastifyReply {
  return reply
    .header('Content-Security-Policy', CSP)
    .header('X-Frame-Options', 'DENY')
    .header('Cache-Control', 'no-store')
    .type('text/html; charset=utf-8')
    .send(body)
}

/** The cookie's session, or undefined when absent, expired, logged out or revoked. */
function sessionOf(request: FastifyRequest, auth: AuthService): AuthenticatedSession | undefined {
  try {
    const presented = sessionTokenOf(request)
    return presented ? auth.authenticate(presented.token) : undefined
  } catch {
    return undefined
  }
}

/**
 * The web portal (docs/portal.md): HTML pages and one bundled script. Pages hold no secrets
 * and change nothing; the script signs in with a key derived in the browser and verifies
 * every query answer itself against the membership.
 */
export async function portalRoutes(scope: FastifyInstance, opts: PortalOptions): Promise<void> {
  const { auth, node, network } = opts
  let script: Promise<string> | undefined

  scope.get(PORTAL_PATHS.root, async (_request, reply) => reply.redirect(PORTAL_PATHS.login, 302))
  scope.get(PORTAL_PATHS.login, async (_request, reply) =>
    sendPage(reply, loginPage(node, network.networkId)),
  )
  scope.get(PORTAL_PATHS.register, async (_request, reply) =>
    sendPage(reply, registerPage(node, network.networkId)),
  )
  scope.get(PORTAL_PATHS.logout, async (_request, reply) => sendPage(reply, logoutPage()))

  scope.get(PORTAL_PATHS.home, async (request, reply) => {
    const session = sessionOf(request, auth)
    // The prototype answered 400 (a KeyError) here; without a session the page is the login.
    if (!session) return reply.redirect(PORTAL_PATHS.login, 302)
    const name = auth.directory.get(session.sub)?.name ?? session.sub
    return sendPage(
      reply,
      homePage(node, {
        username: session.sub,
        name,
        role: session.role,
        status: session.status,
        userId: session.patientId ?? session.sub,
      }),
    )
  })

  scope.get(PORTAL_PATHS.script, async (_request, reply) => {
    script ??= bundlePortalScript()
    const text = await script.catch((err: unknown) => {
      script = undefined
      throw err
    })
    return reply
      .type('text/javascript; charset=utf-8')
      .header('Cache-Control', 'no-cache')
      .send(text)
  })

  scope.get(PORTAL_PATHS.style, async (_request, reply) =>
    reply.type('text/css; charset=utf-8').header('Cache-Control', 'no-cache').send(PORTAL_CSS),
  )

  scope.get(PORTAL_PATHS.network, async () => network)
}
