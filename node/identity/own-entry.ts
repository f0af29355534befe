import { EhrlogError } from '../core/errors.ts'
import type { PublicIdentity } from '../core/trust/index.ts'

/** A member as network.json lists it (the fields that must be this node's own). */
interface ListedMember {
  name: string
  peerId: string
  ed25519PublicKey: string
  blsPublicKey: string
}

/**
 * The node's own entry in network.json must carry its own keys. With another key there (an
 * edited or mixed-up file), every member would refuse what the node signs and the node would
 * run isolated and silent; so it refuses to start instead, naming the field (CONFIG_INVALID).
 */
export function assertOwnEntry(
  membership: { byName(name: string): ListedMember | undefined },
  identity: PublicIdentity,
  file: string,
): void {
  const listed = membership.byName(identity.name)
  if (!listed)
    throw new EhrlogError('CONFIG_INVALID', `${file} lists no member named ${identity.name}`, {
      details: { field: 'members', source: file },
    })
  for (const field of ['peerId', 'ed25519PublicKey', 'blsPublicKey'] as const) {
    if (listed[field] !== identity[field])
      throw new EhrlogError(
        'CONFIG_INVALID',
        `${file} lists ${field} ${listed[field].slice(0, 16)}… for ${identity.name}, but this node's key is ${identity[field].slice(0, 16)}… (identity.json): use the network.json assembled from this node's identity`,
        { details: { field: `members.${identity.name}.${field}`, source: file } },
      )
  }
}
