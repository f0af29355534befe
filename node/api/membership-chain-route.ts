import type { FastifyInstance } from 'fastify'
import { EhrlogError } from '../core/errors.ts'
import { type MembershipHistory, membershipAnswerOf } from '../core/trust/index.ts'

export const MEMBERSHIP_PATH = '/api/v1/membership'

export interface MembershipRouteOptions {
  /** The node's membership as it stands now: genesis and the changes it applied, in order. */
  history: () => MembershipHistory
}

/**
 * `GET /api/v1/membership[?after=n]`: the network id, the signed changes the node applied after
 * version n (all from genesis without `after`; none when n is its newest or past it) and its
 * newest version's number and hash (docs/query.md, "Following the membership").
 *
 * Public, like GET /api/v1/checkpoint: the members' public keys and addresses are already in
 * network.json, which every auditor and patient holds; each change carries the signatures of
 * a quorum of the members, so a client believes nothing it could not check from the genesis
 * it pinned, and a session would only keep clients from following the chain before they can
 * verify the checkpoints that name its versions. No patient data is in it.
 */
export async function membershipRoute(
  scope: FastifyInstance,
  opts: MembershipRouteOptions,
): Promise<void> {
  scope.get<{ Querystring: Record<string, unknown> }>(MEMBERSHIP_PATH, async (request) => {
    const { after, ...rest } = request.query ?? {}
    const unknown = Object.keys(rest)[0]
    if (unknown !== undefined)
      throw new EhrlogError(
        'ARGUMENT_INVALID',
        `${unknown.slice(0, 40)} is not a parameter: want after`,
        { details: { field: unknown.slice(0, 40) } },
      )
    return membershipAnswerOf(opts.history(), afterOf(after))
  })
}

function afterOf(value: unknown): number {
  if (value === undefined) return 0
  const text = String(value)
  const n = /^(0|[1-9][0-9]{0,14})$/.test(text) ? Number(text) : Number.NaN
  if (!Number.isSafeInteger(n))
    throw new EhrlogError(
      'ARGUMENT_INVALID',
      `after=${text.slice(0, 20)} is not a membership version number (0, 1, 2, …)`,
      { details: { field: 'after' } },
    )
  return n
}
