import { MEMBERSHIP_PATHS } from '../../node/api/membership-proposal-routes.ts'
import { EhrlogError } from '../../node/core/errors.ts'
import type { MembershipChange } from '../../node/core/trust/index.ts'
import type { GovernanceView, ProposalView } from '../../node/membership/governance-view.ts'
import type { CliContext } from '../context.ts'
import { callNode, checkNodeUrl } from '../node-client.ts'
import { loadSession, sessionHeaders } from '../session-store.ts'

/*
 * `ehrlog network propose|sign|show --node URL`: the same commands against a running member,
 * as one of its admins (the session of `ehrlog login`). The node checks, signs with its own
 * key, gossips the proposal to the other members and records every step in its feed.
 */

/** Which mode a command runs in: a running node (--node) or files (--dir …). */
export function nodeMode(opts: { node?: string; dir?: string }, files: string): string | undefined {
  if (opts.node && opts.dir)
    throw new EhrlogError(
      'ARGUMENT_INVALID',
      'give --node URL (a running member) or --dir DIR (files), not both',
      { details: { field: '--node' } },
    )
  if (!opts.node && !opts.dir)
    throw new EhrlogError(
      'ARGUMENT_INVALID',
      `give --node URL (a running member, as its admin) or ${files}`,
      { details: { field: '--node' } },
    )
  return opts.node
}

async function call<T>(
  ctx: CliContext,
  url: string,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<T> {
  const session = await loadSession(ctx)
  // The session is the credential: no API token goes with it.
  const endpoint = { url: checkNodeUrl(url).replace(/\/+$/, ''), token: undefined }
  return callNode<T>(endpoint, method, path, body, sessionHeaders(session))
}

export async function proposeOnNode(
  ctx: CliContext,
  url: string,
  change: MembershipChange,
): Promise<void> {
  const view = await call<ProposalView>(ctx, url, 'POST', MEMBERSHIP_PATHS.proposals, { change })
  ctx.out(
    `proposed ${view.id}: ${view.summary}; signed by ${view.signers.join(', ')} (${view.signers.length} of ${view.quorum})\n`,
  )
  ctx.out(
    `the node sent it to the other members; their admins sign with: ehrlog network sign ${view.id} --node THEIR_NODE_URL\n`,
  )
}

export async function signOnNode(ctx: CliContext, url: string, id: string): Promise<void> {
  const path = MEMBERSHIP_PATHS.signatures.replace(':id', encodeURIComponent(id))
  const view = await call<ProposalView>(ctx, url, 'POST', path)
  ctx.out(
    `${view.id}: ${view.summary}; signed by ${view.signers.join(', ')} (${view.signers.length} of ${view.quorum}); ${
      view.state === 'accepted'
        ? 'a quorum signed: it applies at the next checkpoint cut'
        : `waiting for ${view.waitingFor}`
    }\n`,
  )
}

export async function showOnNode(ctx: CliContext, url: string, json: boolean): Promise<void> {
  const view = await call<GovernanceView>(ctx, url, 'GET', MEMBERSHIP_PATHS.proposals)
  if (json) {
    ctx.out(`${JSON.stringify(view, null, 2)}\n`)
    return
  }
  const lines = [`network ${view.networkId}`]
  for (const v of view.versions)
    lines.push(
      `version ${v.number}  ${v.hash}  ${v.change ? `${v.change.type}; signed by ${v.signers?.join(', ')}` : 'genesis (network.json)'}`,
    )
  const c = view.current
  lines.push(
    `current: version ${c.number}, ${c.members.length} members (${c.members.join(', ')}), quorum ${c.quorum}`,
  )
  if (view.accepted)
    lines.push(
      `accepted: ${view.accepted.summary} (${view.accepted.id}): makes version ${view.accepted.makes} at the next checkpoint cut`,
    )
  for (const p of view.proposals)
    lines.push(
      `${p.state}: ${p.id}  ${p.summary}: signed by ${p.signers.join(', ') || 'nobody'} (${p.signers.length} of ${p.quorum})${p.missing.length ? `; not yet: ${p.missing.join(', ')}` : ''}${p.waitingFor ? `; waiting for ${p.waitingFor}` : ''}`,
    )
  if (view.proposals.length === 0) lines.push('no proposals being signed')
  ctx.out(`${lines.join('\n')}\n`)
}
