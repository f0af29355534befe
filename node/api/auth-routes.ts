import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { errorCodes } from 'fastify'
import { z } from 'zod'
import { type AuthService, WindowedCounts } from '../auth/index.ts'
import { homeOf, USERNAME_PATTERN } from '../core/auth/user-record.ts'
import { EhrlogError, isEhrlogError } from '../core/errors.ts'
import { isIJsonText } from '../core/event.ts'
import { type JsonBody, parseJsonBody } from './json-body.ts'
import { clearSessionCookie, requireSession, setSessionCookie } from './session.ts'

export const AUTH_PATHS = {
  challenge: '/api/v1/auth/challenge',
  login: '/api/v1/auth/login',
  logout: '/api/v1/auth/logout',
  whoami: '/api/v1/auth/whoami',
  register: '/api/v1/users/register',
  approve: '/api/v1/users/approve',
  enroll: '/api/v1/users/enroll',
  bind: '/api/v1/users/bind',
  revoke: '/api/v1/users/revoke',
  unlock: '/api/v1/users/unlock',
} as const

/** Methods of each auth route, for 405 answers. */
export const AUTH_ROUTE_METHODS: ReadonlyArray<readonly [string, readonly string[]]> =
  Object.values(AUTH_PATHS).map((p) => [p, p === AUTH_PATHS.whoami ? ['GET', 'HEAD'] : ['POST']])

export interface AuthRoutesOptions {
  auth: AuthService
  /** This node's name: the home of the accounts it registers, signs in and logs out. */
  node: string
  /** Other members' portal addresses by node name (config.json `portals`), for sign-in hints. */
  portals?: Readonly<Record<string, string>>
  /** Registrations one client address may make per hour (default 30). */
  registrationsPerHour?: number
}

// Request bodies, parsed at the edge. They are stricter than AuthService needs on purpose: the
// records built from them go into this node's feed for good, and a record that peers' schema
// (core/auth/user-record.ts) refuses would stop the whole feed from replicating.
const username = z
  .string()
  .regex(USERNAME_PATTERN, 'must be name@node, e.g. anish@hospital-c (lower case)')
