import type { FastifyInstance, FastifyRequest } from 'fastify'
import { z } from 'zod'
import type { AuthService } from '../auth/index.ts'
import { homeOf } from '../core/auth/user-record.ts'
import { EhrlogError, isEhrlogError } from '../core/errors.ts'
import { changeSchema } from '../core/trust/index.ts'
import type { GovernanceService } from '../membership/governance.ts'
import { clientFault } from './http-errors.ts'
import { parseJsonBody } from './json-body.ts'
import { type AuthenticatedSession, requireActiveSession } from './session.ts'

export const MEMBERSHIP_PATHS = {
  proposals: '/api/v1/membership/proposals',
  proposal: '/api/v1/membership/proposals/:id',
  signatures: '/api/v1/membership/proposals/:id/signatures',
} as const

export interface MembershipRoutesOptions {
  governance: GovernanceService
  auth: AuthService
  /** This node's name: only its own admins act through it. */
  node: string
}

const proposeBody = z.strictObject({ change: changeSchema })
const idParam = z.string().regex(/^[0-9a-f]{64}$/, 'must be a proposal id (64 hex characters)')

/**
 * Membership governance for this node's admins (docs/operations.md, "Changing the network"):
 * - GET  /api/v1/membership/proposals: versions, the change waiting for the next checkpoint cut,
 *   the proposals being signed (who signed, who is missing). An active admin or auditor.
 * - GET  /api/v1/membership/proposals/ID: one of them.
 * - POST /api/v1/membership/proposals {change}: an admin of this node proposes; the node signs.
 * - POST /api/v1/membership/proposals/ID/signatures: an admin of this node signs ID with the
 *   node's key (one change per version; a rotation of its own held key adds the old key's).
 * A refused change answers its code (SIGNER_UNKNOWN 403, MEMBER_CONFLICT, CHANGE_REPLAYED,
 * CHANGE_OUT_OF_ORDER, EQUIVOCATION 409, INVALID_PROOF, MESSAGE_INVALID 400) and writes nothing.
 */
export async function membershipRoutes(
  scope: FastifyInstance,
  opts: MembershipRoutesOptions,
): Promise<void> {
  const { governance, auth, node } = opts
  scope.removeAllContentTypeParsers()
  scope.addContentTypeParser<Buffer>(
    'application/json',
    { parseAs: 'buffer' },
    async (request: FastifyRequest, body: Buffer) =>
      parseJsonBody(body, request.headers['content-type']),
  )
  const admin = (request: FastifyRequest): AuthenticatedSession => {
    const session = requireActiveSession(request, auth)
    if (session.role !== 'admin' || homeOf(session.sub) !== node)
      throw new EhrlogError(
        'FORBIDDEN',
        `${session.sub} is not an admin of ${node}: only its admins propose and sign membership changes through it`,
        { details: { field: 'session' } },
      )
    return session
  }
  const reader = (request: FastifyRequest): void => {
    const session = requireActiveSession(request, auth)
    if (session.role !== 'admin' && session.role !== 'auditor')
      throw new EhrlogError(
        'FORBIDDEN',
        `${session.sub} is a ${session.role}: admins and auditors see the membership proposals`,
        {
          details: { field: 'session' },
        },
      )
  }

  scope.get(MEMBERSHIP_PATHS.proposals, async (request) => {
    reader(request)
    return governance.view()
  })
  scope.get<{ Params: { id: string } }>(MEMBERSHIP_PATHS.proposal, async (request) => {
    reader(request)
    return governance.proposal(parseId(request.params.id))
  })
  scope.post(MEMBERSHIP_PATHS.proposals, async (request, reply) => {
    const session = admin(request)
    const parsed = proposeBody.safeParse((request.body as { value?: unknown } | undefined)?.value)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]
      const path = (issue?.path ?? []).map(String)
      if (issue?.code === 'unrecognized_keys') path.push(issue.keys[0] ?? '')
      throw new EhrlogError(
        'MESSAGE_INVALID',
        `${path.join('.') || 'body'}: ${issue?.code === 'unrecognized_keys' ? 'is not a known field' : (issue?.message ?? 'invalid')}; want {"change": {...}} (docs/format.md, "Membership changes")`,
        { details: { field: path.join('.') || 'body' } },
      )
    }
    const view = await asClient(governance.propose(session.sub, parsed.data.change))
    reply.code(201)
    return view
  })
  scope.post<{ Params: { id: string } }>(MEMBERSHIP_PATHS.signatures, async (request) => {
    const session = admin(request)
    return asClient(governance.sign(session.sub, parseId(request.params.id)))
  })
}

function parseId(text: string): string {
  const parsed = idParam.safeParse(text)
  if (!parsed.success)
    throw new EhrlogError('ARGUMENT_INVALID', `id ${parsed.error.issues[0]?.message}`, {
      details: { field: 'id' },
    })
  return parsed.data
}

/** A change refused for what it says (its proof, a second vote, another chain) is a 4xx. */
async function asClient<T>(work: Promise<T>): Promise<T> {
  try {
    return await work
  } catch (err) {
    if (isEhrlogError(err)) {
      if (err.code === 'INVALID_PROOF' || err.code === 'INVALID_SIGNATURE')
        throw clientFault(err, 400)
      if (err.code === 'EQUIVOCATION' || err.code === 'CHAIN_BROKEN') throw clientFault(err, 409)
    }
    throw err
  }
}
