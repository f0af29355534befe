import type { FastifyReply, FastifyRequest } from 'fastify'
import type { AuthService, UserStatus } from '../auth/index.ts'
import type { SessionClaims } from '../core/auth/session-token.ts'
import { EhrlogError } from '../core/errors.ts'

/** The browser's session cookie: HttpOnly (page scripts never see the token), SameSite=Strict. */
export const SESSION_COOKIE = 'ehrlog_session'

/** A session as of this request: the token's claims, role and binding re-read from the directory. */
export type AuthenticatedSession = SessionClaims & { status: UserStatus }

/** Where a session token came from: API clients send a header, browsers a cookie. */
export interface PresentedToken {
  token: string
  via: 'header' | 'cookie'
}

/** What the session helpers need of the auth service (tests may pass a stand-in). */
export type SessionAuthenticator = Pick<AuthService, 'authenticate'>

/**
 * The session token of a request: `Authorization: Session <token>` first (the CLI), else the
 * `ehrlog_session` cookie (the portal). Another Authorization scheme (the EHR's Bearer API
 * token) is never a session. Undefined when neither is there.
 */
export function sessionTokenOf(request: FastifyRequest): PresentedToken | undefined {
  const header = request.headers.authorization
  if (header !== undefined && header.trim() !== '') {
    // The scheme is case-insensitive (RFC 9110 11.1).
    const match = /^session\s+(\S+)\s*$/i.exec(header)
    if (!match)
      throw new EhrlogError(
        'UNAUTHORIZED',
        'the Authorization header is not a session: want Authorization: Session <token> (from ehrlog login)',
        { details: { field: 'Authorization' } },
      )
    return { token: match[1]!, via: 'header' }
  }
  const cookie = cookieValue(request.headers.cookie, SESSION_COOKIE)
  return cookie === undefined ? undefined : { token: cookie, via: 'cookie' }
}

/**
 * The caller's session, checked now at this node (signature of a member, expiry, logout,
 * revocation), or UNAUTHORIZED. The status may be 'pending' (an auditor not yet approved):
 * routes that show data use requireActiveSession, or check status and role themselves.
 */
export function requireSession(
  request: FastifyRequest,
  auth: SessionAuthenticator,
): AuthenticatedSession {
  const presented = sessionTokenOf(request)
  if (presented?.via === 'cookie') assertSameOrigin(request)
  return auth.authenticate(presented?.token)
}

/** requireSession, and FORBIDDEN unless the account is active (approved, not pending). */
export function requireActiveSession(
  request: FastifyRequest,
  auth: SessionAuthenticator,
): AuthenticatedSession {
  const session = requireSession(request, auth)
  if (session.status !== 'active')
    throw new EhrlogError(
      'FORBIDDEN',
      `${session.sub} is ${session.status}: an admin of its hospital must approve it first`,
      { details: { field: 'session', status: session.status } },
    )
  return session
}

/**
 * Set-Cookie for a new session. `Secure` only over HTTPS (a plain-HTTP demo on loopback could
 * not store it otherwise); Max-Age ends it with the token.
 */
export function setSessionCookie(
  reply: FastifyReply,
  request: FastifyRequest,
  token: string,
  expiresMs: number,
  nowMs = Date.now(),
): void {
  const maxAge = Math.max(0, Math.floor((expiresMs - nowMs) / 1000))
  reply.header(
    'Set-Cookie',
    `${SESSION_COOKIE}=${token}; ${cookieAttributes(request)}; Max-Age=${maxAge}`,
  )
}

/** Set-Cookie that makes the browser forget the session (after logout). */
export function clearSessionCookie(reply: FastifyReply, request: FastifyRequest): void {
  reply.header('Set-Cookie', `${SESSION_COOKIE}=; ${cookieAttributes(request)}; Max-Age=0`)
}

function cookieAttributes(request: FastifyRequest): string {
  return `Path=/; HttpOnly; SameSite=Strict${request.protocol === 'https' ? '; Secure' : ''}`
}

/** The first cookie named `name` in a Cookie header (RFC 6265 5.4), undefined when absent or empty. */
function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=')
    if (eq < 0 || pair.slice(0, eq).trim() !== name) continue
    const value = pair.slice(eq + 1).trim()
    return value === '' ? undefined : value
  }
  return undefined
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/**
 * A cookie rides along with any request the browser makes; SameSite=Strict already keeps it
 * off cross-site requests, and this refuses an unsafe method that a browser marks as coming
 * from another origin (Fetch Metadata, or an Origin naming another host), should an old
 * browser ignore SameSite. API clients send the header instead and are not checked here.
 */
function assertSameOrigin(request: FastifyRequest): void {
  if (SAFE_METHODS.has(request.method)) return
  const site = request.headers['sec-fetch-site']
  const origin = request.headers.origin
  let crossOrigin = site !== undefined && site !== 'same-origin' && site !== 'none'
  if (origin !== undefined && origin !== 'null') {
    try {
      // request.host: the Host header, or X-Forwarded-Host from a trusted proxy (trustProxy).
      crossOrigin ||= new URL(origin).host !== request.host
    } catch {
      crossOrigin = true
    }
  } else if (origin === 'null') {
    crossOrigin = true
  }
  if (crossOrigin)
    throw new EhrlogError(
      'FORBIDDEN',
      'a session cookie was sent from another site: refused (send requests from the portal page)',
      { details: { field: 'Origin' } },
    )
}