const hex = (bytes: number) =>
  z.string().regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`), `must be ${bytes} bytes of hex`)
const kdf = z.strictObject({
  name: z.literal('scrypt'),
  salt: z.string().regex(/^(?:[0-9a-f]{2}){16,64}$/, 'must be 16 to 64 bytes of hex'),
  N: z.number().int(),
  r: z.number().int(),
  p: z.number().int(),
})
const bodies = {
  challenge: z.strictObject({ username }),
  login: z.strictObject({
    username,
    nonce: z.string().max(128),
    signature: z.string().max(256),
    /** Browsers: the session goes in an HttpOnly cookie instead of the answer. */
    cookie: z.boolean().optional(),
  }),
  register: z.strictObject({
    username,
    name: z
      .string()
      .trim()
      .min(1, 'must not be empty')
      .max(200, 'must be at most 200 characters')
      .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), 'must have no control characters')
      .refine(isIJsonText, 'must have no lone surrogates or Unicode noncharacters (I-JSON)'),
    role: z.enum(['patient', 'auditor'], {
      message:
        'must be patient or auditor (admins are created with `ehrlog user create` on the node folder)',
    }),
    publicKey: hex(32),
    kdf,
    enrollmentCode: z.string().trim().min(1).max(100).optional(),
  }),
  approve: z.strictObject({ username }),
  bind: z.strictObject({ enrollmentCode: z.string().trim().min(1, 'must not be empty').max(100) }),
  revoke: z.strictObject({ username }),
  unlock: z.strictObject({ username }),
  enroll: z.strictObject({
    patientId: z
      .string()
      .trim()
      .min(1, 'must not be empty')
      .max(128, 'must be at most 128 characters'),
  }),
}

/**
 * Sign-in and accounts (docs/auth.md). The password never reaches these routes: a device
 * derives the login key and sends only its public key (register) or a signed challenge
 * (login). Sessions come back as a token, or as an HttpOnly SameSite=Strict cookie when the
 * request asks for one. Signing in and out happens at the account's home node: its failure
 * count is the one that throttles guessing, and only it may record that account's logout.
 */
export async function authRoutes(scope: FastifyInstance, opts: AuthRoutesOptions): Promise<void> {
  const { auth, node } = opts
  const portals = opts.portals ?? {}
  // Per client address; bounded like the login limits (a flood of addresses evicts only
  // addresses still under the limit, never one that reached it).
  const registrations = new WindowedCounts({
    limit: opts.registrationsPerHour ?? 30,
    windowMs: 3600_000,
  })
  // One registration at a time: AuthService checks "username free" and "code unused" before
  // its append, so two concurrent ones could both pass and the second would be ignored.
  let registering: Promise<unknown> = Promise.resolve()

  scope.removeAllContentTypeParsers()
  scope.addContentTypeParser<Buffer>(
    'application/json',
    { parseAs: 'buffer' },
    async (request: FastifyRequest, body: Buffer) =>
      parseJsonBody(body, request.headers['content-type']),
  )

  scope.post(AUTH_PATHS.challenge, async (request, reply) => {
    const { username } = read(request, bodies.challenge)
    assertHome(username, node, portals)
    return withRetryAfter(reply, () => auth.challenge(username))
  })

  scope.post(AUTH_PATHS.login, async (request, reply) => {
    const body = read(request, bodies.login)
    assertHome(body.username, node, portals)
    // request.ip is the socket's address (no trustProxy): a header cannot pick the key.
    const { token, claims } = withRetryAfter(reply, () =>
      auth.login(body.username, body.nonce, body.signature, request.ip),
    )
    const { status } = auth.authenticate(token)
    if (!body.cookie) return { token, claims, status }
    // The page never sees the token: script injected into it could not carry it away.
    setSessionCookie(reply, request, token, claims.exp)
    return { claims, status }
  })

  scope.post(AUTH_PATHS.logout, async (request, reply) => {
    const session = requireSession(request, auth)
    // Peers accept a user record only from the account's home node; one written here about
    // another node's user would be refused by every peer and stall this node's whole feed.
    if (homeOf(session.sub) !== node || !/^[0-9a-f]{32}$/.test(session.sid))
      throw new EhrlogError(
        'ARGUMENT_INVALID',
        `log out at ${homeOf(session.sub)}, the home node of ${session.sub}: only it records that account's logouts`,
        { details: { field: 'session' } },
      )
    await auth.logout(session)
    clearSessionCookie(reply, request)
    return reply.code(204).send()
  })

  scope.get(AUTH_PATHS.whoami, async (request) => {
    const session = requireSession(request, auth)
    return {
      username: session.sub,
      name: auth.directory.get(session.sub)?.name,
      role: session.role,
      status: session.status,
      ...(session.patientId !== undefined ? { patientId: session.patientId } : {}),
      node,
      issuer: session.iss,
      expiresMs: session.exp,
    }
  })

  scope.post(AUTH_PATHS.register, async (request, reply) => {
    const body = read(request, bodies.register)
    const now = Date.now()
    const waitMs = registrations.waitMs(request.ip, now)
    if (waitMs !== undefined) {
      const retryAfterSeconds = Math.max(1, Math.ceil(waitMs / 1000))
      reply.header('Retry-After', String(retryAfterSeconds))
      throw new EhrlogError(
        'RATE_LIMITED',
        `too many registrations from this address: try again in ${Math.ceil(retryAfterSeconds / 60)} minute(s)`,
        { details: { retryAfterSeconds } },
      )
    }
    registrations.add(request.ip, now)
    const run = registering.then(() => auth.register(body))
    registering = run.catch(() => {})
    const user = await run
    reply.code(201)
    return {
      username: user.username,
      role: user.role,
      status: user.status,
      ...(user.patientId !== undefined ? { patientId: user.patientId } : {}),
      ...(user.status === 'pending'
        ? {
            note: `pending: an admin of ${node} must approve ${user.username} before it can see any log`,
          }
        : {}),
    }
  })

  // A patient who registered without a code enters it later (the portal's home page,
  // `ehrlog user bind`): the same bind record, serialized with registrations for the same
  // reason (a code must bind once).
  scope.post(AUTH_PATHS.bind, async (request) => {
    const session = requireSession(request, auth)
    const { enrollmentCode } = read(request, bodies.bind)
    const run = registering.then(() => auth.bind(session, enrollmentCode))
    registering = run.catch(() => {})
    const user = await run
    return { username: user.username, role: user.role, patientId: user.patientId }
  })

  scope.post(AUTH_PATHS.approve, async (request) => {
    const admin = requireSession(request, auth)
    const { username } = read(request, bodies.approve)
    const user = await auth.approve(admin, username)
    return { username: user.username, role: user.role, status: user.status }
  })

  scope.post(AUTH_PATHS.enroll, async (request) => {
    const admin = requireSession(request, auth)
    const { patientId } = read(request, bodies.enroll)
    const { code, expiresMs } = await auth.enroll(admin, patientId)
    return { code, patientId, expiresMs }
  })

  scope.post(AUTH_PATHS.unlock, async (request) => {
    const admin = requireSession(request, auth)
    const { username } = read(request, bodies.unlock)
    const cleared = auth.unlock(admin, username)
    request.log.info({ username, by: admin.sub, cleared }, 'failed-login limits cleared')
    return { username, cleared }
  })

  scope.post(AUTH_PATHS.revoke, async (request) => {
    const admin = requireSession(request, auth)
    const { username } = read(request, bodies.revoke)
    await auth.revoke(admin, username)
    return { username, status: auth.directory.get(username)?.status ?? 'revoked' }
  })
}

