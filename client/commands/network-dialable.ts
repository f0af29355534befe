import { EhrlogError } from '../../node/core/errors.ts'
import { type PublicIdentity, undialableReason } from '../../node/identity/index.ts'

/**
 * A member nobody can dial would sit in network.json and never connect (its peers would log
 * nothing but a stalled checkpoint quorum), so assemble and `network propose` refuse it, naming the member.
 */
export function checkDialable(
  identity: Pick<PublicIdentity, 'name' | 'addresses'>,
  path: string,
): void {
  const fix = `re-create it with \`ehrlog init --listen ... --announce /ip4/<public IP>/tcp/<port>\` or add the address others dial to its "addresses"`
  if (identity.addresses.length === 0)
    throw new EhrlogError(
      'CONFIG_INVALID',
      `member ${identity.name} (${path}) has no address other nodes can dial: its identity.json lists "addresses": []; ${fix}`,
      { details: { field: 'addresses', member: identity.name, source: path } },
    )
  identity.addresses.forEach((address, i) => {
    const problem = undialableReason(address)
    if (problem)
      throw new EhrlogError(
        'CONFIG_INVALID',
        `member ${identity.name} (${path}): address ${address} cannot be dialed (${problem}); ${fix}`,
        { details: { field: `addresses.${i}`, member: identity.name, source: path } },
      )
  })
}