/** The JSON body as `schema` wants it, or ARGUMENT_INVALID naming the first bad field. */
function read<T>(request: FastifyRequest, schema: z.ZodType<T>): T {
  // No Content-Type and no body: Fastify skips the parsers and leaves body undefined.
  const body = request.body as JsonBody | undefined
  if (body === undefined) throw new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE()
  const parsed = schema.safeParse(body.value)
  if (parsed.success) return parsed.data
  const issue = parsed.error.issues[0]!
  if (issue.code === 'unrecognized_keys')
    throw new EhrlogError('ARGUMENT_INVALID', `unknown field(s) ${issue.keys.join(', ')}`, {
      details: { field: issue.keys[0] },
    })
  const field = issue.path.map(String).join('.') || 'body'
  const message =
    issue.code === 'invalid_type' && issue.path.length > 0 && issue.input === undefined
      ? `${field} is missing`
      : field === 'body'
        ? `request body must be a JSON object: ${issue.message}`
        : `${field} ${issue.message}`
  throw new EhrlogError('ARGUMENT_INVALID', message, { details: { field } })
}

/**
 * Sign-in happens at the account's home node. The answer names it, and its portal when this
 * node's config knows it: both follow from the username's `@node` alone, so they tell nothing
 * about whether the account exists (docs/auth.md).
 */
function assertHome(
  username: string,
  node: string,
  portals: Readonly<Record<string, string>>,
): void {
  const home = homeOf(username)
  if (home === node) return
  const portal = Object.hasOwn(portals, home) ? portals[home] : undefined
  throw new EhrlogError(
    'ARGUMENT_INVALID',
    `sign in to ${username} at its home node ${home}${portal ? ` (${portal})` : ''}, not at ${node}`,
    { details: { field: 'username', home, ...(portal ? { portal } : {}) } },
  )
}

/** Runs `fn`; a RATE_LIMITED answer carries Retry-After (RFC 9110 10.2.3). */
function withRetryAfter<T>(reply: FastifyReply, fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    if (isEhrlogError(err, 'RATE_LIMITED')) {
      const seconds = err.details.retryAfterSeconds
      reply.header('Retry-After', String(typeof seconds === 'number' ? seconds : 60))
    }
    throw err
  }
}
